"""The research query that joins the ontology's clinical classes to the contraindication rules."""

from __future__ import annotations

import pytest

from kgmassage.knowledge import KnowledgeBase


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
def test_conditions_by_contraindication(kb: KnowledgeBase, engine: str) -> None:
    result = kb.query("conditions-by-contraindication", engine=engine)
    rows = {
        (str(r["class"]).rsplit("#", 1)[1], str(r["rule"]) if r["rule"] else None):
        (str(r["statuses"]), str(r["source"]) if r["source"] else None)
        for r in result.to_dicts()
    }
    assert len(rows) == 27
    assert rows["DeepVeinThrombosis", "DVT"] == ("forbidden, requires-clearance",
                                                 "Absolute Contraindications")
    assert rows["PulmonaryEmbolism", "DVT"] == ("forbidden", "Absolute Contraindications")
    assert rows["SevereOsteoporosis", "OSTEOPOROSIS-DEEP"] == (
        "caution", "Medical Clearance and Caution")
    assert rows["Osteoporosis", "OSTEOPOROSIS-DEEP"] == (  # any osteoporosis
        "caution", "Medical Clearance and Caution")
    assert rows["SevereOsteoporosis", "CHRONIC-CONDITION"] == (
        "requires-clearance", "Medical Clearance and Caution")
    assert rows["JointSwelling", "ACUTE-INFLAMMATION"] == ("forbidden, caution",
                                                           "Absolute Contraindications")
    assert rows["TotalKneeReplacement", "POST-SURGERY"] == ("forbidden, requires-clearance",
                                                            "Medical Clearance and Caution")
    assert ("KneePain", None) in rows  # a symptom: no rule of its own


def test_conditions_by_contraindication_for_one_class(kb: KnowledgeBase) -> None:
    result = kb.query("conditions-by-contraindication", bindings={"class": "Fracture"})
    assert [(str(r["rule"]), str(r["statuses"])) for r in result.to_dicts()] == [
        ("ACUTE-INJURY", "forbidden, requires-clearance")]
