"""Knee surgery and acute injury given only by a code are checked like typed ones.

kmsh:KneeSurgeryDate (no date → Violation) and kmsh:AcuteInjuryOnset (no onset → Warning)
apply to an item whose type is the class or a subclass AND to an item whose SNOMED CT /
ICD-10-CM code maps to it (skos:exactMatch, skos:narrowMatch, or a km:CodeFamily's km:mapsTo),
exactly as the decision engine resolves codes (queries/derive/10-codes.rq, 20-classes.rq).
kmsh:CodeRecognised (Warning) names exactly the codes the engine does not resolve.
"""

from __future__ import annotations

import logging
from functools import cache

import pytest
from rdflib import URIRef
from rdflib.namespace import RDF, RDFS, SH, SKOS
from records_helpers import RECORDS, SHAPES_NS, patient_shapes, validated

from kgmassage import resources
from kgmassage.engine import default_engine
from kgmassage.namespaces import ICD10CM_SYSTEM, KM, SNOMED_SYSTEM
from kgmassage.records import PatientRecord, load_record
from kgmassage.timeline import resolve_at
from kgmassage.validation import ValidationReport, validate

V, W = "Violation", "Warning"
SURGERY = SHAPES_NS + "KneeSurgeryDate"
LISTED = SHAPES_NS + "KneeSurgeryListedDate"
INJURY = SHAPES_NS + "AcuteInjuryOnset"
RECOGNISED = SHAPES_NS + "CodeRecognised"
SNOMED, ICD10CM = str(SNOMED_SYSTEM), str(ICD10CM_SYSTEM)

#: Every result (of every record-validity shape, duplicates counted) of each coded record.
CASES: dict[str, list[tuple[str, str, str]]] = {
    # must fail
    "coded-tkr-no-date.json": [(V, "procedures[0].date", SURGERY)],
    "coded-fracture-no-onset.json": [(W, "conditions[0].onset", INJURY)],
    # S82.201A (right tibia) given the left side: both count, with a Warning
    "coded-surgery-no-date.ttl": [(V, "procedures[?].date", SURGERY),
                                  (W, "conditions[?].side", SHAPES_NS + "SideAgainstCode")],
    "coded-mixed.json": [
        (V, "findings[0].onset", LISTED),  # SNOMED narrowMatch of TotalKneeReplacement, no onset
        (V, "procedures[1].date", SURGERY),  # SNOMED narrowMatch of KneeSurgery itself
        (W, "conditions[0].onset", INJURY),  # ICD-10-CM family S82.0- → Fracture
        (W, "conditions[1].onset", INJURY),  # ICD-10-CM family S83.9- → AcuteInjury
        (W, "conditions[3].onset", INJURY),  # typed AND coded: reported once
    ],
    # must pass
    "coded-tkr-dated.json": [],
    "coded-fracture-onset.json": [],
}


