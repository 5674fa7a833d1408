"""FHIR R4 input: Bundles → records in the JSON form (:mod:`kgmassage.fhir`).

Hand-made bundles are in ``tests/data/fhir/``; ``tests/data/fhir/samples/`` holds byte-identical
copies of the eight Synthea/Inferno bundles of ``../shared/reference/fhir-samples/`` (see the
README there for provenance and licences).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import kgmassage
from kgmassage.errors import RecordError
from kgmassage.fhir import bundle_to_record, is_fhir

DATA = Path(__file__).resolve().parent / "data" / "fhir"
SAMPLES = sorted((DATA / "samples").glob("*.json"))
AT = datetime(2026, 11, 20, 10, 0, 0, tzinfo=timezone.utc)
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SUBJECT = {"reference": "Patient/p-1"}
#: Keys of the record form (interfaces.md, "Patient record as JSON").
RECORD_KEYS = {"id", "assessed_at", "birth_date", "conditions", "findings", "procedures",
               "clearances", "planned"}
ITEM_KEYS = {"type", "code", "side", "site", "status", "onset", "recorded_at", "date",
             "incision_closed", "sutures_removed", "technique", "target"}


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def bundle(*resources: Mapping[str, Any], patient: Mapping[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    """A collection Bundle: Patient ``p-1`` (or ``patient``) followed by ``resources``."""
    first = dict(patient) if patient is not None else {"resourceType": "Patient", "id": "p-1"}
    entries = [{"resource": first}] + [{"resource": dict(r)} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries, **extra}


def condition(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": SUBJECT, **fields}


def concept(*codes: str, system: str = SCT, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": c} for c in codes]}
    if text is not None:
        out["text"] = text
    return out


def temperature(value: float, unit: str, when: str, *, code: str = "8310-5",
                **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": concept(code, system=LOINC),
        "subject": SUBJECT,
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "system": UCUM, "code": unit},
        **fields,
    }


def mapped(*resources: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return bundle_to_record(bundle(*resources, **extra), at=AT)


def items(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [i for name in ("conditions", "findings", "procedures", "planned")
            for i in record.get(name, [])]


# --- recognising FHIR ------------------------------------------------------------------------


def test_is_fhir() -> None:
    assert is_fhir({"resourceType": "Bundle"})
    assert is_fhir({"resourceType": "Patient", "id": "x"})
    assert not is_fhir({"id": "p-1", "conditions": []})
    assert not is_fhir([{"resourceType": "Bundle"}])
    assert not is_fhir("Bundle")


# --- the hand-made bundles, exactly ------------------------------------------------------------


def test_left_dvt_bundle() -> None:
    assert bundle_to_record(load("dvt-left.json"), at=AT, source="dvt-left.json") == {
        "id": "fhir-dvt-left",
        "assessed_at": "2026-11-20T10:00:00Z",
        "birth_date": "1958-04-02",
        "conditions": [{
            "code": {"system": SCT, "code": "404223003",
                     "display": "Deep venous thrombosis of lower extremity"},
            "status": "active",
            "onset": "2026-11-19T08:00:00Z",
            "recorded_at": "2026-11-19T09:30:00Z",
            "side": "left",
        }],
        "planned": [{"technique": "Petrissage", "target": "VastusLateralis", "side": "left"}],
    }


def test_massage_requests() -> None:
    record = bundle_to_record(load("massage-requests.json"), at=AT)
    assert record == {
        "id": "fhir-plans",
        "assessed_at": "2026-11-20T10:00:00Z",
        "planned": [
            # local code, display "Petrissage (kneading)"; bodySite text "Left vastus lateralis"
            {"technique": "Petrissage", "target": "VastusLateralis", "side": "left"},
            # SNOMED massage, no technique: the display as given (UNRECOGNIZED); laterality in a
            # post-coordinated bodySite code
            {"technique": "Massage", "target": "KneeJoint", "side": "right"},
            # technique named in code.text only; no bodySite: no target
            {"technique": "FoamRolling"},
            # massage whose technique and target cannot be read: kept as written
            {"technique": "Deep tissue work", "target": "outer thigh band"},
            # two targets, a laterality-only body site for both; a display naming the target
            {"technique": "TriggerPointTherapy", "target": "VastusMedialis", "side": "bilateral"},
            {"technique": "TriggerPointTherapy", "target": "VastusLateralis",
             "side": "bilateral"},
        ],
    }


def test_fever_in_fahrenheit_inside_and_outside_72_hours() -> None:
    record = bundle_to_record(load("fever-fahrenheit.json"), at=AT)
    assert record["findings"] == [
        {"type": "Fever", "recorded_at": "2026-11-19T22:00:00Z"},  # 101.3 °F, 12 h before
        # 100.4 °F exactly 72 h before (10:00Z): the window is inclusive
        {"type": "Fever", "recorded_at": "2026-11-17T05:00:00-05:00"},
    ]  # 102.2 °F 72 h + 1 s before, 99.1 °F, and a heart rate make nothing
    assert record["birth_date"] == "1970-12-31"  # a partial date: its last day
    later = bundle_to_record(load("fever-fahrenheit.json"), at="2026-11-22T22:00:01Z")
    assert "findings" not in later
    earlier = bundle_to_record(load("fever-fahrenheit.json"), at="2026-11-17T12:00:00Z")
    assert [f["recorded_at"] for f in earlier["findings"]] == [
        "2026-11-19T22:00:00Z",  # after the assessment time: kept (fail safe; flagged later)
        "2026-11-17T09:59:59Z",
        "2026-11-17T05:00:00-05:00",
    ]


def test_statuses_entered_in_error_and_not_done() -> None:
    record = bundle_to_record(load("statuses.json"), at=AT)
    assert record == {
        "id": "bundle-statuses",  # the Patient has no id: the Bundle's
        "assessed_at": "2026-11-20T10:00:00Z",
        "birth_date": "1950-06-30",
        "conditions": [
            {"code": {"system": SCT, "code": "128053003"}, "status": "entered-in-error"},
            {"code": [{"system": SCT, "code": "51037009", "display": "Fracture of patella"},
                      {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "S82.001A"}],
             "status": "resolved", "onset": "2019-07-01"},  # its onsetPeriod's end
            {"code": {"system": SCT, "code": "59282003"}, "status": "suspected",
             "recorded_at": "2026-11-20"},
            {"code": {"system": SCT, "code": "128045006"}, "status": "refuted"},
            # no code at all: kept without type or code (UNRECOGNIZED); "2026" holds the
            # assessment day, so it is read as that day, not as the future 2026-12-31
            {"status": "active", "onset": "2026-11-20"},
        ],
        "findings": [
            {"code": {"system": SCT, "code": "247441003", "display": "Erythema"},
             "recorded_at": "2026-11-20T09:00:00Z", "site": "Knee", "side": "left"},
            {"type": "Fever", "recorded_at": "2026-11-20T07:00:00Z",
             "status": "entered-in-error"},
        ],
        "procedures": [
            {"code": {"system": SCT, "code": "609588000"}, "status": "entered-in-error"},
            {"code": {"system": SCT, "code": "609588000"}, "status": "entered-in-error",
             "date": "2026-11-02"},
            {"code": {"system": SCT, "code": "609588000", "display": "Total knee replacement"},
             "date": "2026-11-01T10:00:00Z", "site": "KneeJoint", "side": "right"},  # the end
            {"date": "2026-10-30T12:00:00+02:00"},
        ],
    }


def test_two_patients_are_refused() -> None:
    with pytest.raises(RecordError) as caught:
        bundle_to_record(load("two-patients.json"), at=AT, source="two-patients.json")
    assert caught.value.source == "two-patients.json"
    assert caught.value.field == "entry[2] (Patient/second)"
    assert "2 Patients" in caught.value.detail


def test_invalid_resource_is_refused_naming_the_entry() -> None:
    with pytest.raises(RecordError) as caught:
        bundle_to_record(load("invalid-resource.json"), at=AT, source="bad.json")
    assert caught.value.field == "entry[2] (Condition/abc)"
    assert "not valid FHIR R4" in caught.value.detail
    assert "onsetDateTime" in caught.value.detail
    assert str(caught.value).startswith("bad.json, field entry[2] (Condition/abc): ")


# --- same decisions as the hand-written record ---------------------------------------------


def _decisions(assessment: kgmassage.Assessment) -> list[dict[str, Any]]:
    return sorted((d.to_dict() for d in assessment.decisions),
                  key=lambda d: json.dumps(d, sort_keys=True))


def test_left_dvt_bundle_decides_as_the_hand_written_record() -> None:
    fhir_record = bundle_to_record(load("dvt-left.json"), at=AT)
    hand_record = load("dvt-left.record.json")
    from_fhir = kgmassage.assess(fhir_record, at=AT)
    by_hand = kgmassage.assess(hand_record, at=AT)
    assert _decisions(from_fhir) == _decisions(by_hand)
    assert from_fhir.summary == by_hand.summary
    assert from_fhir.conforms
    assert from_fhir.decision("Petrissage", "VastusLateralis", "left").status == "forbidden"
    assert from_fhir.decision("Petrissage", "Quadriceps", "right").status == (
        "requires-clearance")
    assert len(from_fhir.decisions) == 39  # 38 of the catalogue and the planned one


# --- conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clinical", "verification", "status"),
    [
        ("active", None, "active"),
        ("recurrence", None, "active"),
        ("relapse", "confirmed", "active"),
        ("inactive", None, "resolved"),
        ("remission", None, "resolved"),
        ("resolved", "confirmed", "resolved"),
        ("active", "provisional", "suspected"),
        (None, "differential", "suspected"),
        (None, "unconfirmed", "suspected"),
        ("active", "refuted", "refuted"),
        (None, "entered-in-error", "entered-in-error"),
        ("resolved", "provisional", "resolved"),
        (None, "confirmed", "active"),
        # of two codings, the one that counts most (a confirmed DVT is not dropped)
        (None, ["refuted", "confirmed"], "active"),
        (None, ["entered-in-error", "confirmed"], "active"),
        (None, None, None),
    ],
)
def test_condition_status(clinical: str | None, verification: str | list[str] | None,
                          status: str | None) -> None:
    fields: dict[str, Any] = {"code": concept("239873007")}
    if clinical is not None:
        fields["clinicalStatus"] = concept(clinical, system=CLINICAL)
    if verification is not None:
        codes = [verification] if isinstance(verification, str) else verification
        fields["verificationStatus"] = concept(*codes, system=VERIFICATION)
    (item,) = mapped(condition(**fields))["conditions"]
    assert item.get("status") == status


def test_every_coding_of_a_condition_goes_in() -> None:
    code = {"coding": [
        {"system": SCT, "code": "128053003", "display": "Deep venous thrombosis"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I82.402"},
        {"system": "http://example.org/local", "code": "DVT-L", "version": "2"},
        {"system": SCT, "display": "a coding without a code cannot be read"},
        {},  # says nothing: left out
    ], "text": "DVT"}
    (item,) = mapped(condition(code=code))["conditions"]
    assert item == {"code": [
        {"system": SCT, "code": "128053003", "display": "Deep venous thrombosis"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I82.402"},
        {"system": "http://example.org/local", "code": "DVT-L"},
        {"system": SCT, "display": "a coding without a code cannot be read"},  # unrecognised
    ]}


def test_condition_without_code_is_kept() -> None:
    record = mapped(condition(), condition(code={"text": "leg problem"}))
    assert record["conditions"] == [{}, {}]


def test_condition_dates() -> None:
    record = mapped(
        condition(code=concept("239873007"), onsetPeriod={"start": "2020-03-04T05:06:07+01:00",
                                                          "end": "2020-03-05T01:00:00+01:00"},
                  recordedDate="2020-03-05"),
        # no end: the onset may be now (the latest instant the period can mean; fail safe)
        condition(code=concept("239873007"), onsetPeriod={"start": "2020-03-04"}),
        condition(code=concept("239873007"), onsetPeriod={"end": "2020-04"}),
        condition(code=concept("239873007"), onsetString="since childhood",
                  recordedDate="2024-02"),
    )
    assert [(c.get("onset"), c.get("recorded_at")) for c in record["conditions"]] == [
        ("2020-03-05T01:00:00+01:00", "2020-03-05"),
        ("2026-11-20T10:00:00Z", None),
        ("2020-04-30", None),
        # not a date: kept as written, so the item counts from the assessment time (fail
        # safe), not from its recordedDate
        ('onsetString: "since childhood"', "2024-02-29"),
    ]


@pytest.mark.parametrize(
    ("body_site", "expected"),
    [
        # a laterality coding beside the site
        ([concept("72696002", "7771000")], {"site": "Knee", "side": "left"}),
        # post-coordinated, with terms between pipes
        ([concept("182204005 |Knee joint structure| : 272741003 |Laterality| = 7771000 |Left|")],
         {"side": "left"}),
        ([concept("49076000:272741003=51440002")], {"site": "KneeJoint", "side": "bilateral"}),
        # a site by its text or a display; laterality in the words
        ([{"text": "Right knee"}], {"site": "Knee", "side": "right"}),
        ([{"coding": [{"system": SCT, "code": "1234", "display": "Structure of lower leg"}]}],
         {"site": "LowerLeg"}),
        # left and right make bilateral; a laterality-only body site qualifies the item
        ([concept("7771000"), concept("24028007")], {"side": "bilateral"}),
        ([concept("30021000"), {"coding": [{"system": SCT, "code": "24028007",
                                             "display": "Right (qualifier value)"}]}],
         {"site": "LowerLeg", "side": "right"}),
        # laterality in an extension of the body site
        ([{"text": "thigh", "extension": [{"url": "http://example.org/laterality",
                                            "valueCodeableConcept": concept("24028007")}]}],
         {"site": "Thigh", "side": "right"}),
        # two sites, or a site kgmassage does not know beside one it knows: no site
        ([concept("72696002"), concept("68367000")], {}),
        ([concept("72696002"), {"text": "ankle"}], {}),
        ([{"text": "knee and thigh"}], {}),
        # a site the ontology does not map, a laterality code of another system: nothing
        ([concept("61685007")], {}),
        ([concept("7771000", system="http://example.org/sides")], {}),
    ],
)
def test_body_site(body_site: list[dict[str, Any]], expected: dict[str, str]) -> None:
    (item,) = mapped(condition(code=concept("128053003"), bodySite=body_site))["conditions"]
    assert {k: v for k, v in item.items() if k in ("site", "side")} == expected


# --- procedures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "counts"),
    [("completed", True), ("in-progress", True), ("stopped", True), ("unknown", True),
     ("not-done", False), ("entered-in-error", False)],
)
def test_procedure_status(status: str, counts: bool) -> None:
    procedure = {"resourceType": "Procedure", "status": status, "subject": SUBJECT,
                 "code": concept("609588000"), "performedDateTime": "2026-11-01"}
    (item,) = mapped(procedure)["procedures"]
    assert ("status" not in item) is counts
    if not counts:
        assert item["status"] == "entered-in-error"
    # one in progress is not over: it counts as done at the assessment time
    assert item["date"] == ("2026-11-20T10:00:00Z" if status == "in-progress" else "2026-11-01")


@pytest.mark.parametrize("performed", [{"performedDateTime": "2020-11-01"},
                                       {"performedPeriod": {"start": "2020-11-01",
                                                            "end": "2020-11-02"}}])
@pytest.mark.parametrize("status", ["in-progress", "on-hold"])
def test_a_surgery_not_over_is_recent(status: str, performed: dict[str, Any]) -> None:
    """A trial: a left knee replacement in progress, dated 2020 (when it began), counted as
    healed: requires-clearance on the left leg instead of forbidden."""
    procedure = {"resourceType": "Procedure", "status": status, "subject": SUBJECT,
                 "code": concept("443681002"), **performed}
    found = {(d.side, d.status) for d in kgmassage.assess(bundle(procedure), at=AT).decisions}
    assert found == {("left", "forbidden"), ("right", "requires-clearance")}


def test_procedure_without_code_is_kept() -> None:
    procedure = {"resourceType": "Procedure", "status": "completed", "subject": SUBJECT,
                 "bodySite": [concept("24028007")]}
    assert mapped(procedure)["procedures"] == [{"side": "right"}]


# --- observations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "fever"),
    [(38.0, "Cel", True), (37.99, "Cel", False), (100.4, "[degF]", True),
     (100.3, "[degF]", False), (311.15, "K", True), (310.0, "K", False)],
)
def test_fever_thresholds(value: float, unit: str, fever: bool) -> None:
    record = mapped(temperature(value, unit, "2026-11-20T09:00:00Z"))
    assert record.get("findings") == (
        [{"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"}] if fever else None)


@pytest.mark.parametrize("code", ["8310-5", "8331-1", "8332-9", "8333-7", "8328-7"])
def test_temperature_codes(code: str) -> None:
    assert mapped(temperature(39.2, "Cel", "2026-11-20T09:00:00Z", code=code))["findings"]


def test_temperature_variants() -> None:
    no_unit = temperature(38.5, "Cel", "2026-11-20T09:00:00Z")
    no_unit["valueQuantity"] = {"value": 38.5}  # read from its range: Celsius
    text_unit = temperature(101.0, "Cel", "2026-11-20T09:00:00Z")
    text_unit["valueQuantity"] = {"value": 101.0, "unit": "°F"}
    below = temperature(38.0, "Cel", "2026-11-20T09:00:00Z")
    below["valueQuantity"]["comparator"] = "<"  # below 38.0: no fever
    absent = temperature(39.0, "Cel", "2026-11-20T09:00:00Z")
    del absent["valueQuantity"]
    absent["dataAbsentReason"] = {"text": "Unknown"}
    ongoing = temperature(39.0, "Cel", "2026-11-20T09:00:00Z")
    del ongoing["effectiveDateTime"]
    ongoing["effectivePeriod"] = {"start": "2026-01-01T00:00:00Z"}
    period = temperature(39.0, "Cel", "2026-11-20T09:00:00Z")
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-19T00:00:00Z"}
    timeless = temperature(39.0, "Cel", "2026-11-20T09:00:00Z")
    del timeless["effectiveDateTime"]
    panel = {
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": concept("85353-1", system=LOINC), "effectiveDateTime": "2026-11-20T08:00:00Z",
        "component": [{"code": concept("8310-5", system=LOINC),
                       "valueQuantity": {"value": 38.4, "system": UCUM, "code": "Cel"}}],
    }
    record = mapped(no_unit, text_unit, below, absent, ongoing, period, timeless, panel)
    assert record["findings"] == [
        {"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"},
        {"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"},
        {"type": "Fever", "recorded_at": "2026-01-01T00:00:00Z"},  # still going on
        {"type": "Fever", "recorded_at": "2026-11-19T00:00:00Z"},  # the period's end
        {"type": "Fever"},  # no time at all: counts (fail safe)
        {"type": "Fever", "recorded_at": "2026-11-20T08:00:00Z"},  # in a component
    ]


@pytest.mark.parametrize(("value", "unit", "comparator", "fever"), [
    (39.0, "Cel", "<", True),  # below 39 may be 38.5
    (38.0, "Cel", "<", False), (38.0, "Cel", "<=", True), (37.9, "Cel", "<=", False),
    (38.5, "[degF]", None, True),  # no living patient: a Celsius value, unreadable
    (20.0, "Cel", None, True), (36.6, "Cel", None, False), (98.6, "[degF]", None, False),
])
def test_temperatures_that_may_be_a_fever_count_as_one(value: float, unit: str,
                                                       comparator: str | None,
                                                       fever: bool) -> None:
    """A trial: "<39 Cel" and 38.5 "°F" were no fever; both may be one (fail safe)."""
    reading = temperature(value, unit, "2026-11-20T09:00:00Z")
    if comparator:
        reading["valueQuantity"]["comparator"] = comparator
    assert bool(mapped(reading).get("findings")) is fever


@pytest.mark.parametrize("value, interpretation", [
    (None, {"coding": [{"code": "H"}]}), (36.6, {"coding": [{"code": "H"}]}),
    (None, {"coding": [{"code": "HX"}]}), (None, {"coding": [{"code": ">"}]}),
    (None, {"coding": [{"code": "h"}]}), (None, {"text": "High"})])
def test_a_temperature_interpreted_as_high_is_a_fever(value: float | None,
                                                      interpretation: dict[str, Any]) -> None:
    """Trials: a temperature with a dataAbsentReason but interpreted H (high), HX, >, h or
    "High" was no fever."""
    reading = temperature(36.6, "Cel", "2026-11-20T09:00:00Z")
    if value is None:
        del reading["valueQuantity"]
        reading["dataAbsentReason"] = {"text": "Unknown"}
    reading["interpretation"] = [interpretation]
    assert mapped(reading)["findings"] == [{"type": "Fever",
                                            "recorded_at": "2026-11-20T09:00:00Z"}]


def test_a_temperature_named_only_in_text_is_read() -> None:
    """A trial: 38.5 Cel under the text "Body temperature" with no code was ignored."""
    reading = temperature(38.5, "Cel", "2026-11-20T09:00:00Z")
    reading["code"] = {"text": "Body temperature"}
    assert mapped(reading)["findings"] == [{"type": "Fever",
                                            "recorded_at": "2026-11-20T09:00:00Z"}]
    reading["code"] = {"text": "Heart rate"}
    assert mapped(reading).get("findings") is None


def test_coded_findings() -> None:
    swelling = {
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": concept("404684003", text="Clinical finding"),
        "valueCodeableConcept": concept("202381003", text="Knee joint effusion"),
        "effectiveDateTime": "2026-11-19",
        "bodySite": {"text": "left knee"},
    }
    no_erythema = {
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": concept("247441003"), "valueBoolean": False,
        "effectiveDateTime": "2026-11-19T12:00:00Z",
    }
    glucose = {
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": concept("2339-0", system=LOINC), "valueQuantity": {"value": 300},
    }
    assert mapped(swelling, no_erythema, glucose)["findings"] == [
        {"code": {"system": SCT, "code": "202381003"}, "recorded_at": "2026-11-19",
         "site": "Knee", "side": "left"},
        {"code": {"system": SCT, "code": "247441003"}, "recorded_at": "2026-11-19T12:00:00Z",
         "status": "refuted"},
    ]


def test_temperature_body_site_is_not_the_fever_site() -> None:
    oral = temperature(39.0, "Cel", "2026-11-20T09:00:00Z",
                       bodySite={"text": "left knee"})
    assert mapped(oral)["findings"] == [{"type": "Fever", "recorded_at": "2026-11-20T09:00:00Z"}]


# --- what is read, what is refused -----------------------------------------------------------


def test_patient_id_and_birth_date() -> None:
    record = mapped(patient={"resourceType": "Patient", "id": "abc", "birthDate": "1960-02-03"},
                    id="the-bundle")
    assert (record["id"], record["birth_date"]) == ("abc", "1960-02-03")
    assert mapped(patient={"resourceType": "Patient"}, id="the-bundle")["id"] == "the-bundle"
    assert "id" not in mapped(patient={"resourceType": "Patient"})


def test_assessment_time_forms() -> None:
    naive = bundle_to_record(bundle(), at=datetime(2026, 11, 20, 10))
    offset = bundle_to_record(bundle(), at="2026-11-20T11:00:00+01:00")
    assert naive["assessed_at"] == offset["assessed_at"] == "2026-11-20T10:00:00Z"
    assert set(naive) == {"id", "assessed_at"}


def test_irrelevant_resources_are_ignored_even_when_invalid() -> None:
    blood_pressure = {  # as in the Inferno sample: "stop" is not an element of Period
        "resourceType": "Observation", "status": "final", "subject": SUBJECT,
        "code": concept("85354-9", system=LOINC),
        "effectivePeriod": {"start": "1994-05-19T19:33:18-04:00", "stop": "1994-05-19"},
    }
    junk = {"resourceType": "Claim", "status": 42}
    encounter = {"resourceType": "Encounter", "status": "finished",
                 "class": {"code": "AMB"}, "subject": SUBJECT}
    assert mapped(blood_pressure, junk, encounter) == {
        "id": "p-1", "assessed_at": "2026-11-20T10:00:00Z"}


@pytest.mark.parametrize("kind", ["NotAResource", "condition", "Conditon"])
def test_a_resource_of_no_fhir_type_is_refused_not_skipped(kind: str) -> None:
    # a misspelt type may be the DVT: never skipped as a resource not read
    dvt = condition(code=concept("128053003"))
    dvt["resourceType"] = kind
    with pytest.raises(RecordError, match="is not a FHIR R4 resource type"):
        bundle_to_record(bundle(dvt), at=AT)


@pytest.mark.parametrize(
    ("resource", "detail"),
    [
        (temperature(39.0, "Cel", "2026-11-20T09:00:00Z", note="not an Annotation list"),
         "note"),
        (condition(code=concept("128053003"), subject=None), "subject"),
        (condition(code={"coding": {"system": SCT, "code": "128053003"}}), "code.coding"),
        (condition(code=concept("128053003"), bodySite=[{"coding": [{"code": 7771000}]}]),
         "bodySite[0].coding[0].code"),
        (condition(clinicalStatus=concept("bogus", system=CLINICAL)), "clinicalStatus"),
        (condition(verificationStatus={"text": "confirmed"}), "verificationStatus"),
        ({"resourceType": "Procedure", "status": "done", "subject": SUBJECT}, "Procedure.status"),
        ({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
          "subject": SUBJECT, "code": {"text": "Petrissage"}, "bodySite": "left"}, "bodySite"),
        ({"resourceType": "Patient", "id": "two words"}, "id"),
    ],
)
def test_invalid_resources_are_refused(resource: dict[str, Any], detail: str) -> None:
    resource = {k: v for k, v in resource.items() if v is not None}
    with pytest.raises(RecordError) as caught:
        bundle_to_record(bundle(resource), at=AT, source="b.json")
    assert caught.value.field is not None and caught.value.field.startswith("entry[1] (")
    assert detail in caught.value.detail


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"resourceType": "Patient", "id": "p-1"}, "resourceType"),
        ({"resourceType": "Bundle", "entry": []}, "type"),  # Bundle.type is required
        ({"resourceType": "Bundle", "type": "bogus", "entry": []}, "type"),
        ({"resourceType": "Bundle", "type": "collection", "entry": {"resource": {}}}, "entry"),
        ({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": 3}]},
         "entry[0].fullUrl"),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "entry"),  # no Patient
        ({"resourceType": "Bundle", "type": "collection",
          "entry": [{"resource": {"resourceType": "Patient"}}, {"resource": {"id": "x"}}]},
         "entry[1].resource"),
        ({"resourceType": "Bundle", "type": "collection",
          "entry": [{"resource": {"resourceType": "Patient"}},
                    {"resource": {"resourceType": "Bundle", "type": "collection"}}]},
         "entry[1] (Bundle)"),
    ],
)
def test_refused_documents(document: dict[str, Any], field: str | None) -> None:
    with pytest.raises(RecordError) as caught:
        bundle_to_record(document, at=AT)
    assert caught.value.field == field


def test_instructions_without_resource_are_skipped_other_entries_refused() -> None:
    document = bundle(condition(code=concept("239873007")))
    document["type"] = "transaction"
    document["entry"].insert(1, {"request": {"method": "DELETE", "url": "Condition/old"}})
    assert mapped().keys() <= bundle_to_record(document, at=AT).keys()
    assert len(bundle_to_record(document, at=AT)["conditions"]) == 1
    document["entry"].insert(1, {"search": {"mode": "match"}})  # its resource left out
    with pytest.raises(RecordError, match="entry without its resource"):
        bundle_to_record(document, at=AT)
    # a trial: a transaction-response given with return=minimal holds no data
    response = bundle(condition(code=concept("239873007")))
    response["type"] = "transaction-response"
    response["entry"].insert(1, {"response": {"status": "201 Created",
                                              "location": "Condition/dvt/_history/1"}})
    with pytest.raises(RecordError, match="return=minimal"):
        bundle_to_record(response, at=AT)


def test_the_bundle_is_not_changed() -> None:
    document = load("statuses.json")
    before = copy.deepcopy(document)
    bundle_to_record(document, at=AT)
    assert document == before


# --- the eight real bundles -------------------------------------------------------------------


def test_the_eight_samples_are_here(shared_dir: Path) -> None:
    shipped = sorted(p.name for p in (shared_dir / "reference" / "fhir-samples").glob("*.json"))
    assert [p.name for p in SAMPLES] == shipped
    for path in SAMPLES:
        original = shared_dir / "reference" / "fhir-samples" / path.name
        assert path.read_bytes() == original.read_bytes(), path.name


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_maps(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    record = bundle_to_record(document, at=AT, source=path.name)
    resources = [e["resource"] for e in document["entry"]]
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    assert record["id"] == patient["id"]
    assert record["birth_date"] == patient["birthDate"]
    assert set(record) <= RECORD_KEYS
    assert all(set(item) <= ITEM_KEYS for item in items(record))
    # nothing dropped: one item per Condition and Procedure
    for kind, name in (("Condition", "conditions"), ("Procedure", "procedures")):
        assert len(record.get(name, [])) == sum(r["resourceType"] == kind for r in resources)
    # no laterality anywhere in these bundles: no side (both sides); no planned massage
    assert not any("side" in item for item in items(record))
    assert "planned" not in record
    # no temperature within 72 h of 2026-11-20 (findings: codes stated elsewhere, e.g. the
    # reason of an Encounter)
    assert not any(f.get("type") == "Fever" for f in record.get("findings", []))
    # the record is one kgmassage reads as it reads a hand-written one
    loaded = kgmassage.load_record(record, name=path.name)
    assert loaded.id == patient["id"]


def test_sample_fever_reading_within_72_hours() -> None:
    path = DATA / "samples" / "carin-schowalter_oa-knee-fever-obs.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    # 38.24 °C oral temperature (LOINC 8331-1) on 2013-09-06T06:23:34Z
    record = bundle_to_record(document, at="2013-09-07T12:00:00Z")
    fevers = [f for f in record["findings"] if f.get("type") == "Fever"]
    assert fevers == [{"type": "Fever", "recorded_at": "2013-09-06T06:23:34+00:00"}]
    later = bundle_to_record(document, at="2013-09-09T06:23:35Z")
    assert not any(f.get("type") == "Fever" for f in later["findings"])


def test_samples_validate_and_assess() -> None:
    path = DATA / "samples" / "laticia-dibbert_tka-koos-ra-osteoporosis.json"
    record = bundle_to_record(json.loads(path.read_text(encoding="utf-8")), at=AT)
    assessment = kgmassage.assess(record, at=AT)
    assert assessment.conforms
    assert assessment.patient == "e65aa207-9ec7-493e-987b-b2c686f1af10"
    rules = {r.rule for d in assessment.decisions for r in d.reasons}
    # rheumatoid arthritis and osteoporosis (coded) are read; unknown codes are UNRECOGNIZED
    assert {"CHRONIC-CONDITION", "OSTEOPOROSIS-DEEP", "POST-SURGERY", "UNRECOGNIZED"} <= rules


# --- incomplete data and other patients' data -----------------------------------------------

DVT = concept("128053003")


@pytest.mark.parametrize(("extra", "field", "message"), [
    ({"type": "searchset", "link": [{"relation": "next", "url": "https://ehr/next"}]}, "link",
     "paginated"),
    ({"type": "searchset", "total": 5}, "total", "found 5 resources but the Bundle holds 2"),
])
def test_one_page_of_a_search_is_refused(extra: dict[str, Any], field: str,
                                         message: str) -> None:
    # the missing pages may hold a DVT: a decision on part of the data could say "permitted"
    with pytest.raises(RecordError) as caught:
        mapped(condition(code=DVT), **extra)
    assert caught.value.field == field
    assert message in caught.value.detail


def test_a_complete_search_result_is_read() -> None:
    included = bundle(condition(code=DVT), type="searchset", total=1)
    included["entry"][0]["search"] = {"mode": "include"}  # the Patient: not a match
    assert len(bundle_to_record(included, at=AT)["conditions"]) == 1


@pytest.mark.parametrize("reference", ["Patient/p-2", "https://ehr/fhir/Patient/p-2/_history/1",
                                       "urn:uuid:0c2d5c1a-0000-4000-8000-000000000002"])
def test_another_patients_resource_is_refused(reference: str) -> None:
    data = bundle(condition(code=DVT, subject={"reference": reference}))
    data["entry"][0]["fullUrl"] = "urn:uuid:0c2d5c1a-0000-4000-8000-000000000001"
    with pytest.raises(RecordError) as caught:
        bundle_to_record(data, at=AT)
    assert caught.value.field == "entry[1] (Condition)"
    assert "not to the Bundle's Patient" in caught.value.detail


@pytest.mark.parametrize("reference", ["Patient/p-1", "https://ehr/fhir/Patient/p-1",
                                       "urn:uuid:0c2d5c1a-0000-4000-8000-000000000001"])
def test_the_patients_own_resource_is_read(reference: str) -> None:
    data = bundle(condition(code=DVT, subject={"reference": reference}))
    data["entry"][0]["fullUrl"] = "urn:uuid:0c2d5c1a-0000-4000-8000-000000000001"
    assert len(bundle_to_record(data, at=AT)["conditions"]) == 1


# --- codes stated anywhere -------------------------------------------------------------------

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DVT = concept("128053003")  # deep venous thrombosis
RESOURCE = {"subject": SUBJECT}


def _status_of_legs(record: Mapping[str, Any]) -> dict[str, set[str]]:
    assessment = kgmassage.assess(record, at=AT)
    return {side: {d.status for d in assessment.decisions if d.side == side}
            for side in ("left", "right")}


@pytest.mark.parametrize("resource", [
    pytest.param({"resourceType": "Observation", "status": "final",
                  "code": concept("I82.402", system=ICD)}, id="observation-icd-code"),
    pytest.param({"resourceType": "Observation", "status": "final",
                  "code": concept("11450-4", system=LOINC),
                  "valueCodeableConcept": concept("I82402", system=ICD)},
                 id="observation-icd-value-dotless"),
])
def test_an_observation_coded_in_icd10cm_is_a_finding(resource: dict[str, Any]) -> None:
    """I82.402: acute DVT of the left leg (the code gives the side)."""
    record = mapped({**RESOURCE, **resource})
    assert [f["code"]["system"] for f in record["findings"]] == [ICD]
    assert _status_of_legs(record) == {"left": {"forbidden"}, "right": {"requires-clearance"}}


@pytest.mark.parametrize(("resource", "element"), [
    ({"resourceType": "Encounter", "status": "finished",
      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
      "reasonCode": [DVT]}, "reasonCode"),
    ({"resourceType": "DiagnosticReport", "status": "final",
      "code": concept("24701-5", system=LOINC), "conclusionCode": [DVT]}, "conclusionCode"),
    ({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
      "medicationCodeableConcept": concept("1364435", system="http://www.nlm.nih.gov/research/umls/rxnorm"),
      "reasonCode": [DVT]}, "reasonCode"),
    ({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
      "code": concept("24701-5", system=LOINC), "reasonCode": [DVT]}, "reasonCode"),
    ({"resourceType": "ClinicalImpression", "status": "completed",
      "finding": [{"itemCodeableConcept": DVT}]}, "finding"),
    ({"resourceType": "Condition", "code": concept("30989003"),  # knee pain …
      "evidence": [{"code": [DVT]}]}, "evidence"),  # … with a DVT as its evidence
    ({"resourceType": "Condition", "code": concept("30989003"), "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/condition-dueTo",
         "valueCodeableConcept": DVT}]}, "extension"),
    ({"resourceType": "Flag", "status": "active", "code": DVT}, "code"),
    ({"resourceType": "QuestionnaireResponse", "status": "completed", "item": [
        {"linkId": "1", "answer": [{"valueCoding": {"system": SCT, "code": "128053003"}}]}]},
     "item"),
], ids=lambda value: value if isinstance(value, str) else value["resourceType"])
def test_a_mapped_code_stated_anywhere_counts(resource: dict[str, Any], element: str) -> None:
    """A DVT in a visit's reason, a report's conclusion, a drug's reason, an order's reason, an
    impression, a condition's evidence, an extension, a flag or an answer is a finding."""
    sources: dict[str, list[str]] = {}
    record = bundle_to_record(bundle({**RESOURCE, "id": "r1", **resource}), at=AT,
                              sources=sources)
    dvt = [f for f in record["findings"] if f["code"] == {"system": SCT, "code": "128053003"}]
    assert len(dvt) == 1 and "recorded_at" not in dvt[0]  # no date: the assessment time
    assert f"{resource['resourceType']}/r1 ({element})" in sources["findings"]
    assert _status_of_legs(record) == {"left": {"forbidden"}, "right": {"forbidden"}}


