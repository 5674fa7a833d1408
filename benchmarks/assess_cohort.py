"""Throughput of kgmassage on a synthetic cohort (placeholder until the benchmark of the engine
rewrite lands: see benchmarks/README).

Usage: python benchmarks/assess_cohort.py [N]   (default N = 1000)
"""

from __future__ import annotations

import random
import sys
import time

from kgmassage.assessment import assess_many

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


def main(n: int) -> None:
    rng = random.Random(42)
    raw = [record(rng, i) for i in range(n)]
    t = time.perf_counter()
    done = sum(1 for _ in assess_many(raw, at=AT))
    seconds = time.perf_counter() - t
    print(f"assess_many: {done} patients in {seconds:.2f} s = {done / seconds:,.0f} patients/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
