"""Plan checks: ``validate`` reports each planned intervention by the decision the engine reaches
for it (a standard sh:ValidationResult under the plan shape of its status, km:rule naming the
rules). Each rule with a record that must fail and one that must pass; the shapes graph passes
pySHACL's meta-SHACL check."""

from __future__ import annotations

from typing import Any

import pyshacl
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import SH

from kgmassage import resources
from kgmassage.validation import validate

AT = "2026-11-20T10:00:00Z"
KM = "https://w3id.org/kgmassage#"


def plan(technique: str, target: str, side: str) -> dict[str, str]:
    return {"technique": technique, "target": target, "side": side}


CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # shape, severity, record that must fail, record that must pass
    ("RuleDVT", "Violation",
     {"conditions": [{"type": "DeepVeinThrombosis", "side": "left"}],
      "planned": [plan("Effleurage", "Quadriceps", "left")]},
     {"conditions": [{"type": "DeepVeinThrombosis", "side": "left"}],
      "planned": [plan("Effleurage", "Quadriceps", "right")]}),
    ("RuleAcuteInjury", "Violation",
     {"conditions": [{"type": "Fracture", "side": "left", "onset": "2026-11-19"}],
      "planned": [plan("Petrissage", "Hamstrings", "left")]},
     {"conditions": [{"type": "Fracture", "side": "left", "onset": "2026-11-19"}],
      "planned": [plan("Petrissage", "Hamstrings", "right")]}),
    ("RuleAcuteInflammation", "Violation",
     {"findings": [{"type": "JointSwelling", "side": "left", "site": "Thigh"}],
      "planned": [plan("Petrissage", "Quadriceps", "left")]},
     {"findings": [{"type": "JointSwelling", "side": "left", "site": "Thigh"}],
      "planned": [plan("Petrissage", "Gastrocnemius", "left")]}),
    ("RuleSkinLesion", "Violation",
     {"conditions": [{"type": "OpenWound", "side": "right", "site": "Hip"}],
      "planned": [plan("MassageBall", "TensorFasciaeLatae", "right")]},
     {"conditions": [{"type": "OpenWound", "side": "right", "site": "Hip"}],
      "planned": [plan("Effleurage", "Gastrocnemius", "right")]}),
    ("RulePostSurgery", "Violation",
     {"procedures": [{"type": "TotalKneeReplacement", "side": "right", "date": "2026-11-10"}],
      "planned": [plan("Effleurage", "Hamstrings", "right")]},
     {"procedures": [{"type": "TotalKneeReplacement", "side": "right", "date": "2026-11-10"}],
      "planned": [plan("Effleurage", "Hamstrings", "left")],
      "clearances": [{"date": "2026-11-18"}]}),
    ("RulePatellaPressure", "Violation",
     {"planned": [plan("Petrissage", "Patella", "left")]},
     {"planned": [plan("Effleurage", "Patella", "left")]}),
    ("PlanRequiresClearanceShape", "Warning",
     {"findings": [{"type": "Fever", "recorded_at": "2026-11-20T08:00:00Z"}],
      "planned": [plan("Effleurage", "Quadriceps", "left")]},
     {"findings": [{"type": "Fever", "recorded_at": "2026-11-20T08:00:00Z"}],
      "clearances": [{"date": "2026-11-20T09:00:00Z"}],
      "planned": [plan("Effleurage", "Quadriceps", "left")]}),
    ("PlanCautionShape", "Info",
     {"conditions": [{"type": "SevereOsteoporosis", "onset": "2020-01-01"}],
      "clearances": [{"date": "2026-11-01"}],
      "planned": [plan("Petrissage", "Quadriceps", "left")]},
     {"conditions": [{"type": "SevereOsteoporosis", "onset": "2020-01-01"}],
      "clearances": [{"date": "2026-11-01"}],
      "planned": [plan("Effleurage", "Quadriceps", "left")]}),
]


PLAN_SHAPE = {"Violation": "PlanForbiddenShape", "Warning": "PlanRequiresClearanceShape",
              "Info": "PlanCautionShape"}


def results_of(record: dict[str, Any], shape: str, severity: str
               ) -> list[tuple[str, str | None]]:
    """(severity, field) of the plan results of ``severity`` that name rule ``shape`` (or are
    of ``shape``)."""
    report = validate({"id": "plan", **record}, at=AT)
    found = []
    for result in report.results:
        if not result.shape or not result.shape.startswith(KM + "Plan"):
            continue
        if result.severity != severity:
            continue
        node = next(n for n in report.graph.subjects(SH.focusNode, URIRef(result.focus))
                    if str(report.graph.value(n, SH.sourceShape)) == result.shape)
        rules = {str(r) for r in report.graph.objects(node, URIRef(KM + "rule"))}
        if result.shape == KM + shape or KM + shape in rules:
            found.append((result.severity, result.field))
    return found


@pytest.mark.parametrize(("shape", "severity", "failing", "passing"), CASES,
                         ids=[c[0] for c in CASES])
def test_plan_shape_fails_and_passes(shape: str, severity: str, failing: dict,
                                     passing: dict) -> None:
    assert results_of(failing, shape, severity) == [(severity, "planned[0]")]
    assert results_of(passing, shape, severity) == []
    report = validate({"id": "plan", **failing}, at=AT)
    assert {r.shape for r in report.results if r.field == "planned[0]"} >= {
        KM + PLAN_SHAPE[severity]}


def test_forbidden_plan_makes_the_record_non_conforming() -> None:
    report = validate({"id": "p", "planned": [plan("TriggerPointTherapy", "Patella", "right")]},
                      at=AT)
    assert report.conforms is False


def test_all_shapes_pass_the_meta_shacl_check() -> None:
    shapes = resources.shapes_graph()
    conforms, _, text = pyshacl.validate(Graph(), shacl_graph=shapes, meta_shacl=True,
                                         advanced=True, inference="none")
    assert conforms, text


def test_plan_results_are_in_the_standard_report_graph() -> None:
    report = validate({"id": "p", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}],
                       "planned": [plan("Effleurage", "Quadriceps", "left")]}, at=AT)
    graph = report.graph
    (node,) = graph.subjects(SH.sourceShape, URIRef(KM + "PlanForbiddenShape"))
    assert graph.value(node, SH.resultSeverity) == SH.Violation
    assert set(graph.objects(node, URIRef(KM + "rule"))) == {URIRef(KM + "RuleDVT")}
    assert graph.value(node, SH.focusNode) == URIRef("urn:kgmassage:patient:p/planned/0")
    (summary,) = graph.subjects(SH.conforms, None)
    assert (summary, SH.result, node) in graph
