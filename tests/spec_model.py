"""An independent, plain-Python reading of the decision rules.

Written only from ``../shared/spec/clinical-rules.md`` (quoted as "SPEC:") and ``docs/choices.md``
(quoted as "CHOICE:"), never from the engine. Input: the raw JSON text of one record and the
assessment time ``at`` (xsd:date or xsd:dateTime text). Output: a :class:`ModelResult`.

Where the texts leave something open, the assumption made is marked "ASSUMED:".

Codes of the crosswalk deliberately left out of ``tests/data/spec_codes.csv`` (their class is not
clear from the concept column, so neither "known" nor "unknown" is asserted): R22.41 (localized
swelling of a limb, not a joint), Z96.651 / Z47.1 / SNOMED 427749007 (a state or history, not a
surgery event), surgical-wound codes (781187003, 22247000, 226007004, T81.31XA), suture removal,
patellofemoral pain and iliotibial band syndrome codes, M79.18, anatomy codes, and L53.9
("Erythematous condition, unspecified": an erythematous skin disorder, not clearly the Redness
finding).
"""

from __future__ import annotations

import calendar
import csv
import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------
# SPEC: "Condition ─ VenousThromboembolism ─ DeepVeinThrombosis, PulmonaryEmbolism
# ─ AcuteInjury ─ Fracture, SevereSprain ─ SkinLesion ─ OpenWound, SkinInfection ─ Cellulitis, Rash
# ─ ChronicCondition ─ Osteoarthritis, Osteoporosis ─ SevereOsteoporosis, RheumatoidArthritis
#          ─ KneePain  Finding ─ Fever, Warmth, Redness, JointSwelling, AcuteInflammation
#        Procedure ─ KneeSurgery ─ KneeReplacement ─ TotalKneeReplacement"
# ASSUMED: RheumatoidArthritis is a ChronicCondition, not an Osteoporosis; Rash a SkinLesion.
PARENT = {
    "Condition": None,
    "Finding": None,
    "Procedure": None,
    "VenousThromboembolism": "Condition",
    "DeepVeinThrombosis": "VenousThromboembolism",
    "PulmonaryEmbolism": "VenousThromboembolism",
    "AcuteInjury": "Condition",
    "Fracture": "AcuteInjury",
    "SevereSprain": "AcuteInjury",
    "SkinLesion": "Condition",
    "OpenWound": "SkinLesion",
    "SkinInfection": "SkinLesion",
    "Cellulitis": "SkinInfection",
    "Rash": "SkinLesion",
    "ChronicCondition": "Condition",
    "Osteoarthritis": "ChronicCondition",
    "Osteoporosis": "ChronicCondition",
    "SevereOsteoporosis": "Osteoporosis",
    "RheumatoidArthritis": "ChronicCondition",
    "KneePain": "Condition",
    "Fever": "Finding",
    "Warmth": "Finding",
    "Redness": "Finding",
    "JointSwelling": "Finding",
    "AcuteInflammation": "Finding",
    "KneeSurgery": "Procedure",
    "KneeReplacement": "KneeSurgery",
    "TotalKneeReplacement": "KneeReplacement",
}
GROUPING = {"Condition", "Finding", "Procedure"}


def ancestors(cls: str) -> set[str]:
    out = set()
    while cls is not None:
        out.add(cls)
        cls = PARENT[cls]
    return out


# SPEC: "Hip: TensorFasciaeLatae · Thigh: Quadriceps, RectusFemoris, VastusMedialis,
# VastusLateralis,
# VastusIntermedius, Hamstrings, IliotibialBand · Knee: Patella, KneeJoint · LowerLeg:
# Gastrocnemius."
REGION_OF = {
    "TensorFasciaeLatae": "Hip",
    "Quadriceps": "Thigh",
    "RectusFemoris": "Thigh",
    "VastusMedialis": "Thigh",
    "VastusLateralis": "Thigh",
    "VastusIntermedius": "Thigh",
    "Hamstrings": "Thigh",
    "IliotibialBand": "Thigh",
    "Patella": "Knee",
    "KneeJoint": "Knee",
    "Gastrocnemius": "LowerLeg",
}
REGIONS = {"Hip", "Thigh", "Knee", "LowerLeg"}
# SPEC: "Adjacent regions: Hip–Thigh, Thigh–Knee, Knee–LowerLeg."
ADJACENT = {
    "Hip": {"Thigh"},
    "Thigh": {"Hip", "Knee"},
    "Knee": {"Thigh", "LowerLeg"},
    "LowerLeg": {"Knee"},
}

