"""Knee surgery and acute injury given only by a code are checked like typed ones.

kmsh:KneeSurgeryDate (no date → Violation) and kmsh:AcuteInjuryOnset (no onset → Warning)
apply to an item whose type is the class or a subclass AND to an item whose SNOMED CT /
ICD-10-CM code maps to it (skos:exactMatch, skos:narrowMatch, or a km:CodeFamily's km:mapsTo),
exactly as the decision engine resolves codes (queries/derive/10-codes.rq, 20-classes.rq).
"""

from __future__ import annotations

from functools import cache

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SH, SKOS
from records_helpers import RECORDS, SHAPES_NS, patient_shapes, validated

from kgmassage import resources
from kgmassage.namespaces import ICD10CM_SYSTEM, KM, SNOMED_SYSTEM
from kgmassage.records import load_record
from kgmassage.validation import validate

V, W = "Violation", "Warning"
SURGERY = SHAPES_NS + "KneeSurgeryDate"
INJURY = SHAPES_NS + "AcuteInjuryOnset"

#: Every result (of every record-validity shape, duplicates counted) of each coded record.
CASES: dict[str, list[tuple[str, str, str]]] = {
    # must fail
    "coded-tkr-no-date.json": [(V, "procedures[0].date", SURGERY)],
    "coded-fracture-no-onset.json": [(W, "conditions[0].onset", INJURY)],
    "coded-surgery-no-date.ttl": [(V, "procedures[?].date", SURGERY)],
    "coded-mixed.json": [
        (V, "findings[0].date", SURGERY),  # SNOMED narrowMatch of TotalKneeReplacement
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
    graph = patient_shapes()
    assert graph.value(URIRef(SURGERY), SH.targetClass) == KM.KneeSurgery
    assert graph.value(URIRef(INJURY), SH.targetClass) == KM.AcuteInjury
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


def _engine_classes(record_graph: Graph) -> dict[str, set[URIRef]]:
    """Each item's classes as the decision engine's stages 10 and 20 derive them."""
    data = resources.copy_graph(resources.rules_graph())
    data += record_graph
    for stage in ("10-codes", "20-classes"):
        data += data.query(resources.query_text("derive", stage)).graph
    classes: dict[str, set[URIRef]] = {}
    for item, cls in data.subject_objects(KM.hasClass):
        classes.setdefault(str(item), set()).add(cls)
    return classes


@pytest.mark.parametrize("spelling", ["as mapped", "padded, lower case"])
def test_every_mapped_code_is_checked_as_the_engine_classifies_it(spelling: str) -> None:
    codes = _mapped_codes()
    assert (str(ICD10CM_SYSTEM), "S83.91XA") in codes  # a code family's example is among them
    if spelling != "as mapped":  # the engine compares codes trimmed and upper-cased
        codes = tuple((s, f" {c.lower()} ") for s, c in codes)
    record = {
        "id": "every-code",
        "assessed_at": "2026-11-20T10:00:00Z",
        "conditions": [{"code": {"system": s, "code": c}} for s, c in codes],
    }
    rec = load_record(record)
    engine = _engine_classes(rec.graph)
    items = [f"{rec.iri}/conditions/{i}" for i in range(len(codes))]
    want_date = {i for i, item in enumerate(items) if KM.KneeSurgery in engine.get(item, ())}
    want_onset = {i for i, item in enumerate(items) if KM.AcuteInjury in engine.get(item, ())}
    assert want_date and want_onset  # the table has codes of both kinds

    report = validate(rec, shapes=patient_shapes())
    got_date = {
        int(r.field.split("[")[1].split("]")[0])
        for r in report.results if r.shape == SURGERY
    }
    got_onset = {
        int(r.field.split("[")[1].split("]")[0])
        for r in report.results if r.shape == INJURY
    }
    assert got_date == want_date
    assert got_onset == want_onset
    assert all(r.field.endswith(".date") for r in report.results if r.shape == SURGERY)
    assert all(r.field.endswith(".onset") for r in report.results if r.shape == INJURY)


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
