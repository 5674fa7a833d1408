"""The reports for people: headlines per leg, outcomes grouped by region (snapshot tests), and
the HTML page with its picture of the legs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from kgmassage import assess
from kgmassage.report import headlines, region_statuses, to_html, to_people_text

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"
AT = "2026-11-20T10:00:00Z"

CASES = {
    "dvt-and-unhealed-tkr": {
        "id": "dvt-tkr",
        "conditions": [{"type": "DeepVeinThrombosis", "side": "left", "status": "suspected",
                        "onset": "2026-11-19"}],
        "procedures": [{"type": "TotalKneeReplacement", "side": "right", "date": "2026-11-10"}]},
    "severe-osteoporosis": {
        "id": "osteo", "conditions": [{"type": "SevereOsteoporosis", "onset": "2020-01-01"}],
        "clearances": [{"date": "2026-11-01", "issued_by": "GP"}]},
    "skin-lesion-and-fever": {
        "id": "lesion",
        "conditions": [{"type": "OpenWound", "site": "Thigh", "side": "right"}],
        "findings": [{"type": "Fever"}],
        "planned": [{"technique": "foam rolling", "target": "IT band", "side": "right"}]},
    "nothing": {"id": "clean", "conditions": [{"type": "KneePain", "side": "left"}]},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_report_snapshot(name: str) -> None:
    text = to_people_text(assess(CASES[name], at=AT))
    snapshot = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("KGM_UPDATE_SNAPSHOTS"):
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8")


def test_the_message_that_matters_comes_first() -> None:
    lines = to_people_text(assess(CASES["dvt-and-unhealed-tkr"], at=AT)).splitlines()
    assert lines[2] == ("LEFT LEG — no massage: suspected deep vein thrombosis, left leg "
                        "(since 2026-11-19) [conditions[0]]")
    assert lines[3].startswith("RIGHT LEG — no massage: total knee replacement, right leg")
    assert len(lines) < 15


def test_both_legs_merge_and_deep_pressure_is_one_line() -> None:
    heads = headlines(assess(CASES["severe-osteoporosis"], at=AT))
    assert [(h.where, h.text) for h in heads] == [("BOTH LEGS", "light pressure only")]


def test_undated_items_say_they_count_from_the_assessment_time() -> None:
    text = to_people_text(assess(CASES["skin-lesion-and-fever"], at=AT))
    assert ("fever, both legs (no usable date: counts from the assessment time) [findings[0]]"
            in text)


def test_lifted_reasons_are_listed_once_and_in_full_in_verbose() -> None:
    # a trial: a fracture lifted by a clearance appeared nowhere but in --verbose
    assessment = assess(CASES["severe-osteoporosis"], at=AT)
    text = to_people_text(assessment)
    assert "Lifted by a medical clearance (check it covers them):" in text
    assert text.count("CHRONIC-CONDITION (requires-clearance): ") == 1
    assert "— lifted by clearances[0]" in text
    assert "CHRONIC-CONDITION (requires-clearance, lifted by clearances[0])" in to_people_text(
        assessment, verbose=True)
    assert "Lifted by a medical clearance" in to_html([assessment])


def test_html_page_is_self_contained_and_colours_each_region() -> None:
    assessment = assess(CASES["skin-lesion-and-fever"], at=AT)
    page = to_html([assessment])
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    statuses = region_statuses(assessment)
    assert statuses[("left", "Thigh")] == "requires-clearance"
    assert statuses[("right", "Thigh")] == "forbidden"
    assert 'id="right-Thigh" data-status="forbidden"' in page
    # no decision targets the knee: the leg's requires-clearance is not the most severe there
    # (deep pressure on the patella is forbidden for everyone): not drawn milder, unknown
    assert 'id="left-Knee" data-status="none"' in page


def test_a_region_no_decision_targets_is_never_drawn_milder_than_it_may_be() -> None:
    statuses = region_statuses(assess({"id": "k"}, at=AT))  # nothing wrong: all permitted
    assert statuses[("left", "Knee")] == statuses[("right", "Knee")] == "none"
    statuses = region_statuses(assess(
        {"id": "d", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}, at=AT))
    assert statuses[("left", "Knee")] == "forbidden"  # no massage on that leg at all


def test_a_leg_forbidden_by_several_items_together_has_its_headline() -> None:
    # no one item covers the leg; the three together forbid every intervention on it
    record = {"id": "e", "conditions": [{"type": "OpenWound", "site": "Hip", "side": "left"},
                                        {"type": "OpenWound", "site": "LowerLeg",
                                         "side": "left"}],
              "findings": [{"type": "JointSwelling", "site": "Thigh", "side": "left"}]}
    heads = headlines(assess(record, at=AT))
    assert [(h.where, h.status, h.text) for h in heads] == [
        ("LEFT LEG", "forbidden", "no massage"),
        ("RIGHT LEG", "permitted", "every massage of the catalogue permitted")]
    assert [r.item for r in heads[0].reasons] == ["conditions[0]", "conditions[1]",
                                                  "findings[0]"]


def test_only_alternatives_milder_for_this_patient_are_offered() -> None:
    # a trial found "instead work: tensor fasciae latae" where every TFL decision was forbidden
    record = {"id": "alt", "conditions": [{"type": "Rash", "site": "Hip", "side": "right"},
                                           {"type": "RheumatoidArthritis", "side": "right"}],
              "planned": [{"technique": "FoamRolling", "target": "IT band", "side": "right"}]}
    assessment = assess(record, at="2026-11-20T10:00:00Z")
    statuses = {(d.technique, d.target, d.side): d.status for d in assessment.decisions}
    assert statuses[("FoamRolling", "TensorFasciaeLatae", "right")] == "forbidden"
    assert "instead work" not in to_people_text(assessment)
    demo = assess(Path(__file__).parent.parent / "examples" / "demo-report.json")
    assert "instead work: tensor fasciae latae" in to_people_text(demo)
    assert "vastus lateralis" not in to_people_text(demo).split("instead work:")[1].split("\n")[0]


def test_a_headline_no_clearance_can_lift_says_the_record_must_be_corrected() -> None:
    record = {"id": "u", "conditions": [{"type": "Hypertension"}],
              "clearances": [{"date": "2026-11-19", "issued_by": "GP"}]}
    text = to_people_text(assess(record, at="2026-11-20T10:00:00Z"))
    assert ("BOTH LEGS — medical clearance needed before any massage of the catalogue: "
            "unrecognised entry "
            "(Hypertension)") in text
    assert "no clearance lifts unrecognised content: correct the record" in text


def test_bidirectional_controls_in_record_values_are_shown_not_obeyed() -> None:
    # a trial turned the rest of a report line around with "Rub\u202e"
    record = {"id": "b", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}],
              "planned": [{"technique": "Rub\u202e", "target": "Quadriceps", "side": "left"}]}
    assessment = assess(record, at="2026-11-20T10:00:00Z")
    for shown in (to_people_text(assessment), to_html([assessment])):
        assert "\u202e" not in shown and "Rub[U+202E]" in shown


def test_long_names_wrap_in_the_page() -> None:
    page = to_html([assess({"id": "l", "planned": [{"technique": "x" * 500}]},
                           at="2026-11-20T10:00:00Z")])
    assert "overflow-wrap:anywhere" in page


def test_a_knee_where_even_light_massage_is_forbidden_is_drawn_and_said_so() -> None:
    # a trial found the knee grey and the leg "caution with any massage" when a swelling with
    # no site (the knee, by the rules) forbade every massage there
    record = {"id": "k", "findings": [{"type": "JointSwelling", "side": "left",
                                       "recorded_at": "2026-11-20T08:00:00Z"}]}
    assessment = assess(record, at="2026-11-20T10:00:00Z")
    assert region_statuses(assessment)[("left", "Knee")] == "forbidden"
    assert region_statuses(assessment)[("right", "Knee")] == "none"  # only deep pressure there
    text = to_people_text(assessment)
    assert "LEFT LEG — caution with any massage of the catalogue" in text
    assert ("Knee, left: forbidden: knee joint (even light massage); patella (even light "
            "massage) — ACUTE-INFLAMMATION: joint swelling, left leg; deep pressure there is "
            "never milder (on the kneecap, forbidden for all)") in text
    assert {(p.target, p.side): p.status for p in assessment.probes} == {
        ("KneeJoint", "left"): "forbidden", ("Patella", "left"): "forbidden",
        ("KneeJoint", "right"): "permitted", ("Patella", "right"): "permitted"}
    assert "probes" not in assessment.to_dict()  # not decisions of the assessment


def test_reports_name_the_fields_a_warning_is_about() -> None:
    """A trial: knee pain coded with a known SNOMED CT code and an unknown ICD-10-CM code was
    reported "every massage permitted" with no word of the code left unread. The unread code
    now makes the item UNRECOGNIZED (I80.202 is a phlebitis), and the reports still name it."""
    mixed = {"id": "w", "conditions": [{"code": [
        {"system": "http://snomed.info/sct", "code": "30989003"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I80.202"}]}],
        "planned": [{"technique": "Petrissage", "target": "Quadriceps", "side": "left"}]}
    a = assess(mixed, at=AT)
    assert a.summary["requires-clearance"] == 38
    assert {r.item_label for d in a.decisions for r in d.reasons} == {
        "knee pain (unmapped code I80.202), both legs"}
    line = ("Check the record (1 warning(s)): conditions[0].code[1].code (kgmassage validate)")
    assert to_people_text(a).splitlines()[1] == line
    assert f'<p class="warning">{line}</p>' in to_html([a])


def test_the_html_report_gives_the_basis_of_each_rule() -> None:
    """A trial: the HTML report showed no rule message and no source section, so a decision
    could not be checked from it. Each rule that applies is listed once per item."""
    a = assess({"id": "b", "conditions": [
        {"type": "DeepVeinThrombosis", "side": "left", "onset": "2026-11-19"},
        {"type": "SevereOsteoporosis"}]}, at=AT)
    page = to_html([a])
    assert "The basis of each rule that applies (4)" in page
    assert ("<li>DVT (forbidden): Known or suspected deep vein thrombosis in this leg: no "
            "massage, pressure could dislodge the clot (risk of pulmonary embolism). — deep vein "
            "thrombosis, left leg (since 2026-11-19) [conditions[0]] — source: Is Massage Good "
            "for Knee Pain?, section &quot;Absolute Contraindications&quot;</li>") in page


def test_a_lifted_rule_names_the_clearance_date_and_issuer() -> None:
    """A trial: "lifted by clearances[0]" did not say when, or by whom, it was cleared."""
    record = {"id": "c", "conditions": [{"type": "Osteoporosis", "onset": "2019-05-01"}],
              "clearances": [{"date": "2026-11-15", "issued_by": "GP"}, {"date": "2026-11-16"}]}
    a = assess(record, at=AT)
    (reason,) = {r for d in a.decisions for r in d.reasons if r.lifted}
    assert reason.lifted_by == ("clearances[0]", "clearances[1]")
    assert reason.lifted_by_detail == ("clearances[0] (issued 2026-11-15 by GP)",
                                       "clearances[1] (issued 2026-11-16)")
    assert ("lifted by clearances[0] (issued 2026-11-15 by GP), clearances[1] (issued "
            "2026-11-16)") in to_people_text(a)
    assert "lifted_by_detail" not in json.dumps(a.to_dict())  # the JSON keeps its form


def _contrast_on_white(colour: str) -> float:
    """WCAG 2 contrast ratio of a #rrggbb text colour against white."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_text_colours_of_the_page_are_readable() -> None:
    page = to_html([assess(CASES["skin-lesion-and-fever"], at=AT)])
    style = page[page.index("<style>"):page.index("</style>")]
    colours = re.findall(r"[{;]color:(#[0-9a-f]{6})", style)
    assert len(colours) >= 4  # the headlines by status, the warnings
    assert {c: round(_contrast_on_white(c), 2) for c in colours
            if _contrast_on_white(c) < 4.5} == {}  # WCAG AA for text
    # the region names drawn on the legs: dark on the light fills (caution yellow, the
    # requires-clearance orange), white on the dark ones
    drawn = re.findall(r'fill="(#[0-9a-f]{6})" stroke="#222">.*?</rect><text [^>]*'
                       r'fill="(#[0-9a-f]+)">', page)
    assert len(drawn) == 8
    for fill, text in drawn:
        white = _contrast_on_white(fill)
        assert text == ("#fff" if white >= 4.5 else "#000"), (fill, text)