@pytest.mark.parametrize("resource", [
    {"resourceType": "FamilyMemberHistory", "status": "completed", "patient": SUBJECT,
     "relationship": concept("MTH", system="http://terminology.hl7.org/CodeSystem/v3-RoleCode"),
     "condition": [{"code": DVT}]},
    {"resourceType": "AllergyIntolerance", "patient": SUBJECT, "code": concept("764146007"),
     "reaction": [{"manifestation": [concept("271807003")]}]},  # a rash on exposure
    {"resourceType": "RiskAssessment", "status": "final", **RESOURCE,
     "prediction": [{"outcome": DVT}]},  # a risk of DVT is no DVT
    {"resourceType": "ServiceRequest", "status": "active", "intent": "order", **RESOURCE,
     "code": concept("609588000")},  # a knee replacement asked for is not one done
    {"resourceType": "DiagnosticReport", "status": "entered-in-error", **RESOURCE,
     "code": concept("24701-5", system=LOINC), "conclusionCode": [DVT]},
    condition(code=concept("30989003"), evidence=[{"code": [DVT]}],
              verificationStatus={"coding": [{"system": VERIFICATION, "code": "refuted"}]}),
    {"resourceType": "Encounter", "status": "finished", **RESOURCE,
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "reasonCode": [concept("271737000")]},  # anaemia: not in the mapping table
], ids=["family-history", "allergy-reaction", "risk", "requested", "entered-in-error",
        "refuted-condition", "unmapped-reason"])
