"""Generated FHIR R4 Bundles, each with the JSON record a plain reading of the spec makes of it.

Written from ``../shared/spec/interfaces.md`` ("FHIR R4 input", quoted as "SPEC:") and the FHIR
section of ``docs/choices.md`` (quoted as "CHOICE:"), never from ``kgmassage/fhir.py``. The
record goes to ``tests/spec_model.py``, the Bundle to the engine: the two must decide alike
(``tests/test_fhir_differential.py``). Only resources whose reading the texts settle are made.
"""

from __future__ import annotations

import csv
import json
from typing import Any

from hypothesis import strategies as st
from spec_model import CODES_CSV, ICD, SNOMED

AT = "2026-11-20T10:00:00Z"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SUBJECT = {"reference": "Patient/pf"}

# terminology-crosswalk.csv (../shared/reference): laterality qualifiers and region codes
LATERALITY = {"left": "7771000", "right": "24028007", "bilateral": "51440002"}
REGIONS = {"Knee": "72696002", "Hip": "29836001", "LowerLeg": "30021000", "Thigh": "68367000"}
WORDS = {"Knee": "knee", "Hip": "hip", "LowerLeg": "lower leg", "Thigh": "thigh"}


def _rows() -> list[dict[str, str]]:
    with CODES_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def _coding(row: dict[str, str]) -> tuple[str, str]:
    return (SNOMED if row["system"] == "snomed" else ICD), row["code"]


_SURGERY = ("KneeReplacement", "TotalKneeReplacement")
CONDITION_CODES = [_coding(r) for r in _rows() if not any(c in r["classes"] for c in _SURGERY)]
SURGERY_CODES = [_coding(r) for r in _rows() if any(c in r["classes"] for c in _SURGERY)]
# codes no table maps: a Condition or Procedure so coded is UNRECOGNIZED
UNMAPPED = [(SNOMED, "1234567"), (ICD, "Z00.00")]

# Dates around the assessment time: the 72-hour and 42-day bounds, an offset, FHIR's partial
# dates, one in the future.
DATES = ["2026-11-20T09:00:00Z", "2026-11-20T10:00:00+01:00", "2026-11-19", "2026-11-17",
         "2026-11-17T10:00:00Z", "2026-11-17T09:59:59Z", "2026-11-16", "2026-10-09",
         "2026-10-08", "2026-09-01", "2024-05-05", "2026-11", "2025", "2026-11-21"]
PAST_TIMES = ["2026-11-20T09:00:00Z", "2026-11-17T10:00:00Z", "2026-11-17T09:59:59Z",
              "2026-11-19T22:00:00-05:00", "2026-11-01T08:00:00Z"]

TECHNIQUES = ["Effleurage", "petrissage", "Foam rolling", "myofascial release",
              "Trigger point therapy", "massage ball"]
TARGETS = ["Quadriceps", "knee cap", "IT band", "Hamstrings", "Gastrocnemius",
           "Vastus lateralis", "knee joint"]


def as_record_date(text: str) -> str:
    """A FHIR date or dateTime as the record gives it. CHOICE: "a partial date (``2019``,
    ``2019-05``) becomes the last day it can mean …; one holding the assessment day, that day"."""
    if text == "2025":
        return "2025-12-31"
    if text == "2026-11":
        return AT[:10]
    return text


def dated(draw: st.DrawFn, resource: dict[str, Any], element: str, how: str) -> str:
    """Give ``resource`` its ``<element>DateTime`` or ``<element>Period`` (``how``); return the
    date the record gives for it."""
    if how == "dateTime":
        resource[element + "DateTime"] = draw(st.sampled_from(DATES))
        return as_record_date(resource[element + "DateTime"])
    end = draw(st.sampled_from(DATES[:11]))
    resource[element + "Period"] = {"start": "2020-01-01", "end": end}
    # CHOICE: "an onsetPeriod or performedPeriod counts from its end, the latest instant it
    # can mean"
    return end


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text is not None:
        out["text"] = text
    return out


@st.composite
def body_site(draw: st.DrawFn) -> tuple[list[dict[str, Any]] | None, dict[str, str]]:
    """A Condition's or Procedure's bodySite and the site and side it says."""
    # SPEC: "bodySite for site and laterality where present"
    region = draw(st.sampled_from([None, *REGIONS]))
    side = draw(st.sampled_from([None, *LATERALITY]))
    if region is None and side is None:
        return None, {}
    said = {k: v for k, v in (("site", region), ("side", side)) if v}
    if draw(st.booleans()):  # in words: "Left knee", "Lower leg", "right"
        words = " ".join(filter(None, (side, WORDS.get(region or ""))))
        return [{"text": words.capitalize()}], said
    codings = [{"system": SNOMED, "code": code} for code in
               (REGIONS.get(region or ""), LATERALITY.get(side or "")) if code]
    return [{"coding": codings}], said


