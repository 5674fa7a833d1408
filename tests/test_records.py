"""Patient records → patient graphs: the mapping, round trips, sources, and bad input."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS
from records_helpers import EXAMPLES, RECORDS, records_of

from kgmassage.errors import RecordError
from kgmassage.namespaces import KM
from kgmassage.records import (
    PatientRecord,
    graph_to_record,
    iter_records,
    keep_lexical_forms,
    load_record,
    record_to_graph,
)

P = "urn:kgmassage:patient:p-1"
DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")
DATE_TIME = URIRef("http://www.w3.org/2001/XMLSchema#dateTime")


def _lit(text: str, datatype: URIRef) -> Literal:
    """A literal with exactly this lexical form (as records keep it), quietly even if invalid."""
    with keep_lexical_forms():
        return Literal(text, datatype=datatype, normalize=False)


def _item(name: str) -> URIRef:
    return URIRef(f"{P}/{name}")


# --- the mapping ----------------------------------------------------------------------------


def test_patient_node_identifier_and_dates_keep_their_lexical_form() -> None:
    graph = record_to_graph(
        {"id": "p-1", "assessed_at": "2026-11-20T10:00:00Z", "birth_date": "1958-04-02"}
    )
    patient = URIRef(P)
    assert (patient, RDF.type, KM.Patient) in graph
    assert graph.value(patient, KM.identifier) == Literal("p-1")
    assessed = graph.value(patient, KM.assessedAt)
    assert (str(assessed), assessed.datatype) == ("2026-11-20T10:00:00Z", DATE_TIME)
    born = graph.value(patient, KM.birthDate)
    assert (str(born), born.datatype) == ("1958-04-02", DATE)


def test_patient_iri_is_percent_encoded() -> None:
    record = load_record({"id": "a b/c"})
    assert record.iri == URIRef("urn:kgmassage:patient:a%20b%2Fc")
    assert record.id == "a b/c"


def test_record_without_id_gets_a_record_iri_and_no_identifier() -> None:
    records = records_of(RECORDS / "id-missing.json")
    assert [r.iri for r in records] == [URIRef("urn:kgmassage:record:1")]
    assert records[0].id is None
    assert records[0].graph.value(records[0].iri, KM.identifier) is None


def test_numeric_id_is_kept_as_a_number_and_not_used_as_iri() -> None:
    graph = record_to_graph({"id": 17}, position=3)
    node = URIRef("urn:kgmassage:record:3")
    assert graph.value(node, KM.identifier) == Literal(17)


def test_items_enumerations_and_codes() -> None:
    graph = record_to_graph({
        "id": "p-1",
        "conditions": [
            {"type": "DeepVeinThrombosis", "side": "left", "status": "suspected",
             "onset": "2026-11-19", "site": "Knee"},
            {"code": {"system": "http://snomed.info/sct", "code": 128053003, "display": "DVT"},
             "side": "Left", "status": "ruled out", "recorded_at": "2026-11-18"},
            {"type": "Deep Vein Thrombosis", "side": ["left"]},
        ],
        "findings": [{"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"}],
        "procedures": [{"type": "TotalKneeReplacement", "date": "2026-11-01",
                        "incision_closed": True, "sutures_removed": "no"}],
        "clearances": [{"date": "2026-11-15", "issued_by": "GP"}],
        "planned": [{"technique": "Petrissage", "target": "VastusLateralis", "side": "bilateral"}],
    })
    c0, c1, c2 = _item("conditions/0"), _item("conditions/1"), _item("conditions/2")
    assert set(graph.objects(URIRef(P), KM.hasCondition)) == {c0, c1, c2}
    assert set(graph.objects(c0, RDF.type)) == {KM.DeepVeinThrombosis}  # nothing from the list
    assert graph.value(c0, KM.side) == KM.Left
    assert graph.value(c0, KM.status) == KM.Suspected
    assert graph.value(c0, KM.site) == KM.Knee
    assert graph.value(c0, KM.onset) == _lit("2026-11-19", DATE)
    code = URIRef(f"{c1}/code")
    assert graph.value(c1, KM.code) == code
    assert (code, RDF.type, KM.Coding) in graph
    assert graph.value(code, KM.system) == URIRef("http://snomed.info/sct")
    assert graph.value(code, KM.codeValue) == Literal("128053003")
    assert graph.value(code, RDFS.label) == Literal("DVT")
    assert graph.value(c1, KM.side) == Literal("Left")  # not a side: a plain literal
    assert graph.value(c1, KM.status) == Literal("ruled out")
    assert graph.value(c1, KM.recordedAt) == _lit("2026-11-18", DATE)
    assert graph.value(c2, RDF.type) == URIRef(KM.Condition[:-len("Condition")]
                                               + "Deep%20Vein%20Thrombosis")
    assert graph.value(c2, KM.side) == Literal('["left"]')
    f0 = _item("findings/0")
    assert graph.value(f0, KM.recordedAt) == _lit("2026-11-20T09:00:00Z", DATE_TIME)
    pr0 = _item("procedures/0")
    assert graph.value(pr0, KM.performedOn) == _lit("2026-11-01", DATE)
    assert graph.value(pr0, KM.incisionClosed) == Literal(True)
    assert graph.value(pr0, KM.suturesRemoved) == Literal("no")
    cl0 = _item("clearances/0")
    assert (cl0, RDF.type, KM.Clearance) in graph
    assert graph.value(cl0, KM.issuedOn) == _lit("2026-11-15", DATE)
    assert graph.value(cl0, KM.issuedBy) == Literal("GP")
    pl0 = _item("planned/0")
    assert (pl0, RDF.type, KM.PlannedIntervention) in graph
    assert graph.value(pl0, KM.technique) == KM.Petrissage
    assert graph.value(pl0, KM.target) == KM.VastusLateralis
    assert graph.value(pl0, KM.side) == KM.Bilateral


def test_invalid_and_non_string_dates_are_kept_for_validation(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING):
        graph = record_to_graph({"id": "p-1", "conditions": [
            {"type": "KneePain", "onset": "2026-11-31"},
            {"type": "KneePain", "onset": "2026-11-20T25:00:00Z"},
            {"type": "KneePain", "onset": 20261119},
        ]})
    assert graph.value(_item("conditions/0"), KM.onset) == _lit("2026-11-31", DATE)
    assert graph.value(_item("conditions/1"), KM.onset) == _lit("2026-11-20T25:00:00Z",
                                                                DATE_TIME)
    assert graph.value(_item("conditions/2"), KM.onset) == Literal("20261119")
    assert not [r for r in caplog.records if "lexical form" in r.getMessage()]
    assert rdflib.NORMALIZE_LITERALS is True  # restored


def test_unknown_keys_are_kept_everywhere() -> None:
    graph = record_to_graph({
        "id": "p-1", "@context": "http://example.org/x", "notes": {"a": [1, 2]}, "more": [],
        "conditions": [{"type": "KneePain", "severity": 7, "date": "2026-11-01",
                        "code": {"system": "http://snomed.info/sct", "code": "1", "v": "x"}}],
        "procedures": [{"type": "KneeSurgery", "onset": "2026-11-01", "extra": {"a": 1}}],
        "planned": [{"technique": "Effleurage", "target": "Quadriceps", "onset": "2026-11-01"}],
    })
    fields = {(str(s), str(o)) for s, o in graph.subject_objects(KM.unrecognizedField)}
    assert fields == {
        (P, "@context=\"http://example.org/x\""),
        (P, "more=[]"),  # empty: hides nothing
        (f"{P}/conditions/0", "severity=7"),
        (f"{P}/conditions/0/code", 'v="x"'),
        (f"{P}/planned/0", 'onset="2026-11-01"'),  # no onset on a planned intervention
    }
    content = {(str(s), str(o)) for s, o in graph.subject_objects(KM.unrecognizedContent)}
    assert content == {(P, 'notes={"a":[1,2]}'), (f"{P}/procedures/0", 'extra={"a":1}')}
    # a condition's date and a procedure's onset are read (besides the item's own date)
    assert (URIRef(f"{P}/conditions/0"), KM.performedOn, None) in graph
    assert (URIRef(f"{P}/procedures/0"), KM.onset, None) in graph


def test_entries_that_are_not_objects_are_kept() -> None:
    graph = record_to_graph({"id": "p-1", "conditions": [{"type": "KneePain"}, "DVT", 3]})
    entries = {(str(s), str(o)) for s, o in graph.subject_objects(KM.unrecognizedEntry)}
    assert entries == {(f"{P}/conditions/1", '"DVT"'), (f"{P}/conditions/2", "3")}
    assert (URIRef(P), KM.hasCondition, URIRef(f"{P}/conditions/1")) in graph


def test_names_of_techniques_and_targets_are_resolved() -> None:
    graph = record_to_graph({"id": "p-1", "planned": [
        {"technique": " PETRISSAGE", "target": "knee cap"},
        {"technique": "foam  rolling", "target": "IT band"},
        {"technique": "Foo:Bar", "target": ["Patella"]},
    ]})
    p0, p1, p2 = _item("planned/0"), _item("planned/1"), _item("planned/2")
    assert (graph.value(p0, KM.technique), graph.value(p0, KM.target)) == (KM.Petrissage,
                                                                            KM.Patella)
    assert (graph.value(p1, KM.technique), graph.value(p1, KM.target)) == (KM.FoamRolling,
                                                                            KM.IliotibialBand)
    assert (graph.value(p2, KM.technique), graph.value(p2, KM.target)) == (
        Literal("Foo:Bar"), Literal('["Patella"]'))


def test_statuses_are_read_case_insensitively() -> None:
    graph = record_to_graph({"id": "p-1", "conditions": [
        {"type": "KneePain", "status": "Resolved"},
        {"type": "KneePain", "status": "ENTERED-IN-ERROR"},
        {"type": "KneePain", "status": "gone"},
    ]})
    assert [graph.value(_item(f"conditions/{i}"), KM.status) for i in range(3)] == [
        KM.Resolved, KM.EnteredInError, Literal("gone")]


def test_several_codes_on_one_item() -> None:
    graph = record_to_graph({"id": "p-1", "conditions": [{"code": [
        {"system": "http://snomed.info/sct", "code": "128053003"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I26.99"}]}]})
    codes = set(graph.objects(_item("conditions/0"), KM.code))
    assert codes == {URIRef(f"{P}/conditions/0/code/0"), URIRef(f"{P}/conditions/0/code/1")}


def test_code_system_that_is_not_an_iri_is_a_plain_literal() -> None:
    graph = record_to_graph({"id": "p-1", "conditions": [{"code": {"system": "SNOMED CT"}}]})
    assert graph.value(URIRef(f"{P}/conditions/0/code"), KM.system) == Literal("SNOMED CT")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": "p", "conditions": {"type": "KneePain"}}, "conditions"),
        ({"id": "p", "findings": "Fever"}, "findings"),
        ({"id": "p", "procedures": [{"code": "27447"}]}, "procedures[0].code"),
        ({"id": ["p"]}, "id"),
    ],
)
def test_wrong_shapes_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordError) as err:
        record_to_graph(record, source="x.json")
    assert err.value.field == field
    assert err.value.source == "x.json"
    assert field in str(err.value)


def test_a_record_must_be_an_object() -> None:
    with pytest.raises(RecordError, match="JSON object"):
        record_to_graph(["p"])  # type: ignore[arg-type]


# --- round trips ----------------------------------------------------------------------------


def _normalised(obj: Any, list_name: str | None = None) -> Any:
    """A record as graph_to_record gives it back: nulls dropped, known statuses in their
    notation (they are read trimmed and case-insensitively)."""
    statuses = {"active", "suspected", "resolved", "refuted", "entered-in-error"}
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if value is None:
                continue
            if key == "status" and isinstance(value, str) and value.lower() in statuses:
                value = value.lower()
            out[key] = _normalised(value, key if isinstance(value, list) else list_name)
        return out
    if isinstance(obj, list):
        return [_normalised(v, list_name) for v in obj]
    return obj


#: Records with non-text values where text is expected: those come back as text.
NON_TEXT_VALUES = ("id-number", "onset-number", "side-number", "wound-flags-bad",
                   "code-value-number", "wound-flags-not-boolean")


def _json_files() -> list[Path]:
    files = sorted(EXAMPLES.glob("*.json")) + sorted(EXAMPLES.glob("*/*.json"))
    files += sorted(RECORDS.glob("*.json"))
    return [p for p in files if p.stem not in NON_TEXT_VALUES]


@pytest.mark.parametrize("path", _json_files(), ids=lambda p: p.name)
def test_json_graph_json_round_trip(path: Path) -> None:
    obj = json.loads(path.read_text(encoding="utf-8"))
    record = load_record(path)
    assert graph_to_record(record.graph, record.iri) == _normalised(obj)


@pytest.mark.parametrize("path", _json_files(), ids=lambda p: p.name)
def test_turtle_form_gives_an_isomorphic_graph(path: Path, tmp_path: Path) -> None:
    record = load_record(path)
    ttl = tmp_path / "record.ttl"
    ttl.write_text(record.graph.serialize(format="turtle"), encoding="utf-8")
    again = load_record(ttl)
    assert again.iri == record.iri
    assert isomorphic(again.graph, record.graph)
    assert again.assessed_at == record.assessed_at


def test_example_turtle_is_the_example_json() -> None:
    from_json = load_record(EXAMPLES / "p-001.json")
    from_ttl = load_record(EXAMPLES / "p-001.ttl")
    assert from_ttl.iri == from_json.iri
    assert isomorphic(from_ttl.graph, from_json.graph)
    assert graph_to_record(from_ttl.graph, from_ttl.iri) == json.loads(
        (EXAMPLES / "p-001.json").read_text(encoding="utf-8"))
    assert (from_ttl.id, from_ttl.assessed_at) == ("p-001", "2026-11-20T10:00:00Z")


def test_digest_is_of_the_canonical_json() -> None:
    a = load_record({"id": "p-1", "conditions": [{"type": "KneePain", "side": "left"}]})
    b = load_record({"conditions": [{"side": "left", "type": "KneePain"}], "id": "p-1"})
    c = load_record({"id": "p-1", "conditions": [{"type": "KneePain", "side": "right"}]})
    assert a.digest == b.digest != c.digest
    assert a.digest.startswith("sha256:") and len(a.digest) == 7 + 64


def test_turtle_digest_is_stable_with_blank_nodes() -> None:
    path = RECORDS / "side-literal.ttl"
    assert load_record(path).digest == load_record(path).digest


# --- sources --------------------------------------------------------------------------------


def test_json_array_keeps_going_past_bad_elements(tmp_path: Path) -> None:
    path = tmp_path / "cohort.json"
    path.write_text('[\n  {"id": "a"},\n  5,\n  {"id": "b", "conditions": {}},\n'
                    '  {"id": "c"}\n]\n', encoding="utf-8")
    items = list(iter_records(path))
    assert [type(i).__name__ for i in items] == [
        "PatientRecord", "RecordError", "RecordError", "PatientRecord"]
    assert (items[0].position, items[0].line) == (1, 2)
    assert (items[1].line, items[2].line, items[2].field) == (3, 4, "conditions")
    assert (items[3].id, items[3].position, items[3].line) == ("c", 4, 5)


@pytest.mark.parametrize("suffix", [".ndjson", ".jsonl"])
def test_ndjson_keeps_going_past_bad_lines(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cohort{suffix}"
    path.write_bytes(b'{"id": "a"}\n\n{"id": "b",}\n[1]\n{"id": "c", "conditions": {}}\n'
                     b'\xff\xfe\n{"id": "d"}\r\n')
    items = list(iter_records(path))
    records = [i for i in items if isinstance(i, PatientRecord)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [(r.id, r.line, r.position) for r in records] == [("a", 1, 1), ("d", 7, 6)]
    assert [(e.line, e.field) for e in errors] == [(3, None), (4, None), (5, "conditions"),
                                                   (6, None)]
    assert "UTF-8" in errors[-1].detail


def test_cohort_example_reads_every_record() -> None:
    records = records_of(EXAMPLES / "cohort.ndjson")
    assert len(records) >= 10
    assert [r.line for r in records] == list(range(1, len(records) + 1))
    assert len({r.id for r in records}) == len(records)


def test_turtle_with_several_patients_is_split() -> None:
    records = records_of(RECORDS / "two-patients.ttl")
    assert [(r.id, r.position) for r in records] == [("anna", 1), ("ben", 2)]
    assert [r.line for r in records] == [6, 13]
    anna, ben = records
    assert (URIRef("http://example.org/clinic/anna-oa"), RDF.type, KM.Osteoarthritis) in anna.graph
    assert not set(anna.graph.subjects()) & set(ben.graph.subjects())
    assert ben.assessed_at == "2026-11-21T08:00:00Z"


def test_graph_source_and_orphans(tmp_path: Path) -> None:
    graph = Graph().parse(RECORDS / "two-patients.ttl")
    assert [r.id for r in iter_records(graph)] == ["anna", "ben"]
    graph.add((URIRef("http://example.org/lost"), RDF.type, KM.DeepVeinThrombosis))
    (error,) = iter_records(graph)  # a DVT nobody's: no patient of the file is read
    assert isinstance(error, RecordError)
    assert "not a patient, an item of a patient's lists or an item's code" in error.detail
    assert "http://example.org/lost" in error.detail


def test_turtle_without_patient(tmp_path: Path) -> None:
    path = tmp_path / "none.ttl"
    path.write_text("<urn:a> <urn:b> <urn:c> .\n", encoding="utf-8")
    (error,) = iter_records(path)
    assert isinstance(error, RecordError) and "km:Patient" in error.detail


def test_dict_and_record_sources() -> None:
    record = load_record({"id": "p-1"})
    assert (record.source, record.position, record.line) == ("<dict>", 1, None)
    assert load_record(record) is record
    assert load_record({"id": "p-1"}, name="mine").source == "mine"
    (error,) = iter_records(3.5)  # type: ignore[arg-type]
    assert isinstance(error, RecordError)


@pytest.mark.parametrize(
    ("data", "ids"),
    [
        (b'{"id": "a",\n "conditions": []}\n', ["a"]),
        (b'[{"id": "a"}, {"id": "b"}]', ["a", "b"]),
        (b'{"id": "a"}\n{"id": "b"}\n', ["a", "b"]),
        ((EXAMPLES / "p-001.ttl").read_bytes(), ["p-001"]),
    ],
    ids=["json", "array", "ndjson", "turtle"],
)
def test_stdin_is_recognised_by_content(monkeypatch: Any, data: bytes, ids: list[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    items = list(iter_records("-"))
    assert [i.id for i in items] == ids
    assert all(i.source == "<stdin>" for i in items)


# --- bad input ------------------------------------------------------------------------------


def _only_error(path: Path) -> RecordError:
    (item,) = list(iter_records(path))
    assert isinstance(item, RecordError)
    assert item.source == str(path)
    return item


@pytest.mark.parametrize(
    ("name", "content", "line", "words"),
    [
        ("malformed.json", b'{"id": "a",\n "conditions": [1,\n', 3, "malformed JSON"),
        ("trailing.json", b'{"id": "a"}\n{"id": "b"}\n', 2, ".ndjson"),
        ("bad.ttl", b'@prefix km: <https://w3id.org/kgmassage#> .\n\n<urn:x> a km:Patient ;\n'
                    b'  km:identifier "x"\n  km:foo .\n', 5, "malformed Turtle"),
        ("string.json", b'"p-001"', 1, "not a string"),
        ("number.json", b"\n\n42\n", 3, "not a number"),
        ("latin1.json", b'{"id": "Jos\xe9"}', 1, "UTF-8"),
        ("latin1.ttl", b'<urn:a> <urn:b> "x" .\n<urn:a> <urn:b> "\xe9" .\n', 2, "UTF-8"),
        ("empty.json", b"", None, "empty"),
        ("blank.ttl", b"  \n\n", None, "empty"),
        ("empty.ndjson", b"\n\n", None, "empty"),
        ("none.json", b"[]", 1, "no records"),
    ],
)
def test_bad_files_name_file_and_line(
    tmp_path: Path, name: str, content: bytes, line: int | None, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    error = _only_error(path)
    assert error.line == line
    assert words in error.detail
    assert str(path) in str(error)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such file" in _only_error(tmp_path / "missing.json").detail
    assert "directory" in _only_error(tmp_path).detail


def test_load_record_wants_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="more than one"):
        load_record(RECORDS / "two-patients.ttl")
    with pytest.raises(RecordError, match="no such file"):
        load_record(tmp_path / "missing.json")


def test_parsing_never_touches_the_network(monkeypatch: Any, tmp_path: Path) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    record = load_record({"@context": "http://example.org/x", "id": "p-1",
                          "@type": "http://schema.org/Patient"})
    assert record.graph.value(record.iri, KM.unrecognizedField) is not None
    ttl = tmp_path / "remote.ttl"
    ttl.write_text(
        "@base <http://example.org/records/> .\n"
        "@prefix km: <https://w3id.org/kgmassage#> .\n"
        "@prefix ext: <http://example.org/remote-vocabulary#> .\n"
        "<p-9> a km:Patient ; km:identifier \"p-9\" ; ext:note \"x\" .\n",
        encoding="utf-8",
    )
    remote = load_record(ttl)
    assert remote.iri == URIRef("http://example.org/records/p-9")
    from kgmassage.validation import validate

    assert validate(remote).record == "p-9"


@pytest.mark.parametrize(("value", "kind"), [({}, "an object"), ("DVT", "a string"),
                                            (3, "a number"), (True, "true")])
def test_a_list_key_holding_something_else_is_named_for_what_it_holds(value: Any,
                                                                       kind: str) -> None:
    (error,) = iter_records({"id": "o", "conditions": value})
    assert isinstance(error, RecordError) and error.field == "conditions"
    assert error.detail == f'"conditions" must be a JSON array (of objects), not {kind}'


def test_a_record_built_in_python_may_hold_dates() -> None:
    import datetime as dt

    record = load_record({"id": "d", "conditions": [
        {"type": "Fracture", "onset": dt.date(2026, 11, 19),
         "recorded_at": dt.datetime(2026, 11, 19, 8, 30, tzinfo=dt.timezone.utc)}]})
    assert load_record(record) is record
    same = load_record({"id": "d", "conditions": [
        {"type": "Fracture", "onset": "2026-11-19", "recorded_at": "2026-11-19T08:30:00+00:00"}]})
    assert record.ntriples == same.ntriples
    (error,) = iter_records({"id": "d", "conditions": [{"type": "Fracture", "onset": {2026}}]})
    assert isinstance(error, RecordError) and error.field == "conditions[0].onset"
    assert "a set value has no JSON form" in error.detail


def test_json_text_given_as_a_path_gets_a_hint() -> None:
    (error,) = iter_records('{"id": "x"}')
    assert isinstance(error, RecordError)
    assert error.detail == ("no such file (JSON text is not a path: pass the record as a dict, "
                            "e.g. json.loads(text))")


def test_turtle_items_without_an_iri_keep_their_labels_from_run_to_run(tmp_path: Path) -> None:
    text = ("@prefix km: <https://w3id.org/kgmassage#> .\n"
            '<urn:p:1> a km:Patient ; km:identifier "p1" ;\n'
            "  km:hasCondition [ a km:DeepVeinThrombosis ; km:side km:Left ] ,\n"
            "                  [ a km:Fracture ; km:side km:Right ] .\n")
    first, second, other = tmp_path / "a.ttl", tmp_path / "b.ttl", tmp_path / "c.ttl"
    first.write_text(text, encoding="utf-8")
    second.write_text(text, encoding="utf-8")
    other.write_text(text.replace("p1", "p2"), encoding="utf-8")

    def items(path: Path) -> set[str]:
        (record,) = iter_records(path)
        return set(record.nodes) - {"urn:p:1"}

    assert len(items(first)) == 2 and items(first) == items(second)  # not random
    assert items(first).isdisjoint(items(other))  # another file's items are other nodes
