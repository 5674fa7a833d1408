"""One table of kgmassage's speed, from one run on one machine (figures for the README).

Usage: python benchmarks/bench.py [SIZE ...] [--jobs N]   (default sizes: 1000 10000 100000)

For seeded synthetic cohorts (NDJSON, 3 conditions, 1 finding, 1 clearance, 2 plans at most per
patient; some records with defects) it measures, end to end as a user runs it (a fresh
``kgmassage assess --format ndjson --out`` process: reading, validation, every decision with
its reasons, writing):

* the fast path (pyoxigraph; record shapes compiled to SPARQL), on 1 process and on ``--jobs``;
* the reference (``--engine rdflib``: rdflib and pySHACL), on a sample;
* pySHACL alone, one record at a time (record validity only), on a sample;
* a plain-Python reading of the rules (``tests/spec_model.py``, the test oracle) on the cohort;

with patients/s, peak RSS, and the agreement of the decisions (fast vs reference and vs the
plain-Python reading). Also the p50 of one warm ``assess()`` in a process of its own, and the
time of ``kgmassage assess`` and ``kgmassage validate`` of one record as fresh processes. Not a
test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T10:00:00Z"
TYPES = ["DeepVeinThrombosis", "PulmonaryEmbolism", "Fracture", "SevereSprain", "OpenWound",
         "Cellulitis", "Rash", "Osteoarthritis", "SevereOsteoporosis", "KneePain", "Fever",
         "Warmth", "JointSwelling", "TotalKneeReplacement", "Gout"]
SIDES = [None, "left", "right", "bilateral", "lfet"]
SITES = [None, "Hip", "Thigh", "Knee", "LowerLeg", "Patella"]
DATES = [None, "2026-11-19", "2026-11-10T08:00:00Z", "2026-09-01", "2024-05-05", "2026-11-31"]
TECHNIQUES = ["Effleurage", "Petrissage", "MyofascialRelease", "FoamRolling", "MassageBall",
              "knee cap massage"]
TARGETS = ["Quadriceps", "Hamstrings", "Patella", "KneeJoint", "IT band"]
SAMPLE = 30


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
        "clearances": [{"date": "2026-11-15", "issued_by": "GP"}] if rng.random() < 0.3 else [],
        "planned": [{"technique": rng.choice(TECHNIQUES), "target": rng.choice(TARGETS),
                     "side": rng.choice(SIDES[1:4])} for _ in range(rng.randint(0, 2))],
    }


def cohort(size: int, folder: Path) -> Path:
    path = folder / f"cohort-{size}.ndjson"
    rng = random.Random(size)
    with path.open("w", encoding="utf-8") as out:
        for i in range(size):
            out.write(json.dumps(record(rng, i)) + "\n")
    return path


def run_cli(path: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the process and its workers) of one ``kgmassage assess``."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=False, stderr=subprocess.DEVNULL); "
             "print(time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    command = [sys.executable, "-m", "kgmassage", "assess", str(path), "--format", "ndjson",
               "--out", str(out), "--at", AT, *extra]
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                          text=True, check=True)
    seconds, rss = done.stdout.split()
    return float(seconds), int(rss) / 1024


#: Times one warm ``assess()`` of each sample record, three times, in a fresh process: the
#: benchmark's own process holds gigabytes of decisions, which is no user's process.
WARM = """
import json, sys, time
from kgmassage import assess
records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assess(records[0])
times = []
for one in records * 3:
    started = time.perf_counter()
    assess(one)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def warm_assess_times(sample: Path) -> list[float]:
    done = subprocess.run([sys.executable, "-c", WARM, str(sample)], capture_output=True,
                          text=True, check=True)
    return [float(t) for t in json.loads(done.stdout)]


def fresh_process_seconds(command: str, record: Path, runs: int = 5) -> float:
    """Median wall time of ``kgmassage COMMAND RECORD`` as a fresh process (``python -m``)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kgmassage", command, str(record), "--at", AT],
                       capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def decisions(line: str) -> dict:
    data = json.loads(line)
    return {(d["technique"], d["target"], d["side"]): d["status"] for d in data["decisions"]}


def model_decisions(text: str) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from spec_model import model_assess

    result = model_assess(text, AT)
    return {key: status for key, (status, _) in result.decisions.items()}


def agreement(ours: list[dict], theirs: list[dict]) -> str:
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    return f"{same}/{len(ours)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in args.sizes:
            path = cohort(size, folder)
            for jobs in sorted({1, args.jobs}):
                out = folder / f"out-{size}-{jobs}.ndjson"
                seconds, rss = run_cli(path, out, "--jobs", str(jobs))
                rows.append((f"kgmassage fast path, {jobs} process(es)", size, size / seconds,
                             rss, ""))
            lines = path.read_text(encoding="utf-8").splitlines()
            fast = [decisions(line) for line in out.read_text(encoding="utf-8").splitlines()]
            started = time.perf_counter()
            plain = [model_decisions(line) for line in lines]
            rows.append(("plain-Python reading (tests/spec_model.py)", size,
                         size / (time.perf_counter() - started), None,
                         f"fast vs plain: {agreement(fast, plain)}"))
        sample = folder / "sample.ndjson"
        sample.write_text("\n".join(lines[:SAMPLE]) + "\n", encoding="utf-8")
        out = folder / "reference.ndjson"
        seconds, rss = run_cli(sample, out, "--engine", "rdflib")
        reference = [decisions(line) for line in out.read_text(encoding="utf-8").splitlines()]
        rows.append(("kgmassage reference (rdflib + pySHACL)", SAMPLE, SAMPLE / seconds, rss,
                     f"fast vs reference: {agreement(fast[:SAMPLE], reference)}"))
        times = warm_assess_times(sample)
        one = folder / "one.json"
        one.write_text(lines[0], encoding="utf-8")
        fresh = {command: fresh_process_seconds(command, one) for command in ("assess",
                                                                              "validate")}
    from kgmassage import validate
    from kgmassage.resources import record_shapes_graph

    records = [json.loads(line) for line in lines[:SAMPLE]]
    shapes = record_shapes_graph()
    validate(records[0], shapes=shapes)
    started = time.perf_counter()
    for one in records:
        validate(one, shapes=shapes)
    rows.append(("pySHACL alone, one record at a time (record shapes)", SAMPLE,
                 SAMPLE / (time.perf_counter() - started), None, ""))
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()}; one run, "
          f"{time.strftime('%Y-%m-%d')}")
    print()
    print("| what | patients | patients/s | peak RSS (MB) | decisions agree |")
    print("|---|---:|---:|---:|---|")
    for what, size, rate, rss, agree in rows:
        shown_rss = f"{rss:,.0f}" if rss is not None else ""
        print(f"| {what} | {size:,} | {rate:,.0f} | {shown_rss} | {agree} |")
    print()
    print(f"One warm `assess()` in a process of its own (a library user's): p50 "
          f"{statistics.median(times) * 1000:.1f} ms (p90 "
          f"{sorted(times)[int(len(times) * 0.9)] * 1000:.1f} ms), over the {SAMPLE} sample "
          f"records three times. The benchmark's own process, which holds every decision of the "
          f"largest cohort to compare them, peaked at {own_rss:,.0f} MB. As a fresh process, "
          f"`kgmassage assess one.json` takes {fresh['assess']:.2f} s and `kgmassage validate "
          f"one.json` {fresh['validate']:.2f} s (median of 5 runs).")


if __name__ == "__main__":
    main()
