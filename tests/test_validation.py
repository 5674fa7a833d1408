"""validate(): reports, assessment time, JSON vs Turtle, examples, context filtering."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from records_helpers import EXAMPLES, RECORDS, own_results, patient_shapes, validated

from kgmassage import resources
from kgmassage.errors import RecordError
from kgmassage.namespaces import KM, KM_IRI
from kgmassage.records import load_record
from kgmassage.validation import (
    SEVERITIES,
    ValidationReport,
    ValidationResult,
    json_field,
    validate,
)


def test_report_of_a_record_with_problems() -> None:
    (report,) = validated(RECORDS / "unknown-fields.json")
    assert isinstance(report, ValidationReport)
    assert report.record == "unknown-fields"
    assert report.source == str(RECORDS / "unknown-fields.json")
    assert (report.line, report.at) == (1, "2026-11-20T10:00:00Z")
    assert report.conforms is False  # a misspelt list may hide a DVT: a Violation
    assert all(isinstance(r, ValidationResult) for r in report.results)
    assert (report.count("Violation"), report.count("Warning"), len(report.results)) == (1, 4, 5)
    by_field = {r.field: r for r in report.results}
    condtions = by_field["condtions"]
    assert condtions.path == str(KM.unrecognizedContent)
    assert condtions.severity == "Violation"
    assert condtions.focus == "urn:kgmassage:patient:unknown-fields"
    assert '"condtions"' in condtions.message and "no clearance lifts" in condtions.message
    severity = by_field["conditions[0].severity"]
    assert severity.value == "severity=7" and "no rule reads it" in severity.message


def test_results_are_sorted_and_serialisable() -> None:
    (report,) = validated(RECORDS / "planned-missing.json")
    keys = [(SEVERITIES.index(r.severity), r.field or "", r.message) for r in report.results]
    assert keys == sorted(keys)
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"record", "source", "line", "at", "conforms", "results"}
    assert data["conforms"] is False
    assert set(data["results"][0]) == {
        "severity", "focus", "path", "value", "message", "shape", "field"}


def test_report_graph_is_a_standard_shacl_report() -> None:
    (report,) = validated(RECORDS / "wound-flags-bad.json")
    graph = report.graph
    (node,) = graph.subjects(RDF.type, SH.ValidationReport)
    assert graph.value(node, SH.conforms) == Literal(False)
    results = list(graph.objects(node, SH.result))
    assert len(results) == len(report.results) == 2
    for result in results:
        assert graph.value(result, SH.resultSeverity) == SH.Violation
        assert graph.value(result, SH.focusNode) == URIRef(
            "urn:kgmassage:patient:wound-flags-bad/procedures/0")


def test_invalid_date_future_onset_and_unknown_type_are_reported() -> None:
    report = validate({
        "id": "p-9", "assessed_at": "2026-11-20T10:00:00Z",
        "conditions": [{"type": "SevereSprain", "onset": "2026-02-30"},
                       {"type": "Fracture", "onset": "2026-11-21T00:00:00Z"},
                       {"type": "Meniscitis", "side": "left"}],
    })
    assert not report.conforms
    fields = {(r.severity, r.field, r.shape.rpartition("#")[2]) for r in report.results}
    assert {("Violation", "conditions[0].onset", "UnreadableDate"),
            ("Violation", "conditions[1].onset", "FutureDate"),
            ("Violation", "conditions[2].type", "ItemType")} <= fields


def test_assessment_time_caller_then_record_then_now() -> None:
    path = RECORDS / "onset-future.json"  # onset 2026-11-21, assessed 2026-11-20T10:00Z
    shapes = patient_shapes()
    assert not validate(path, shapes=shapes).conforms
    later = validate(path, at="2026-11-21T00:00:00Z", shapes=shapes)
    assert later.conforms and later.at == "2026-11-21T00:00:00Z"
    naive = validate(path, at=datetime(2026, 11, 22, 9, 0), shapes=shapes)
    assert naive.conforms and naive.at == "2026-11-22T09:00:00Z"
    day = validate(path, at="2026-11-20", shapes=shapes)  # a bare date: the start of that day
    assert day.at == "2026-11-20T00:00:00Z" and not day.conforms
    undated = validate({"id": "x"}, shapes=shapes)
    stamp = datetime.fromisoformat(undated.at.replace("Z", "+00:00"))
    assert abs((stamp - datetime.now(timezone.utc)).total_seconds()) < 120
    with pytest.raises(ValueError):
        validate(path, at="next tuesday", shapes=shapes)


def test_sources_of_every_kind() -> None:
    path = EXAMPLES / "no-contraindications.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    record = load_record(path)
    shapes = patient_shapes()
    for source in (obj, path, str(path), record, record.graph):
        report = validate(source, shapes=shapes)
        assert (report.record, report.conforms) == ("no-contraindications", True)
    with pytest.raises(RecordError):
        validate(RECORDS / "two-patients.ttl", shapes=shapes)


def test_json_and_turtle_give_the_same_results() -> None:
    (from_json,) = validated(EXAMPLES / "p-001.json", all_shapes=True)
    (from_ttl,) = validated(EXAMPLES / "p-001.ttl", all_shapes=True)
    assert from_json.results == from_ttl.results
    assert (from_json.record, from_json.conforms, from_json.at) == (
        from_ttl.record, from_ttl.conforms, from_ttl.at)
    assert not own_results(from_json)  # the record itself is valid


def test_turtle_record_with_plain_literal_side() -> None:
    (report,) = validated(RECORDS / "side-literal.ttl")
    side = next(r for r in report.results if r.field == "conditions[?].side")
    assert (side.severity, side.value) == ("Violation", "left")
    assert side.focus.startswith("_:")


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES.glob("*.json")) + [EXAMPLES / "p-001.ttl", EXAMPLES / "cohort.ndjson"],
    ids=lambda p: p.name,
)
def test_examples_are_valid_records(path: Path) -> None:
    for report in validated(path):
        assert own_results(report) == set(), report.record


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("invalid/*.json")), ids=lambda p: p.name)
def test_invalid_examples_do_not_conform(path: Path) -> None:
    (report,) = validated(path)
    assert not report.conforms
    assert any(severity == "Violation" for severity, _, _ in own_results(report))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("warnings/*.json")), ids=lambda p: p.name)
def test_warning_examples_conform_with_warnings(path: Path) -> None:
    (report,) = validated(path)
    assert report.conforms
    assert {severity for severity, _, _ in own_results(report)} == {"Warning"}


def test_results_about_context_or_knowledge_are_not_reported() -> None:
    shapes = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix km: <https://w3id.org/kgmassage#> .
        <urn:test:NoDateFacts> a sh:NodeShape ; sh:targetObjectsOf km:dateFact ;
            sh:property [ sh:path km:instant ; sh:maxCount 0 ] .
        <urn:test:NoKnee> a sh:NodeShape ; sh:targetNode km:Knee ;
            sh:property [ sh:path km:adjacentTo ; sh:maxCount 0 ] .
        <urn:test:NoOnset> a sh:NodeShape ; sh:targetSubjectsOf km:onset ;
            sh:property [ sh:path km:onset ; sh:maxCount 0 ] .
    """, format="turtle")
    report = validate(RECORDS / "valid-same-day.json", shapes=shapes)
    assert [(r.severity, r.field) for r in report.results] == [
        ("Violation", "conditions[0].onset")]


