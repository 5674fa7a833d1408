"""Differential tests: the engine against tests/spec_model.py, an independent reading of the rules.

Run: ``.venv/bin/pytest tests/test_differential.py`` (``KGM_DIFF_EXAMPLES=1000`` for a longer run).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from record_gen import records  # noqa: E402
from spec_model import CODES_CSV, ICD, SNOMED, model_assess, parse_when  # noqa: E402

import kgmassage  # noqa: E402

N = int(os.environ.get("KGM_DIFF_EXAMPLES", "150"))


# ---------------------------------------------------------------------------------------------
# Running the engine
# ---------------------------------------------------------------------------------------------
def engine_assess(text: str, at: str):
    """(refused reason or None, conforms, {key: (status, reasons)}, violations) from the engine."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    try:
        a = kgmassage.assess(path, at=at)
    except kgmassage.RecordError as e:
        return str(e), None, {}, []
    finally:
        os.unlink(path)
    return engine_result(a)


def engine_result(a: kgmassage.Assessment):
    """(None, conforms, {key: (status, reasons)}, violations) of one assessment."""
    decisions = {(d.technique, d.target, d.side): (d.status, d.reasons) for d in a.decisions}
    d = a.to_dict()
    violations = [
        f"{v.get('path')}={v.get('value')}: {v.get('message')}"
        for v in d.get("validation", [])
        if v.get("severity") == "Violation"
    ]
    return None, a.conforms, decisions, violations


def compare(text: str, at: str) -> list[str]:
    """The differences between engine and model, as readable lines (empty when they agree)."""
    return differences(model_assess(text, at), engine_assess(text, at))


def differences(m, engine) -> list[str]:
    """The differences between a model result and an engine result (:func:`engine_assess`)."""
    refused, conforms, dec, eviol = engine
    out = []
    if (refused is not None) != (m.refused is not None):
        out.append(f"refused: engine={refused!r} model={m.refused!r}")
        return out
    if refused is not None:
        return out
    if conforms != m.conforms:
        out.append(
            f"conforms: engine={conforms} model={m.conforms}\n"
            f"   engine violations: {eviol}\n   model violations: {m.violations}"
        )
    ek, mk = set(dec), set(m.decisions)
    if ek != mk:
        out.append(
            f"decision keys: engine only {sorted(ek - mk, key=str)}; "
            f"model only {sorted(mk - ek, key=str)}"
        )
    for k in sorted(ek & mk, key=str):
        es, ereasons = dec[k]
        ms, mreasons = m.decisions[k]
        if es != ms:
            er = sorted({(r.rule, r.status, r.lifted, r.item) for r in ereasons}, key=str)
            out.append(
                f"{k}: engine={es} model={ms}\n   engine reasons: {er}\n"
                f"   model reasons: {sorted(mreasons)}"
            )
    return out


