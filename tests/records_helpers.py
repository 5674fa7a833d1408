"""Shared helpers of the record and validation tests (paths, cached validations)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kgmassage import resources
from kgmassage.records import PatientRecord, iter_records
from kgmassage.validation import ValidationReport, validate

__all__ = [
    "ROOT",
    "EXAMPLES",
    "RECORDS",
    "SHAPES_NS",
    "patient_shapes",
    "records_of",
    "validated",
    "own_results",
]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RECORDS = ROOT / "tests" / "data" / "records"
#: Namespace of the record-validity shapes (shapes/patient.shapes.ttl).
SHAPES_NS = "https://w3id.org/kgmassage/shapes#"
#: The source article's section headings, in order (every dcterms:source names one).
HEADINGS = (
    "Is Massage Good for Knee Pain?",
    "The Biological Mechanism of Pain Relief",
    "Targeted Massage Techniques for Knee Support",
    "Safety Considerations and Contraindications",
    "Absolute Contraindications",
    "Medical Clearance and Caution",
)


def patient_shapes():
    """The record-validity shapes only (fast: no contraindication checks)."""
    return resources.record_shapes_graph()


def records_of(path: Path) -> list[PatientRecord]:
    """Every record of a file; fails the test if one cannot be read."""
    found = []
    for item in iter_records(path):
        assert isinstance(item, PatientRecord), str(item)
        found.append(item)
    return found


@cache
def validated(path: Path, *, all_shapes: bool = False) -> tuple[ValidationReport, ...]:
    """The validation of every record of ``path`` (cached for the whole test session)."""
    shapes = None if all_shapes else patient_shapes()
    return tuple(validate(record, shapes=shapes) for record in records_of(path))


def own_results(report: ValidationReport) -> set[tuple[str, str | None, str]]:
    """``(severity, field, shape local name)`` of the results of the record-validity shapes."""
    return {
        (r.severity, r.field, r.shape[len(SHAPES_NS):])
        for r in report.results
        if r.shape and r.shape.startswith(SHAPES_NS)
    }
