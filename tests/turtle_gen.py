"""Generated Turtle records, each with the JSON record that says the same (a plain reading).

Written from ``../shared/spec/interfaces.md`` (the vocabulary: "Patient data: …") and
``../shared/spec/clinical-rules.md``, never from ``kgmassage/records.py``. A value the
vocabulary names is an IRI (``km:Left``); the same words as a plain literal (``"left"``) are
not the individual, so the JSON twin holds a value no reading knows (``"left (as text)"``):
both must then be decided alike, fail safe (``tests/test_turtle_differential.py``).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from spec_model import ICD, SNOMED

AT = "2026-11-20T10:00:00Z"
KM = "https://w3id.org/kgmassage#"
XSD = "http://www.w3.org/2001/XMLSchema#"
PATIENT = "urn:kgmassage:patient:pt"

CLASSES = {
    "conditions": ["DeepVeinThrombosis", "PulmonaryEmbolism", "Fracture", "SevereSprain",
                   "OpenWound", "Cellulitis", "Rash", "Osteoarthritis", "SevereOsteoporosis",
                   "Osteoporosis", "KneePain", "AcuteInjury", "Condition"],
    "findings": ["Fever", "Warmth", "Redness", "JointSwelling", "AcuteInflammation"],
    "procedures": ["TotalKneeReplacement", "KneeReplacement", "KneeSurgery"],
}
CODES = [(SNOMED, "128053003"), (ICD, "I82.402"), (ICD, "I82402"), (ICD, "S82.001A"),
         (SNOMED, "1234567")]
SIDES = ["Left", "Right", "Bilateral"]
SITES = ["Hip", "Thigh", "Knee", "LowerLeg", "Patella", "KneeJoint", "Quadriceps"]
STATUSES = ["Active", "Suspected", "Resolved", "Refuted"]
DATES = ["2026-11-20", "2026-11-19", "2026-11-17T10:00:00Z", "2026-11-17T09:59:59Z",
         "2026-11-17", "2026-10-09", "2026-10-08T23:00:00-02:00", "2026-09-01", "2024-02-29",
         "2026-11-21"]
BAD_DATES = ["2026-11-31", "2026-11-19T10:00Z", "2025-02-29", "2026-11-19 10:00:00"]
TECHNIQUES = ["Effleurage", "Petrissage", "MyofascialRelease", "TriggerPointTherapy",
              "FoamRolling", "MassageBall"]
TARGETS = ["Quadriceps", "VastusLateralis", "Hamstrings", "Gastrocnemius", "Patella",
           "KneeJoint", "IliotibialBand", "TensorFasciaeLatae"]


def lit(text: str, datatype: str | None = None) -> str:
    return json.dumps(text) + (f"^^<{XSD}{datatype}>" if datatype else "")


@st.composite
def named(draw: st.DrawFn, names: list[str]) -> tuple[str, str]:
    """A vocabulary individual: (its Turtle, the JSON value saying the same)."""
    name = draw(st.sampled_from(names))
    if draw(st.integers(0, 5)) == 0:  # as text: not the individual
        return lit(name.lower()), f"{name.lower()} (as text)"
    return f"<{KM}{name}>", name


@st.composite
def date(draw: st.DrawFn) -> tuple[str, str]:
    """A date: (its Turtle literal, the JSON string saying the same)."""
    kind = draw(st.sampled_from(["good", "good", "good", "bad", "untyped", "string"]))
    if kind == "good":
        text = draw(st.sampled_from(DATES))
        return lit(text, "dateTime" if "T" in text else "date"), text
    if kind == "bad":  # an ill-typed literal: no date, as in JSON
        text = draw(st.sampled_from(BAD_DATES))
        return lit(text, "dateTime" if "T" in text else "date"), text
    # SPEC: "Dates are xsd:date or xsd:dateTime": a date as a string is none
    text = draw(st.sampled_from(DATES))
    return lit(text, None if kind == "untyped" else "string"), f"{text} (as text)"


@st.composite
def boolean(draw: st.DrawFn) -> tuple[str, Any]:
    value = draw(st.booleans())
    if draw(st.booleans()):
        return ("true" if value else "false"), value
    # SPEC: "If either is unknown (missing or not a boolean)"
    return lit(str(value).lower()), str(value).lower()


@st.composite
def item(draw: st.DrawFn, key: str, node: str) -> tuple[list[str], dict[str, Any]]:
    """An item of list ``key`` as Turtle statements about ``node``, and its JSON twin."""
    lines: list[str] = []
    said: dict[str, Any] = {}
    if key == "clearances":
        return _clearance(draw, node)
    if key == "planned":
        for prop, names in (("technique", TECHNIQUES), ("target", TARGETS)):
            if draw(st.integers(0, 6)):
                name = draw(st.sampled_from(names))
                # a plan may name its technique and target as text (matched like JSON's)
                value = lit(name) if draw(st.booleans()) else f"<{KM}{name}>"
                lines.append(f"<{node}> <{KM}{prop}> {value} .")
                said[prop] = name
        if draw(st.booleans()):
            turtle, value = draw(named(SIDES[:2]))
            lines.append(f"<{node}> <{KM}side> {turtle} .")
            said["side"] = value.lower() if turtle.startswith("<") else value
        return lines, said
    kind = draw(st.sampled_from(["type", "type", "code", "both"]))
    if kind in ("type", "both"):
        name = draw(st.sampled_from(CLASSES[key]))
        lines.append(f"<{node}> a <{KM}{name}> .")
        said["type"] = name
    if kind in ("code", "both"):
        system, code = draw(st.sampled_from(CODES))
        lines.append(f"<{node}> <{KM}code> <{node}/code> .")
        lines.append(f"<{node}/code> a <{KM}Coding> ; <{KM}system> <{system}> ; "
                     f"<{KM}codeValue> {lit(code)} .")
        said["code"] = {"system": system, "code": code}
    for prop, names, field in (("side", SIDES, "side"), ("site", SITES, "site"),
                               ("status", STATUSES, "status")):
        if draw(st.booleans()):
            turtle, value = draw(named(names))
            lines.append(f"<{node}> <{KM}{prop}> {turtle} .")
            # JSON strings map to the individuals: "left" → km:Left, "Knee" → km:Knee
            said[field] = value.lower() if turtle.startswith("<") and field != "site" else value
    dates = {"conditions": [("onset", "onset"), ("recordedAt", "recorded_at")],
             "findings": [("onset", "onset"), ("recordedAt", "recorded_at")],
             "procedures": [("performedOn", "date")]}[key]
    for prop, field in dates:
        if draw(st.booleans()):
            turtle, value = draw(date())
            lines.append(f"<{node}> <{KM}{prop}> {turtle} .")
            said[field] = value
    if key == "procedures":
        for prop, field in (("incisionClosed", "incision_closed"),
                            ("suturesRemoved", "sutures_removed")):
            if draw(st.booleans()):
                turtle, value = draw(boolean())
                lines.append(f"<{node}> <{KM}{prop}> {turtle} .")
                said[field] = value
    return lines, said


def _clearance(draw: st.DrawFn, node: str) -> tuple[list[str], dict[str, Any]]:
    lines: list[str] = []
    said: dict[str, Any] = {}
    if draw(st.integers(0, 4)):
        turtle, value = draw(date())
        lines.append(f"<{node}> <{KM}issuedOn> {turtle} .")
        said["date"] = value
    if draw(st.booleans()):
        lines.append(f"<{node}> <{KM}issuedBy> {lit('GP')} .")
        said["issued_by"] = "GP"
    if not lines:  # a clearance says something
        lines.append(f"<{node}> <{KM}issuedBy> {lit('GP')} .")
        said["issued_by"] = "GP"
    return lines, said


@st.composite
def records(draw: st.DrawFn) -> tuple[str, str]:
    """(a Turtle record, its JSON twin as text)."""
    lines = [f"<{PATIENT}> a <{KM}Patient> ; <{KM}identifier> \"pt\" ; "
             f"<{KM}assessedAt> {lit(AT, 'dateTime')} ."]
    record: dict[str, Any] = {"id": "pt", "assessed_at": AT}
    links = {"conditions": "hasCondition", "findings": "hasFinding",
             "procedures": "hasProcedure", "clearances": "hasClearance",
             "planned": "hasPlannedIntervention"}
    for key, most in (("conditions", 3), ("findings", 1), ("procedures", 1), ("clearances", 1),
                      ("planned", 2)):
        for i in range(draw(st.integers(0, most))):
            node = f"urn:x:pt/{key}/{i}"
            said, item_json = draw(item(key, node))
            lines.append(f"<{PATIENT}> <{KM}{links[key]}> <{node}> .")
            lines.extend(said)
            record.setdefault(key, []).append(item_json)
    return "\n".join(draw(st.permutations(lines))) + "\n", json.dumps(record)