# ---------------------------------------------------------------------------------------------
# The differential test
# ---------------------------------------------------------------------------------------------
@settings(
    derandomize=True,
    max_examples=N,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(records())
def test_engine_agrees_with_spec_model(rec):
    text, at = rec
    diffs = compare(text, at)
    assert not diffs, f"\nrecord: {text}\nat: {at}\n" + "\n".join(diffs)


@settings(
    derandomize=True,
    max_examples=max(N // 10, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(records(), min_size=2, max_size=6), st.integers(1, 4))
def test_a_cohort_in_chunks_decides_each_patient_as_alone(recs, chunk_size):
    """Generated records, each under its own id, as one NDJSON cohort assessed in chunks: each
    patient is decided as the model decides it alone (nothing leaks between the patients of a
    chunk; an unreadable line is reported in its place)."""
    at = recs[0][1]
    texts = [text.replace('"p-gen"', f'"p-gen-{i}"', 1) for i, (text, _) in enumerate(recs)]
    assume(all("\n" not in text for text in texts))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.ndjson"
        path.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
        found = list(kgmassage.assess_many(path, at=at, chunk_size=chunk_size))
    for text, item in zip(texts, found, strict=True):
        engine = ((str(item), None, {}, []) if isinstance(item, kgmassage.RecordError)
                  else engine_result(item))
        diffs = differences(model_assess(text, at), engine)
        assert not diffs, f"\nrecord: {text}\nat: {at}\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------------------------
# The code table agrees with the product's
# ---------------------------------------------------------------------------------------------
def _code_rows():
    with CODES_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("row", _code_rows(), ids=lambda r: f"{r['system']}:{r['code']}")
def test_code_table_agrees_with_engine(row):
    system = SNOMED if row["system"] == "snomed" else ICD
    item = {"code": {"system": system, "code": row["code"]}}
    known = bool(row["classes"])
    if (
        "Knee" in row["classes"] and "Pain" not in row["classes"]
    ):  # knee surgeries: a procedure with a date
        rec = {"id": "c", "procedures": [dict(item, date="2026-11-01")]}
    else:
        rec = {"id": "c", "conditions": [item]}
    a = kgmassage.assess(rec, at="2026-11-20T10:00:00Z")
    unrecognized = any(r.rule == "UNRECOGNIZED" for d in a.decisions for r in d.reasons)
    assert unrecognized != known, (
        f"{row['code']} ({row['why (class choice made from the crosswalk concept / label)']}): "
        f"spec table says {'known as ' + row['classes'] if known else 'unknown'}, "
        f"engine {'calls it UNRECOGNIZED' if unrecognized else 'recognizes it'}"
    )
    if known:  # and the model gives the same statuses as the engine for it
        diffs = compare(json.dumps(rec), "2026-11-20T10:00:00Z")
        assert not diffs, f"{row['code']}:\n" + "\n".join(diffs)


# ---------------------------------------------------------------------------------------------
# The model itself, pinned on hand-written records from the spec's text
# ---------------------------------------------------------------------------------------------
AT = "2026-11-20T10:00:00Z"


def status(rec, technique, target, side, at=AT):
    m = model_assess(json.dumps(rec) if not isinstance(rec, str) else rec, at)
    assert m.refused is None, m.refused
    return m.decisions[(technique, target, side)][0]


def test_model_revision_example_tkr_recorded_long_before():
    # SPEC revision: procedures count from their date, never from recorded_at
    rec = {
        "id": "r",
        "procedures": [
            {
                "type": "TotalKneeReplacement",
                "side": "right",
                "date": "2026-11-10",
                "recorded_at": "2026-09-21",
            }
        ],
        "clearances": [{"date": "2026-11-15"}],
    }
    assert status(rec, "Effleurage", "Quadriceps", "right") == "forbidden"
    assert (
        status(rec, "Effleurage", "Quadriceps", "left") == "permitted"
    )  # requires-clearance, lifted
    rec["clearances"] = [{"date": "2026-11-01"}]  # before the surgery: lifts nothing
    assert status(rec, "Effleurage", "Quadriceps", "left") == "requires-clearance"


def test_model_dvt_sides_and_codes():
    rec = {"id": "d", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]}
    assert status(rec, "Effleurage", "Quadriceps", "left") == "forbidden"
    assert status(rec, "Effleurage", "Quadriceps", "right") == "requires-clearance"
    coded = {"id": "d", "conditions": [{"code": {"system": ICD, "code": " i82402 "}}]}
    assert status(coded, "Petrissage", "Hamstrings", "left") == "forbidden"
    assert status(coded, "Petrissage", "Hamstrings", "right") == "requires-clearance"
    chronic = {"id": "d", "conditions": [{"code": {"system": ICD, "code": "I82.503"}}]}
    assert status(chronic, "Effleurage", "Gastrocnemius", "right") == "forbidden"
    assert status(chronic, "Effleurage", "Gastrocnemius", "left") == "forbidden"
    # SPEC: "An item typed DeepVeinThrombosis whose code means a pulmonary embolism is both"
    both = {
        "id": "d",
        "conditions": [
            {
                "type": "DeepVeinThrombosis",
                "side": "left",
                "code": {"system": ICD, "code": "I26.99"},
            }
        ],
    }
    assert status(both, "Effleurage", "Quadriceps", "right") == "forbidden"


def test_model_grouping_type_and_unknown_keys_are_unrecognized_and_never_lifted():
    for rec in (
        {"id": "g", "conditions": [{"type": "Condition"}]},
        {"id": "g", "condtions": [{"type": "DeepVeinThrombosis"}]},
        {"id": "g", "conditions": ["DVT"]},
    ):
        rec["clearances"] = [{"date": "2026-11-20"}]
        m = model_assess(json.dumps(rec), AT)
        assert {v[0] for v in m.decisions.values()} == {"requires-clearance"}
        assert all(
            ("UNRECOGNIZED", "requires-clearance", False) in v[1] for v in m.decisions.values()
        )
    assert model_assess(json.dumps({"id": "g", "notes": []}), AT).conforms


def test_model_osteoporosis_coded_and_clearance():
    rec = {
        "id": "o",
        "conditions": [{"code": {"system": SNOMED, "code": "64859006"}, "onset": "2020-01-01"}],
        "clearances": [{"date": "2026-11-01"}],
    }
    assert status(rec, "Effleurage", "Quadriceps", "left") == "permitted"
    assert status(rec, "Petrissage", "Quadriceps", "left") == "caution"


def test_model_acute_injury_72h_boundaries():
    def rec(onset):
        return {"id": "a", "conditions": [{"type": "Fracture", "side": "left", "onset": onset}]}

    assert status(rec("2026-11-17T10:00:00Z"), "Effleurage", "Quadriceps", "left") == "forbidden"
    assert (
        status(rec("2026-11-17T09:59:59Z"), "Effleurage", "Quadriceps", "left")
        == "requires-clearance"
    )
    assert (
        status(rec("2026-11-17T12:00:00+02:00"), "Effleurage", "Quadriceps", "left") == "forbidden"
    )
    # a date is the end of its day; an assessment date is the start of its day
    assert (
        status(rec("2026-11-17"), "Effleurage", "Quadriceps", "left", at="2026-11-20")
        == "forbidden"
    )
    assert (
        status(rec("2026-11-16"), "Effleurage", "Quadriceps", "left", at="2026-11-20")
        == "requires-clearance"
    )
    # ... in its own offset
    assert (
        status(rec("2026-11-16-12:00"), "Effleurage", "Quadriceps", "left", at="2026-11-20")
        == "forbidden"
    )
    # unparseable (no seconds) and future: the assessment time, recent
    assert status(rec("2026-10-01T10:00Z"), "Effleurage", "Quadriceps", "left") == "forbidden"
    assert status(rec("2026-11-21"), "Effleurage", "Quadriceps", "left") == "forbidden"
    assert (
        status(rec("2026-11-20"), "Effleurage", "Quadriceps", "left", at="2026-11-20")
        == "forbidden"
    )
    assert model_assess(json.dumps(rec("2026-11-20")), "2026-11-20").conforms
    assert not model_assess(json.dumps(rec("2026-11-20T08:00:00Z")), "2026-11-20").conforms


def test_model_wound_42_days():
    def rec(date, **flags):
        return {
            "id": "w",
            "procedures": [
                dict({"type": "KneeReplacement", "side": "left", "date": date}, **flags)
            ],
        }

    # 42 days before 2026-11-20T10:00Z is 2026-10-09T10:00Z
    assert status(rec("2026-10-09T10:00:01Z"), "Effleurage", "Quadriceps", "left") == "forbidden"
    assert (
        status(rec("2026-10-09T10:00:00Z"), "Effleurage", "Quadriceps", "left")
        == "requires-clearance"
    )
    assert (
        status(
            rec("2026-10-01", incision_closed=True, sutures_removed=False),
            "Effleurage",
            "Quadriceps",
            "left",
        )
        == "forbidden"
    )
    assert (
        status(
            rec("2026-11-19", incision_closed=True, sutures_removed=True),
            "Effleurage",
            "Quadriceps",
            "right",
        )
        == "requires-clearance"
    )
    assert not model_assess(json.dumps(rec("2026-10-01", incision_closed="yes")), AT).conforms


def test_model_clearance_days_and_instants():
    base = {"id": "c", "findings": [{"type": "Fever", "recorded_at": "2026-11-19T15:00:00Z"}]}
    for date, lifted in (
        ("2026-11-19", True),
        ("2026-11-19T14:59:59Z", False),
        ("2026-11-19T15:00:00Z", True),
        ("2026-11-18", False),
        ("2026-11-21", False),
        (None, False),
    ):
        rec = dict(base, clearances=[{"date": date} if date else {"issued_by": "GP"}])
        assert status(rec, "Effleurage", "Quadriceps", "left") == (
            "permitted" if lifted else "requires-clearance"
        ), date
    rec = dict(base, clearances=[{"date": "2026-11-20", "status": "Refuted"}])
    assert status(rec, "Effleurage", "Quadriceps", "left") == "requires-clearance"


def test_model_planned_names():
    rec = {
        "id": "p",
        "planned": [
            {"technique": "petrissage", "target": " Knee Cap", "side": "left"},
            {"technique": "Effleurage", "target": "IT band"},
            {"technique": "FoamRolling"},
        ],
    }
    m = model_assess(json.dumps(rec), AT)
    assert m.decisions[("Petrissage", "Patella", "left")][0] == "forbidden"
    assert m.decisions[("Effleurage", "IliotibialBand", "right")][0] == "caution"
    assert m.decisions[("FoamRolling", None, "left")][0] == "requires-clearance"
    assert len(m.decisions) == 38 + 1 + 2 + 2
    assert not m.conforms


def test_model_refusals():
    for text in (
        '{"id": "x", "id": "y"}',
        '{"id": "x", "conditions": [{"type": "Fever", "type": "Fever"}]}',
        '{"id": "x", "conditions": {}}',
        '{"id": {"a": 1}}',
        '{"id": "x", "n": NaN}',
        '{"id": "x", "conditions": [{"code": "I82.402"}]}',
        '{"id": "x", "e": ' + "[" * 120 + "]" * 120 + "}",
    ):
        assert model_assess(text, AT).refused, text


def test_model_date_reader():
    for ok in (
        "2026-11-17",
        "2026-11-17Z",
        "2026-11-17-12:00",
        "2026-11-17T10:00:00",
        "2026-11-17T10:00:00.5+02:00",
        "2024-02-29",
        "2026-11-17T24:00:00Z",
        "2026-11-17T10:00:00+14:00",
        "2026-11-17T10:00:00-14:00",
    ):
        assert parse_when(ok) is not None, ok
    for bad in (
        "2026-11-17T10:00Z",
        "2026-11-17 10:00:00",
        "20261117T100000Z",
        "2027-02-29",
        "2026-11-17T24:00:01Z",
        "2026-11-17T10:00:00+14:30",
        "0000-01-01",
        "2026-11-17T10:00:00z",
        " 2026-11-17",
        "2026-1-17",
    ):
        assert parse_when(bad) is None, bad
    assert parse_when("2026-11-17T24:00:00Z").day == parse_when("2026-11-18T00:00:00Z").day


# ---------------------------------------------------------------------------------------------
# Hand-written edge records: the engine against the model (each once seen to disagree, or a
# boundary worth pinning). The comment says which spec/choices line decides.
# ---------------------------------------------------------------------------------------------
ICD_I82402 = {"system": ICD, "code": "I82.402"}
EDGE_RECORDS = [
    # CHOICE "status: ... case-insensitive (as the rules say) but not trimmed"
    ({"id": "e", "conditions": [{"type": "Fracture", "side": "left", "status": " resolved"}]}, AT),
    (
        {
            "id": "e",
            "conditions": [{"type": "Fever"}],
            "clearances": [{"date": "2026-11-20", "status": " refuted "}],
        },
        AT,
    ),
    (
        {
            "id": "e",
            "conditions": [{"type": "Fever"}],
            "clearances": [{"date": "2026-11-20", "status": "REFUTED"}],
        },
        AT,
    ),
    # CHOICE "a value that is not JSON, refuses the record"
    (
        '{"id": "e", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}], "notes": NaN}',
        AT,
    ),
    # SPEC DVT "every intervention on S: forbidden; on the other side: requires-clearance" (an
    # unknown key
    # adds UNRECOGNIZED, it does not change the item's side)
    ({"id": "e", "conditions": [{"type": "DeepVeinThrombosis", "side": "left", "notes": [1]}]}, AT),
    # SPEC "resolved and refuted ... do not [apply]" (unknown content adds UNRECOGNIZED only)
    (
        {
            "id": "e",
            "conditions": [
                {"type": "Fracture", "side": "left", "status": "resolved", "notes": [1]}
            ],
        },
        AT,
    ),
    # SPEC "VenousThromboembolism as a type is a thromboembolism of unknown kind (forbidden, both
    # legs)"
    (
        {
            "id": "e",
            "conditions": [{"type": "VenousThromboembolism", "side": "left", "code": ICD_I82402}],
        },
        AT,
    ),
    # SPEC UNRECOGNIZED "an entry of a list that is not an object": every intervention (no decision
    # of its own)
    ({"id": "e", "planned": [True]}, AT),
    # xsd:dateTime fractional seconds are exact: 42 days minus 0.5 microseconds is "less than 42
    # days"
    (
        {
            "id": "e",
            "procedures": [
                {"type": "KneeSurgery", "side": "left", "date": "2026-10-09T10:00:00.0000005Z"}
            ],
        },
        AT,
    ),
    # agreeing edges worth keeping
    (
        {
            "id": "e",
            "conditions": [{"type": "Fracture", "side": "left", "onset": "2026-11-16-12:00"}],
        },
        "2026-11-20",
    ),
    (
        {
            "id": "e",
            "conditions": [{"type": "Fracture", "side": "left", "onset": "2026-11-16T24:00:00Z"}],
            "clearances": [{"date": "2026-11-17"}],
        },
        AT,
    ),
    (
        {
            "id": "e",
            "conditions": [{"type": "Fever", "onset": "2026-11-19T15:00:00Z"}],
            "clearances": [{"date": "2026-11-19T14:59:59Z"}],
        },
        AT,
    ),
    (
        {"id": "e", "conditions": [{"type": "KneePain", "onset": "2026-11-20"}]},
        "2026-11-20T01:00:00+05:00",
    ),
    (
        {
            "id": "e",
            "conditions": [{"type": "OpenWound", "side": "left", "site": "Hip"}],
            "planned": [
                {"technique": "Effleurage", "target": "Elbow", "side": "left"},
                {"technique": "Shiatsu", "target": "Patella"},
                {"technique": "Effleurage", "target": " Knee Cap"},
                {"technique": "massage ball", "target": "IT band"},
            ],
        },
        AT,
    ),
    (
        {
            "id": "e",
            "procedures": [
                {
                    "type": "TotalKneeReplacement",
                    "side": "right",
                    "date": "2026-11-10",
                    "recorded_at": "2026-09-21",
                }
            ],
            "clearances": [{"date": "2026-11-15"}],
        },
        AT,
    ),
]


@pytest.mark.parametrize("rec,at", EDGE_RECORDS, ids=[str(i) for i in range(len(EDGE_RECORDS))])
def test_engine_on_edge_records(rec, at):
    text = rec if isinstance(rec, str) else json.dumps(rec)
    diffs = compare(text, at)
    assert not diffs, f"\nrecord: {text}\nat: {at}\n" + "\n".join(diffs)