def test_codes_that_state_nothing_present_do_not_count(resource: dict[str, Any]) -> None:
    assert "findings" not in mapped(resource)


def test_a_swept_code_counts_from_the_latest_date_of_its_resource() -> None:
    fracture = concept("S82.001A", system=ICD)  # fracture of the right patella, initial
    old = {"resourceType": "Encounter", "status": "finished", **RESOURCE,
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "period": {"start": "2019-03-01T09:00:00Z", "end": "2019-03-01T11:00:00Z"},
           "reasonCode": [fracture]}
    (finding,) = mapped(old)["findings"]
    assert finding["recorded_at"] == "2019-03-01T11:00:00Z"
    assert _status_of_legs(mapped(old))["right"] == {"requires-clearance"}  # beyond 72 h
    ongoing = {**old, "status": "in-progress", "period": {"start": "2019-03-01T09:00:00Z"}}
    (finding,) = mapped(ongoing)["findings"]
    assert finding["recorded_at"] == "2026-11-20T10:00:00Z"  # still going on: now
    assert _status_of_legs(mapped(ongoing))["right"] == {"forbidden"}


def test_another_patients_resource_with_a_mapped_code_is_refused() -> None:
    other = {"resourceType": "Encounter", "status": "finished",
             "subject": {"reference": "Patient/p-2"},
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "reasonCode": [DVT]}
    with pytest.raises(RecordError, match="another patient"):
        mapped(other)


