"""SHACL validation of patient records against every shape the package ships.

The record's patient graph, plus its evaluation context (:func:`kgmassage.timeline.add_context`:
the assessment time and a normalised reading of each date) and the ontology, is validated with
pySHACL against :func:`kgmassage.resources.shapes_graph` (record validity and contraindication
shapes). Only results about the record's own nodes are reported, each with the JSON field it
concerns (``conditions[0].side``).

>>> report = validate({"id": "p-1", "conditions": [{"type": "KneePain", "side": "lfet"}]})
>>> report.conforms, report.results[0].field
(False, 'conditions[0].side')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH, XSD
from rdflib.paths import Path as RdfPath

from . import resources
from .engine import Engine, EngineName, default_engine
from .errors import cut, spelled
from .namespaces import KM, KM_IRI
from .records import (
    ITEM_IRI,
    JSON_KEYS,
    LISTS,
    PatientRecord,
    keep_lexical_forms,
    load_record,
    record_graph,
    unskolemized,
)
from .shacl_sparql import CompiledShape, message_for
from .timeline import resolve_at

__all__ = ["SEVERITIES", "ValidationResult", "ValidationReport", "validate", "json_field"]

#: Result severities, most severe first.
SEVERITIES = ("Violation", "Warning", "Info")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class ValidationResult:
    """One SHACL result, about one field of the record.

    Attributes:
        severity: ``"Violation"``, ``"Warning"`` or ``"Info"``.
        focus: the node the result is about (an IRI, or a blank node id).
        path: the property concerned (its IRI), if any.
        value: the offending value (lexical form or IRI), if any.
        message: what is wrong and what to do, for a clinician.
        shape: the shape that produced the result (its IRI, or a blank node id).
        field: the JSON path of the field concerned (``conditions[0].side``), when known.
    """

    severity: str
    focus: str
    path: str | None
    value: str | None
    message: str
    shape: str | None
    field: str | None
    rules: tuple[str, ...] = dc_field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (``rules`` only on the checks of plans)."""
        out = asdict(self)
        if not self.rules:
            del out["rules"]
        else:
            out["rules"] = list(self.rules)
        return out


