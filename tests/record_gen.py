"""Hypothesis strategies for raw JSON patient records (text) plus an assessment time.

`records()` draws ``(text, at)``. Most records are "interesting": one main item (mostly a DVT or a
knee
surgery) plus one twist from a long list (odd codes, sides, sites, statuses, dates at window
boundaries,
clearances of every kind, unknown keys, duplicate keys, plans with odd names ...), plus a little
noise.
Objects are built as lists of pairs so that duplicate keys can be written.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import strategies as st

UTC = dt.timezone.utc
SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


class Obj(list):
    """A JSON object as a list of (key, value) pairs (duplicates allowed)."""


class Raw(str):
    """JSON text written as is (NaN, deep nesting)."""


def dump(v) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Obj):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(x)}" for k, x in v) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(dump(x) for x in v) + "]"
    return json.dumps(v)


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
CLASS_KINDS = {
    "dvt": ["DeepVeinThrombosis"],
    "pe": ["PulmonaryEmbolism"],
    "vte": ["VenousThromboembolism"],
    "surgery": ["TotalKneeReplacement", "KneeReplacement", "KneeSurgery"],
    "injury": ["Fracture", "SevereSprain", "AcuteInjury"],
    "skin": ["OpenWound", "Cellulitis", "Rash", "SkinInfection", "SkinLesion"],
    "inflam": ["JointSwelling", "AcuteInflammation"],
    "chronic": [
        "Osteoarthritis",
        "Osteoporosis",
        "SevereOsteoporosis",
        "RheumatoidArthritis",
        "ChronicCondition",
    ],
    "redflag": ["Fever", "Warmth", "Redness"],
    "pain": ["KneePain"],
}
# codes by kind: (system, code); see tests/data/spec_codes.csv
CODES = {
    "dvt": [
        (SNOMED, "404223003"),
        (SNOMED, "128053003"),
        (ICD, "I82.401"),
        (ICD, "I82.402"),
        (ICD, "I82.403"),
        (ICD, "I82.409"),
        (ICD, "I82.501"),
        (ICD, "I82.502"),
        (ICD, "I82.503"),
        (ICD, "I82.509"),
        (ICD, "I82.411"),
        (ICD, "I82.412"),
        (ICD, "I82.4Z3"),
        (ICD, "I82.4Y2"),
        (ICD, "I82.591"),
        (ICD, "I82.5Z2"),
        (ICD, "I82.4"),
        (ICD, "O22.30"),
        (ICD, "O87.1"),
    ],
    "pe": [
        (SNOMED, "59282003"),
        (ICD, "I26.99"),
        (ICD, "I26.09"),
        (ICD, "I26.92"),
        (ICD, "I26.90"),
    ],
    "vte": [(ICD, "I82.90")],
    "surgery": [
        (SNOMED, "609588000"),
        (SNOMED, "443682009"),
        (SNOMED, "443681002"),
        (SNOMED, "19063003"),
    ],
    "injury": [
        (SNOMED, "54888009"),
        (SNOMED, "125601008"),
        (ICD, "S83.91XA"),
        (ICD, "S83.92XA"),
        (ICD, "S83.90XA"),
        (ICD, "S89.91XA"),
        (ICD, "S89.92XA"),
        (ICD, "S89.91XD"),
        (ICD, "S89.90XA"),
        (SNOMED, "46866001"),
        (SNOMED, "414292006"),
        (ICD, "S82.91XA"),
        (SNOMED, "51037009"),
        (ICD, "S82.001A"),
        (SNOMED, "31978002"),
        (ICD, "S82.201A"),
        (ICD, "S82.102A"),
        (ICD, "S72.402A"),
        (ICD, "S82.62XA"),
        (ICD, "S82.845A"),
        (ICD, "S72.034A"),
        (ICD, "S83.512A"),
        (ICD, "S83.411A"),
    ],
    "skin": [
        (SNOMED, "125660006"),
        (ICD, "S81.001A"),
        (ICD, "S81.012A"),
        (ICD, "S81.031A"),
        (ICD, "S81.052D"),
        (ICD, "S81.049A"),
        (SNOMED, "128045006"),
        (SNOMED, "287001000"),
        (SNOMED, "449711005"),
        (SNOMED, "13301002"),
        (SNOMED, "108365000"),
        (ICD, "L03.115"),
        (ICD, "L08.9"),
        (SNOMED, "271807003"),
        (ICD, "R21"),
    ],
    "inflam": [
        (SNOMED, "202381003"),
        (SNOMED, "387637008"),
        (SNOMED, "271771009"),
        (ICD, "M25.461"),
    ],
    "chronic": [
        (SNOMED, "64859006"),
        (ICD, "M81.0"),
        (SNOMED, "239873007"),
        (ICD, "M17.11"),
        (ICD, "M17.12"),
        (ICD, "M17.0"),
        (ICD, "M17.9"),
    ],
    "redflag": [(SNOMED, "386661006"), (ICD, "R50.9"), (SNOMED, "247441003")],
    "pain": [
        (SNOMED, "30989003"),
        (SNOMED, "1003721002"),
        (ICD, "M25.561"),
        (ICD, "M25.562"),
        (ICD, "M25.569"),
    ],
}
UNKNOWN_CODES = [
    (SNOMED, "999999999999"),
    (ICD, "Z99.999X"),
    (SNOMED, "123456"),
    (SNOMED, "I82.402"),
]  # an ICD code under the SNOMED system means nothing
TECHNIQUES = [
    "Effleurage",
    "Petrissage",
    "MyofascialRelease",
    "TriggerPointTherapy",
    "FoamRolling",
    "MassageBall",
]
TECHNIQUE_ALIASES = [
    "effleurage",
    "PETRISSAGE",
    "myofascial release",
    "Trigger Point Therapy",
    "foam rolling",
    " Foam Rolling ",
    "massage ball",
    "massageball",
]
TARGETS = [
    "Quadriceps",
    "Hamstrings",
    "Gastrocnemius",
    "VastusMedialis",
    "VastusLateralis",
    "TensorFasciaeLatae",
    "Patella",
    "KneeJoint",
    "IliotibialBand",
    "RectusFemoris",
    "VastusIntermedius",
]
TARGET_ALIASES = [
    "patella",
    "Kneecap",
    "knee cap",
    " KNEE CAP",
    "IT band",
    "it band ",
    "vastus lateralis",
    "Vastus Medialis",
    "tensor fasciae latae",
    "knee joint",
    "iliotibial band",
    "rectus femoris",
    "quadriceps",
    " hamstrings",
]
REGIONS = ["Hip", "Thigh", "Knee", "LowerLeg"]
BAD_SIDES = ["Left", "RIGHT", "both", "lfet", "", 5, True]
BAD_SITES = ["knee", "Elbow", "lower leg", 3]
STATUS_VALUES = ["active", "suspected", "resolved", "refuted", "entered-in-error"]
BAD_STATUSES = ["inactive", "maybe", "unknown", 7, "remission"]

INVALID_DATES = [
    "2026-11-17T10:00Z",
    "2026-11-17 10:00:00",
    "20261117T100000Z",
    "2027-02-29",
    "2026-02-30",
    "2026-13-01",
    "2026-11-17T25:00:00Z",
    "2026-11-17T10:00:00+15:00",
    "2026-11-17T10:00:00z",
    "0000-01-01",
    "yesterday",
    "2026-11-17T10:00:00.Z",
    "2026-11-17T24:00:01Z",
    "17/11/2026",
    "2026-11-17T10:60:00Z",
    "2026-11-17T10:00:00+14:30",
    "26-11-17",
]
ODD_VALID_PAST_DATES = [
    "2024-02-29",
    "2000-02-29",
    "2026-01-01T24:00:00Z",
    "2026-11-01T10:00:00.123456789+14:00",
    "2026-11-10-12:00",
    "2026-11-10+14:00",
    "2026-11-10Z",
    "2026-10-01T00:00:00-12:00",
    "1999-12-31T23:59:59.5",
]


def case_variants(s: str):
    return st.sampled_from([s, s.lower(), s.upper(), f"  {s} ", s.capitalize()])


# ---------------------------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------------------------
OFFSETS = [
    dt.timedelta(0),
    dt.timedelta(hours=-12),
    dt.timedelta(hours=14),
    dt.timedelta(hours=2),
    dt.timedelta(hours=-5),
    dt.timedelta(hours=5, minutes=30),
]


def _fmt_off(off: dt.timedelta) -> str:
    m = int(off.total_seconds() // 60)
    sign = "+" if m >= 0 else "-"
    m = abs(m)
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def render(x: dt.datetime, form: str, off: dt.timedelta = dt.timedelta(0)) -> str:
    """Write the UTC instant ``x`` in one lexical form (dates: the day that contains x there)."""
    if form == "Z":
        return x.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "naive":
        return x.strftime("%Y-%m-%dT%H:%M:%S")
    if form == "frac":
        return x.strftime("%Y-%m-%dT%H:%M:%S") + f".{x.microsecond:06d}Z"
    if form == "off":
        loc = x + off
        return loc.strftime("%Y-%m-%dT%H:%M:%S") + _fmt_off(off)
    if form == "date":
        return x.strftime("%Y-%m-%d")
    if form == "dateZ":
        return x.strftime("%Y-%m-%d") + "Z"
    if form == "date_off":
        return (x + off).strftime("%Y-%m-%d") + _fmt_off(off)
    if form == "t24":
        if (x.hour, x.minute, x.second) == (0, 0, 0):
            return (x - dt.timedelta(days=1)).strftime("%Y-%m-%d") + "T24:00:00Z"
        return x.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError(form)


TIMED_FORMS = ["Z", "Z", "naive", "frac", "off", "t24"]
DATE_FORMS = ["date", "date", "dateZ", "date_off"]


@st.composite
def assessment_time(draw):
    """(at text, T as an aware UTC datetime)."""
    day = dt.datetime(2026, 11, 20, tzinfo=UTC) + dt.timedelta(days=draw(st.integers(-3, 3)))
    kind = draw(st.sampled_from(["Z", "Z", "date", "date", "off", "midnight", "frac"]))
    if kind == "date":
        if draw(st.integers(0, 7)) == 0:  # a date with an offset: the start of that day, UTC
            off = draw(st.sampled_from(OFFSETS))
            return day.strftime("%Y-%m-%d") + _fmt_off(off), day
        return day.strftime("%Y-%m-%d"), day
    if kind == "midnight":
        return render(day, "Z"), day
    t = day + dt.timedelta(seconds=draw(st.integers(0, 86399)))
    if kind == "off":
        return render(t, "off", draw(st.sampled_from(OFFSETS))), t
    if kind == "frac":
        t = t + dt.timedelta(microseconds=draw(st.sampled_from([1, 500000, 999999])))
        return render(t, "frac"), t
    return render(t, "Z"), t


@st.composite
def instant_near(draw, T: dt.datetime):
    """A past (mostly) instant relative to the assessment time, often at a window boundary."""
    k = draw(
        st.sampled_from(
            ["recent", "b72", "b72", "days", "b42", "b42", "same_day", "future", "old", "zero"]
        )
    )
    if k == "recent":
        return T - dt.timedelta(seconds=draw(st.integers(0, 72 * 3600)))
    if k == "b72":
        return (
            T
            - dt.timedelta(hours=72)
            + dt.timedelta(seconds=draw(st.sampled_from([-1, 0, 1, -86400, 86400, 0.5, -0.5])))
        )
    if k == "days":
        return T - dt.timedelta(days=draw(st.integers(0, 100)))
    if k == "b42":
        return (
            T
            - dt.timedelta(days=42)
            + dt.timedelta(seconds=draw(st.sampled_from([-1, 0, 1, -86400, 86400])))
        )
    if k == "same_day":
        start = T.replace(hour=0, minute=0, second=0)
        return start + dt.timedelta(
            seconds=draw(st.integers(0, max(0, int((T - start).total_seconds()))))
        )
    if k == "future":
        return T + dt.timedelta(seconds=draw(st.sampled_from([1, 3600, 86400, 30 * 86400])))
    if k == "zero":
        return T
    return T - dt.timedelta(days=1000)


@st.composite
def date_text(draw, T: dt.datetime, x: dt.datetime | None = None):
    """A date field's text: a rendering of an instant near T (or of x), sometimes odd or invalid."""
    k = draw(st.sampled_from(["ok"] * 12 + ["invalid", "odd"]))
    if k == "invalid":
        return draw(st.sampled_from(INVALID_DATES))
    if k == "odd":
        return draw(st.sampled_from(ODD_VALID_PAST_DATES))
    if x is None:
        x = draw(instant_near(T))
    form = draw(st.sampled_from(TIMED_FORMS + DATE_FORMS))
    return render(x, form, draw(st.sampled_from(OFFSETS)))