@pytest.mark.parametrize(("resource", "what"), [
    (condition(code=DVT, modifierExtension=[{"url": "http://example.org/not",
                                             "valueBoolean": True}]),
     "modifierExtension http://example.org/not"),
    (condition(code=concept("30989003"), evidence=[{"code": [DVT], "modifierExtension": [
        {"url": "http://example.org/absent", "valueBoolean": True}]}]),
     "modifierExtension http://example.org/absent"),
    (condition(code=DVT, implicitRules="http://example.org/rules"), "implicitRules"),
    ({"resourceType": "Encounter", "status": "finished", **RESOURCE,
      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
      "modifierExtension": [{"url": "http://example.org/x", "valueBoolean": True}]},
     "modifierExtension"),
], ids=["condition", "nested", "implicit-rules", "encounter"])
def test_a_modifier_kgmassage_does_not_understand_is_refused(resource: dict[str, Any],
                                                             what: str) -> None:
    with pytest.raises(RecordError, match="does not understand") as raised:
        mapped(resource)
    assert what in str(raised.value) and "entry[1]" in str(raised.value)


def test_a_modifier_on_a_resource_not_read_is_no_matter() -> None:
    history = {"resourceType": "FamilyMemberHistory", "status": "completed", "patient": SUBJECT,
               "relationship": concept("MTH", system="http://terminology.hl7.org/CodeSystem/v3-RoleCode"),
               "modifierExtension": [{"url": "http://example.org/x", "valueBoolean": True}]}
    assert "findings" not in mapped(history)


