"""Differential test of Turtle input: the engine on a generated Turtle record against
``tests/spec_model.py`` on its JSON twin (``tests/turtle_gen.py``).

Run: ``.venv/bin/pytest tests/test_turtle_differential.py`` (``KGM_DIFF_EXAMPLES=1000`` for a
longer run).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))

from spec_model import model_assess  # noqa: E402
from test_differential import differences, engine_result  # noqa: E402
from turtle_gen import AT, records  # noqa: E402

import kgmassage  # noqa: E402

N = int(os.environ.get("KGM_DIFF_EXAMPLES", "150"))


@settings(derandomize=True, max_examples=N, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records())
def test_engine_on_turtle_agrees_with_the_model_on_its_json_twin(case: tuple[str, str]) -> None:
    turtle, record = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "record.ttl"
        path.write_text(turtle, encoding="utf-8")
        try:
            engine = engine_result(kgmassage.assess(path, at=AT))
        except kgmassage.RecordError as error:
            engine = (str(error), None, {}, [])
    diffs = differences(model_assess(record, AT), engine)
    assert not diffs, f"\nturtle:\n{turtle}\nrecord: {record}\n" + "\n".join(diffs[:6])