# ---------------------------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------------------------
@st.composite
def code_obj(draw, system: str, code: str):
    form = draw(st.sampled_from(["as_is", "as_is", "nodot", "padded", "lower", "number"]))
    c = code
    if form == "nodot":
        c = code.replace(".", "")
    elif form == "padded":
        c = f"  {code} "
    elif form == "lower":
        c = code.lower()
    elif form == "number" and code.isdigit():
        c = int(code)
    pairs = [("system", system), ("code", c)]
    if draw(st.booleans()):
        pairs.append(("display", "some text"))
    return Obj(pairs)


def side_value():
    return st.sampled_from(
        [None, None, "left", "right", "bilateral", "left", "right", "NULL"]
    ).flatmap(lambda v: st.just(v) if v != "NULL" else st.sampled_from([Raw("null")] + BAD_SIDES))


@st.composite
def status_value(draw):
    k = draw(st.sampled_from(["none"] * 6 + ["valid"] * 3 + ["bad"]))
    if k == "none":
        return None
    if k == "valid":
        return draw(st.sampled_from(STATUS_VALUES).flatmap(case_variants))
    return draw(st.sampled_from(BAD_STATUSES))


@st.composite
def site_value(draw):
    k = draw(st.sampled_from(["none", "none", "region", "structure", "bad"]))
    if k == "none":
        return None
    if k == "region":
        return draw(st.sampled_from(REGIONS))
    if k == "structure":
        return draw(st.sampled_from(TARGETS))
    return draw(st.sampled_from(BAD_SITES))