@pytest.mark.parametrize("where", ["bundle", "resource"])
def test_redacted_data_is_refused(where: str) -> None:
    label = {"meta": {"security": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "REDACTED"}]}}
    resource = condition(code=concept("30989003"), **(label if where == "resource" else {}))
    with pytest.raises(RecordError, match="REDACTED"):
        mapped(resource, **(label if where == "bundle" else {}))


@pytest.mark.parametrize(("fields", "status"), [
    ({"abatementDateTime": "2026-12-01"}, "active"),  # abates after the assessment time
    ({"abatementPeriod": {"start": "2026-11-25"}}, "active"),
    ({"abatementPeriod": {"start": "2026-11-01", "end": "2026-11-30"}}, "active"),
    ({"abatementDateTime": "2026-11-01"}, "resolved"),
    ({"abatementPeriod": {"start": "2026-10-01", "end": "2026-11-01"}}, "resolved"),
    ({}, "resolved"),
    # abated before its onset: the record contradicts itself, the condition may be going on
    ({"onsetDateTime": "2026-11-10", "abatementDateTime": "2026-11-01"}, "active"),
    ({"onsetPeriod": {"start": "2026-11-05"}, "abatementDateTime": "2026-11-19"}, "active"),
    ({"onsetDateTime": "2026-10-01", "abatementDateTime": "2026-11-01"}, "resolved"),
    ({"onsetDateTime": "2026-11-01T10:00:00Z", "abatementDateTime": "2026-11-01"}, "resolved"),
])
def test_a_condition_resolved_later_than_the_assessment_counts(fields: dict[str, Any],
                                                              status: str) -> None:
    resolved = condition(code=DVT, clinicalStatus={"coding": [{"system": CLINICAL,
                                                              "code": "resolved"}]}, **fields)
    (item,) = mapped(resolved)["conditions"]
    assert item["status"] == status