def test_a_line_break_in_a_value_cannot_forge_a_line_of_the_report() -> None:
    """A trial: a patient id holding a line break printed a line of its own in the report
    ("RIGHT LEG — every massage permitted" above the real headline)."""
    a = assess({"id": "p-1\nRIGHT LEG — every massage of the catalogue permitted",
                "conditions": [{"type": "DeepVeinThrombosis", "side": "right"}]}, at=AT)
    lines = to_people_text(a).splitlines()
    assert lines[0].startswith("Patient p-1\\nRIGHT LEG — every massage")
    assert [line for line in lines if line.startswith("RIGHT LEG")] == [
        "RIGHT LEG — no massage: deep vein thrombosis, right leg (no usable date: counts from "
        "the assessment time) [conditions[0]]"]


def test_a_leg_headline_says_its_most_severe_status() -> None:
    """A trial: wounds at the thigh and the lower leg forbade 15 of the left leg's 19
    interventions, every light one too, while the headlines said only "caution" and "light
    pressure only"."""
    record = {"id": "h", "conditions": [
        {"type": "Osteoporosis", "onset": "2020-01-01"},
        {"type": "OpenWound", "site": "Thigh", "side": "left", "onset": "2026-11-19"},
        {"type": "OpenWound", "site": "LowerLeg", "side": "left", "onset": "2026-11-19"}],
        "clearances": [{"date": "2026-11-20", "issued_by": "GP"}]}
    heads = [h.line().split(":")[0] for h in headlines(assess(record, at=AT))]
    assert heads[0] == ("LEFT LEG — some massage forbidden (15 of 19 interventions of the "
                        "catalogue, by region below)")
    text = to_people_text(assess(record, at=AT))
    assert "Thigh, left: forbidden: hamstrings (effleurage, foam rolling, petrissage)" in text