@dataclass(frozen=True)
class ValidationReport:
    """The validation of one patient record.

    Attributes:
        record: the patient id (``None`` when the record has none).
        source: the file (or ``<dict>``, ``<stdin>``, ``<graph>``) the record came from.
        conforms: ``False`` only when there is a result of severity Violation.
        results: the results, sorted by severity, field and message.
        graph: the standard SHACL validation report graph (only this record's results).
        line: the line the record starts on in its source, when known.
        at: the assessment time the dates were checked against (ISO 8601, UTC).
    """

    record: str | None
    source: str
    conforms: bool
    results: tuple[ValidationResult, ...]
    graph: Graph = field(compare=False, repr=False)
    line: int | None = None
    at: str | None = None

    def count(self, severity: str) -> int:
        """How many results have this severity."""
        return sum(1 for r in self.results if r.severity == severity)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (without the RDF graph)."""
        return {
            "record": self.record,
            "source": self.source,
            "line": self.line,
            "at": self.at,
            "conforms": self.conforms,
            "results": [r.to_dict() for r in self.results],
        }


# --- fields ---------------------------------------------------------------------------------


def _node_field(graph: Graph, patient: URIRef, node: Any) -> str | None:
    """The JSON path of a record node: ``""`` for the patient, ``conditions[0]``, ``….code``."""
    if node == patient:
        return ""
    text = str(node)
    if isinstance(node, URIRef):
        match = ITEM_IRI.match(text)
        if match and match.group("patient") == str(patient):
            return f"{match.group('list')}[{match.group('index')}]"
        item, _, rest = text.rpartition("/code")
        if item and (rest == "" or rest[1:].isdigit()):
            match = ITEM_IRI.match(item)
            if match and match.group("patient") == str(patient):
                suffix = f"[{rest[1:]}]" if rest else ""
                return f"{match.group('list')}[{match.group('index')}].code{suffix}"
    for name, prop in LISTS.items():
        if (patient, prop, node) in graph:
            return f"{name}[?]"
    for coded in graph.subjects(KM.code, node):
        base = _node_field(graph, patient, coded)
        if base:
            return f"{base}.code"
    return None


def json_field(
    graph: Graph, patient: URIRef, focus: Any, path: Any = None, value: Any = None
) -> str | None:
    """The JSON path of a result on ``focus`` / ``path``, e.g. ``conditions[0].side``.

    Items of a JSON record (``<patient>/<list>/<i>``) get their index; other items (blank nodes
    of a Turtle record) get ``[?]``. ``None`` when the node is not part of the record.

    >>> p = URIRef("urn:kgmassage:patient:p-1")
    >>> json_field(Graph(), p, URIRef(p + "/conditions/0"), KM.side)
    'conditions[0].side'
    """
    base = _node_field(graph, patient, focus)
    if base is None:
        return None
    key: str | None = None
    if path == KM.unrecognizedEntry:
        return base or None
    if path in (KM.unrecognizedField, KM.unrecognizedContent):
        value = value if value is not None else graph.value(focus, path)
    if path in (KM.unrecognizedField, KM.unrecognizedContent) and value is not None:
        key = str(value).partition("=")[0]
    elif isinstance(path, URIRef):
        key = JSON_KEYS.get(path) or re.split(r"[#/:]", str(path).rstrip("/#"))[-1]
    if key is None:
        return base or None
    return f"{base}.{key}" if base else key


# --- pySHACL report → results ---------------------------------------------------------------


def _node_text(node: Any) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        return f"_:{node}"
    return unskolemized(str(node))


def _path_text(graph: Graph, path: Any) -> str | None:
    """A result path as text: an IRI, or a SPARQL property path for a complex path."""
    if path is None:
        return None
    if isinstance(path, URIRef):
        return str(path)
    if isinstance(path, RdfPath):  # pragma: no cover - pySHACL reports paths as nodes
        return path.n3()
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return f"^{_path_text(graph, inverse)}"
    for prop, mark in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = graph.value(path, prop)
        if inner is not None:
            return f"({_path_text(graph, inner)}){mark}"
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(_path_text(graph, p) or "" for p in graph.items(alternatives))
    if (path, RDF.first, None) in graph:
        return "/".join(_path_text(graph, p) or "" for p in graph.items(path))
    return _node_text(path)


def _message(graph: Graph, result: Any) -> str:
    messages = sorted(graph.objects(result, SH.resultMessage), key=str)
    for message in messages:
        if isinstance(message, Literal) and message.language in (None, "en"):
            return str(message)
    return str(messages[0]) if messages else ""


def _copy_closure(source: Graph, target: Graph, node: Any) -> None:
    """Copy ``node``'s triples into ``target``, following blank nodes."""
    stack, seen = [node], {node}
    while stack:
        subject = stack.pop()
        for pred, obj in source.predicate_objects(subject):
            target.add((subject, pred, obj))
            if isinstance(obj, BNode) and obj not in seen:
                seen.add(obj)
                stack.append(obj)


def _cut_field(name: str | None) -> str | None:
    return None if name is None else cut(name)


def _sort_key(result: ValidationResult) -> tuple[Any, ...]:
    return (
        _RANK.get(result.severity, len(SEVERITIES)),
        result.field or "",
        result.message,
        result.path or "",
        result.value or "",
        result.focus,
    )


def _read_report(
    shacl: Graph, record: PatientRecord, graph: Graph
) -> tuple[tuple[ValidationResult, ...], Graph, bool]:
    # the record's nodes, even those that say nothing (an empty item: "conditions": [{}])
    own_nodes = {*graph.subjects(), *map(URIRef, record.nodes)}
    report = Graph()
    for prefix, namespace in shacl.namespaces():
        report.bind(prefix, namespace, override=False)
    report_node = BNode()
    report.add((report_node, RDF.type, SH.ValidationReport))
    results: list[ValidationResult] = []
    for node in shacl.subjects(RDF.type, SH.ValidationResult):
        focus = shacl.value(node, SH.focusNode)
        if focus not in own_nodes:
            continue  # evaluation context or knowledge base, not the record
        severity_node = shacl.value(node, SH.resultSeverity)
        severity = str(severity_node).rpartition("#")[2] if severity_node is not None else ""
        path = shacl.value(node, SH.resultPath)
        value = shacl.value(node, SH.value)
        shape = shacl.value(node, SH.sourceShape)
        results.append(
            ValidationResult(
                severity=severity,
                focus=cut(_node_text(focus) or ""),
                path=_path_text(shacl, path),
                value=None if value is None else cut(_node_text(value) or ""),
                message=_message(shacl, node),
                shape=_node_text(shape),
                field=_cut_field(json_field(graph, record.iri, focus, path, value)),
            )
        )
        report.add((report_node, SH.result, node))
        _copy_closure(shacl, report, node)
    conforms = not any(r.severity == "Violation" for r in results)
    report.add((report_node, SH.conforms, Literal(conforms)))
    return tuple(sorted(results, key=_sort_key)), report, conforms


