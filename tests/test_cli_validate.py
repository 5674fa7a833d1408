"""``kgmassage validate``: output formats, exit codes, unreadable input, the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rdflib import Graph, Literal
from rdflib.namespace import RDF, SH
from records_helpers import EXAMPLES, RECORDS, ROOT, SHAPES_NS

from kgmassage.cli import main

GOOD = RECORDS / "valid-same-day.json"  # conforms, no planned intervention (fast)
WARN = EXAMPLES / "warnings" / "injury-without-onset.json"
BAD = EXAMPLES / "invalid" / "bad-side.json"
BACKSLASH = RECORDS / "code-backslash.json"  # a code "123\\" (once a crash: re.error)


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["validate", *args], input=stdin)


def test_conforming_records_exit_0_with_a_clinician_readable_report() -> None:
    result = run(str(GOOD), str(WARN))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"valid-same-day — {GOOD}:1 — CONFORMS" in out
    assert "No problems found." in out
    assert "injury-without-onset" in out and "CONFORMS: 1 warning" in out
    assert "WARNING   conditions[0].onset" in out
    assert "has no onset" in out
    assert result.stderr == ""


def test_a_violation_exits_1_and_names_field_value_and_remedy() -> None:
    result = run(str(GOOD), str(BAD))
    assert result.exit_code == 1
    assert "bad-side — " in result.stdout and "DOES NOT CONFORM: 1 violation" in result.stdout
    assert 'VIOLATION conditions[0].side = "lfet"' in result.stdout
    assert "must be \"left\", \"right\" or \"bilateral\"" in result.stdout


def test_unreadable_input_exits_2_and_the_rest_is_still_reported(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.ndjson"
    lines = [line for line in (EXAMPLES / "cohort.ndjson").read_text(encoding="utf-8").splitlines()
             if '"planned"' not in line][:3]  # plan checks are slow
    cohort.write_text("\n".join([lines[0], '{"id": "broken",', *lines[1:]]) + "\n",
                      encoding="utf-8")
    missing = tmp_path / "missing.json"
    result = run(str(missing), str(cohort), str(BAD), str(tmp_path))
    assert result.exit_code == 2
    assert f"{missing}: no such file" in result.stderr
    assert f"{cohort}, line 2: malformed JSON" in result.stderr
    assert f"{tmp_path}: is a directory" in result.stderr
    assert "Traceback" not in result.output
    for record in ("c-002", "c-003", "c-004", "bad-side"):
        assert f"{record} — " in result.stdout
    assert f"{cohort}:4" in result.stdout  # lines are the file's own


def test_json_format_is_a_list_of_reports() -> None:
    result = run("--format", "json", str(GOOD), str(BAD))
    assert result.exit_code == 1
    reports = json.loads(result.stdout)
    assert [(r["record"], r["conforms"]) for r in reports] == [
        ("valid-same-day", True), ("bad-side", False)]
    (violation,) = reports[1]["results"]
    assert (violation["severity"], violation["field"], violation["value"]) == (
        "Violation", "conditions[0].side", "lfet")
    assert violation["shape"] == "https://w3id.org/kgmassage/shapes#Side"


def test_turtle_format_is_the_shacl_reports() -> None:
    result = run("--format", "turtle", str(GOOD), str(BAD))
    assert result.exit_code == 1
    graph = Graph().parse(data=result.stdout, format="turtle")
    reports = set(graph.subjects(RDF.type, SH.ValidationReport))
    assert len(reports) == 2
    assert {graph.value(r, SH.conforms) for r in reports} == {Literal(True), Literal(False)}
    assert len(list(graph.subjects(RDF.type, SH.ValidationResult))) == 1


def test_at_option() -> None:
    future = str(RECORDS / "onset-future.json")
    assert run(future).exit_code == 1
    assert run("--at", "2026-11-21T00:00:00Z", future).exit_code == 0
    result = run("--at", "soon", future)
    assert result.exit_code == 2
    assert "--at 'soon' is not an xsd:date or xsd:dateTime" in result.stderr
    assert result.stdout == ""


def test_standard_input() -> None:
    result = run("-", stdin=GOOD.read_bytes())
    assert result.exit_code == 0
    assert "valid-same-day — <stdin>:1 — CONFORMS" in result.stdout


def test_no_file_is_a_usage_error() -> None:
    assert run().exit_code == 2


@pytest.mark.parametrize("fmt", ["text", "json", "turtle"])
def test_empty_input_writes_nothing_half(tmp_path: Path, fmt: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    result = run("--format", fmt, str(empty))
    assert result.exit_code == 2
    assert "the file is empty" in result.stderr
    if fmt == "json":
        assert json.loads(result.stdout) == []


def test_real_entry_point(tmp_path: Path, kgmassage_command: list[str]) -> None:
    done = subprocess.run(
        [*kgmassage_command, "validate", str(GOOD), str(BAD)], capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "bad-side" in done.stdout and "Traceback" not in done.stderr
    done = subprocess.run(
        [*kgmassage_command, "validate", "--format", "json", str(tmp_path / "nope.ttl"),
         str(GOOD)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert "nope.ttl: no such file" in done.stderr and "Traceback" not in done.stderr
    assert [r["record"] for r in json.loads(done.stdout)] == ["valid-same-day"]


def test_a_backslash_in_a_code_is_a_warning_not_a_traceback() -> None:
    result = run(str(BACKSLASH))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output  # warnings only
    assert "Traceback" not in result.output
    assert result.stderr == ""  # nor any "... does not look like a valid URI" log line
    assert "code-backslash — " in result.stdout and "CONFORMS: 2 warnings" in result.stdout
    assert 'WARNING   conditions[0].code.code = "123\\"' in result.stdout
    assert "not in the knowledge base's mapping table" in result.stdout


def test_real_entry_point_with_a_backslash_in_a_code(kgmassage_command: list[str]) -> None:
    done = subprocess.run(
        [*kgmassage_command, "validate", "--format", "json", str(BACKSLASH)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert "does not look like a valid URI" not in done.stderr
    (report,) = json.loads(done.stdout)
    assert done.returncode == 0 and report["conforms"] is True
    assert [(r["field"], r["value"]) for r in report["results"]
            if r["shape"].endswith("#CodeRecognised")] == [
        ("conditions[0].code.code", "123\\"), ("conditions[1].code.code", "s82.0\\1a")]


def test_unknown_field_named_with_a_backslash_is_reported_not_crashed_on(tmp_path: Path) -> None:
    record = tmp_path / "odd.json"
    record.write_text(json.dumps({"id": "odd", "a\\q": 1}))
    result = CliRunner().invoke(main, ["validate", str(record), "--at", "2026-11-20"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0
    assert 'The field "a\\q" is not part of the record format' in result.stdout


def test_the_reference_engine_gives_the_same_reports() -> None:
    files = sorted(str(p) for p in (EXAMPLES / "invalid").glob("*.json"))[:4] + [str(WARN)]
    fast = run(*files, "--format", "json")
    reference = run(*files, "--format", "json", "--engine", "rdflib")
    assert (fast.exit_code, reference.exit_code) == (1, 1)
    assert json.loads(reference.stdout) == json.loads(fast.stdout)


def _record_id(path: Path) -> object:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def test_another_shacl_engine_gives_the_same_verdicts_from_the_data_graph(
        tmp_path: Path, kgmassage_command: list[str]) -> None:
    """The README's recipe for other SHACL engines: ``validate --format data-graph`` writes
    the graph the record shapes check (record, evaluation context, classification facts,
    knowledge base); the pySHACL command line run on it with each shipped record-shapes file
    finds exactly the record-shape results ``validate`` reports, on every test record."""
    files = sorted([*RECORDS.glob("*.json"), *(EXAMPLES / "invalid").glob("*.json"),
                    *(EXAMPLES / "warnings").glob("*.json")])
    ids = [_record_id(f) for f in files]
    files = [f for f, i in zip(files, ids, strict=True)
             if isinstance(i, str) and ids.count(i) == 1]  # one patient node each
    data = tmp_path / "data.nt"
    with data.open("w", encoding="utf-8") as out:  # every record, one graph
        subprocess.run([*kgmassage_command, "validate", *map(str, files), "--format",
                        "data-graph"], stdout=out, check=False)
    want = set()
    for report in json.loads(run(*map(str, files), "--format", "json").stdout):
        want |= {(r["focus"], r["path"], r["shape"], r["severity"]) for r in report["results"]
                 if r["shape"].startswith(SHAPES_NS)}  # not the plan checks (the engine's)
    got = set()
    pyshacl = str(Path(sys.executable).with_name("pyshacl"))
    for shapes in ("patient.shapes.ttl", "record-vocabulary.shapes.ttl"):
        done = subprocess.run([pyshacl, "-a", "-w", "-s", str(ROOT / "shapes" / shapes),
                               "-f", "turtle", str(data)], capture_output=True, text=True,
                              check=False)
        report = Graph().parse(data=done.stdout, format="turtle")
        for result in report.subjects(RDF.type, SH.ValidationResult):
            path = report.value(result, SH.resultPath)
            got.add((str(report.value(result, SH.focusNode)), path and str(path),
                     str(report.value(result, SH.sourceShape)),
                     str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[1]))
    assert len(want) > 60
    assert got == want
