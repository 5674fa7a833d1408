"""Throughput of the decision engine on a synthetic cohort (figures for the README).

Usage: python benchmarks/assess_cohort.py [N]   (default N = 2000)

Prints, for N generated patients (3 conditions, 1 finding, 1 clearance, 2 plans at most):
* the SPARQL derivation alone on pyoxigraph, one chunk of N patients, and chunks of 500;
* the derivation on rdflib (the reference engine) for a few patients;
* record validation (pySHACL, record shapes) per record;
* the whole `assess` path per record (validation + derivation + aggregation).
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import random
import sys
import time

from kgmassage.assessment import assess
from kgmassage.derivation import PatientInput, derive
from kgmassage.records import load_record
from kgmassage.resources import shape_graph
from kgmassage.timeline import resolve_at
from kgmassage.validation import validate

AT = "2026-11-20T10:00:00Z"
TYPES = ["DeepVeinThrombosis", "PulmonaryEmbolism", "Fracture", "SevereSprain", "OpenWound",
         "Cellulitis", "Rash", "Osteoarthritis", "SevereOsteoporosis", "KneePain", "Fever",
         "Warmth", "JointSwelling", "TotalKneeReplacement", "Gout"]
SIDES = [None, "left", "right", "bilateral"]
SITES = [None, "Hip", "Thigh", "Knee", "LowerLeg", "Patella"]
DATES = [None, "2026-11-19", "2026-11-10T08:00:00Z", "2026-09-01", "2024-05-05"]
TECHNIQUES = ["Effleurage", "Petrissage", "MyofascialRelease", "FoamRolling", "MassageBall"]
TARGETS = ["Quadriceps", "Hamstrings", "Patella", "KneeJoint", "IliotibialBand"]


def record(rng: random.Random, i: int) -> dict:
    def item() -> dict:
        out = {"type": rng.choice(TYPES), "side": rng.choice(SIDES), "site": rng.choice(SITES),
               "onset": rng.choice(DATES)}
        return {k: v for k, v in out.items() if v is not None}

    return {
        "id": f"b-{i}",
        "assessed_at": AT,
        "conditions": [item() for _ in range(rng.randint(0, 3))],
        "findings": [item() for _ in range(rng.randint(0, 1))],
        "clearances": [{"date": "2026-11-15"}] if rng.random() < 0.3 else [],
        "planned": [{"technique": rng.choice(TECHNIQUES), "target": rng.choice(TARGETS),
                     "side": rng.choice(SIDES[1:])} for _ in range(rng.randint(0, 2))],
    }


def rate(n: int, seconds: float) -> str:
    return f"{n} patients in {seconds:.2f} s = {n / seconds:,.0f} patients/s"


def main(n: int) -> None:
    rng = random.Random(42)
    raw = [record(rng, i) for i in range(n)]
    t = time.perf_counter()
    loaded = [load_record(r) for r in raw]
    print(f"parse JSON -> patient graphs:        {rate(n, time.perf_counter() - t)}")
    at = resolve_at(AT)
    inputs = [PatientInput(r.iri, r.graph, at) for r in loaded]
    derive(inputs[:10])  # warm caches (ontology, rules, queries)
    t = time.perf_counter()
    rows = derive(inputs, engine="oxigraph")
    print(f"derivation, oxigraph, one chunk:     {rate(n, time.perf_counter() - t)}"
          f" ({len(rows.reasons):,} reasons)")
    t = time.perf_counter()
    for start in range(0, n, 500):
        derive(inputs[start:start + 500], engine="oxigraph")
    print(f"derivation, oxigraph, chunks of 500: {rate(n, time.perf_counter() - t)}")
    few = min(n, 10)
    t = time.perf_counter()
    derive(inputs[:few], engine="rdflib")
    print(f"derivation, rdflib (reference):      {rate(few, time.perf_counter() - t)}")
    shapes = shape_graph("patient.shapes.ttl")
    t = time.perf_counter()
    for r in loaded[:few]:
        validate(r, at=AT, shapes=shapes)
    print(f"validation, pySHACL record shapes:   {rate(few, time.perf_counter() - t)}")
    t = time.perf_counter()
    for r in raw[:few]:
        assess(r, at=AT)
    print(f"assess(), one record at a time:      {rate(few, time.perf_counter() - t)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