def _results(name: str, *, all_shapes: bool = False) -> list[tuple[str, str | None, str | None]]:
    (report,) = validated(RECORDS / name, all_shapes=all_shapes)
    return sorted(
        (r.severity, r.field, r.shape)
        for r in report.results
        if r.shape and r.shape.startswith(SHAPES_NS)
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_coded_record_gives_exactly_the_expected_results(name: str) -> None:
    assert _results(name) == sorted(CASES[name])
    (report,) = validated(RECORDS / name)
    assert report.conforms == (not any(sev == V for sev, _, _ in CASES[name]))


@pytest.mark.parametrize(
    "name", ["coded-tkr-no-date.json", "coded-fracture-no-onset.json", "coded-tkr-dated.json"]
)
def test_all_shapes_give_the_same_record_results(name: str) -> None:
    """``validate()`` with every shape of the package (what the CLI and assess() use)."""
    assert _results(name, all_shapes=True) == sorted(CASES[name])


@pytest.mark.parametrize("name", ["coded-tkr-no-date.json", "coded-fracture-no-onset.json"])
def test_coded_items_get_the_clinician_message_of_the_shape(name: str) -> None:
    (report,) = validated(RECORDS / name)
    (result,) = report.results
    message = patient_shapes().value(URIRef(result.shape), SH.message)
    assert result.message == str(message)
    assert '(field "' in result.message


def test_shapes_still_target_typed_items() -> None:
    report = validate({"id": "typed", "assessed_at": "2026-11-20T10:00:00Z",
                       "procedures": [{"type": "TotalKneeReplacement"}],
                       "conditions": [{"type": "Fracture"}]}, shapes=patient_shapes())
    assert sorted((r.severity, r.field, r.shape) for r in report.results) == [
        (V, "procedures[0].date", SURGERY), (W, "conditions[0].onset", INJURY)]
    graph = patient_shapes()
    assert graph.value(URIRef(SURGERY), SH.severity) == SH.Violation
    assert graph.value(URIRef(INJURY), SH.severity) == SH.Warning


# --- the same resolution as the decision engine, for every code of the mapping table ----------


@cache
def _mapped_codes() -> tuple[tuple[str, str], ...]:
    """(system IRI, code) of every exact/narrow concept and code-family example of the table."""
    onto = resources.ontology_graph()
    systems = {
        str(onto.value(cs, KM.conceptNamespace)): str(onto.value(cs, KM.systemIRI))
        for cs in onto.subjects(RDF.type, KM.CodeSystem)
    }
    codes = set()
    for prop in (SKOS.exactMatch, SKOS.narrowMatch):
        for _, concept in onto.subject_objects(prop):
            for namespace, system in systems.items():
                if str(concept).startswith(namespace):
                    codes.add((system, str(concept)[len(namespace):]))
    for family in onto.subjects(RDF.type, KM.CodeFamily):
        system = str(onto.value(onto.value(family, KM.codeSystem), KM.systemIRI))
        for example in onto.objects(family, SKOS.example):
            codes.add((system, str(example)))
    return tuple(sorted(codes))


def _engine_classes(record: PatientRecord) -> dict[str, set[URIRef]]:
    """Each item's classes as the decision engine's classification stages derive them."""
    engine = default_engine()
    rows = engine.classify(engine.chunk([(record, resolve_at("2026-11-20T10:00:00Z"))]))
    classes: dict[str, set[URIRef]] = {}
    for row in rows:
        if row["p"] == str(KM.hasClass) and row["o"] not in (
                str(KM.UnrecognizedItem), str(KM.UnrecognizedContent)):
            classes.setdefault(row["s"], set()).add(URIRef(row["o"]))
    return classes


#: Codes that cannot be part of a concept IRI, or that hold a backslash (pySHACL once
#: substituted code values into a message as a regular-expression replacement: a crash).
UNUSUAL_CODES: tuple[tuple[str, str], ...] = (
    (SNOMED, "123\\"),
    (SNOMED, "128053003\\"),
    (SNOMED, "\\1"),
    (SNOMED, "{?value}"),
    (SNOMED, "<128053003>"),
    (SNOMED, "12805 3003"),
    (SNOMED, "   "),
    (ICD10CM, "I82 402"),
    (ICD10CM, "I82.402\t"),  # trailing white space is trimmed: I82.402
    (ICD10CM, 'I82.402"'),  # no concept IRI, but the code family I82.4- (DVT) matches
    (ICD10CM, "I82.4`02"),  # likewise
    (ICD10CM, " s82.0 1a"),  # likewise, S82.0- (Fracture)
    (ICD10CM, "s82.0\\1a"),  # likewise
)
#: The unusual codes the engine resolves (the others it does not).
UNUSUAL_RESOLVED = {"I82.402\t"}  # trimmed; the others are no ICD-10-CM code (km:codeSyntax)
SPELLINGS = ("as mapped", "padded, lower case")


def _item_index(field: str | None) -> int:
    """The index of ``conditions[12].onset``: 12."""
    assert field is not None
    return int(field.split("[")[1].split("]")[0])


def _coded_record(name: str, codes: tuple[tuple[str, str], ...]) -> PatientRecord:
    return load_record({
        "id": name,
        "assessed_at": "2026-11-20T10:00:00Z",
        "conditions": [{"code": {"system": s, "code": c}} for s, c in codes],
    })


@cache
def _every_code(
    spelling: str,
) -> tuple[tuple[tuple[str, str], ...], list[str], dict[str, set[URIRef]], ValidationReport]:
    """Every code of the mapping table (as mapped, or padded and in lower case: the engine
    compares codes trimmed and upper-cased), then :data:`UNUSUAL_CODES`, as the conditions of
    one record: the codes, the items, the engine's classes of each item and the validation with
    the record shapes (done once per spelling, for every test below)."""
    codes = _mapped_codes()
    assert (ICD10CM, "S83.91XA") in codes  # a code family's example is among them
    if spelling != "as mapped":
        codes = tuple((s, f" {c.lower()} ") for s, c in codes)
    codes += UNUSUAL_CODES
    rec = _coded_record("every-code", codes)
    items = [f"{rec.iri}/conditions/{i}" for i in range(len(codes))]
    return codes, items, _engine_classes(rec), validate(rec, shapes=patient_shapes())


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_mapped_code_is_checked_as_the_engine_classifies_it(spelling: str) -> None:
    _, items, engine, report = _every_code(spelling)
    want_date = {i for i, item in enumerate(items) if KM.KneeSurgery in engine.get(item, ())}
    want_onset = {i for i, item in enumerate(items) if KM.AcuteInjury in engine.get(item, ())}
    assert want_date and want_onset  # the table has codes of both kinds

    got_date = {_item_index(r.field) for r in report.results if r.shape == LISTED}
    got_onset = {_item_index(r.field) for r in report.results if r.shape == INJURY}
    assert got_date == want_date  # listed as conditions: no onset
    assert got_onset == want_onset
    assert all(r.field.endswith(".onset") for r in report.results if r.shape == INJURY)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_code_is_recognised_exactly_when_the_engine_resolves_it(spelling: str) -> None:
    """kmsh:CodeRecognised warns about a code iff stages 10 and 20 give its item no class."""
    codes, items, engine, report = _every_code(spelling)
    want = {i for i, item in enumerate(items) if not engine.get(item)}
    warned = [r for r in report.results if r.shape == RECOGNISED]
    assert {_item_index(r.field) for r in warned} == want
    assert len(warned) == len(want)  # one warning per code
    # the table maps codes of structures too (not clinical classes): both outcomes occur
    table = len(_mapped_codes())  # the unusual codes come after those of the table
    assert 0 < len({i for i in want if i < table}) < table
    unusual = {codes[i][1] for i in want if i >= table}
    assert unusual == {c for _, c in UNUSUAL_CODES} - UNUSUAL_RESOLVED
    for result in warned:
        index = _item_index(result.field)
        assert (result.severity, result.field) == (W, f"conditions[{index}].code.code")
        assert result.value == codes[index][1]  # the code as written, in the report


def test_code_recognised_gives_the_clinician_message_of_the_shape() -> None:
    """The message names the field and the remedy; the code itself is the result's value
    (never substituted into the message: pySHACL's substitution fails on a backslash)."""
    _, _, _, report = _every_code("as mapped")
    message = str(patient_shapes().value(URIRef(RECOGNISED), SH.message))
    assert "{" not in message
    assert '(field "code"' in message and '"system"' in message and '"type"' in message
    assert {r.message for r in report.results if r.shape == RECOGNISED} == {message}


def test_unusual_codes_build_no_invalid_iri(caplog: pytest.LogCaptureFixture) -> None:
    """No IRI is built of a code that cannot be one (rdflib would log "… does not look like a
    valid URI", once per mapping of the table), neither by the shapes nor by the engine."""
    padded = tuple((s, f" {c.lower()} ") for s, c in _mapped_codes()[:: 10])
    rec = _coded_record("unusual-codes", UNUSUAL_CODES + padded)
    with caplog.at_level(logging.WARNING):
        report = validate(rec)  # every shape of the package, as the CLI validates
        _engine_classes(rec)
    assert report.count("Warning") >= len(UNUSUAL_CODES) - len(UNUSUAL_RESOLVED)
    assert [r.getMessage() for r in caplog.records if "valid URI" in r.getMessage()] == []


def test_coded_items_are_resolved_trimmed_and_upper_cased() -> None:
    record = {
        "id": "spelling",
        "assessed_at": "2026-11-20T10:00:00Z",
        "conditions": [{"code": {"system": ICD10CM_SYSTEM, "code": " s82.001a"}}],
        "procedures": [{"code": {"system": SNOMED_SYSTEM, "code": "609588000 "}}],
    }
    report = validate(record, shapes=patient_shapes())
    assert sorted((r.severity, r.field, r.shape) for r in report.results
                  if r.shape in (SURGERY, INJURY)) == [
        (V, "procedures[0].date", SURGERY), (W, "conditions[0].onset", INJURY)
    ]


def test_subclasses_resolve_through_the_ontology() -> None:
    """A code of a subclass (TotalKneeReplacement, Fracture) counts: rdfs:subClassOf*."""
    onto = resources.ontology_graph()
    assert (KM.TotalKneeReplacement, RDFS.subClassOf, KM.KneeReplacement) in onto
    (report,) = validated(RECORDS / "coded-tkr-no-date.json")
    assert [r.shape for r in report.results] == [SURGERY]