def test_an_alternative_that_needs_more_than_nothing_says_so() -> None:
    """A trial: "instead work: tensor fasciae latae" where the TFL needs clearance too."""
    record = {"id": "a", "conditions": [{"type": "OpenWound", "site": "Thigh", "side": "right",
                                         "onset": "2026-11-18"}],
              "findings": [{"type": "Fever", "recorded_at": "2026-11-20T08:00:00Z"}],
              "planned": [{"technique": "FoamRolling", "target": "IT band", "side": "right"}]}
    text = to_people_text(assess(record, at=AT))
    assert "instead work: tensor fasciae latae (requires-clearance)" in text


def test_a_unicode_line_separator_cannot_forge_a_line() -> None:
    record = {"id": "F\u2028BOTH LEGS — every massage of the catalogue permitted\u0085",
              "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}
    a = assess(record, at=AT)
    assert not any(line.startswith("BOTH LEGS — every")
                   for line in to_people_text(a).splitlines())
    assert "F[U+2028]BOTH LEGS" in to_html([a])


def test_a_leg_headline_says_when_even_light_massage_at_the_knee_is_forbidden() -> None:
    """A trial: cellulitis at the left knee: the headline said "caution with some massage",
    while even light massage at the knee was forbidden."""
    a = assess({"id": "c", "conditions": [{"type": "Cellulitis", "site": "Knee",
                                           "side": "left"}]}, at=AT)
    assert headlines(a)[0].line().startswith(
        "LEFT LEG — some massage forbidden (even light massage at the knee, by region below)")