def test_cached_graphs_are_not_changed() -> None:
    sizes = (len(resources.shapes_graph()), len(resources.rules_graph()),
             len(resources.ontology_graph()))
    record = load_record(RECORDS / "onset-future.json")
    before = len(record.graph)
    validate(record, shapes=patient_shapes())
    assert (len(resources.shapes_graph()), len(resources.rules_graph()),
            len(resources.ontology_graph())) == sizes
    assert len(record.graph) == before


def test_json_field() -> None:
    record = load_record(RECORDS / "valid-full.json")
    graph, patient = record.graph, record.iri
    item = URIRef(f"{patient}/conditions/1")
    assert json_field(graph, patient, patient, KM.identifier) == "id"
    assert json_field(graph, patient, patient) is None
    assert json_field(graph, patient, item) == "conditions[1]"
    assert json_field(graph, patient, item, KM.side) == "side".join(["conditions[1].", ""])
    assert json_field(graph, patient, URIRef(f"{item}/code"), KM.codeValue) == (
        "conditions[1].code.code")
    assert json_field(graph, patient, URIRef(f"{patient}/procedures/0"), KM.performedOn) == (
        "procedures[0].date")
    assert json_field(graph, patient, patient, KM.unrecognizedField, Literal("x=1")) == "x"
    assert json_field(graph, patient, KM.Knee, KM.inRegion) is None


def test_examples_readme_describes_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    files = [p for p in EXAMPLES.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    for path in files:
        assert f"`{path.relative_to(EXAMPLES).as_posix()}`" in readme, path.name


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_a_future_date_beside_another_is_the_one_named(tmp_path: Path, engine: str) -> None:
    """A trial: of two onsets, the past one was named "after the assessment time"."""
    path = tmp_path / "two.ttl"
    path.write_text(
        "@prefix km: <https://w3id.org/kgmassage#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        '<urn:kgmassage:patient:t> a km:Patient ; km:identifier "t" ;\n'
        "  km:hasCondition <urn:kgmassage:patient:t/conditions/0> .\n"
        "<urn:kgmassage:patient:t/conditions/0> a km:SevereSprain ; km:side km:Left ;\n"
        '  km:onset "2026-11-01"^^xsd:date , "2026-12-25"^^xsd:date .\n', encoding="utf-8")
    report = validate(path, at="2026-11-20T10:00:00Z", engine=engine)
    future = [r for r in report.results if r.shape and r.shape.endswith("#FutureDate")]
    assert [(r.value, r.message.split(" is after")[0]) for r in future] == [
        ("2026-12-25", "The date 2026-12-25")]


def test_an_engine_built_once_is_the_one_validate_uses() -> None:
    from kgmassage.engine import Engine

    record = {"id": "p-e", "conditions": [{"type": "Fracture", "side": "left",
                                          "onset": "2026-13-01"}],
              "planned": [{"technique": "Petrissage", "target": "Quadriceps", "side": "left"}]}
    packaged = validate(record, at="2026-11-20T10:00:00Z")
    same = validate(record, at="2026-11-20T10:00:00Z", engine=Engine(resources.rules_graph()))
    assert same.results == packaged.results
    assert "onset" in {r.field.rsplit(".", 1)[-1] for r in packaged.results if r.field}
    # an engine without record shapes: only the plan checked by the rules remains
    bare = validate(record, at="2026-11-20T10:00:00Z",
                    engine=Engine(resources.rules_graph(), shapes=Graph()))
    assert [(r.severity, r.field, r.rules) for r in bare.results] == [
        ("Violation", "planned[0]", (KM_IRI + "RuleAcuteInjury",))]
