"""The public API for integrators: typed errors only, Literal types that match the ontology,
type hints that resolve, and a package that type-checks under ``mypy --strict``."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest

import kgmassage
from kgmassage import assess, decide, validate
from kgmassage.assessment import Assessment, Decision, Reason, Side, Status, status_order
from kgmassage.engine import EngineName
from kgmassage.errors import (
    KgMassageError,
    ParameterError,
    RecordError,
    UnknownDecisionError,
)

ROOT = Path(__file__).resolve().parents[1]
AT = "2026-11-20T10:00:00Z"


def test_status_literal_is_the_ontologys_statuses_in_order() -> None:
    assert typing.get_args(Status) == status_order()


def test_side_and_engine_literals() -> None:
    assert typing.get_args(Side) == ("left", "right")
    assert typing.get_args(EngineName) == ("oxigraph", "rdflib")


@pytest.mark.parametrize("obj", [assess, decide, validate, kgmassage.assess_many,
                                 Assessment.decision, Decision, Reason, Assessment])
def test_type_hints_resolve_on_the_public_api(obj: object) -> None:
    hints = typing.get_type_hints(obj)
    assert hints  # every public callable and record type is annotated


def test_decision_fields_are_literal_typed() -> None:
    hints = typing.get_type_hints(Decision)
    assert hints["status"] == Status
    assert hints["side"] == Side
    assert typing.get_type_hints(Reason)["status"] == Status


def test_unknown_decision_is_a_typed_error_and_still_a_key_error() -> None:
    assessment = assess({"id": "p"}, at=AT)
    with pytest.raises(UnknownDecisionError) as caught:
        assessment.decision("Petrissage", "Patella", "left")  # not in the catalogue
    assert isinstance(caught.value, KgMassageError)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value).startswith("no decision on Petrissage, Patella, left")


@pytest.mark.parametrize("call", [
    lambda: assess({"id": "p"}, at="yesterday"),
    lambda: assess({"id": "p"}, at=AT, engine="sparkle"),  # type: ignore[arg-type]
    lambda: decide({"id": "p"}, "Petrissage", "Quadriceps", "middle",  # type: ignore[arg-type]
                   at=AT),
    lambda: validate({"id": "p"}, at="2026-13-01"),
    lambda: validate({"id": "p"}, at=AT, engine="sparkle"),  # type: ignore[arg-type]
])
def test_bad_arguments_raise_parameter_errors(call: typing.Callable[[], object]) -> None:
    with pytest.raises(ParameterError):
        call()


def test_deeply_nested_record_is_a_record_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"id": "p", "conditions": ' + "[" * 100_000 + "]" * 100_000 + "}",
                    encoding="utf-8")
    with pytest.raises(RecordError, match="deep.json"):
        assess(deep, at=AT)


def test_package_passes_mypy_strict() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "-p", "kgmassage"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_installed_package_is_visible_to_type_checkers(tmp_path: Path) -> None:
    """From outside the checkout, mypy sees the installed package's annotations (not Any)."""
    script = tmp_path / "use.py"
    script.write_text(
        "from kgmassage import assess\n"
        "a = assess({'id': 'p'})\n"
        "reveal_type(a.decisions[0].status)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(script)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert ("Revealed type is \"Literal['permitted'] | Literal['caution'] | "
            "Literal['requires-clearance'] | Literal['forbidden']\"") in done.stdout, (
        done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout
