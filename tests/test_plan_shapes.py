"""The contraindication shapes over planned interventions: each shape with a record that must
fail it and one that must pass it, and the shapes graph passes pySHACL's meta-SHACL check."""

from __future__ import annotations

from typing import Any

import pyshacl
import pytest
from rdflib import Graph

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


def results_of(record: dict[str, Any], shape: str) -> list[tuple[str, str | None]]:
    report = validate({"id": "plan", **record}, at=AT)
    return [(r.severity, r.field) for r in report.results if r.shape == KM + shape]


@pytest.mark.parametrize(("shape", "severity", "failing", "passing"), CASES,
                         ids=[c[0] for c in CASES])
def test_plan_shape_fails_and_passes(shape: str, severity: str, failing: dict,
                                     passing: dict) -> None:
    assert results_of(failing, shape) == [(severity, "planned[0]")]
    assert results_of(passing, shape) == []


def test_forbidden_plan_makes_the_record_non_conforming() -> None:
    report = validate({"id": "p", "planned": [plan("TriggerPointTherapy", "Patella", "right")]},
                      at=AT)
    assert report.conforms is False


def test_all_shapes_pass_the_meta_shacl_check() -> None:
    shapes = resources.shapes_graph()
    conforms, _, text = pyshacl.validate(Graph(), shacl_graph=shapes, meta_shacl=True,
                                         advanced=True, inference="none")
    assert conforms, text


def test_every_rule_is_a_plan_shape() -> None:
    rules = resources.shape_graph("contraindications.shapes.ttl")
    query = """PREFIX km: <https://w3id.org/kgmassage#> PREFIX sh: <http://www.w3.org/ns/shacl#>
    SELECT ?rule WHERE { ?rule a km:Rule . FILTER NOT EXISTS {
      ?rule a sh:NodeShape ; sh:targetClass km:PlannedIntervention ; sh:severity sh:Violation ;
            km:ruleId ?id ; sh:message ?m ; sh:name ?n } }"""
    assert list(rules.query(query)) == []