# --- results of the compiled shapes (the engine) ---------------------------------------------


class _LazyGraph:
    """A record's rdflib graph, parsed only if a field cannot be named from the IRIs alone."""

    def __init__(self, record: PatientRecord) -> None:
        self._record = record

    def __contains__(self, triple: Any) -> bool:
        return triple in self._record.data_graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record.data_graph, name)


def results_from_rows(shapes: Sequence[CompiledShape], record: PatientRecord,
                      rows: Iterable[Mapping[str, Any]]) -> tuple[ValidationResult, ...]:
    """The validation results of ``record`` from the rows of the compiled shapes."""
    graph: Any = _LazyGraph(record)
    found = []
    for row in rows:
        shape = shapes[row["shape"]]
        focus, path, value = row["focus"], row.get("path"), row.get("value")
        found.append(ValidationResult(
            severity=shape.severity,
            focus=cut(_node_text(focus) or ""),
            path=None if path is None else str(path),
            value=None if value is None else cut(_node_text(value) or ""),
            message=message_for(shape, row),
            shape=unskolemized(shape.shape),
            field=_cut_field(json_field(graph, record.iri, focus, path, value)),
        ))
    return tuple(sorted(found, key=_sort_key))


def report_graph(results: Iterable[ValidationResult], conforms: bool) -> Graph:
    """The standard SHACL validation report graph of ``results``."""
    graph = Graph()
    graph.bind("sh", str(SH))
    graph.bind("km", KM_IRI)
    node = BNode()
    graph.add((node, RDF.type, SH.ValidationReport))
    graph.add((node, SH.conforms, Literal(conforms)))
    for result in results:
        entry = BNode()
        graph.add((node, SH.result, entry))
        graph.add((entry, RDF.type, SH.ValidationResult))
        graph.add((entry, SH.focusNode, _term_of(result.focus)))
        graph.add((entry, SH.resultSeverity, SH[result.severity]))
        graph.add((entry, SH.resultMessage, Literal(result.message)))
        if result.shape:
            graph.add((entry, SH.sourceShape, _term_of(result.shape)))
        if result.path:
            graph.add((entry, SH.resultPath, URIRef(result.path)))
        if result.value is not None:
            graph.add((entry, SH.value, Literal(result.value)))
        for rule in result.rules:
            graph.add((entry, KM.rule, URIRef(rule)))
    return graph


def _term_of(text: str) -> URIRef | BNode:
    return BNode(text[2:]) if text.startswith("_:") else URIRef(text)


# --- validate -------------------------------------------------------------------------------


def validation_data(record: PatientRecord, at: datetime) -> Graph:
    """The data graph the record shapes check: the knowledge base, the record (blank nodes
    skolemized), its evaluation context and its classification facts (what the engine's
    classification stages derive: the classes of its items, its unrecognized content, …)."""
    engine = default_engine()
    chunk = engine.chunk([(record, at)])
    data = resources.copy_graph(resources.rules_graph())
    with keep_lexical_forms():
        data.parse(data=chunk.ntriples, format="nt")
    for row in engine.classify(chunk):
        subj, pred, value = (row[key] or "" for key in ("s", "p", "o"))
        obj = URIRef(value) if row["iri"] == "true" else Literal(
            value, datatype=XSD.boolean if pred == str(KM.recognized) else None)
        data.add((URIRef(subj), URIRef(pred), obj))
    return data


def check_record(record: PatientRecord, at: datetime, shapes: Graph | None = None
                 ) -> tuple[tuple[ValidationResult, ...], Graph]:
    """The results of the record shapes (default: :func:`resources.record_shapes_graph`) for
    ``record`` at ``at``, with the standard SHACL report graph (pySHACL)."""
    import pyshacl  # the reference engine only: not loaded on the fast path

    try:
        with keep_lexical_forms():
            _, shacl, _ = pyshacl.validate(
                validation_data(record, at),
                shacl_graph=resources.record_shapes_graph() if shapes is None else shapes,
                inference="none",
                advanced=True,
                allow_warnings=True,
                inplace=True,
            )
    except re.error:  # pySHACL puts a result's values into its message as re.sub templates
        unworded = ValidationResult(
            severity="Violation", focus=str(record.iri), path=None, value=None, shape=None,
            field=None, message="A value of this record holds a backslash (\\), which the "
            "reference validator (pySHACL) cannot put into its messages, so it reports "
            "nothing else: validate the record with the default engine to see each problem. "
            "Until then the record counts as not conforming.")
        return (unworded,), report_graph([unworded], conforms=False)
    results, report, _ = _read_report(shacl, record, record_graph(record.ntriples))
    return results, report