@st.composite
def condition(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    system, code = draw(st.sampled_from(CONDITION_CODES + UNMAPPED))
    resource: dict[str, Any] = {"resourceType": "Condition", "subject": SUBJECT,
                                "code": concept(system, code)}
    item: dict[str, Any] = {"code": {"system": system, "code": code}}
    # SPEC: "clinicalStatus active/recurrence/relapse → active, inactive/remission/resolved →
    # resolved; verificationStatus provisional/differential/unconfirmed → suspected,
    # refuted/entered-in-error → refuted"
    verification = draw(st.sampled_from([None, "confirmed", "provisional", "differential",
                                         "unconfirmed", "refuted", "entered-in-error"]))
    # FHIR con-5: no clinical status on a Condition entered in error
    clinical = None if verification == "entered-in-error" else draw(st.sampled_from(
        [None, "active", "recurrence", "relapse", "inactive", "remission", "resolved"]))
    if clinical:
        resource["clinicalStatus"] = concept(CLINICAL, clinical)
    if verification:
        resource["verificationStatus"] = concept(VERIFICATION, verification)
    # ASSUMED: a status saying the condition is not there (refuted) or over (resolved) wins over
    # one saying it is (active, suspected): either way the rules do not apply to it
    if verification in ("refuted", "entered-in-error"):
        item["status"] = "refuted"
    elif clinical in ("inactive", "remission", "resolved"):
        item["status"] = "resolved"
    elif verification in ("provisional", "differential", "unconfirmed"):
        item["status"] = "suspected"
    when = draw(st.sampled_from([None, "dateTime", "period", "open period", "age", "string"]))
    if when in ("dateTime", "period"):
        item["onset"] = dated(draw, resource, "onset", when)
    elif when == "open period":
        resource["onsetPeriod"] = {"start": draw(st.sampled_from(DATES[:11]))}
        # CHOICE: "one without an end (still going on) from the assessment time"
        item["onset"] = AT
    elif when in ("age", "string"):
        # CHOICE: "an onset … given another way than a date-time or a period (onsetAge,
        # onsetString …) is taken as written, which is no date: the item counts from the
        # assessment time … not from its recordedDate"
        if when == "age":
            resource["onsetAge"] = {"value": 60, "unit": "a", "system": UCUM, "code": "a"}
        else:
            resource["onsetString"] = "since the fall"
        item["onset"] = "not a date"
    if draw(st.booleans()):
        # ASSUMED: recordedDate is the record's recorded_at
        resource["recordedDate"] = item["recorded_at"] = draw(st.sampled_from(
            [d for d in DATES if d not in ("2026-11", "2025", "2026-11-21")]))
    site, said = draw(body_site())
    if site is not None:
        resource["bodySite"] = site
        item.update(said)
    return resource, [("conditions", item)]


@st.composite
def procedure(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    system, code = draw(st.sampled_from(SURGERY_CODES + UNMAPPED))
    status = draw(st.sampled_from(["completed", "stopped", "unknown", "in-progress",
                                   "on-hold", "not-done", "entered-in-error"]))
    resource: dict[str, Any] = {"resourceType": "Procedure", "status": status,
                                "subject": SUBJECT, "code": concept(system, code)}
    item: dict[str, Any] = {"code": {"system": system, "code": code}}
    when = draw(st.sampled_from([None, "dateTime", "period"]))
    if when is not None:
        item["date"] = dated(draw, resource, "performed", when)
    if status in ("in-progress", "on-hold"):
        # CHOICE: "so does a Procedure whose status is in-progress or on-hold (not over)"
        item["date"] = AT
    site, said = draw(body_site())
    if site is not None:
        resource["bodySite"] = site
        item.update(said)
    # ASSUMED: a procedure not done, or entered in error, is no procedure of the patient
    return resource, [] if status in ("not-done", "entered-in-error") else [("procedures", item)]


@st.composite
def temperature(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    value, unit = draw(st.sampled_from([(37.2, "Cel"), (37.99, "Cel"), (38.0, "Cel"),
                                        (39.5, "Cel"), (100.3, "[degF]"), (100.4, "[degF]"),
                                        (102.0, "[degF]")]))
    when = draw(st.sampled_from(PAST_TIMES))
    status = draw(st.sampled_from(["final", "amended", "preliminary", "entered-in-error"]))
    resource = {"resourceType": "Observation", "status": status, "subject": SUBJECT,
                "code": concept(LOINC, "8310-5"), "effectiveDateTime": when,
                "valueQuantity": {"value": value, "system": UCUM, "code": unit}}
    # SPEC: "a body temperature (LOINC 8310-5 …) ≥ 38.0 °C (or 100.4 °F) within 72 h before
    # the assessment time → a Fever finding"
    fever = value >= (38.0 if unit == "Cel" else 100.4)
    recent = when not in ("2026-11-17T09:59:59Z", "2026-11-01T08:00:00Z")
    # ASSUMED (CHOICE: "left out of that reading: … resources entered in error")
    counts = fever and recent and status != "entered-in-error"
    return resource, [("findings", {"type": "Fever", "recorded_at": when})] if counts else []


@st.composite
def massage_order(draw: st.DrawFn
                  ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    technique = draw(st.sampled_from(TECHNIQUES))
    target = draw(st.sampled_from(TARGETS))
    side = draw(st.sampled_from(["left", "right"]))
    status = draw(st.sampled_from(["active", "draft", "completed", "revoked",
                                   "entered-in-error"]))
    # SPEC: "code SNOMED CT 387854002 "massage" or any code/text naming a technique …: the
    # technique from code.text or a coding's display"
    code: dict[str, Any] = draw(st.sampled_from([
        {"text": technique},
        {"coding": [{"system": SNOMED, "code": "387854002", "display": technique}]}]))
    # SPEC: "the target from bodySite (text or a coding's display), the side from a bodySite
    # laterality coding"
    laterality = {"system": SNOMED, "code": LATERALITY[side]}
    sites = draw(st.sampled_from([
        [{"text": target, "coding": [laterality]}],
        [{"text": target}, {"coding": [laterality]}]]))
    resource = {"resourceType": "ServiceRequest", "status": status, "intent": "order",
                "subject": SUBJECT, "code": code, "bodySite": sites}
    # SPEC: "ServiceRequest for a massage (status draft or active; …) → planned interventions"
    planned = {"technique": technique, "target": target, "side": side}
    items = [("planned", planned)] if status in ("active", "draft") else []
    if draw(st.booleans()):
        # CHOICE: "A reference to a Condition that the Bundle does not hold (a massage order's
        # reasonReference …) is a condition with neither type nor code"
        resource["reasonReference"] = [draw(st.sampled_from([
            {"reference": "Condition/not-sent", "display": "DVT left leg"},
            {"type": "Condition", "display": "DVT left leg"}]))]
        if status != "entered-in-error":
            items.append(("conditions", {}))
    return resource, items


@st.composite
def bundles(draw: st.DrawFn) -> tuple[str, str]:
    """(a Bundle as JSON text, the record a plain reading makes of it as JSON text)."""
    record: dict[str, Any] = {"id": "pf"}
    entries: list[dict[str, Any]] = [{"resource": {"resourceType": "Patient", "id": "pf"}}]
    for strategy, most in ((condition(), 3), (procedure(), 1), (temperature(), 1),
                           (massage_order(), 2)):
        for resource, items in draw(st.lists(strategy, max_size=most)):
            entries.append({"resource": resource})
            for key, item in items:
                record.setdefault(key, []).append(item)
    entries = draw(st.permutations(entries))  # the Patient anywhere
    if len(entries) > 1 and draw(st.booleans()):
        # CHOICE: "Every Condition, Procedure, Observation and ServiceRequest counts, also one
        # held in another resource's contained list"
        held = entries.pop(draw(st.sampled_from(
            [i for i, e in enumerate(entries) if e["resource"]["resourceType"] != "Patient"])))[
                "resource"]
        entries.append({"resource": {
            "resourceType": "Encounter", "status": "finished", "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": SUBJECT, "contained": [dict(held, id="held")]}})
    kind = draw(st.sampled_from(["collection", "searchset", "transaction", "urn:uuid"]))
    if kind == "searchset":  # a whole search result, the Patient included
        for entry in entries:
            patient = entry["resource"]["resourceType"] == "Patient"
            entry["search"] = {"mode": "include" if patient else "match"}
        bundle = {"resourceType": "Bundle", "type": kind, "total": len(entries) - 1,
                  "entry": entries}
    elif kind == "transaction":
        for entry in entries:
            entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
        bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
    else:  # the Patient by its full URL, as a transaction's resources name each other
        patient = "urn:uuid:0b7a1d4e-64f9-4f5e-9a43-7d3c1f2c8e11"
        text = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
        bundle = json.loads(text.replace('"Patient/pf"', json.dumps(patient)))
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["fullUrl"] = patient
    return json.dumps(bundle), json.dumps(record)