def test_reasons_name_the_fhir_resource_behind_their_item(tmp_path: Path) -> None:
    """A clinician checks a decision in the EHR: each reason names the resource its item comes
    from, in the JSON and in the text report; a record in the JSON form has no such key."""
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished", **RESOURCE,
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                           "code": "EMER"}, "reasonCode": [DVT]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(condition(id="c1", code=concept("30989003")), encounter)),
                    encoding="utf-8")
    assessment = kgmassage.assess(path, at=AT)
    (reason,) = assessment.decision("Petrissage", "Quadriceps", "left").reasons
    assert (reason.rule, reason.item, reason.item_source) == (
        "DVT", "findings[0]", "Encounter/e1 (reasonCode)")
    assert reason.to_dict()["item_source"] == "Encounter/e1 (reasonCode)"
    from kgmassage.report import to_people_text

    assert "[findings[0]: Encounter/e1 (reasonCode)]" in to_people_text(assessment)
    plain = kgmassage.assess({"id": "p", "conditions": [{"type": "DeepVeinThrombosis"}]}, at=AT)
    assert all("item_source" not in r.to_dict() for d in plain.decisions for r in d.reasons)


REFUTED = {"coding": [{"system": VERIFICATION, "code": "refuted"}]}
RESOLVED = {"coding": [{"system": CLINICAL, "code": "resolved"}]}
EMERGENCY = {"resourceType": "Encounter", "status": "finished", **RESOURCE,
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                       "code": "EMER"}, "reasonCode": [DVT],
             "period": {"start": "2026-11-18T08:00:00Z", "end": "2026-11-18T12:00:00Z"}}