@st.composite
def item(
    draw,
    kind: str,
    T: dt.datetime,
    when: dt.datetime | None = None,
    list_name: str | None = None,
    plain: bool = False,
):
    """One condition/finding/procedure of a kind; returns (list name, Obj)."""
    if list_name is None:
        if kind == "surgery":
            list_name = "procedures"
        elif kind in ("redflag", "inflam"):
            list_name = draw(st.sampled_from(["findings", "findings", "conditions"]))
        else:
            list_name = draw(st.sampled_from(["conditions"] * 4 + ["findings"]))
    pairs = []
    how = draw(st.sampled_from(["type", "type", "code", "both"])) if CODES.get(kind) else "type"
    if how in ("type", "both"):
        pairs.append(("type", draw(st.sampled_from(CLASS_KINDS[kind]))))
    if how in ("code", "both"):
        sysc = draw(st.sampled_from(CODES[kind]))
        pairs.append(("code", draw(code_obj(*sysc))))
    if not plain:
        for key, strat in (
            ("side", side_value()),
            ("site", site_value()),
            ("status", status_value()),
        ):
            v = draw(strat)
            if v is not None:
                pairs.append((key, v))
    else:
        pairs.append(("side", draw(st.sampled_from(["left", "right"]))))
    if when is None:
        when = draw(instant_near(T))
    if list_name == "procedures":
        k = draw(st.sampled_from(["date"] * 8 + ["none", "recorded_only"]))
        if k == "date":
            pairs.append(("date", draw(date_text(T, when)) if not plain else render(when, "date")))
        if k == "recorded_only" or draw(st.integers(0, 4)) == 0:
            pairs.append(("recorded_at", draw(date_text(T))))
        for flag in ("incision_closed", "sutures_removed"):
            v = draw(st.sampled_from([True, True, False, None, None, "yes", "NULL"]))
            if v == "NULL":
                pairs.append((flag, Raw("null")))
            elif v is not None:
                pairs.append((flag, v))
    else:
        k = draw(st.sampled_from(["onset"] * 5 + ["recorded", "both", "none"]))
        if k in ("onset", "both"):
            pairs.append(("onset", draw(date_text(T, when)) if not plain else render(when, "Z")))
        if k in ("recorded", "both"):
            pairs.append(("recorded_at", draw(date_text(T, when if k == "recorded" else None))))
        if draw(st.integers(0, 5)) == 0:  # a knee surgery listed as a condition or finding
            for flag in ("incision_closed", "sutures_removed"):
                v = draw(st.sampled_from([True, False, None, "no"]))
                if v is not None:
                    pairs.append((flag, v))
    return list_name, Obj(pairs)