#: Decision status → the shape (shapes/contraindications.shapes.ttl) and severity of a plan check.
_PLAN_SHAPES = {"forbidden": (URIRef(KM_IRI + "PlanForbiddenShape"), "Violation"),
                "requires-clearance": (URIRef(KM_IRI + "PlanRequiresClearanceShape"), "Warning"),
                "caution": (URIRef(KM_IRI + "PlanCautionShape"), "Info")}


def plan_results(record: PatientRecord, decisions: Iterable[Any]) -> list[ValidationResult]:
    """Each planned intervention by the decision the engine reaches for it: a result of
    severity Violation (forbidden), Warning (requires clearance) or Info (caution), its shape
    the plan shape of that status, its ``rules`` the rules that decided it."""
    found = []
    graph: Any = _LazyGraph(record)
    for decision in decisions:
        if not decision.planned or decision.status not in _PLAN_SHAPES:
            continue
        shape, severity = _PLAN_SHAPES[decision.status]
        standing = [r for r in decision.reasons if not r.lifted and r.status == decision.status]
        # a name the knowledge base does not know as spelled (a look-alike letter shows)
        technique = (decision.technique if decision.technique_iri is not None
                     else spelled(decision.technique or "(no technique)"))
        target = (decision.target if decision.target_iri is not None
                  else spelled(decision.target or "(no target)"))
        what = f"Planned {technique} on {target}, {decision.side}: {decision.status}"
        message = what + " — " + " ".join(f"{r.rule}: {r.message}" for r in standing)
        for plan in decision.plans:
            found.append(ValidationResult(
                severity=severity, focus=unskolemized(plan), path=None, value=None,
                message=message, shape=str(shape),
                field=json_field(graph, record.iri, URIRef(plan)),
                rules=tuple(sorted({r.rule_iri for r in standing}))))
    return found


def validate(
    record: Mapping[str, Any] | str | os.PathLike[str] | Graph | PatientRecord,
    *,
    at: datetime | str | None = None,
    shapes: Graph | None = None,
    engine: EngineName | Engine = "oxigraph",
) -> ValidationReport:
    """Validate one patient record: its shapes, and its planned interventions by the rules.

    Args:
        record: a JSON object, a path to a file holding one record, a patient graph, or a
            :class:`~kgmassage.records.PatientRecord`.
        at: the assessment time dates are checked against: this, else the record's
            ``assessed_at``, else now (UTC). A date-time without offset is UTC.
        shapes: SHACL shapes to check (with pySHACL) instead of the package's record shapes;
            planned interventions are then not checked against the rules.
        engine: ``"oxigraph"``: the record shapes compiled to SPARQL, run by the decision
            engine; ``"rdflib"``: the reference, pySHACL and the rdflib engine (both give the
            same results); or an :class:`~kgmassage.engine.Engine` built once and reused, as
            for :func:`~kgmassage.assess`.

    Raises:
        RecordError: the record cannot be read (or the source holds more than one).
        ParameterError: ``at`` is a string that is not an xsd:date or xsd:dateTime.
    """
    from .assessment import run_assessments

    rec = load_record(record, at=None if at is None else resolve_at(at))
    when = resolve_at(at, rec.assessed_at)
    if shapes is not None:
        results, report = check_record(rec, when, shapes)
        conforms = not any(r.severity == "Violation" for r in results)
    else:
        (assessment,) = run_assessments([rec], [when], engine)
        results = tuple(sorted((*assessment.validation,
                                *plan_results(rec, assessment.decisions)), key=_sort_key))
        conforms = not any(r.severity == "Violation" for r in results)
        report = report_graph(results, conforms)
    return ValidationReport(
        record=rec.id,
        source=rec.source,
        conforms=conforms,
        results=results,
        graph=report,
        line=rec.line,
        at=when.isoformat().replace("+00:00", "Z"),
    )
