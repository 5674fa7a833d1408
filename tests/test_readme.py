"""The README shows what the product does, exactly: its library session runs as printed and
its report is the CLI's real output."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(after: str, fence: str) -> str:
    match = re.search(re.escape(after) + r".*?```" + fence + r"\n(.*?)```", README, re.S)
    assert match, f"README has no {fence or 'plain'} block after {after!r}"
    return match.group(1)


def test_library_session_runs_as_printed(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    text = _block("### As a library", "pycon")
    test = doctest.DocTestParser().get_doctest(text, {}, "README library", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 10


def test_report_is_the_real_output() -> None:
    shown = _block("For `examples/demo-report.json`:", "")
    done = subprocess.run(
        [sys.executable, "-m", "kgmassage", "assess", "examples/demo-report.json",
         "--format", "text"], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert shown == done.stdout