# ---------------------------------------------------------------------------------------------
# Clearances and plans
# ---------------------------------------------------------------------------------------------
@st.composite
def clearance(draw, T: dt.datetime, trigger: dt.datetime | None):
    k = draw(st.sampled_from(["rel"] * 5 + ["near", "future", "missing", "bad"]))
    pairs = []
    if k == "rel" and trigger is not None:
        x = trigger + dt.timedelta(
            seconds=draw(st.sampled_from([0, 0, 1, -1, 86400, -86400, 3 * 86400]))
        )
        pairs.append(
            (
                "date",
                render(
                    x,
                    draw(st.sampled_from(TIMED_FORMS + DATE_FORMS)),
                    draw(st.sampled_from(OFFSETS)),
                ),
            )
        )
    elif k in ("rel", "near"):
        pairs.append(("date", draw(date_text(T))))
    elif k == "future":
        pairs.append(
            (
                "date",
                render(
                    T + dt.timedelta(seconds=draw(st.sampled_from([1, 86400]))),
                    draw(st.sampled_from(["Z", "date"])),
                ),
            )
        )
    elif k == "bad":
        pairs.append(("date", draw(st.sampled_from(INVALID_DATES))))
    pairs.append(("issued_by", "GP"))
    s = draw(
        st.sampled_from([None] * 5 + ["refuted", "Entered-In-Error", "active", "resolved", "weird",
                                      ["refuted"], {"code": "entered in error"}, "unrefuted"])
    )
    if s is not None:
        pairs.append(("status", s))
    return Obj(pairs)


