"""Project hygiene: generated artefacts in sync, README rule table generated from the shapes,
ruff-clean code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kgmassage.rules import rule_infos, rule_table

ROOT = Path(__file__).resolve().parent.parent


def test_the_manifest_lists_every_derivation_query_once() -> None:
    manifest = json.loads((ROOT / "queries" / "derive" / "manifest.json").read_text())
    listed = [*manifest["knowledge"], *manifest["classification"], *manifest["decision"],
              *manifest["results"].values()]
    files = sorted(p.stem for p in (ROOT / "queries" / "derive").glob("*.rq"))
    assert sorted(listed) == files and len(set(listed)) == len(listed)


def test_readme_rule_table_is_generated_from_the_shapes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- rules:begin -->\n(.*?)<!-- rules:end -->", readme, re.DOTALL)
    assert match, "README lacks the generated rule table markers"
    assert match.group(1) == rule_table(), "README rule table is stale: run `kgmassage rules`"


def test_every_rule_of_the_spec_is_stated_once() -> None:
    ids = [info.rule_id for info in rule_infos()]
    assert sorted(ids) == sorted({
        "DVT", "ACUTE-INJURY", "ACUTE-INFLAMMATION", "SKIN-LESION", "CHRONIC-CONDITION",
        "OSTEOPOROSIS-DEEP", "POST-SURGERY", "RED-FLAG", "PATELLA-PRESSURE", "JOINT-PRESSURE",
        "ITB-DIRECT", "UNRECOGNIZED"})
    for info in rule_infos():
        assert info.source and info.effects and info.fail_safe and info.evidence, info.rule_id
        assert info.version and info.validation, info.rule_id


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists() and shutil.which("ruff") is None:
        pytest.skip("ruff is not installed")
    done = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