@pytest.mark.parametrize("other", [
    {"clinicalStatus": RESOLVED, "abatementDateTime": "2026-09-01",
     "recordedDate": "2026-11-19", "meta": {"lastUpdated": "2026-11-19T15:00:00Z"}},
    {"verificationStatus": REFUTED, "recordedDate": "2026-11-19"},
    {"verificationStatus": {"coding": [{"system": VERIFICATION, "code": "entered-in-error"}]}},
    {"clinicalStatus": RESOLVED, "bodySite": [concept("24028007")]},  # a right-leg one
], ids=["resolved-edited-later", "refuted", "entered-in-error", "resolved-other-side"])
def test_a_condition_that_does_not_count_cancels_no_mention(other: dict[str, Any]) -> None:
    """Items are evaluated independently: a resolved, refuted or voided DVT Condition (edited
    after the visit, or on the other leg) does not cancel a DVT given as a visit's reason (a
    trial found a new DVT hidden by an edit of an old one)."""
    record = mapped(EMERGENCY, condition(code=DVT, **other))
    assert _status_of_legs(record) == {"left": {"forbidden"}, "right": {"forbidden"}}


def test_a_mention_takes_no_side_from_the_resource_it_is_in() -> None:
    """A DVT given as the evidence of a right-knee cellulitis may be in either leg."""
    cellulitis = condition(code=concept("128045006"), bodySite=[concept("24028007")],
                           evidence=[{"code": [DVT]}])
    (finding,) = mapped(cellulitis)["findings"]
    assert "side" not in finding and "site" not in finding
    assert _status_of_legs(mapped(cellulitis))["left"] == {"forbidden"}