@st.composite
def planned(draw):
    pairs = []
    k = draw(st.sampled_from(["known"] * 6 + ["alias"] * 3 + ["unknown", "missing", "number"]))
    if k == "known":
        pairs.append(("technique", draw(st.sampled_from(TECHNIQUES))))
    elif k == "alias":
        pairs.append(("technique", draw(st.sampled_from(TECHNIQUE_ALIASES))))
    elif k == "unknown":
        pairs.append(("technique", draw(st.sampled_from(["Shiatsu", "Cupping"]))))
    elif k == "number":
        pairs.append(("technique", 5))
    k = draw(st.sampled_from(["known"] * 6 + ["alias"] * 4 + ["unknown", "missing"]))
    if k == "known":
        pairs.append(("target", draw(st.sampled_from(TARGETS))))
    elif k == "alias":
        pairs.append(("target", draw(st.sampled_from(TARGET_ALIASES))))
    elif k == "unknown":
        pairs.append(("target", draw(st.sampled_from(["Elbow", "Forearm"]))))
    side = draw(
        st.sampled_from([None, "left", "right", "bilateral", "left", "right", "Left", "up"])
    )
    if side is not None:
        pairs.append(("side", side))
    if draw(st.integers(0, 6)) == 0:
        pairs.append(("status", draw(st.sampled_from(["active", "whatever", "resolved"]))))
    if draw(st.booleans()):
        pairs.reverse()
    return Obj(pairs)


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
TWISTS = [
    "none",
    "none",
    "multi_class",
    "second_item",
    "second_item",
    "odd_code",
    "unknown_code",
    "mixed_codes",
    "grouping_type",
    "unknown_type",
    "neither",
    "nonstring_type",
    "cross_list",
    "unknown_key_record",
    "unknown_key_item",
    "unknown_key_code",
    "non_object_entry",
    "dup_record",
    "dup_item",
    "dup_code",
    "list_not_array",
    "code_not_object",
    "id_object",
    "nan",
    "deep",
    "wrong_field",
    "recorded_far",
    "null_values",
    "missing_id",
    "birth_date",
    "assessed_at",
    "code_no_system",
    "clearances_many",
    "plans_many",
    "resolved_dup",
    "vte_type",
    "unknown_key_clearance",
    "unknown_key_plan",
    "surgery_as_condition",
    "recorded_unusable",
    "two_kinds",
]

UNKNOWN_VALUES = [
    [],
    Obj(),
    "x",
    1,
    True,
    [1],
    Obj([("a", 1)]),
    [Obj([("type", "DeepVeinThrombosis"), ("side", "left")])],
    Raw("null"),
    [[]],
]


