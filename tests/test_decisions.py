"""Decision semantics, rule by rule and boundary by boundary (clinical-rules.md).

Every test assesses a record at a fixed time and asserts exact statuses and the exact rules
that applied.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from kgmassage.assessment import Decision, assess, decide
from kgmassage.errors import ParameterError, UnknownDecisionError

AT = "2026-11-20T10:00:00Z"

CATALOGUE = {
    "Effleurage": ("Quadriceps", "Hamstrings", "Gastrocnemius"),
    "Petrissage": ("Quadriceps", "Hamstrings", "Gastrocnemius"),
    "MyofascialRelease": ("VastusMedialis", "VastusLateralis", "TensorFasciaeLatae"),
    "TriggerPointTherapy": ("VastusMedialis", "VastusLateralis", "TensorFasciaeLatae"),
    "FoamRolling": ("Quadriceps", "Hamstrings", "TensorFasciaeLatae", "VastusLateralis"),
    "MassageBall": ("TensorFasciaeLatae", "VastusMedialis", "VastusLateralis"),
}
PAIRS = [(t, g) for t, targets in CATALOGUE.items() for g in targets]
REGION = {
    "TensorFasciaeLatae": "Hip",
    "Quadriceps": "Thigh",
    "VastusMedialis": "Thigh",
    "VastusLateralis": "Thigh",
    "Hamstrings": "Thigh",
    "Gastrocnemius": "LowerLeg",
}
DEEP = {t for t in CATALOGUE if t != "Effleurage"}


def run(**record: Any) -> dict[tuple[str, str, str], Decision]:
    record.setdefault("id", "t")
    result = assess(record, at=record.pop("at", AT))
    return {(d.technique, d.target, d.side): d for d in result.decisions}


def rules_of(d: Decision, *, lifted: bool | None = None) -> list[tuple[str, str]]:
    return sorted(
        (r.rule, r.status) for r in d.reasons if lifted is None or r.lifted is lifted
    )


def statuses(decisions: dict, side: str) -> set[str]:
    return {d.status for (_, _, s), d in decisions.items() if s == side}


def only(rule: str, status: str) -> list[tuple[str, str]]:
    return [(rule, status)]


# ----------------------------------------------------------------- catalogue and summary


def test_no_findings_everything_permitted() -> None:
    result = assess({"id": "clean"}, at=AT)
    assert len(result.decisions) == 38
    assert {(d.technique, d.target) for d in result.decisions} == set(PAIRS)
    assert result.summary == {"permitted": 38, "caution": 0, "requires-clearance": 0,
                              "forbidden": 0}
    assert all(d.reasons == () and d.alternatives == () for d in result.decisions)


def test_assessment_json_shape() -> None:
    data = assess({"id": "p-1", "assessed_at": AT}).to_dict()
    assert list(data) == ["patient", "assessed_at", "knowledge_version", "input_digest",
                          "conforms", "validation", "decisions", "summary"]
    assert data["patient"] == "p-1"
    assert data["assessed_at"] == "2026-11-20T10:00:00+00:00"
    assert data["knowledge_version"] == "0.1.0"
    assert data["input_digest"].startswith("sha256:")
    assert set(data["decisions"][0]) >= {"technique", "target", "side", "status", "reasons",
                                         "alternatives"}


# ----------------------------------------------------------------- DVT


def test_dvt_forbids_its_side_and_needs_clearance_on_the_other() -> None:
    d = run(conditions=[{"type": "DeepVeinThrombosis", "side": "left"}])
    for t, g in PAIRS:
        assert d[t, g, "left"].status == "forbidden"
        assert rules_of(d[t, g, "left"]) == only("DVT", "forbidden")
        assert d[t, g, "left"].reasons[0].item == "conditions[0]"
        assert d[t, g, "left"].reasons[0].source == "Absolute Contraindications"
        assert d[t, g, "right"].status == "requires-clearance"
        assert rules_of(d[t, g, "right"]) == only("DVT", "requires-clearance")


@pytest.mark.parametrize("status", ["active", "suspected", "unconfirmed-typo"])
def test_dvt_suspected_and_unknown_status_count(status: str) -> None:
    d = run(conditions=[{"type": "DeepVeinThrombosis", "side": "right", "status": status}])
    assert statuses(d, "right") == {"forbidden"}
    assert statuses(d, "left") == {"requires-clearance"}


@pytest.mark.parametrize("status", ["resolved", "refuted"])
def test_resolved_and_refuted_items_do_not_apply(status: str) -> None:
    d = run(conditions=[{"type": "DeepVeinThrombosis", "side": "right", "status": status}])
    assert statuses(d, "right") == statuses(d, "left") == {"permitted"}


def test_resolved_entry_never_cancels_another() -> None:
    d = run(conditions=[
        {"type": "DeepVeinThrombosis", "side": "left", "status": "resolved"},
        {"type": "DeepVeinThrombosis", "side": "left", "status": "active"},
    ])
    assert statuses(d, "left") == {"forbidden"}
    assert [r.item for r in d["Effleurage", "Quadriceps", "left"].reasons] == ["conditions[1]"]


def test_duplicates_add_reasons() -> None:
    d = run(conditions=[{"type": "DeepVeinThrombosis", "side": "left"},
                        {"type": "DeepVeinThrombosis", "side": "left"}])
    reasons = d["Petrissage", "Hamstrings", "left"].reasons
    assert [(r.rule, r.item) for r in reasons] == [("DVT", "conditions[0]"),
                                                   ("DVT", "conditions[1]")]


@pytest.mark.parametrize("side", [None, "bilateral", "middle"])
def test_dvt_without_known_side_forbids_both(side: str | None) -> None:
    item: dict[str, Any] = {"type": "DeepVeinThrombosis"}
    if side:
        item["side"] = side
    d = run(conditions=[item])
    assert statuses(d, "left") == statuses(d, "right") == {"forbidden"}
    assert rules_of(d["Effleurage", "Quadriceps", "right"]) == only("DVT", "forbidden")


@pytest.mark.parametrize("side", ["left", "right", None])
def test_pulmonary_embolism_forbids_both_sides_whatever_its_side(side: str | None) -> None:
    item: dict[str, Any] = {"type": "PulmonaryEmbolism"}
    if side:
        item["side"] = side
    d = run(conditions=[item])
    for key, decision in d.items():
        assert decision.status == "forbidden", key
        assert rules_of(decision) == only("DVT", "forbidden")


def test_dvt_by_icd10_code_implies_its_side() -> None:
    code = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I82.402"}
    d = run(conditions=[{"code": code}])
    assert statuses(d, "left") == {"forbidden"}
    assert statuses(d, "right") == {"requires-clearance"}


def test_dvt_icd10_family_member_not_listed_is_recognised() -> None:
    code = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I82.431"}  # popliteal, right
    d = run(conditions=[{"code": code}])
    assert statuses(d, "right") == {"forbidden"}
    assert statuses(d, "left") == {"requires-clearance"}


def test_code_side_and_stated_side_combine() -> None:
    code = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I82.402"}
    d = run(conditions=[{"code": code, "side": "right"}])
    assert statuses(d, "left") == statuses(d, "right") == {"forbidden"}


def test_dvt_by_snomed_code() -> None:
    code = {"system": "http://snomed.info/sct", "code": "128053003"}
    d = run(conditions=[{"code": code, "side": "right"}])
    assert statuses(d, "right") == {"forbidden"}
    assert statuses(d, "left") == {"requires-clearance"}


def test_rule_fires_whichever_list_holds_the_item() -> None:
    d = run(findings=[{"type": "DeepVeinThrombosis", "side": "left"}])
    assert statuses(d, "left") == {"forbidden"}


# ----------------------------------------------------------------- ACUTE-INJURY


@pytest.mark.parametrize(
    ("onset", "expected"),
    [
        ("2026-11-17T10:00:00Z", "forbidden"),  # exactly 72 h: inclusive
        ("2026-11-17T09:59:59Z", "requires-clearance"),
        ("2026-11-17T11:00:00+01:00", "forbidden"),  # = 10:00Z
        ("2026-11-17T10:00:00", "forbidden"),  # no offset: UTC
        ("2026-11-17", "forbidden"),  # date = end of day, within the window
        ("2026-11-16", "requires-clearance"),
        ("2026-11-25", "forbidden"),  # future: taken as the assessment time
        ("2026-13-45", "forbidden"),  # unparseable: taken as the assessment time
        (None, "forbidden"),  # no onset counts as recent
    ],
)
def test_acute_injury_72_hours(onset: str | None, expected: str) -> None:
    item: dict[str, Any] = {"type": "Fracture", "side": "left"}
    if onset:
        item["onset"] = onset
    d = run(conditions=[item])
    assert statuses(d, "left") == {expected}
    assert rules_of(d["Petrissage", "Quadriceps", "left"]) == only("ACUTE-INJURY", expected)
    assert statuses(d, "right") == {"permitted"}


def test_date_only_onset_is_the_end_of_its_day() -> None:
    item = {"type": "SevereSprain", "side": "right", "onset": "2026-11-16"}
    assert statuses(run(conditions=[item], at="2026-11-19T23:59:59Z"), "right") == {"forbidden"}
    assert statuses(run(conditions=[item], at="2026-11-20T00:00:00Z"), "right") == {
        "requires-clearance"}


def test_sprain_by_snomed_code_counts_as_acute_injury() -> None:
    code = {"system": "http://snomed.info/sct", "code": "54888009"}
    d = run(conditions=[{"code": code, "side": "left", "onset": "2026-11-19"}])
    assert statuses(d, "left") == {"forbidden"}


# ----------------------------------------------------------------- ACUTE-INFLAMMATION


def test_inflammation_without_site_is_at_the_knee() -> None:
    d = run(findings=[{"type": "JointSwelling", "side": "left"}])
    assert statuses(d, "left") == {"caution"}  # no catalogue target lies in the knee
    assert rules_of(d["Effleurage", "Gastrocnemius", "left"]) == only("ACUTE-INFLAMMATION",
                                                                      "caution")
    assert statuses(d, "right") == {"permitted"}
    swelling = {"type": "AcuteInflammation", "side": "left"}
    kneecap = decide({"id": "x", "findings": [swelling]}, "Effleurage", "Patella", "left", at=AT)
    assert kneecap.status == "forbidden"
    assert [(r.rule, r.status) for r in kneecap.reasons] == [("ACUTE-INFLAMMATION", "forbidden")]


@pytest.mark.parametrize("site", ["Thigh", "VastusLateralis"])
def test_inflammation_forbids_its_region_and_cautions_the_rest(site: str) -> None:
    d = run(findings=[{"type": "AcuteInflammation", "side": "right", "site": site}])
    for t, g in PAIRS:
        expected = "forbidden" if REGION[g] == "Thigh" else "caution"
        assert d[t, g, "right"].status == expected, (t, g)
        assert rules_of(d[t, g, "right"]) == only("ACUTE-INFLAMMATION", expected)
        assert d[t, g, "left"].status == "permitted"


def test_inflammation_with_unknown_site_covers_every_region() -> None:
    d = run(findings=[{"type": "JointSwelling", "side": "right", "site": "Elbow"}])
    assert statuses(d, "right") == {"forbidden"}


# ----------------------------------------------------------------- SKIN-LESION


def test_open_wound_at_knee_cautions_adjacent_regions() -> None:
    d = run(conditions=[{"type": "OpenWound", "site": "Knee", "side": "left"}])
    for t, g in PAIRS:
        expected = "permitted" if REGION[g] == "Hip" else "caution"
        assert d[t, g, "left"].status == expected, (t, g)
        assert d[t, g, "right"].status == "permitted"
    assert decide({"id": "x", "conditions": [{"type": "Rash", "site": "Knee", "side": "left"}]},
                  "Effleurage", "KneeJoint", "left", at=AT).status == "forbidden"


def test_skin_infection_at_hip() -> None:
    d = run(conditions=[{"type": "Cellulitis", "site": "Hip", "side": "right"}])
    for t, g in PAIRS:
        expected = {"Hip": "forbidden", "Thigh": "caution", "LowerLeg": "permitted"}[REGION[g]]
        assert d[t, g, "right"].status == expected, (t, g)
        if expected != "permitted":
            assert rules_of(d[t, g, "right"]) == only("SKIN-LESION", expected)


@pytest.mark.parametrize("site", [None, "Elbow"])
def test_skin_lesion_without_known_site_covers_every_region(site: str | None) -> None:
    item: dict[str, Any] = {"type": "OpenWound", "side": "left"}
    if site:
        item["site"] = site
    d = run(conditions=[item])
    assert statuses(d, "left") == {"forbidden"}
    assert rules_of(d["Effleurage", "Quadriceps", "left"]) == only("SKIN-LESION", "forbidden")
    assert statuses(d, "right") == {"permitted"}


# ----------------------------------------------------------------- CHRONIC / OSTEOPOROSIS


def test_chronic_condition_requires_clearance_everywhere() -> None:
    d = run(conditions=[{"type": "Osteoarthritis", "side": "left", "onset": "2020-01-01"}])
    assert {x.status for x in d.values()} == {"requires-clearance"}
    assert rules_of(d["Effleurage", "Quadriceps", "right"]) == only("CHRONIC-CONDITION",
                                                                    "requires-clearance")


def test_clearance_after_the_trigger_lifts_requires_clearance() -> None:
    d = run(conditions=[{"type": "RheumatoidArthritis", "onset": "2020-01-01"}],
            clearances=[{"date": "2026-11-01", "issued_by": "GP"}])
    decision = d["Petrissage", "Hamstrings", "left"]
    assert decision.status == "permitted"
    assert [(r.rule, r.status, r.lifted) for r in decision.reasons] == [
        ("CHRONIC-CONDITION", "requires-clearance", True)]
    assert decision.reasons[0].lifted_by == ("clearances[0]",)
    assert decision.reasons[0].since == "2020-01-01"  # a date alone: its day


def test_clearance_before_the_trigger_lifts_nothing() -> None:
    d = run(conditions=[{"type": "Osteoarthritis", "onset": "2026-11-10"}],
            clearances=[{"date": "2026-11-01"}])
    assert {x.status for x in d.values()} == {"requires-clearance"}


def test_severe_osteoporosis_cautions_deep_pressure_even_after_clearance() -> None:
    d = run(conditions=[{"type": "SevereOsteoporosis", "onset": "2019-05-01"}],
            clearances=[{"date": "2026-11-01"}])
    for t, g in PAIRS:
        for side in ("left", "right"):
            decision = d[t, g, side]
            if t in DEEP:
                assert decision.status == "caution"
                assert rules_of(decision, lifted=False) == only("OSTEOPOROSIS-DEEP", "caution")
            else:
                assert decision.status == "permitted"
            assert rules_of(decision, lifted=True) == only("CHRONIC-CONDITION",
                                                           "requires-clearance")


# ----------------------------------------------------------------- POST-SURGERY


def surgery(**fields: Any) -> dict[str, Any]:
    return {"type": "TotalKneeReplacement", "side": "right", **fields}


@pytest.mark.parametrize(
    ("fields", "right", "left"),
    [
        ({"date": "2026-11-10", "incision_closed": True, "sutures_removed": False},
         "forbidden", "requires-clearance"),
        ({"date": "2026-01-10", "incision_closed": False, "sutures_removed": True},
         "forbidden", "requires-clearance"),  # a false flag: never healed, however long ago
        ({"date": "2026-11-10", "incision_closed": True, "sutures_removed": True},
         "requires-clearance", "requires-clearance"),
        ({"date": "2026-10-10"}, "forbidden", "requires-clearance"),  # unknown flags, 41 days
        ({"date": "2026-10-08"}, "requires-clearance", "requires-clearance"),  # 43 days
        ({"date": "2026-10-09T10:00:00Z", "incision_closed": "yes"},
         "requires-clearance", "requires-clearance"),  # exactly 42 days: healed
        ({"date": "2026-10-09T10:00:01Z"}, "forbidden", "requires-clearance"),
        ({}, "forbidden", "requires-clearance"),  # no date: performed at the assessment time
        ({"incision_closed": True, "sutures_removed": True},
         "requires-clearance", "requires-clearance"),
    ],
)
def test_post_surgery_wound_healing(fields: dict, right: str, left: str) -> None:
    d = run(procedures=[surgery(**fields)])
    assert statuses(d, "right") == {right}
    assert statuses(d, "left") == {left}
    assert {r.rule for x in d.values() for r in x.reasons} == {"POST-SURGERY"}


def test_post_surgery_clearance_lifts_only_requires_clearance() -> None:
    d = run(procedures=[surgery(date="2026-11-10", incision_closed=False)],
            clearances=[{"date": "2026-11-12"}])
    assert statuses(d, "right") == {"forbidden"}
    assert statuses(d, "left") == {"permitted"}


# ----------------------------------------------------------------- RED-FLAG


def test_fever_requires_clearance_on_both_sides() -> None:
    d = run(findings=[{"type": "Fever", "side": "left"}])
    assert {x.status for x in d.values()} == {"requires-clearance"}
    assert rules_of(d["Effleurage", "Quadriceps", "right"]) == only("RED-FLAG",
                                                                    "requires-clearance")


@pytest.mark.parametrize("kind", ["Warmth", "Redness"])
def test_warmth_and_redness_concern_their_side(kind: str) -> None:
    d = run(findings=[{"type": kind, "side": "right"}])
    assert statuses(d, "right") == {"requires-clearance"}
    assert statuses(d, "left") == {"permitted"}


@pytest.mark.parametrize(
    ("clearance", "lifted"),
    [
        ("2026-11-20T08:59:59Z", False),  # both timed: instants
        ("2026-11-20T09:00:00Z", True),
        ("2026-11-20", True),  # a date alone: calendar days, on or after
        ("2026-11-19", False),
        ("2026-11-21", False),  # in the future: lifts nothing
        ("not a date", False),
    ],
)
def test_clearance_by_instant_or_by_day(clearance: str, lifted: bool) -> None:
    d = run(findings=[{"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"}],
            clearances=[{"date": clearance}])
    assert statuses(d, "left") == {"permitted" if lifted else "requires-clearance"}


def test_clearance_day_compared_with_a_dated_trigger() -> None:
    d = run(findings=[{"type": "Warmth", "side": "left", "recorded_at": "2026-11-18"}],
            clearances=[{"date": "2026-11-18T07:00:00Z"}])
    assert statuses(d, "left") == {"permitted"}


# ----------------------------------------------------------------- standing rules


def test_patella_pressure() -> None:
    record = {"id": "x"}
    assert decide(record, "Petrissage", "Patella", "left", at=AT).status == "forbidden"
    assert [r.rule for r in decide(record, "FoamRolling", "Patella", "right", at=AT).reasons] == [
        "PATELLA-PRESSURE"]
    assert decide(record, "Effleurage", "Patella", "left", at=AT).status == "permitted"


def test_joint_pressure() -> None:
    decision = decide({"id": "x"}, "TriggerPointTherapy", "KneeJoint", "right", at=AT)
    assert decision.status == "caution"
    assert [(r.rule, r.status) for r in decision.reasons] == [("JOINT-PRESSURE", "caution")]
    assert decide({"id": "x"}, "Effleurage", "KneeJoint", "right", at=AT).status == "permitted"


@pytest.mark.parametrize("technique", ["Effleurage", "FoamRolling"])
def test_itb_direct_names_alternatives(technique: str) -> None:
    decision = decide({"id": "x"}, technique, "IliotibialBand", "left", at=AT)
    assert decision.status == "caution"
    assert [(r.rule, r.status) for r in decision.reasons] == [("ITB-DIRECT", "caution")]
    assert decision.alternatives == ("TensorFasciaeLatae", "VastusLateralis")


# ----------------------------------------------------------------- UNRECOGNIZED


@pytest.mark.parametrize(
    "item",
    [
        {"type": "Gout"},
        {"code": {"system": "http://snomed.info/sct", "code": "90560007"}},
        {"code": {"system": "http://example.org/local", "code": "X1"}},
        {"type": "Condition"},
        {"site": "Knee"},
    ],
)
def test_unrecognized_items_require_clearance_everywhere(item: dict) -> None:
    d = run(conditions=[item])
    for decision in d.values():
        assert decision.status == "requires-clearance"
        assert rules_of(decision) == only("UNRECOGNIZED", "requires-clearance")


def test_known_type_with_unknown_code_is_unrecognized_too() -> None:
    # an unknown code may name what the type does not (knee pain coded I80.202, a phlebitis)
    code = {"system": "http://snomed.info/sct", "code": "999999999"}
    d = run(conditions=[{"type": "KneePain", "code": code}])
    for decision in d.values():
        assert decision.status == "requires-clearance"
        assert rules_of(decision) == only("UNRECOGNIZED", "requires-clearance")


def test_an_unmapped_code_beside_a_mapped_one_is_unrecognized() -> None:
    # the unmapped code may name what the other does not (M25.562 knee pain and S72.402A, a
    # fracture of the femur, then unmapped: the fracture was ignored, every massage permitted;
    # I80.202, a deep thrombophlebitis of the left leg, is unmapped)
    codes = [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M25.562"},
             {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I80.202"}]
    d = run(conditions=[{"side": "left", "onset": "2026-11-19", "code": codes}])
    for decision in d.values():
        assert decision.status == "requires-clearance"
        assert rules_of(decision) == only("UNRECOGNIZED", "requires-clearance")
    (reason,) = next(iter(d.values())).reasons
    assert reason.item_label == "knee pain (unmapped code I80.202), left leg"
    codes = [{"system": "http://snomed.info/sct", "code": "999999999"},
             {"system": "http://snomed.info/sct", "code": "239873007"}]  # OA of knee
    d = run(conditions=[{"type": "KneePain", "code": codes}])
    for decision in d.values():
        assert [r.rule for r in decision.reasons] == ["CHRONIC-CONDITION", "UNRECOGNIZED"]


def test_unknown_planned_technique_counts_as_deep() -> None:
    result = assess({"id": "x", "planned": [{"technique": "Cupping", "target": "Patella",
                                             "side": "left"}]}, at=AT)
    planned = [d for d in result.decisions if d.planned]
    assert [(d.technique, d.target, d.side, d.status) for d in planned] == [
        ("Cupping", "Patella", "left", "forbidden")]
    assert sorted((r.rule, r.status) for r in planned[0].reasons) == [
        ("PATELLA-PRESSURE", "forbidden"), ("UNRECOGNIZED", "requires-clearance")]
    assert len(result.decisions) == 39


def test_unknown_planned_target_lies_in_every_region() -> None:
    result = assess({
        "id": "x",
        "conditions": [{"type": "OpenWound", "site": "LowerLeg", "side": "right"}],
        "planned": [{"technique": "Effleurage", "target": "Elbow", "side": "right"}],
    }, at=AT)
    planned = [d for d in result.decisions if d.planned]
    assert planned[0].status == "forbidden"
    assert sorted((r.rule, r.status) for r in planned[0].reasons) == [
        ("SKIN-LESION", "forbidden"), ("UNRECOGNIZED", "requires-clearance")]


# ----------------------------------------------------------------- planned interventions


def test_planned_bilateral_and_missing_side_stand_for_both() -> None:
    result = assess({"id": "x", "planned": [
        {"technique": "Petrissage", "target": "VastusLateralis", "side": "bilateral"},
        {"technique": "Effleurage", "target": "Patella"},
    ]}, at=AT)
    planned = sorted((d.technique, d.target, d.side) for d in result.decisions if d.planned)
    assert planned == [("Effleurage", "Patella", "left"), ("Effleurage", "Patella", "right"),
                       ("Petrissage", "VastusLateralis", "left"),
                       ("Petrissage", "VastusLateralis", "right")]
    assert len(result.decisions) == 42
    assert sum(result.summary.values()) == 42


def test_planned_catalogue_intervention_is_listed_once() -> None:
    result = assess({"id": "x", "planned": [
        {"technique": "Petrissage", "target": "Quadriceps", "side": "left"}]}, at=AT)
    assert len(result.decisions) == 38
    assert result.decision("Petrissage", "Quadriceps", "left").planned is True
    assert result.decision("Petrissage", "Quadriceps", "right").planned is False


# ----------------------------------------------------------------- combinations


def test_most_severe_wins_and_every_reason_is_listed() -> None:
    d = run(
        conditions=[{"type": "DeepVeinThrombosis", "side": "left"},
                    {"type": "Osteoarthritis"},
                    {"type": "SevereOsteoporosis"}],
        findings=[{"type": "Fever"}],
    )
    decision = d["Petrissage", "Quadriceps", "left"]
    assert decision.status == "forbidden"
    assert rules_of(decision) == [
        ("CHRONIC-CONDITION", "requires-clearance"),
        ("CHRONIC-CONDITION", "requires-clearance"),  # SevereOsteoporosis is chronic too
        ("DVT", "forbidden"),
        ("OSTEOPOROSIS-DEEP", "caution"),
        ("RED-FLAG", "requires-clearance"),
    ]
    assert [r.status for r in decision.reasons][0] == "forbidden"  # most severe first
    right = d["Effleurage", "Quadriceps", "right"]
    assert right.status == "requires-clearance"


def test_decide_matches_assess_for_catalogue_items() -> None:
    record = {"id": "x", "conditions": [{"type": "Fracture", "side": "left"}]}
    whole = assess(record, at=AT)
    for side in ("left", "right"):
        assert decide(record, "MassageBall", "VastusMedialis", side, at=AT) == whole.decision(
            "MassageBall", "VastusMedialis", side)
    with pytest.raises(ValueError):
        decide(record, "MassageBall", "VastusMedialis", "both", at=AT)


def test_unknown_list_may_hide_items_and_requires_clearance() -> None:
    d = run(condtions=[{"type": "DeepVeinThrombosis", "side": "left"}])
    for decision in d.values():
        assert decision.status == "requires-clearance"
        assert [(r.rule, r.item) for r in decision.reasons] == [("UNRECOGNIZED", "record")]


@pytest.mark.parametrize("extra", [{"notes": "walks daily"}, {"tags": []}, {"meta": {}}])
def test_unknown_keys_without_content_change_nothing(extra: dict) -> None:
    d = run(**extra)
    assert {x.status for x in d.values()} == {"permitted"}


def test_assessment_time_given_as_a_date_is_the_start_of_that_day() -> None:
    item = {"type": "Fracture", "side": "left", "onset": "2026-11-17T10:00:00Z"}
    assert statuses(run(conditions=[item], at="2026-11-20"), "left") == {"forbidden"}
    result = assess({"id": "d", "assessed_at": "2026-11-20", "conditions": [item]})
    assert result.assessed_at.isoformat() == "2026-11-20T00:00:00+00:00"


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_codes_are_compared_trimmed_and_upper_cased(engine: str) -> None:
    code = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": " i82.402 "}
    result = assess({"id": "c", "conditions": [{"code": code}]}, at=AT, engine=engine)
    assert {d.status for d in result.decisions if d.side == "left"} == {"forbidden"}
    assert {d.status for d in result.decisions if d.side == "right"} == {"requires-clearance"}


def test_unknown_list_inside_an_item_requires_clearance_too() -> None:
    d = run(conditions=[{"type": "KneePain", "complications": [{"type": "DeepVeinThrombosis"}]}])
    for decision in d.values():
        assert [(r.rule, r.status, r.item) for r in decision.reasons] == [
            ("UNRECOGNIZED", "requires-clearance", "conditions[0]")]


def test_two_records_of_one_patient_in_a_cohort_are_assessed_apart() -> None:
    from kgmassage.assessment import assess_many

    first = {"id": "same", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}
    second = {"id": "same", "conditions": []}
    results = list(assess_many([first, second, {"id": "other"}], at=AT))
    assert [r.summary["forbidden"] for r in results] == [19, 0, 0]
    assert [r.patient for r in results] == ["same", "same", "other"]


def test_a_bad_record_in_an_iterable_is_yielded_in_place() -> None:
    from kgmassage.assessment import assess_many
    from kgmassage.errors import RecordError

    results = list(assess_many([{"id": "a"}, {"id": "b", "conditions": "oops"}, {"id": "c"}],
                               at=AT))
    assert [type(r).__name__ for r in results] == ["Assessment", "RecordError", "Assessment"]
    assert isinstance(results[1], RecordError) and results[1].field == "conditions"


def test_decide_reads_names_and_sides_as_people_write_them() -> None:
    record = {"id": "x", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}
    d = decide(record, "petrissage", "IT band", " LEFT ", at=AT)
    assert (d.technique, d.target, d.side, d.status) == (
        "Petrissage", "IliotibialBand", "left", "forbidden")
    empty = decide(record, "", "Quadriceps", "right", at=AT)  # a missing technique
    assert (empty.technique, empty.status) == (None, "requires-clearance")
    assert {r.rule for r in empty.reasons} == {"DVT", "UNRECOGNIZED"}


@pytest.mark.parametrize(("technique", "target", "side", "message"), [
    (None, "Quadriceps", "left", "the technique must be a name (text), not None"),
    ("Petrissage", 3, "left", "the target must be a name (text), not 3"),
    ("Petrissage", "Quadriceps", "both", "side must be 'left' or 'right', not 'both'"),
])
def test_decide_refuses_what_is_no_name_or_side(technique: Any, target: Any, side: Any,
                                                message: str) -> None:
    with pytest.raises(ParameterError, match="^" + re.escape(message) + "$"):
        decide({"id": "x"}, technique, target, side, at=AT)


def test_an_assessment_finds_a_decision_by_the_names_people_use() -> None:
    result = assess({"id": "x", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]},
                    at=AT)
    exact = result.decision("Petrissage", "Quadriceps", "left")
    assert result.decision("petrissage", "quadriceps", " LEFT") is exact
    with pytest.raises(UnknownDecisionError, match="no decision on Cupping, Quadriceps, left"):
        result.decision("Cupping", "Quadriceps", "left")