def test_a_coding_without_a_code_is_kept_and_makes_its_item_unrecognised() -> None:
    """A trial: a Condition coded [a display-only "Fracture of lower end of right femur", knee
    pain M25.562] was knee pain alone, 38 permitted; the same in a JSON record is UNRECOGNIZED."""
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    fracture = {"system": icd, "display": "Fracture of lower end of right femur"}
    record = mapped(condition(code={"coding": [fracture, {"system": icd, "code": "M25.562"}]},
                              onsetDateTime="2026-11-19T10:00:00Z"))
    assert record["conditions"][0]["code"] == [fracture, {"system": icd, "code": "M25.562"}]
    from kgmassage import assess
    statuses = {d.status for d in assess(record, at=AT).decisions}
    assert statuses == {"requires-clearance"}
    empty = mapped(condition(code={"coding": [{}, {"system": icd, "code": "M25.562"}]}))
    assert empty["conditions"][0]["code"] == {"system": icd, "code": "M25.562"}


_DVT = condition(id="dvt-1", code=concept("128053003"))
_UUID = "urn:uuid:5f0c4e7e-3b1d-4c8e-9d1f-2a6b7c8d9e0f"


@pytest.mark.parametrize(("reason", "sent", "unsent"), [
    ({"reference": "Condition/c-missing", "display": "DVT left leg"}, None,
     "Condition/c-missing"),
    ({"reference": "https://ehr.example.org/fhir/Condition/c-missing/_history/2"}, None,
     "https://ehr.example.org/fhir/Condition/c-missing/_history/2"),
    ({"type": "Condition", "display": "DVT left leg"}, None, "Condition DVT left leg"),
    ({"type": "Condition", "identifier": {"value": "dx-77"}}, None,
     "Condition (by identifier)"),
    ({"reference": _UUID, "type": "Condition"}, None, _UUID),
    # the Bundle's own Condition, by id, by an absolute URL, or by its full URL
    ({"reference": "Condition/dvt-1"}, {"resource": _DVT}, None),
    ({"reference": "https://ehr.example.org/fhir/Condition/dvt-1"}, {"resource": _DVT}, None),
    ({"reference": _UUID}, {"fullUrl": _UUID, "resource": _DVT}, None),
    # another kind of resource, or one whose kind the reference does not say
    ({"reference": "Observation/o-1"}, None, None),
    ({"reference": "urn:uuid:0000"}, None, None),
])
def test_a_condition_referred_to_but_not_sent_is_unrecognised(
        reason: dict[str, Any], sent: dict[str, Any] | None, unsent: str | None) -> None:
    """A trial: a massage order's reason naming a Condition the Bundle does not hold ("DVT
    left leg") was ignored. The condition exists and what it is was not sent: an entry of
    its own that the rules cannot recognise (UNRECOGNIZED, never lifted), not nothing."""
    order = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft",
             "intent": "order", "subject": SUBJECT, "code": {"text": "Effleurage"},
             "bodySite": [{"text": "quadriceps"}], "reasonReference": [reason]}
    data = bundle(order)
    if sent is not None:
        data["entry"].append(sent)
    sources: dict[str, list[str]] = {}
    record = bundle_to_record(data, at=AT, sources=sources)
    found = [(item, where) for item, where in zip(record.get("conditions", []),
                                                  sources.get("conditions", []), strict=True)
             if "not in the data" in where]
    rules = {r.rule for d in kgmassage.assess(data, at=AT).decisions for r in d.reasons}
    if unsent is None:
        assert found == []
        assert "UNRECOGNIZED" not in rules
    else:
        assert found == [({}, f"ServiceRequest/sr-1 (reasonReference: {unsent}, not in the "
                              "data)")]
        assert "UNRECOGNIZED" in rules


def test_a_resolved_conditions_references_are_its_history() -> None:
    old = condition(code=concept("239873007"), clinicalStatus=concept("resolved", system=CLINICAL),
                    evidence=[{"detail": [{"reference": "Condition/gone"}]}])
    assert mapped(old)["conditions"] == [{"code": {"system": SCT, "code": "239873007"},
                                          "status": "resolved"}]
