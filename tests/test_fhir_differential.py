"""Differential test of FHIR input: the engine on a generated Bundle against
``tests/spec_model.py`` on the record a plain reading of the spec makes of it
(``tests/fhir_gen.py``).

Run: ``.venv/bin/pytest tests/test_fhir_differential.py`` (``KGM_DIFF_EXAMPLES=1000`` for a
longer run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))

from fhir_gen import AT, bundles  # noqa: E402
from spec_model import model_assess  # noqa: E402

import kgmassage  # noqa: E402

N = int(os.environ.get("KGM_DIFF_EXAMPLES", "150"))


def differences(bundle: str, record: str) -> list[str]:
    """Where the engine's statuses for the Bundle differ from the model's for the record."""
    import json

    model = model_assess(record, AT)
    assert model.refused is None, model.refused
    engine = {(d.technique, d.target, d.side): d for d in
              kgmassage.assess(json.loads(bundle), at=AT).decisions}
    out = []
    if set(engine) != set(model.decisions):
        out.append(f"decision keys: engine only {sorted(set(engine) - set(model.decisions))}; "
                   f"model only {sorted(set(model.decisions) - set(engine))}")
    for key in sorted(set(engine) & set(model.decisions), key=str):
        status, reasons = model.decisions[key]
        if engine[key].status != status:
            said = sorted({(r.rule, r.status, r.lifted, r.item) for r in engine[key].reasons})
            out.append(f"{key}: engine={engine[key].status} model={status}\n"
                       f"   engine reasons: {said}\n   model reasons: {sorted(reasons)}")
    return out


@settings(derandomize=True, max_examples=N, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundles())
def test_engine_on_a_bundle_agrees_with_the_model_on_its_plain_reading(
        case: tuple[str, str]) -> None:
    bundle, record = case
    diffs = differences(bundle, record)
    assert not diffs, f"\nbundle: {bundle}\nrecord: {record}\n" + "\n".join(diffs[:6])