# SPEC: technique table (pressure column).
DEEP = {
    "Effleurage": False,
    "Petrissage": True,
    "MyofascialRelease": True,
    "TriggerPointTherapy": True,
    "FoamRolling": True,
    "MassageBall": True,
}
# SPEC: targets (catalogue) column: 19 pairs.
CATALOGUE = (
    [("Effleurage", t) for t in ("Quadriceps", "Hamstrings", "Gastrocnemius")]
    + [("Petrissage", t) for t in ("Quadriceps", "Hamstrings", "Gastrocnemius")]
    + [
        ("MyofascialRelease", t)
        for t in ("VastusMedialis", "VastusLateralis", "TensorFasciaeLatae")
    ]
    + [
        ("TriggerPointTherapy", t)
        for t in ("VastusMedialis", "VastusLateralis", "TensorFasciaeLatae")
    ]
    + [
        ("FoamRolling", t)
        for t in ("Quadriceps", "Hamstrings", "TensorFasciaeLatae", "VastusLateralis")
    ]
    + [("MassageBall", t) for t in ("TensorFasciaeLatae", "VastusMedialis", "VastusLateralis")]
)
assert len(CATALOGUE) == 19


def _label(local: str) -> str:
    """'VastusLateralis' -> 'vastus lateralis' (the natural label)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", local).lower()


# SPEC: "Technique and target names are matched by local name, label or synonym (skos:altLabel),
# trimmed
# and case-insensitively: patella, Kneecap and knee cap mean Patella; IT band means IliotibialBand."
TECHNIQUE_NAMES = {n.lower(): n for n in DEEP} | {_label(n): n for n in DEEP}
TARGET_NAMES = (
    {n.lower(): n for n in REGION_OF}
    | {_label(n): n for n in REGION_OF}
    | {"kneecap": "Patella", "knee cap": "Patella", "it band": "IliotibialBand"}
)

SIDES = ("left", "right")
# CHOICE: "status: active, suspected, resolved, refuted, entered-in-error, case-insensitive (as the
# rules
# say) but not trimmed: " resolved" is not a status. Anything else is a Violation and counts as
# active."
STATUSES = {"active", "suspected", "resolved", "refuted", "entered-in-error"}
SEVERITY = {"permitted": 0, "caution": 1, "requires-clearance": 2, "forbidden": 3}

SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CODES_CSV = Path(__file__).with_name("data") / "spec_codes.csv"


def norm_code(system: str, code: str) -> str:
    # SPEC: "Codes are compared trimmed and case-insensitively, and an ICD-10-CM code with or
    # without its
    #        dot is the same code (I82402 = I82.402)".
    code = code.strip().upper()
    # CHOICE: only the one dot after the third character may be left out ("I82..402" is no code)
    if system == ICD and (code.count(".") == 0 or code.find(".") == 3 == code.rfind(".")):
        return code.replace(".", "")
    return code


def load_code_table() -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """{(system IRI, normalized code): (classes, implied sides)} from tests/data/spec_codes.csv."""
    table = {}
    with CODES_CSV.open(newline="") as f:
        for row in csv.DictReader(f):
            system = SNOMED if row["system"] == "snomed" else ICD
            classes = set(row["classes"].split()) if row["classes"] else set()
            side = row["side"]
            sides = {"left", "right"} if side == "bilateral" else ({side} if side else set())
            table[(system, norm_code(system, row["code"]))] = (classes, sides)
    return table


CODE_TABLE = load_code_table()


def map_code(system, code) -> tuple[set[str], set[str]]:
    """Classes and implied sides of a coding; (set(), set()) when unknown."""
    if system not in (SNOMED, ICD) or not isinstance(code, str):
        return set(), set()
    c = norm_code(system, code)
    if (system, c) in CODE_TABLE:
        classes, sides = CODE_TABLE[(system, c)]
        if classes:
            return set(classes), set(sides)
    if system == ICD:
        # SPEC: "ICD-10-CM families I82.4- and I82.5- ... DeepVeinThrombosis (chronic DVT, I82.5-,
        # like the
        # acute family I82.4-)"; brief: "last character 1 right, 2 left, 3 bilateral, 9
        # unspecified".
        # ASSUMED: the side is read only from a complete code (three characters after the dot:
        # I82.4xy).
        if re.fullmatch(r"I82[45][0-9A-Z]{0,3}", c):
            sides = set()
            if len(c) == 6:
                sides = {"1": {"right"}, "2": {"left"}, "3": {"left", "right"}}.get(c[-1], set())
            return {"DeepVeinThrombosis"}, sides
        # brief: "I26.- pulmonary embolism"
        if re.fullmatch(r"I26[0-9A-Z]{0,4}", c):
            return {"PulmonaryEmbolism"}, set()
    return set(), set()


# ---------------------------------------------------------------------------------------------
# Dates: a strict xsd:date / xsd:dateTime reader. Instants are exact Fractions of seconds.
# ---------------------------------------------------------------------------------------------
# CHOICE: "Accepted forms are exactly the lexical forms of xsd:date and xsd:dateTime: a four-digit
# year
# 0001–9999, real calendar days, hours 00–23 (and 24:00:00, the end of the day), seconds required,
#          fractional seconds allowed, an optional offset Z or ±hh:mm (at most ±14:00)."
# SPEC: the lexical forms of xsd:date / xsd:dateTime: ASCII digits only
_TZ = r"(Z|[+-][0-9][0-9]:[0-9][0-9])?"
_DATE_RE = re.compile(r"([0-9]{4})-([0-9][0-9])-([0-9][0-9])" + _TZ)
_DT_RE = re.compile(r"([0-9]{4})-([0-9][0-9])-([0-9][0-9])T([0-9][0-9]):([0-9][0-9]):([0-9][0-9])"
                    r"(\.[0-9]+)?" + _TZ)
DAY = 86400


@dataclass(frozen=True)
class When:
    """A parsed date or date-time."""

    has_time: bool
    # CHOICE: "The day of a date is the day it names; the day of a date-time is its UTC day."
    day: int
    # date-time: its instant; date: the start of the NEXT day in its own offset (exclusive end)
    instant: Fraction


def _offset_seconds(tz: str | None) -> int | None:
    if tz is None or tz == "Z":
        return 0
    hh, mm = int(tz[1:3]), int(tz[4:6])
    if mm > 59 or hh > 14 or (hh == 14 and mm != 0):
        return None
    return (hh * 60 + mm) * 60 * (1 if tz[0] == "+" else -1)


def _ordinal(y: str, m: str, d: str) -> int | None:
    y, m, d = int(y), int(m), int(d)
    if not (1 <= y <= 9999 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]):
        return None
    return _date_ordinal(y, m, d)


def _date_ordinal(y, m, d):
    import datetime

    return datetime.date(y, m, d).toordinal()


def parse_when(text, round_up: bool = False) -> When | None:
    """None when ``text`` is not exactly an xsd:date or xsd:dateTime.

    CHOICE: "Fractions of a second finer than a microsecond are rounded to the safe side: a
    record item's date up (it looks as recent as it can), a clearance's date and the assessment
    time down." (``round_up`` for an item's date.)"""
    if not isinstance(text, str):
        return None
    m = _DT_RE.fullmatch(text)
    if m:
        y, mo, d, hh, mi, ss, frac, tz = m.groups()
        o = _ordinal(y, mo, d)
        off = _offset_seconds(tz)
        hh, mi, ss = int(hh), int(mi), int(ss)
        f = Fraction(frac[1:]) / 10 ** (len(frac) - 1) if frac else Fraction(0)
        micro = f * 10**6
        micro = math.ceil(micro) if round_up else math.floor(micro)
        f = Fraction(micro, 10**6)
        if o is None or off is None or mi > 59 or ss > 59:
            return None
        if hh == 24:
            if mi or ss or f:
                return None
        elif hh > 23:
            return None
        inst = Fraction(o * DAY + hh * 3600 + mi * 60 + ss - off) + f
        return When(True, int(inst // DAY), inst)
    m = _DATE_RE.fullmatch(text)
    if m:
        y, mo, d, tz = m.groups()
        o = _ordinal(y, mo, d)
        off = _offset_seconds(tz)
        if o is None or off is None:
            return None
        # SPEC: "For time windows a date without a time is the end of that day (in its own offset
        # when it
        #        carries one, e.g. 2026-11-17-12:00; else UTC), the latest instant it can mean"
        return When(False, o, Fraction((o + 1) * DAY - off))
    return None


def parse_at(text: str) -> When:
    """The assessment time.

    SPEC: "An assessment time given as a date alone is the start of that day (UTC); a record
    date on that same day is then not "in the future"." Read as written: the start of the day
    it names, in UTC, whatever offset it carries (2026-11-20+05:00 and 2026-11-20-05:00 are
    2026-11-20T00:00:00Z)."""
    w = parse_when(text)
    if w is None:
        raise ValueError(f"bad assessment time {text!r}")
    if not w.has_time:
        return When(True, w.day, Fraction(w.day * DAY))
    return w


# ---------------------------------------------------------------------------------------------
# JSON reading
# ---------------------------------------------------------------------------------------------
class Refused(Exception):
    pass


def _pairs(pairs):
    # CHOICE: "Duplicate keys anywhere in a JSON record ... refuse the record"
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise Refused(f"duplicate key {k!r}")
    return dict(pairs)


def _bad_constant(name):
    # CHOICE: "a value that is not JSON, refuses the record" (NaN, Infinity)
    raise Refused(f"not JSON: {name}")


def _depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


def _nonempty_container(v) -> bool:
    return isinstance(v, (list, dict)) and len(v) > 0


def _json_text(v) -> str:
    # CHOICE: "a type, site, side, status, technique or target that is not a string is an unknown
    # value
    #          (its JSON text)"; "Codes given as JSON numbers are read as their decimal text."
    return v if isinstance(v, str) else json.dumps(v)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
LIST_KEYS = ("conditions", "findings", "procedures", "clearances", "planned")
RECORD_KEYS = {"id", "assessed_at", "birth_date", *LIST_KEYS}
# CHOICE: an item's onset and date are read in every list (each counts: the latest decides); a
# procedure may carry recorded_at (never used)
# SPEC: "a rule fires on an item of its class whichever list of the record (conditions, findings,
#        procedures) holds it" — so a knee surgery's wound flags count in any list.
ITEM_KEYS = {
    "conditions": {"type", "code", "side", "site", "status", "onset", "date", "recorded_at",
                   "incision_closed", "sutures_removed"},
    "findings": {"type", "code", "side", "site", "status", "onset", "date", "recorded_at",
                 "incision_closed", "sutures_removed"},
    "procedures": {"type", "code", "side", "site", "status", "onset", "date", "recorded_at",
                   "incision_closed", "sutures_removed"},
    # CHOICE: "A clearance's side, site do not restrict what it lifts."
    "clearances": {"date", "issued_by", "status", "side", "site"},
    # interfaces.md: "Any item may carry side, site, status." (a plan's site is checked, and not
    # used)
    "planned": {"technique", "target", "side", "status", "site"},
}
CODE_KEYS = {"system", "code", "display"}


@dataclass
class Trigger:
    has_time: bool
    day: int
    instant: Fraction
    end_of_day: bool  # True: a date, the instant is its exclusive end


@dataclass
class ModelResult:
    refused: str | None = None
    conforms: bool = True
    violations: list[str] = field(default_factory=list)
    # {(technique, target, side): (status, {(rule, status, lifted)})}
    decisions: dict = field(default_factory=dict)


@dataclass
class Intervention:
    technique: str | None  # key text: local name, the text given, or None
    target: str | None
    side: str
    deep: bool
    regions: set
    target_known: str | None
    unrecognized: bool = False


def model_assess(text: str, at: str) -> ModelResult:
    res = ModelResult()
    try:
        rec = json.loads(text, object_pairs_hook=_pairs, parse_constant=_bad_constant)
    except Refused as e:
        return ModelResult(refused=str(e))
    except (ValueError, RecursionError) as e:
        return ModelResult(refused=f"not JSON: {e}")
    if not isinstance(rec, dict):
        return ModelResult(refused="not an object")
    # CHOICE: "Nesting deeper than 100 levels ... refuses the record the same way."
    if _depth(rec) > 100:
        return ModelResult(refused="nesting deeper than 100")
    try:
        return _assess(rec, parse_at(at), res)
    except Refused as e:
        return ModelResult(refused=str(e))


def _assess(rec: dict, T: When, res: ModelResult) -> ModelResult:
    viol = res.violations.append
    unrecognized_all = []  # reasons for UNRECOGNIZED on every intervention (a list of where)

    def check_date(v, where, round_up: bool = True) -> When | None:
        """SPEC: "An unparseable date, or one in the future, is a validation violation and is
        taken as the assessment time". Returns the usable date, or None (unusable)."""
        w = parse_when(v, round_up=round_up)
        if w is None:
            viol(f"{where}: unparseable date {v!r}")
            return None
        # CHOICE: "A date is in the future when its day is after the assessment's UTC day; a
        # date-time when
        #          its instant is after the assessment time."
        if (w.has_time and w.instant > T.instant) or (not w.has_time and w.day > T.day):
            viol(f"{where}: date in the future {v!r}")
            return None
        return w

    def unknown_keys(obj: dict, known: set, where: str, names_items: bool = False) -> bool:
        """Whether obj holds unrecognized content (names_items: a clearance or a plan)."""
        found = False
        for k, v in obj.items():
            if k in known or v is None:
                continue
            # CHOICE: "An unknown key anywhere (record, item, code) holding a non-empty array or
            # object is
            # UNRECOGNIZED and a Violation ... a scalar, an empty array or an empty object is kept
            #          and reported as a Warning"
            # CHOICE: "A `type` or `code` in a clearance or a planned intervention is unrecognized
            #          content too"
            if _nonempty_container(v) or (names_items and k in ("type", "code")):
                viol(f"{where}.{k}: unknown key holding content")
                unrecognized_all.append(f"{where}.{k}")
                found = True
        return found

    # ---- record level
    # CHOICE: "an id that is an object or array refuse the record."
    if isinstance(rec.get("id"), (dict, list)):
        raise Refused("id is an object or array")
    for k in LIST_KEYS:
        # CHOICE: "A known list key ... whose value is not an array ... refuse the record" (null =
        # absent)
        if rec.get(k) is not None and not isinstance(rec[k], list):
            raise Refused(f"{k} is not an array")
    for lst in ("conditions", "findings", "procedures"):
        for it in rec.get(lst) or []:
            code = it.get("code") if isinstance(it, dict) else None
            if code is not None and not isinstance(code, dict) and not (
                isinstance(code, list) and code and all(isinstance(c, dict) for c in code)
            ):
                raise Refused(
                    "code is not an object"
                )  # CHOICE: "a code that is neither an object nor an array of objects ... refuse"
    # SPEC: "At least ... patient id"
    if rec.get("id") is None:
        viol("id missing")
    for k in ("assessed_at", "birth_date"):
        if rec.get(k) is not None:
            # CHOICE: "The assessment's own assessed_at is never 'in the future'." (the tests pass
            # it equal
            # to at, or not at all)
            if k == "assessed_at":
                if parse_when(rec[k]) is None:
                    viol("assessed_at unparseable")
            else:
                check_date(rec[k], k)
    unknown_keys(rec, RECORD_KEYS, "record")

    # ---- items
    items = []  # dicts: where, classes, sides, site_regions, site_given, applies, trigger, ...
    for lst in ("conditions", "findings", "procedures"):
        for i, it in enumerate(rec.get(lst) or []):
            where = f"{lst}[{i}]"
            if not isinstance(it, dict):
                # SPEC: UNRECOGNIZED trigger "an entry of a list that is not an object"
                viol(f"{where}: not an object")
                unrecognized_all.append(where)
                continue
            items.append(_read_item(it, lst, where, T, viol, check_date, unknown_keys))

    # ---- clearances
    clearances = []  # usable clearance dates (When)
    for i, c in enumerate(rec.get("clearances") or []):
        where = f"clearances[{i}]"
        if not isinstance(c, dict):
            viol(f"{where}: not an object")
            unrecognized_all.append(where)
            continue
        # CHOICE: "a clearance holding unrecognized content lifts nothing"
        lifts = not unknown_keys(c, ITEM_KEYS["clearances"], where, names_items=True)
        st = c.get("status")
        if st is not None:
            s = st.lower() if isinstance(st, str) else None
            if s not in STATUSES:
                # CHOICE: "A clearance status outside the status list is a Violation; the clearance
                # still lifts"
                viol(f"{where}: status {st!r}")
            text = st if isinstance(st, str) else json.dumps(st, ensure_ascii=False)
            if _VOID.search(re.sub(_SEPARATORS, "-", text.lower())) or re.search(
                    r"[^\x20-\x7e]|[%&\\]", text):
                # CHOICE: ... or holds anything but printable ASCII, or an escape (%, &, \): a
                # void may hide in it
                # SPEC: "so does a clearance with status refuted or entered-in-error" (lifts
                # nothing); CHOICE: also written with other case, spaces, underscores or no
                # hyphens, or named as a word anywhere in the value (["refuted"], "not refuted")
                lifts = False
        for k, ok in (("side", {"left", "right", "bilateral"}), ("site", REGIONS | set(REGION_OF))):
            if c.get(k) is not None and not (isinstance(c[k], str) and c[k] in ok):
                viol(f"{where}: {k} {c[k]!r}")
        # SPEC: "A clearance in the future, without a date, or with an unparseable date is a
        # validation
        #        violation and lifts nothing"
        if c.get("date") is None:
            viol(f"{where}: no date")
            continue
        w = check_date(c["date"], where + ".date", round_up=False)
        # CHOICE: a clearance date whose day begins, in its own offset, after the assessment
        # time (2026-11-20-10:00 at 2026-11-20T08:00Z) cannot have been issued yet: it lifts
        # nothing (a Warning; by the day it names it is not in the future).
        if w is not None and not w.has_time and w.instant - DAY > T.instant:
            w = None
        if w is not None and lifts:
            clearances.append(w)

    # ---- interventions: the catalogue on both sides, plus the planned ones
    interventions: dict = {}
    for tech, tgt in CATALOGUE:
        for s in SIDES:
            interventions[(tech, tgt, s)] = Intervention(
                tech, tgt, s, DEEP[tech], {REGION_OF[tgt]}, tgt
            )
    for i, p in enumerate(rec.get("planned") or []):
        where = f"planned[{i}]"
        if not isinstance(p, dict):
            viol(f"{where}: not an object")
            unrecognized_all.append(where)
            continue
        unknown_keys(p, ITEM_KEYS["planned"], where, names_items=True)
        site = p.get("site")
        if site is not None and not (isinstance(site, str) and site in REGIONS | set(REGION_OF)):
            viol(f"{where}: site {site!r}")  # CHOICE: "site: ... Anything else is a Violation"
        # SPEC: "A planned intervention has no status: a status on it is ignored (a validation
        # warning)."
        tech_raw, tgt_raw = p.get("technique"), p.get("target")
        tech = TECHNIQUE_NAMES.get(tech_raw.strip().lower()) if isinstance(tech_raw, str) else None
        tgt = TARGET_NAMES.get(tgt_raw.strip().lower()) if isinstance(tgt_raw, str) else None
        unrec = tech is None or tgt is None
        if unrec:
            # SPEC: "planned interventions name a known technique and target" (a Violation)
            viol(f"{where}: unknown or missing technique/target")
        # CHOICE: "A decision names a known technique/target by its local name, an unknown one by
        # the text
        #          given, a missing one as null."
        tech_key = tech if tech else (None if tech_raw is None else _json_text(tech_raw))
        tgt_key = tgt if tgt else (None if tgt_raw is None else _json_text(tgt_raw))
        side = p.get("side")
        # SPEC: "A planned intervention with side bilateral or no side stands for two: left and
        # right."
        if side in ("left", "right"):
            sides = [side]
        else:
            if side not in (None, "bilateral"):
                viol(f"{where}: side {side!r}")  # SPEC: "side ∈ {left, right, bilateral}"
            sides = list(SIDES)
        for s in sides:
            key = (tech_key, tgt_key, s)
            if key in interventions:
                interventions[key].unrecognized |= unrec
                continue
            # SPEC: "an unknown technique counts as deep-pressure and an unknown target as lying in
            # every
            #        region, so the other rules apply to it too"
            interventions[key] = Intervention(
                tech_key,
                tgt_key,
                s,
                DEEP[tech] if tech else True,
                {REGION_OF[tgt]} if tgt else set(REGIONS),
                tgt,
                unrec,
            )

    # ---- decide
    for key, iv in interventions.items():
        reasons = []  # (rule, status, trigger or None)
        for it in items:
            if it["applies"]:
                reasons += [(r, s, it["trigger"]) for r, s in _item_effects(it, iv, T)]
        for _where in unrecognized_all:
            reasons.append(("UNRECOGNIZED", "requires-clearance", None))
        # SPEC: "UNRECOGNIZED | a planned intervention whose technique or target is missing or
        # unknown ...
        #        that planned decision: requires-clearance, not lifted by clearances"
        if iv.unrecognized:
            reasons.append(("UNRECOGNIZED", "requires-clearance", None))
        # SPEC: "PATELLA-PRESSURE | always | a deep-pressure technique on the Patella: forbidden"
        if iv.target_known == "Patella" and iv.deep:
            reasons.append(("PATELLA-PRESSURE", "forbidden", None))
        # SPEC: "JOINT-PRESSURE | always | a deep-pressure technique on the KneeJoint: caution"
        if iv.target_known == "KneeJoint" and iv.deep:
            reasons.append(("JOINT-PRESSURE", "caution", None))
        # SPEC: "ITB-DIRECT | always | any technique on the IliotibialBand itself: caution"
        if iv.target_known == "IliotibialBand":
            reasons.append(("ITB-DIRECT", "caution", None))
        out, status = set(), "permitted"
        for rule, st, trig in reasons:
            lifted = (
                st == "requires-clearance"
                and rule != "UNRECOGNIZED"
                and any(_lifts(c, trig) for c in clearances)
            )
            out.add((rule, st, lifted))
            # SPEC: "the intervention's status is the most severe of them, after clearances"
            if not lifted and SEVERITY[st] > SEVERITY[status]:
                status = st
        res.decisions[key] = (status, out)
    res.conforms = not res.violations
    return res


def _lifts(c: When, trig: Trigger) -> bool:
    """SPEC: "It lifts a requires-clearance status when C is on or after the item's trigger
    time: compare instants when both carry a time, else compare UTC calendar days (on or
    after)." CHOICE: "A trigger that falls back to the assessment time carries a time (the
    assessment's)." """
    if c.has_time and trig.has_time:
        return c.instant >= trig.instant
    # CHOICE: UTC calendar days, each on its safe side: the trigger's the UTC day of its last
    # instant (a date: the end of its day in its own offset), the clearance's the UTC day of its
    # first (a date: the start of its day in its own offset). A date in UTC: the day it names.
    last = trig.day if trig.has_time else int((trig.instant - Fraction(1, 10**6)) // DAY)
    first = c.day if c.has_time else int((c.instant - DAY) // DAY)
    return first >= last


#: CHOICE: runs of spaces (also Unicode's), underscores or hyphens (also Unicode's) separate the
#: words of a clearance's voiding status ("entered - in - error", "refuted\u00a0").
_SEPARATORS = re.compile("[ \t\n\r_./\\-\u00a0\u1680\u2000-\u200b\u2010-\u2015\u2028\u2029\u202f"
                         "\u205f\u2212\u3000\ufeff]+")
#: CHOICE: a voiding status named anywhere in a clearance's status (separators read as above,
#: hyphens optional): it may be void, so it lifts nothing.
_VOID = re.compile("refuted|entered-?in-?error")


def _read_item(it: dict, lst: str, where: str, T: When, viol, check_date, unknown_keys) -> dict:
    unknown_keys(it, ITEM_KEYS[lst], where)
    classes: set[str] = set()
    code_sides: set[str] = set()
    typ = it.get("type")
    raw_vte = typ == "VenousThromboembolism"
    codes_known = True  # the type is known and every code maps to a class a rule can use
    if typ is not None:
        # CHOICE: "type: the exact local name of a class of the vocabulary (case-sensitive).
        # Anything else is
        # an unknown type: a Violation ... A type naming only a grouping class ... is valid but
        # gives
        #          no class"
        if isinstance(typ, str) and typ in PARENT:
            if typ not in GROUPING:
                classes |= ancestors(typ)
        else:
            viol(f"{where}: unknown type {typ!r}")
            codes_known = False  # CHOICE: an unknown type is UNRECOGNIZED beside a mapped code
    code = it.get("code")
    for one in code if isinstance(code, list) else [] if code is None else [code]:
        unknown_keys(one, CODE_KEYS, where + ".code")
        system, value = one.get("system"), one.get("code")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = _json_text(
                value
            )  # CHOICE: "Codes given as JSON numbers are read as their decimal text."
        if system is None or value is None:
            viol(f"{where}: code without system or value")  # CHOICE: "... is a Violation"
            codes_known = False
        else:
            cls, sides_of_code = map_code(system, value)
            code_sides |= sides_of_code
            for c in cls:
                classes |= ancestors(c)
            codes_known = codes_known and any(ancestors(c) - GROUPING for c in cls)
            # CHOICE: a code that means a thromboembolism of unknown kind is one, as the type
            raw_vte = raw_vte or "VenousThromboembolism" in cls
    if typ is None and code is None:
        viol(f"{where}: neither type nor code")  # CHOICE: "is a Violation and UNRECOGNIZED"
    # ASSUMED: classes that rules can use (anything below the grouping classes, KneePain included).
    # CHOICE (fail safe): an item with a code that maps to nothing, or with an unknown type, is
    # UNRECOGNIZED whatever the rest says: what the ontology cannot read may name what it can.
    recognized = bool(classes - GROUPING) and codes_known

    # SPEC: "Condition status: active (default) and suspected apply; resolved and refuted (also
    # FHIR's
    # entered-in-error) do not; ... A status outside this list is a validation violation and counts
    # as active."
    st = it.get("status")
    applies = True
    if st is not None:
        s = st.lower() if isinstance(st, str) else None
        if s not in STATUSES:
            viol(f"{where}: status {st!r}")
        elif s in ("resolved", "refuted", "entered-in-error"):
            applies = False

    # SPEC: "An item's sides are its side (bilateral = both) together with any side its code
    # implies; an item
    # with no side, or with a side value outside left/right/bilateral ..., applies to both sides."
    side = it.get("side")
    if side is None:
        sides = set(code_sides)
    elif side in ("left", "right"):
        sides = {side} | code_sides
    elif side == "bilateral":
        sides = {"left", "right"}
    else:
        viol(f"{where}: side {side!r}")
        sides = {"left", "right"}
    if not sides:
        sides = {"left", "right"}

    # SPEC: "site names a region ... or a structure, which means that structure's region. A missing
    # or unknown
    #        site means every region (an unknown value is also a validation violation)."
    site = it.get("site")
    if site is None:
        site_regions = None
    elif isinstance(site, str) and site in REGIONS:
        site_regions = {site}
    elif isinstance(site, str) and site in REGION_OF:
        site_regions = {REGION_OF[site]}
    else:
        viol(f"{where}: site {site!r}")
        site_regions = set(REGIONS)

    # dates: validate every own date field
    usable = {}
    for k in ("onset", "recorded_at", "date"):
        if k in ITEM_KEYS[lst] and it.get(k) is not None:
            usable[k] = check_date(it[k], f"{where}.{k}")
    # SPEC: "The trigger time ...: for a procedure, its date (the surgery date; never its
    # recorded_at); for a condition or finding, its onset, else its recorded_at ...; else, or
    # when the field that counts is unusable, the assessment time."
    # CHOICE: the field that is not the list's (onset on a procedure, date on a condition or
    # finding) counts besides the item's own date, never alone (the latest decides); a
    # procedure by its class (a knee surgery listed as a condition) never counts from
    # recorded_at. Symmetrically, a condition or finding by its class listed as a procedure
    # (a sprain, a fever; no procedure class) counts as a condition or finding: its onset,
    # else its recorded_at (the date is a procedure's field). An item of both classes listed as
    # a procedure is dated both ways: the latest of the two counts, and either way lacking its
    # own date (or any date it uses being unusable) leaves the assessment time.
    cond_class = bool(classes & {"Condition", "Finding"})
    if lst == "procedures":
        kinds = [k for k, on in (("procedure", "Procedure" in classes or not cond_class),
                                 ("condition", cond_class)) if on]
    else:
        kinds = ["condition"]

    def kind_counts(kind: str) -> list[str]:
        own, other = ("date", "onset") if kind == "procedure" else ("onset", "date")
        recorded_ok = kind == "condition" and (lst == "procedures" or "Procedure" not in classes)
        if it.get(own) is not None:
            counts = [own]
        elif recorded_ok and it.get("recorded_at") is not None:
            counts = ["recorded_at"]
        else:
            return []
        return counts + ([other] if it.get(other) is not None else [])

    per_kind = [kind_counts(k) for k in kinds]
    whens = [usable.get(k) for counts in per_kind for k in counts]
    if not all(per_kind) or any(w is None for w in whens):
        trig = Trigger(True, T.day, T.instant, False)
    else:
        w = max(whens, key=lambda w: w.instant)
        trig = Trigger(w.has_time, w.day, w.instant, not w.has_time)

    # SPEC: "A knee surgery without a date is a violation and counts as performed at the assessment
    # time." ASSUMED: listed as a condition or finding, its date is its onset.
    own = "date" if "procedure" in kinds else "onset"
    if "KneeSurgery" in classes and it.get(own) is None:
        viol(f"{where}: knee surgery without date")
    # SPEC: "wound flags are booleans"; "If either is unknown (missing or not a boolean)"
    flags = {}
    for k in ("incision_closed", "sutures_removed"):
        v = it.get(k)
        if v is not None and type(v) is not bool:
            viol(f"{where}.{k}: not a boolean")
        flags[k] = v if type(v) is bool else None

    unrec = not recognized
    return dict(
        where=where,
        classes=classes,
        raw_vte=raw_vte,
        sides=sides,
        site_regions=site_regions,
        applies=applies,
        trigger=trig,
        flags=flags,
        unrecognized=unrec,
    )


def _elapsed_le(T: When, trig: Trigger, limit: int, strict: bool) -> bool:
    """T - trigger <= limit (strict: < limit). A date's trigger is the last instant of its day: with
    its exclusive end E, T - (E - eps) <= limit  <=>  T - E < limit, and likewise for <."""
    d = T.instant - trig.instant
    if trig.end_of_day or strict:
        return d < limit
    return d <= limit


def _item_effects(it: dict, iv: Intervention, T: When):
    c, S, side = it["classes"], it["sides"], iv.side
    other = any(s != side for s in S)
    out = []
    # SPEC: "UNRECOGNIZED | an item whose type and code the ontology cannot map | every
    # intervention, both
    #        sides: requires-clearance ... no clearance lifts it"
    # ASSUMED: like every rule of the table, only for an item of status active or suspected (or
    # unknown).
    # CHOICE: an item UNRECOGNIZED for an unknown type or code beside a known one keeps the
    # rules of the classes it does map to (a DVT code beside an unknown one is still a DVT)
    if it["unrecognized"]:
        out.append(("UNRECOGNIZED", "requires-clearance"))
    # SPEC: "DVT | DeepVeinThrombosis on side S; or PulmonaryEmbolism (both sides, whatever its
    # side) |
    #        every intervention on S: forbidden; on the other side: requires-clearance"
    if "DeepVeinThrombosis" in c:
        if side in S:
            out.append(("DVT", "forbidden"))
        if other:
            out.append(("DVT", "requires-clearance"))
    if "PulmonaryEmbolism" in c:
        out.append(("DVT", "forbidden"))
    # SPEC: "VenousThromboembolism as a type is a thromboembolism of unknown kind (forbidden, both
    # legs)."
    if it["raw_vte"]:
        out.append(("DVT", "forbidden"))
    # SPEC: "ACUTE-INJURY | ... onset ≤ 72 h before the assessment time (inclusive; no onset counts
    # as
    # recent): every intervention on S forbidden; older (recovery): every intervention on S
    # requires-clearance"
    # (the revision: windows count from the trigger time: onset, else recorded_at, else the
    # assessment time)
    if "AcuteInjury" in c and side in S:
        recent = _elapsed_le(T, it["trigger"], 72 * 3600, strict=False)
        out.append(("ACUTE-INJURY", "forbidden" if recent else "requires-clearance"))
    # SPEC: "ACUTE-INFLAMMATION | JointSwelling or AcuteInflammation at region G (no site: Knee),
    # side S |
    #        targets in G on S: forbidden; every other intervention on S: caution"
    if ({"JointSwelling", "AcuteInflammation"} & c) and side in S:
        G = it["site_regions"] if it["site_regions"] is not None else {"Knee"}
        out.append(("ACUTE-INFLAMMATION", "forbidden" if iv.regions & G else "caution"))
    # SPEC: "SKIN-LESION | SkinLesion ... at region G, side S | targets in G on S: forbidden;
    # targets in a
    #        region adjacent to G on S: caution"; "A missing or unknown site means every region"
    if "SkinLesion" in c and side in S:
        G = it["site_regions"] if it["site_regions"] is not None else set(REGIONS)
        if iv.regions & G:
            out.append(("SKIN-LESION", "forbidden"))
        if iv.regions & set().union(*(ADJACENT[g] for g in G)):
            out.append(("SKIN-LESION", "caution"))
    # SPEC: "CHRONIC-CONDITION | any ChronicCondition | every intervention, both sides:
    # requires-clearance"
    if "ChronicCondition" in c:
        out.append(("CHRONIC-CONDITION", "requires-clearance"))
    # SPEC: "OSTEOPOROSIS-DEEP | Osteoporosis of any or unknown severity | every deep-pressure
    # intervention:
    #        caution (stays after clearance)"
    if "Osteoporosis" in c and iv.deep:
        out.append(("OSTEOPOROSIS-DEEP", "caution"))
    # SPEC: "POST-SURGERY | KneeSurgery on side S, performed on date D | wound not healed: every
    # intervention
    # on S forbidden, on the other side requires-clearance. Wound healed: every intervention, both
    # sides,
    #        requires-clearance"
    if "KneeSurgery" in c:
        f = it["flags"]
        vals = (f["incision_closed"], f["sutures_removed"])
        # SPEC: "Wound healed ⇔ incision_closed is true and sutures_removed is true. If either is
        # false → not
        # healed. If either is unknown ... → not healed when D is less than 42 days before the
        #        assessment time, else treated as healed."
        if False in vals:
            healed = False
        elif None in vals:
            healed = not _elapsed_le(T, it["trigger"], 42 * DAY, strict=True)
        else:
            healed = True
        if healed:
            out.append(("POST-SURGERY", "requires-clearance"))
        else:
            if side in S:
                out.append(("POST-SURGERY", "forbidden"))
            if other:
                out.append(("POST-SURGERY", "requires-clearance"))
    # SPEC: "RED-FLAG | Fever (every intervention, both sides); Warmth or Redness, side S (every
    # intervention
    #        on S) | requires-clearance"
    if "Fever" in c:
        out.append(("RED-FLAG", "requires-clearance"))
    if ({"Warmth", "Redness"} & c) and side in S:
        out.append(("RED-FLAG", "requires-clearance"))
    return out
