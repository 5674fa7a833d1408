"""kgmassage: a clinical decision-support knowledge graph for massage therapy for knee pain.

The ontology, SHACL shapes and SPARQL queries ship inside the package; the Python API loads
them, turns patient records into graphs, validates them and derives, for every intervention
(technique x target x side), whether it is permitted, needs caution, needs medical clearance,
or is forbidden, with the reasons and their source.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kgmassage")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from .assessment import Assessment, Decision, Reason, assess, assess_many, decide
from .errors import (
    KgMassageError,
    NonConformingRecordError,
    ParameterError,
    QueryError,
    RecordError,
    UnknownDecisionError,
    UnknownTermError,
)
from .knowledge import KnowledgeBase, QueryResult
from .records import PatientRecord, iter_records, load_record
from .validation import ValidationReport, ValidationResult, validate

__all__ = [
    "__version__",
    "assess",
    "assess_many",
    "decide",
    "validate",
    "load_record",
    "iter_records",
    "KnowledgeBase",
    "QueryResult",
    "Assessment",
    "Decision",
    "Reason",
    "PatientRecord",
    "ValidationReport",
    "ValidationResult",
    "KgMassageError",
    "RecordError",
    "QueryError",
    "NonConformingRecordError",
    "ParameterError",
    "UnknownDecisionError",
    "UnknownTermError",
]
