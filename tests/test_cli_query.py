"""``kgmassage query``: through click's runner and through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kgmassage.cli import main
from kgmassage.namespaces import KM_IRI


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["query", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list() -> None:
    code, out, err = run("--list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert any(
        line.startswith("research/muscles-crossing-knee")
        and line.endswith("Which muscles cross the knee joint?")
        for line in lines
    )
    assert any(line.startswith("qc/missing-label-violation ") for line in lines)
    assert len(lines) >= 20


def test_table_is_the_default() -> None:
    code, out, err = run("muscles-crossing-knee")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["muscle", "label", "region", "regionLabel"]
    assert [line.split()[0] for line in lines[2:9]] == [
        "km:Gastrocnemius", "km:Hamstrings", "km:Quadriceps", "km:RectusFemoris",
        "km:VastusIntermedius", "km:VastusLateralis", "km:VastusMedialis",
    ]
    # labels beside the terms
    assert lines[2].split() == ["km:Gastrocnemius", "gastrocnemius", "km:LowerLeg", "lower", "leg"]
    assert lines[-1] == "(7 rows)"


def test_table_shows_labels_of_the_new_questions() -> None:
    code, out, err = run("contraindication-hazards", "--bind", "rule=DVT")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["rule", "ruleLabel", "hazard", "hazardLabel"]
    assert "dislodgement of a blood clot leadsTo pulmonary embolism" in lines[2]
    assert lines[-1] == "(1 row)"


def test_csv_and_json() -> None:
    code, out, _ = run("self-massage-options", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["technique", "techniqueLabel", "target", "targetLabel", "region",
                       "regionLabel"]
    assert len(rows) == 8
    assert rows[1] == [KM_IRI + "FoamRolling", "foam rolling", KM_IRI + "Hamstrings",
                       "hamstrings", KM_IRI + "Thigh", "thigh"]
    code, out, _ = run("therapy-sequence", "--format", "json")
    document = json.loads(out)
    assert document["head"]["vars"] == ["first", "firstLabel", "firstPressure", "then",
                                        "thenLabel", "thenPressure"]
    assert document["results"]["bindings"][0]["then"]["value"] == KM_IRI + "Petrissage"


def test_ask_query_text() -> None:
    code, out, _ = run("ASK { km:IliotibialBand km:pullsOn km:KneeJoint }", "--format", "json")
    assert code == 0 and json.loads(out) == {"head": {}, "boolean": True}


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
def test_bind_and_engine(engine: str) -> None:
    code, out, _ = run(
        "technique-mechanisms", "--bind", "technique=Effleurage", "--format", "csv",
        "--engine", engine,
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert {row[0] for row in rows} == {KM_IRI + "Effleurage"} and len(rows) == 4


def test_query_file_and_data(tmp_path: Path) -> None:
    query = tmp_path / "lesions.rq"
    query.write_text(
        "PREFIX km: <https://w3id.org/kgmassage#>\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?item ?class WHERE { ?p km:hasCondition ?item . ?item a ?class .\n"
        "  ?class rdfs:subClassOf* km:SkinLesion } ORDER BY ?item\n",
        encoding="utf-8",
    )
    record = tmp_path / "p.json"
    record.write_text(json.dumps({"id": "p", "conditions": [{"type": "Cellulitis"}]}))
    code, out, err = run(str(query), "--data", str(record), "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[1] == ["urn:kgmassage:patient:p/conditions/0", KM_IRI + "Cellulitis"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-query",), "unknown query 'no-such-query'"),
        (("SELECT ?x WHERE { ?x km:crosses }",), "SPARQL syntax error"),
        (("muscles-crossing-knee", "--data", "/no/such.ttl"), "/no/such.ttl: no such file"),
        (("muscles-crossing-knee", "--bind", "technique"), "is not VAR=VALUE"),
        ((), "give a QUERY"),
        # a SERVICE that cannot be reached (the fast engine failed while its answer was read)
        (("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", "--engine",
          "oxigraph"), "query failed"),
        (("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", "--engine",
          "rdflib"), "query failed"),
        # an update is named as one, not as "expected CONSTRUCT"
        (("INSERT DATA { km:a km:b km:c }", "--engine", "oxigraph"),
         "updates (INSERT …) are refused"),
        (("DELETE WHERE { ?s ?p ?o }", "--engine", "rdflib"), "updates (DELETE …) are refused"),
        (("SELECT ?x WHERE { ?x foo:crosses ?y }", "--engine", "oxigraph"),
         "SPARQL syntax error"),
    ],
)
def test_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgmassage: ") and message in lines[0]
    if "syntax error" in message:
        assert len(lines[0]) < 400  # not oxigraph's whole list of character ranges
    assert "Traceback" not in err


def test_real_entry_point(kgmassage_command: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [*kgmassage_command, "query", "tension-paths", "--format", "json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    bindings = json.loads(done.stdout)["results"]["bindings"]
    assert [b["path"]["value"] for b in bindings][-1] == (
        "TensorFasciaeLatae attachesTo IliotibialBand pullsOn KneeJoint"
    )
    failed = subprocess.run(
        [*kgmassage_command, "query", "no-such-query"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_bad_turtle_gives_the_same_message_as_validate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix km: <https://w3id.org/kgmassage#> .\nkm:a km:b km:c .\n\n'
                   'km:x km:y "unterminated .\n', encoding="utf-8")
    expected = f"kgmassage: {bad}, line 4: malformed Turtle: newline found in string literal\n"
    runner = CliRunner()
    queried = runner.invoke(main, ["query", "muscles-crossing-knee", "--data", str(bad)])
    validated = runner.invoke(main, ["validate", str(bad)])
    assert (queried.exit_code, queried.stderr) == (2, expected)
    assert (validated.exit_code, validated.stderr) == (2, expected)


def test_a_bound_name_in_another_case_is_the_term_and_an_unknown_variable_is_refused() -> None:
    from kgmassage import KnowledgeBase, QueryError

    kb = KnowledgeBase.load()
    rows = kb.query("conditions-by-contraindication", bindings={"class": "fracture"}).to_dicts()
    assert {r["rule"].toPython() for r in rows} == {"ACUTE-INJURY"}
    with pytest.raises(QueryError, match=r"has no variable \?klass to bind"):
        kb.query("conditions-by-contraindication", bindings={"klass": "Fracture"})


def test_data_dates_stay_as_written_without_a_warning(kgmassage_command: list[str],
                                                      tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"id": "z", "assessed_at": "2026-11-20T10:00Z", "conditions": '
                      '[{"type": "KneePain", "onset": "2026-11-31"}]}', encoding="utf-8")
    query = tmp_path / "q.rq"
    query.write_text(f"PREFIX km: <{KM_IRI}>\nSELECT ?value WHERE {{ ?node km:assessedAt|"
                     "km:onset ?value } ORDER BY ?value\n", encoding="utf-8")
    done = subprocess.run([*kgmassage_command, "query", str(query), "--data", str(record),
                           "--format", "csv"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == ""  # no rdflib traceback
    assert done.stdout.split() == ["value", "2026-11-20T10:00Z", "2026-11-31"]


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_named_graph_data_is_queried_and_a_bom_is_no_query_text(tmp_path: Path,
                                                                engine: str) -> None:
    trig = tmp_path / "d.trig"
    trig.write_text("@prefix ex: <http://example.org/> .\n"
                    "ex:g1 { ex:a ex:p ex:b . }\n{ ex:c ex:p ex:d . }\n", encoding="utf-8")
    nquads = tmp_path / "d.nq"
    nquads.write_text("<http://example.org/e> <http://example.org/p> <http://example.org/f> "
                      "<http://example.org/g2> .\n", encoding="utf-8")
    query = tmp_path / "q.rq"
    query.write_bytes(b"\xef\xbb\xbfSELECT ?s WHERE { ?s <http://example.org/p> ?o } ORDER BY ?s")
    code, out, err = run(str(query), "--data", str(trig), "--data", str(nquads),
                         "--format", "csv", "--engine", engine)
    assert code == 0, err
    assert out.split() == ["s", "http://example.org/a", "http://example.org/c",
                           "http://example.org/e"]


def test_a_federated_query_is_not_run_with_patient_data() -> None:
    """A trial: a third-party query file with SERVICE sent the identifiers of the records
    given with --data to a server of its choosing."""
    query = ("PREFIX km: <https://w3id.org/kgmassage#>\nSELECT * WHERE { ?p km:identifier ?id . "
             "service <http://127.0.0.1:9/sparql> { ?x ?y ?id } }")
    code, out, err = run(query, "--data", "examples/p-001.json")
    assert (code, out) == (2, "")
    assert err == ("kgmassage: <query text> calls another server (SERVICE): it is not run with "
                   "patient data (--data), which it could send there\n")


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { ?p km:identifier ?id ; km:hasCondition ?c . ?c a ?t "
    ".SERVICE <http://127.0.0.1:9/sparql> { ?s ?x ?o } }",
    "PREFIX ex: <urn:x#> SELECT * WHERE { ?p km:identifier ?id . OPTIONAL { ?c ex:a\\' ?z } "
    "SERVICE <http://127.0.0.1:9/s> { ?a ?b ?c } FILTER(?id != 'x') }",
])
def test_a_federated_query_written_to_slip_past_is_refused(query: str) -> None:
    """A trial: a SERVICE right after a dot, or after a local name with an escaped quote,
    was not seen, and the patient's data went to the server."""
    code, out, err = run(query, "--data", "examples/p-001.json")
    assert (code, out) == (2, "")
    assert "calls another server (SERVICE)" in err
