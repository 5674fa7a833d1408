"""``kgmassage assess`` through its real entry point and click's runner: formats, exit codes,
cohorts with bad lines, --out written whole, --strict."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal

from kgmassage.cli import main
from kgmassage.namespaces import KM

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AT = "2026-11-20T10:00:00Z"


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["assess", *args], input=input, catch_exceptions=False)


def test_json_for_the_interface_example() -> None:
    result = invoke(str(EXAMPLES / "p-001.json"), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["patient"] == "p-001"
    assert data["assessed_at"] == "2026-11-20T10:00:00+00:00"
    assert data["summary"] == {"permitted": 0, "caution": 0, "requires-clearance": 0,
                               "forbidden": 39}
    planned = [d for d in data["decisions"] if d["planned"]]
    assert [(d["technique"], d["target"], d["side"]) for d in planned] == [
        ("Petrissage", "VastusLateralis", "left")]
    rules = [(r["rule"], r["status"], r["lifted"], r["item"]) for r in planned[0]["reasons"]]
    assert rules == [
        ("DVT", "forbidden", False, "conditions[0]"),
        ("DVT", "requires-clearance", False, "conditions[1]"),
        ("RED-FLAG", "requires-clearance", False, "findings[0]"),
        ("POST-SURGERY", "requires-clearance", True, "procedures[0]"),
        ("SKIN-LESION", "caution", False, "conditions[2]"),
    ]


def test_dvt_left_example() -> None:
    data = json.loads(invoke(str(EXAMPLES / "dvt-left.json")).stdout)
    assert data["summary"] == {"permitted": 0, "caution": 0, "requires-clearance": 19,
                               "forbidden": 19}
    by_side = {d["side"]: d["status"] for d in data["decisions"]}
    assert by_side == {"left": "forbidden", "right": "requires-clearance"}


def test_at_overrides_the_record_time() -> None:
    record = json.dumps({"id": "s", "conditions": [
        {"type": "Fracture", "side": "left", "onset": "2026-11-18T10:00:00Z"}]})
    early = json.loads(invoke("-", "--at", "2026-11-20T10:00:00Z", input=record).stdout)
    late = json.loads(invoke("-", "--at", "2026-11-22T10:00:00Z", input=record).stdout)
    assert early["summary"]["forbidden"] == 19
    assert late["summary"] == {"permitted": 19, "caution": 0, "requires-clearance": 19,
                               "forbidden": 0}


def test_text_starts_with_a_headline_per_leg() -> None:
    result = invoke(str(EXAMPLES / "dvt-left.json"), "--format", "text")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[2].startswith("LEFT LEG — no massage: ")
    assert lines[3].startswith("RIGHT LEG — medical clearance needed before any massage of the "
                               "catalogue: ")
    verbose = invoke(str(EXAMPLES / "dvt-left.json"), "--format", "text", "--verbose").stdout
    assert "Absolute Contraindications" in verbose and verbose.startswith(result.stdout[:200])


def test_turtle_is_queryable_rdf(tmp_path: Path) -> None:
    result = invoke(str(EXAMPLES / "dvt-left.json"), "--format", "turtle")
    graph = Graph().parse(data=result.stdout, format="turtle")
    rows = list(graph.query(
        """PREFIX km: <https://w3id.org/kgmassage#>
        SELECT ?status (COUNT(?d) AS ?n) WHERE {
          ?a a km:Assessment ; km:hasDecision ?d ; km:knowledgeVersion ?v ; km:assessedAt ?t .
          ?d km:status ?status ; km:hasReason ?r . ?r km:rule/km:ruleId "DVT" .
        } GROUP BY ?status ORDER BY ?status"""))
    assert [(str(s), int(n)) for s, n in rows] == [
        (str(KM.Forbidden), 19), (str(KM.RequiresClearance), 19)]
    assert (None, KM.inputDigest, None) in graph
    assert Literal(False) in set(graph.objects(None, KM.lifted))


def test_ndjson_cohort_keeps_going_past_a_bad_line(tmp_path: Path) -> None:
    lines = (EXAMPLES / "cohort.ndjson").read_text().splitlines()
    cohort = tmp_path / "cohort.ndjson"
    cohort.write_text("\n".join([lines[0], "{not json", lines[1]]) + "\n")
    out = tmp_path / "out.ndjson"
    result = invoke(str(cohort), "--format", "ndjson", "--out", str(out))
    assert result.exit_code == 2
    assert "cohort.ndjson, line 2" in result.stderr
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert [a["patient"] for a in written] == [json.loads(lines[0])["id"],
                                               json.loads(lines[1])["id"]]


def test_whole_example_cohort(tmp_path: Path) -> None:
    result = invoke(str(EXAMPLES / "cohort.ndjson"), "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(rows) == len((EXAMPLES / "cohort.ndjson").read_text().splitlines())
    assert all(sum(r["summary"].values()) == len(r["decisions"]) for r in rows)


def test_unreadable_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = invoke(str(tmp_path / "missing.json"), "--out", str(out))
    assert result.exit_code == 2
    assert "missing.json" in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_at_is_a_usage_error() -> None:
    result = invoke(str(EXAMPLES / "p-001.json"), "--at", "yesterday")
    assert result.exit_code == 2
    assert "--at" in result.stderr


def test_strict_refuses_a_non_conforming_record() -> None:
    bad = str(EXAMPLES / "invalid" / "bad-side.json")
    assert invoke(bad).exit_code == 0
    result = invoke(bad, "--strict")
    assert result.exit_code == 1
    assert "does not conform" in result.stderr
    assert result.stdout == ""
    # in a cohort, the line names the record refused (ids may repeat)
    lines = ['{"id": "p"}', '{"id": "p", "conditions": [{"type": "KneePain", "side": "lfet"}]}']
    cohort = invoke("-", "--strict", "--format", "ndjson", "--at", AT,
                    input="\n".join(lines) + "\n")
    assert (cohort.exit_code, cohort.stderr) == (
        1, "kgmassage: <stdin>, line 2: record p does not conform (1 violation(s)); strict "
        "mode refuses to assess it\n")


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
def test_engines_from_the_command_line(engine: str) -> None:
    result = invoke(str(EXAMPLES / "red-flags.json"), "--engine", engine)
    assert result.exit_code == 0


def test_real_entry_point() -> None:
    script = Path(sys.executable).with_name("kgmassage")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kgmassage"]
    done = subprocess.run([*command, "assess", str(EXAMPLES / "no-contraindications.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["permitted"] == 38
    missing = subprocess.run([*command, "assess", "nope.json"], capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr and "nope.json" in missing.stderr


def test_turtle_patient_as_blank_node(tmp_path: Path) -> None:
    record = tmp_path / "bn.ttl"
    record.write_text(
        "@prefix km: <https://w3id.org/kgmassage#> .\n"
        '[] a km:Patient ; km:identifier "bn-1" ;\n'
        "   km:hasCondition [ a km:DeepVeinThrombosis ; km:side km:Left ] .\n"
    )
    data = json.loads(invoke(str(record), "--at", AT).stdout)
    assert data["patient"] == "bn-1"
    assert data["summary"] == {"permitted": 0, "caution": 0, "requires-clearance": 19,
                               "forbidden": 19}


def test_a_fhir_bundle_without_patient_is_refused_clearly(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    result = invoke(str(bundle))
    assert result.exit_code == 2
    assert "the Bundle holds no Patient" in result.stderr


def test_a_cohort_on_two_processes_gives_what_one_gives(tmp_path: Path,
                                                        kgmassage_command: list[str]) -> None:
    lines = (EXAMPLES / "cohort.ndjson").read_text(encoding="utf-8").splitlines()
    again = json.loads(lines[0])  # the same patient twice in one chunk, with other data
    again["conditions"].append({"type": "DeepVeinThrombosis", "side": "right"})
    lines.insert(1, json.dumps(again))
    lines.insert(3, "{broken")
    cohort = tmp_path / "cohort.ndjson"
    cohort.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.ndjson"
        done = subprocess.run([*kgmassage_command, "assess", str(cohort), "--format", "ndjson",
                               "--out", str(out), "--jobs", jobs, "--chunk-size", "4",
                               "--at", "2026-11-20T10:00:00Z"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 2  # the bad line: reported, skipped, the rest assessed
        assert f"{cohort}, line 4: malformed JSON" in done.stderr
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    first, second = (json.loads(line) for line in outputs[0].splitlines()[:2])
    assert (first["patient"], second["patient"]) == ("c-001", "c-001")
    assert (first["summary"]["forbidden"], second["summary"]["forbidden"]) == (0, 19)
    assert len(outputs[0].splitlines()) == len(lines) - 1


def _reader(fifo: Path, got: list[bytes], first: int | None = None) -> threading.Thread:
    """A daemon thread that reads ``fifo`` (everything, or only ``first`` bytes) into ``got``."""
    def read() -> None:
        fd = os.open(fifo, os.O_RDONLY)
        try:
            if first is not None:
                got.append(os.read(fd, first))
            else:
                while chunk := os.read(fd, 65536):
                    got.append(chunk)
        finally:
            os.close(fd)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_out_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = invoke(str(EXAMPLES / "p-001.json"), "--out", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert json.loads(target.read_text())["patient"] == "p-001"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_out_into_a_fifo_writes_straight_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _reader(fifo, got)
    result = invoke(str(EXAMPLES / "p-001.json"), "--out", str(fifo))
    thread.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert json.loads(b"".join(got))["patient"] == "p-001"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_out_into_a_fifo_closed_early_is_a_one_line_error(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _reader(fifo, got, first=1)  # then closes: the rest (> a pipe's 64 KiB) fails
    result = invoke(str(EXAMPLES / "cohort.ndjson"), "--format", "json", "--out", str(fifo))
    thread.join(timeout=30)
    assert result.exit_code == 2
    assert result.stderr == f"kgmassage: cannot write {fifo}: Broken pipe\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_out_to_a_device_keeps_the_device() -> None:
    result = invoke(str(EXAMPLES / "p-001.json"), "--out", os.devnull)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_out_dash_is_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(str(EXAMPLES / "p-001.json"), "--out", "-")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["patient"] == "p-001"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["folder", "missing/out.json"])
def test_out_that_cannot_be_written_is_a_clear_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder").mkdir()
    result = invoke(str(EXAMPLES / "p-001.json"), "--out", str(tmp_path / name))
    assert result.exit_code == 2
    assert str(tmp_path / name) in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.org/sparql"])
def test_an_endpoint_that_is_not_an_http_url_is_named_as_such(url: str) -> None:
    result = invoke(str(EXAMPLES / "p-001.json"), "--endpoint", url)
    assert result.exit_code == 2
    assert f"--endpoint must be an http:// or https:// URL, not {url!r}" in result.output


@pytest.mark.parametrize("name", ["bundle.xml", "-"])
def test_xml_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    """A FHIR Bundle in XML (by its extension, or by its content on standard input) is not
    read as Turtle: one line says what to give instead."""
    xml = '<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/></Bundle>\n'
    if name == "-":
        result = invoke("-", input=xml)
    else:
        (tmp_path / name).write_text(xml, encoding="utf-8")
        result = invoke(str(tmp_path / name))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"kgmassage: {tmp_path / name if name != '-' else '<stdin>'}: XML is not read (a FHIR "
        "Bundle in XML too): give the record as JSON (a FHIR Bundle in JSON) or Turtle"]


@pytest.mark.parametrize("name", ["r.trig", "r.nq", "r.nquads"])
def test_named_graphs_are_refused_in_one_line(tmp_path: Path, name: str) -> None:
    """Trial 14: TriG and N-Quads were called "malformed Turtle"."""
    (tmp_path / name).write_text("<urn:p> <urn:q> <urn:r> <urn:g> .\n", encoding="utf-8")
    result = invoke(str(tmp_path / name))
    assert (result.exit_code, result.stderr.strip()) == (
        2, f"kgmassage: {tmp_path / name}: TriG and N-Quads (named graphs) are not read: give "
        "the record as Turtle or N-Triples (one graph)")


def test_ndjson_on_standard_input_with_a_broken_first_line_reads_the_others() -> None:
    """Trial 13: a first line with trailing garbage made standard input one broken JSON value
    (no record read, and a hint to name a file that stdin does not have)."""
    lines = ['{"id": "bad"} x',
             '{"id": "dvt", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}',
             '{"id": "ok"}']
    result = invoke("-", "--format", "ndjson", "--at", "2026-11-20T10:00:00Z",
                    input="\n".join(lines) + "\n")
    assert result.exit_code == 2
    assert "<stdin>" in result.stderr and "line 1" in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["patient"], o["summary"]["forbidden"]) for o in out] == [("dvt", 19), ("ok", 0)]
    pretty = json.dumps({"id": "one", "conditions": [{"type": "KneePain"}]}, indent=2)
    assert json.loads(invoke("-", "--at", "2026-11-20T10:00:00Z", input=pretty).stdout
                      )["patient"] == "one"


def test_a_boolean_rdflib_cannot_read_is_named_by_validation_without_a_warning(
        tmp_path: Path, kgmassage_command: list[str]) -> None:
    record = tmp_path / "r.ttl"
    record.write_text(
        "@prefix km: <https://w3id.org/kgmassage#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        '<urn:p:1> a km:Patient ; km:identifier "p1" ;\n'
        '  km:assessedAt "2026-11-20"^^xsd:date ;\n'
        '  km:hasProcedure [ a km:KneeSurgery ; km:performedOn "2026-11-01"^^xsd:date ;\n'
        '    km:incisionClosed " false "^^xsd:boolean ; km:suturesRemoved true ;\n'
        "    km:side km:Left ] .\n", encoding="utf-8")
    done = subprocess.run([*kgmassage_command, "assess", str(record)], capture_output=True,
                          text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    out = json.loads(done.stdout)
    assert [(v["field"], v["severity"]) for v in out["validation"]] == [
        ("procedures[?].incision_closed", "Violation")]
    left = {d["status"] for d in out["decisions"] if d["side"] == "left"}
    assert left == {"forbidden"}  # 19 days after surgery, a wound not known to be healed


@pytest.mark.parametrize("fmt", ["ndjson", "json", "text"])
def test_records_sharing_a_patient_id_are_named_on_stderr(tmp_path: Path, fmt: str) -> None:
    """A trial: a DVT patient and another record with the same id were both assessed with
    nothing said; a consumer keying results by id kept the last one: 38 permitted."""
    path = tmp_path / "c.ndjson"
    lines = [{"id": "a", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]},
             {"id": "a"}, {"id": "a"}, {"id": "b"}, {}, {}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    result = invoke(str(path), "--at", AT, "--format", fmt, "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        'kgmassage: patient id "a" is given to more than one record: each is assessed on its '
        "own; do not join the results by id",
        "kgmassage: more than one record has no patient id: each is assessed on its own; do not "
        "join the results by id"]