@st.composite
def records(draw):
    at, T = draw(assessment_time())
    lists: dict[str, list] = {
        k: [] for k in ("conditions", "findings", "procedures", "clearances", "planned")
    }
    top = [("id", "p-gen")]

    main_kind = draw(
        st.sampled_from(
            ["dvt"] * 4
            + ["surgery"] * 4
            + ["pe", "injury", "injury", "skin", "inflam", "chronic", "redflag", "pain", "vte"]
        )
    )
    when = draw(instant_near(T))
    lst, main = draw(item(main_kind, T, when))
    lists[lst].append(main)
    twist = draw(st.sampled_from(TWISTS))

    def another_kind():
        return st.sampled_from(list(CLASS_KINDS))

    if twist == "multi_class":  # e.g. typed DVT with a PE code
        k1, k2 = draw(another_kind()), draw(another_kind().filter(lambda k: CODES.get(k)))
        pairs = [
            ("type", draw(st.sampled_from(CLASS_KINDS[k1]))),
            ("code", draw(code_obj(*draw(st.sampled_from(CODES[k2]))))),
        ]
        if draw(st.booleans()):
            pairs.append(("side", draw(st.sampled_from(["left", "right"]))))
        lists["conditions"].append(Obj(pairs))
    elif twist == "second_item":
        lst2, it2 = draw(item(draw(another_kind()), T))
        lists[lst2].append(it2)
    elif twist == "odd_code":
        k = draw(another_kind().filter(lambda k: CODES.get(k)))
        lists["conditions"].append(
            Obj([("code", draw(code_obj(*draw(st.sampled_from(CODES[k])))))])
        )
    elif twist == "mixed_codes":  # a code that maps beside one that does not, in either order
        k = draw(another_kind().filter(lambda k: CODES.get(k)))
        codes = [draw(code_obj(*draw(st.sampled_from(CODES[k])))),
                 draw(code_obj(*draw(st.sampled_from(UNKNOWN_CODES))))]
        lists["conditions"].append(Obj([("code", draw(st.permutations(codes)))]))
    elif twist == "unknown_code":
        pairs = [("code", draw(code_obj(*draw(st.sampled_from(UNKNOWN_CODES)))))]
        if draw(st.booleans()):
            pairs.insert(
                0, ("type", draw(st.sampled_from(["Condition", "Finding", "KneePain", "Fever"])))
            )
        lists[draw(st.sampled_from(["conditions", "findings", "procedures"]))].append(Obj(pairs))
    elif twist == "grouping_type":
        g = draw(st.sampled_from(["Condition", "Finding", "Procedure"]))
        pairs = [("type", g)]
        if draw(st.booleans()):
            k = draw(another_kind().filter(lambda k: CODES.get(k) and k != "surgery"))
            pairs.append(("code", draw(code_obj(*draw(st.sampled_from(CODES[k]))))))
        pairs.append(("status", draw(st.sampled_from(["active", "resolved", "suspected"]))))
        lists["conditions"].append(Obj(pairs))
    elif twist == "unknown_type":
        lists["conditions"].append(
            Obj(
                [
                    (
                        "type",
                        draw(
                            st.sampled_from(
                                [
                                    "Dvt",
                                    "deepveinthrombosis",
                                    "DeepVeinThrombosis ",
                                    "Sprain",
                                    "Gout",
                                ]
                            )
                        ),
                    )
                ]
            )
        )
    elif twist == "neither":
        lists[draw(st.sampled_from(["conditions", "findings"]))].append(
            Obj([("side", "left"), ("onset", render(T - dt.timedelta(days=1), "Z"))])
        )
    elif twist == "nonstring_type":
        lists["conditions"].append(
            Obj([("type", draw(st.sampled_from([5, True, ["DeepVeinThrombosis"]])))])
        )
    elif twist == "cross_list":  # a class in another list than its usual one
        k = draw(st.sampled_from(["dvt", "pe", "redflag", "skin", "chronic"]))
        lst2, it2 = draw(item(k, T, list_name=draw(st.sampled_from(["findings", "conditions"]))))
        lists[lst2].append(it2)
    elif twist == "unknown_key_record":
        top.append(
            (
                draw(st.sampled_from(["condtions", "notes", "extra"])),
                draw(st.sampled_from(UNKNOWN_VALUES)),
            )
        )
    elif twist == "unknown_key_item":
        main.append(
            (
                draw(st.sampled_from(["notes", "evidence", "sidee"])),
                draw(st.sampled_from(UNKNOWN_VALUES)),
            )
        )
    elif twist == "unknown_key_code":
        lists["conditions"].append(
            Obj(
                [
                    ("type", "KneePain"),
                    (
                        "code",
                        Obj(
                            [
                                ("system", SNOMED),
                                ("code", "30989003"),
                                ("version", draw(st.sampled_from(UNKNOWN_VALUES))),
                            ]
                        ),
                    ),
                ]
            )
        )
    elif twist == "non_object_entry":
        lists[
            draw(st.sampled_from(["conditions", "findings", "procedures", "clearances", "planned"]))
        ].append(draw(st.sampled_from(["DVT", 1, Raw("null"), [], True])))
    elif twist == "dup_record":
        top.append(("id", "p-dup") if draw(st.booleans()) else ("conditions", []))
    elif twist == "dup_item":  # repeat one of the main item's keys
        k, v = draw(st.sampled_from(list(main)))
        main.append((k, draw(st.sampled_from([v, "left"]))))
    elif twist == "dup_code":
        lists["conditions"].append(
            Obj([("code", Obj([("system", ICD), ("code", "I82.402"), ("code", "I82.401")]))])
        )
    elif twist == "list_not_array":
        top.append(
            (
                draw(st.sampled_from(["findings", "planned", "clearances"])),
                draw(st.sampled_from([Obj([("type", "Fever")]), "Fever", 3])),
            )
        )
    elif twist == "code_not_object":
        lists["conditions"].append(
            Obj([("type", "KneePain"), ("code", draw(st.sampled_from(["I82.402", 5, ["x"]])))])
        )
    elif twist == "id_object":
        top[0] = ("id", draw(st.sampled_from([Obj([("v", 1)]), ["p"]])))
    elif twist == "nan":
        top.append(("notes", Raw(draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])))))
    elif twist == "deep":
        n = draw(st.sampled_from([20, 150]))
        top.append(("extra", Raw("[" * n + "]" * n)))
    elif twist == "wrong_field":  # date on a condition, onset on a procedure (each counts)
        lists["conditions"].append(
            Obj(
                [
                    ("type", "AcuteInjury"),
                    ("side", "left"),
                    ("date", render(T - dt.timedelta(days=30), "date")),
                ]
            )
        )
        lists["procedures"].append(
            Obj(
                [
                    ("type", "TotalKneeReplacement"),
                    ("side", "right"),
                    ("date", render(T - dt.timedelta(days=100), "date")),
                    ("onset", render(T - dt.timedelta(days=1), "date")),
                ]
            )
        )
    elif twist == "recorded_far":  # procedure recorded long before its date
        lists["procedures"].append(
            Obj(
                [
                    ("type", "TotalKneeReplacement"),
                    ("side", draw(st.sampled_from(["left", "right"]))),
                    ("date", render(T - dt.timedelta(days=10), "date")),
                    ("recorded_at", render(T - dt.timedelta(days=60), "date")),
                ]
            )
        )
    elif twist == "null_values":
        lists["conditions"].append(
            Obj(
                [
                    ("type", "DeepVeinThrombosis"),
                    ("side", Raw("null")),
                    ("status", Raw("null")),
                    ("onset", Raw("null")),
                    ("code", Raw("null")),
                ]
            )
        )
    elif twist == "missing_id":
        top.pop(0)
    elif twist == "birth_date":
        top.append(
            (
                "birth_date",
                draw(
                    st.sampled_from(
                        [
                            "1958-04-02",
                            "2027-02-29",
                            render(T + dt.timedelta(days=2), "date"),
                            "1958-04-02T00:00:00Z",
                        ]
                    )
                ),
            )
        )
    elif twist == "assessed_at":
        top.append(("assessed_at", at))
    elif twist == "code_no_system":
        lists["conditions"].append(
            Obj(
                [
                    ("type", "KneePain"),
                    (
                        "code",
                        Obj(
                            [("code", "30989003")] if draw(st.booleans()) else [("system", SNOMED)]
                        ),
                    ),
                ]
            )
        )
    elif twist == "clearances_many":
        for _ in range(draw(st.integers(2, 4))):
            lists["clearances"].append(draw(clearance(T, when)))
    elif twist == "plans_many":
        for _ in range(draw(st.integers(2, 5))):
            lists["planned"].append(draw(planned()))
    elif twist == "resolved_dup":  # a resolved copy never cancels the active one
        lists[lst].append(
            Obj(
                [p if p[0] != "status" else ("status", "resolved") for p in main]
                + ([] if any(p[0] == "status" for p in main) else [("status", "resolved")])
            )
        )
    elif twist == "unknown_key_clearance":
        c = draw(clearance(T, when))
        c.append((draw(st.sampled_from(["notes", "scope"])), draw(st.sampled_from(UNKNOWN_VALUES))))
        lists["clearances"].append(c)
    elif twist == "unknown_key_plan":
        p = draw(planned())
        p.append((draw(st.sampled_from(["notes", "site"])), draw(st.sampled_from(UNKNOWN_VALUES))))
        lists["planned"].append(p)
    elif twist == "surgery_as_condition":  # a rule fires whichever list holds the item
        lst2, it2 = draw(
            item("surgery", T, list_name=draw(st.sampled_from(["conditions", "findings"])))
        )
        lists[lst2].append(it2)
    elif twist == "recorded_unusable":  # the recorded time that counts is unusable; a date is older
        lists[draw(st.sampled_from(["conditions", "findings", "procedures"]))].append(
            Obj(
                [
                    ("type", draw(st.sampled_from(["Fever", "SevereSprain", "Redness"]))),
                    ("side", draw(st.sampled_from(["left", "right"]))),
                    ("date", render(T - dt.timedelta(days=20), "date")),
                    (
                        "recorded_at",
                        draw(
                            st.sampled_from(
                                [render(T + dt.timedelta(days=5), "date"), *INVALID_DATES[:3]]
                            )
                        ),
                    ),
                ]
            )
        )
        lists["clearances"].append(
            Obj([("issued_by", "Dr A"), ("date", render(T - dt.timedelta(days=10), "date"))])
        )
    elif twist == "two_kinds":  # a condition or finding also coded as a procedure, or the reverse
        pairs = draw(
            st.sampled_from(
                [
                    [("type", "Fever"), ("code", Obj([("system", SNOMED), ("code", "609588000")]))],
                    [
                        ("type", "TotalKneeReplacement"),
                        ("code", Obj([("system", ICD), ("code", "S83.92XA")])),
                    ],
                    [
                        ("type", "SevereSprain"),
                        ("code", Obj([("system", SNOMED), ("code", "609588000")])),
                    ],
                ]
            )
        )
        ages = draw(st.permutations([20, 2, None]))
        for key, age in zip(("date", "recorded_at", "onset"), ages, strict=True):
            if age is not None:
                pairs.append((key, render(T - dt.timedelta(days=age), "date")))
        pairs.append(("side", "left"))
        lists[draw(st.sampled_from(["procedures", "procedures", "conditions"]))].append(Obj(pairs))
        lists["clearances"].append(
            Obj([("issued_by", "Dr A"), ("date", render(T - dt.timedelta(days=10), "date"))])
        )
    elif twist == "vte_type":
        lists["conditions"].append(
            Obj(
                [("type", "VenousThromboembolism"), ("side", "left")]
                + ([("code", draw(code_obj(ICD, "I82.402")))] if draw(st.booleans()) else [])
            )
        )

    # a little noise: a clearance and a plan most of the time
    if draw(st.integers(0, 3)) > 0:
        lists["clearances"].append(draw(clearance(T, when)))
    if draw(st.integers(0, 2)) > 0:
        lists["planned"].append(draw(planned()))
    if draw(st.integers(0, 4)) == 0:
        lst3, it3 = draw(item(draw(st.sampled_from(["pain", "chronic", "redflag", "injury"])), T))
        lists[lst3].append(it3)

    for k, v in lists.items():
        if v:
            top.append((k, v))
        elif twist == "null_values" and k == "findings":
            top.append((k, Raw("null")))
    if draw(st.integers(0, 3)) == 0:
        head, rest = top[:1], top[1:]
        top = head + list(reversed(rest))
    return dump(Obj(top)), at
