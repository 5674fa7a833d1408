"""Assessments: decisions for every intervention of a patient, with their reasons.

:func:`assess` validates a record and runs the derivation (:mod:`kgmassage.derivation`); this
module only aggregates what the queries found, generically: an intervention's status is the most
severe (``km:severityRank``) of its reasons that no clearance lifted, ``permitted`` when none
applies. Status names, ranks, rule messages and sources all come from the ontology and the rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, SKOS

from .derivation import Derivation, PatientInput, derive
from .errors import KgMassageError, NonConformingRecordError, ParameterError, RecordError, cut
from .namespaces import KM, KM_IRI, local_name
from .records import PatientRecord, iter_records, load_record
from .resources import ontology_graph, record_shapes_graph
from .timeline import parse_instant, resolve_at
from .validation import ValidationReport, ValidationResult, validate
from .vocabulary import target_named, technique_named

__all__ = [
    "side_names",
    "status_names",
    "status_order",
    "Reason",
    "Decision",
    "Assessment",
    "assess",
    "assess_many",
    "decide",
    "knowledge_version",
]


@dataclass(frozen=True)
class Reason:
    """One rule that applied to an intervention.

    Attributes:
        rule: the rule id, e.g. ``"DVT"``.
        status: what the rule alone says (``"forbidden"``, ``"requires-clearance"``, …).
        lifted: whether a clearance lifted it (only ``requires-clearance`` can be lifted).
        message: the explanation for a clinician.
        source: the section of the source article the rule comes from.
        item: the record item that triggered the rule (``"conditions[0]"``), if any.
        since: the time the rule counts from (the item's onset, recorded time or procedure
            date, UTC; a date alone stands for the end of its day; else the assessment time).
        lifted_by: the clearances that lifted it (``"clearances[0]"``).
        rule_iri: the rule's IRI (``km:RuleDVT``).
        item_iri: the triggering item's node in the patient graph.
        alternatives: targets to work instead, when the rule names them (ITB-DIRECT).
    """

    rule: str
    status: str
    lifted: bool
    message: str
    source: str
    item: str | None = None
    since: str | None = None
    lifted_by: tuple[str, ...] = ()
    rule_iri: str = field(default="", repr=False)
    item_iri: str | None = field(default=None, repr=False)
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "lifted": self.lifted,
            "message": self.message,
            "source": self.source,
            "item": self.item,
            "since": self.since,
            "lifted_by": list(self.lifted_by),
        }


@dataclass(frozen=True)
class Decision:
    """The decision for one intervention (technique x target x side).

    ``technique`` and ``target`` are local names; a planned intervention's unknown name is the
    text given, a missing one ``None``.
    """

    technique: str | None
    target: str | None
    side: str
    status: str
    reasons: tuple[Reason, ...] = ()
    alternatives: tuple[str, ...] = ()
    planned: bool = False
    technique_iri: str | None = field(default=None, repr=False, compare=False)
    target_iri: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "target": self.target,
            "side": self.side,
            "status": self.status,
            "reasons": [r.to_dict() for r in self.reasons],
            "alternatives": list(self.alternatives),
            "planned": self.planned,
        }


@dataclass(frozen=True)
class Assessment:
    """Every decision for one patient at one assessment time, with its audit data."""

    patient: str | None
    assessed_at: datetime
    knowledge_version: str
    input_digest: str
    conforms: bool
    validation: tuple[ValidationResult, ...]
    decisions: tuple[Decision, ...]
    source: str = ""
    patient_iri: str = field(default="", repr=False)

    @property
    def summary(self) -> dict[str, int]:
        """Number of decisions per status, least severe first."""
        counts = dict.fromkeys(status_order(), 0)
        for decision in self.decisions:
            counts[decision.status] += 1
        return counts

    def decision(self, technique: str | None, target: str | None, side: str) -> Decision:
        """The decision for one intervention; ``KeyError`` if it was not assessed."""
        for d in self.decisions:
            if (d.technique, d.target, d.side) == (technique, target, side):
                return d
        raise KeyError((technique, target, side))

    def to_dict(self) -> dict[str, Any]:
        """The assessment JSON object of the public interface."""
        return {
            "patient": self.patient,
            "assessed_at": self.assessed_at.isoformat(),
            "knowledge_version": self.knowledge_version,
            "input_digest": self.input_digest,
            "conforms": self.conforms,
            "validation": [r.to_dict() for r in self.validation],
            "decisions": [d.to_dict() for d in self.decisions],
            "summary": self.summary,
        }


# ------------------------------------------------------------------ vocabulary views


@cache
def _status_table() -> tuple[dict[str, str], dict[str, int]]:
    """Decision status IRI → JSON name, and name → severity rank (from the ontology)."""
    graph = ontology_graph()
    names: dict[str, str] = {}
    ranks: dict[str, int] = {}
    for status in graph.subjects(RDF.type, KM.DecisionStatus):
        name = str(graph.value(status, SKOS.notation))
        names[str(status)] = name
        ranks[name] = int(graph.value(status, KM.severityRank))
    return names, ranks


def status_names() -> dict[str, str]:
    """Decision status IRI → its JSON name (``km:Forbidden`` → ``"forbidden"``)."""
    return _status_table()[0]


def status_order() -> tuple[str, ...]:
    """Decision status names, least severe first (``permitted`` … ``forbidden``)."""
    _, ranks = _status_table()
    return tuple(sorted(ranks, key=ranks.__getitem__))


@cache
def side_names() -> dict[str, str]:
    """Side IRI → its JSON name (``km:Left`` → ``"left"``), from the ontology."""
    graph = ontology_graph()
    return {str(s): str(graph.value(s, SKOS.notation)) for s in graph.subjects(KM.coversSide, None)}


@cache
def _alternatives() -> dict[str, tuple[str, ...]]:
    graph = ontology_graph()
    found: dict[str, list[str]] = defaultdict(list)
    for target, alternative in graph.subject_objects(KM.alternativeTarget):
        found[str(target)].append(local_name(str(alternative)))
    return {k: tuple(sorted(v)) for k, v in found.items()}


@cache
def knowledge_version() -> str:
    """The knowledge base's version (the ontology's ``owl:versionInfo``)."""
    graph = ontology_graph()
    for ontology in graph.subjects(RDF.type, OWL.Ontology):
        info = graph.value(ontology, OWL.versionInfo)
        if info is not None:
            return str(info)
    from . import __version__

    return __version__


def _instant_text(value: str | None) -> str | None:
    """An ``xsd:dateTime`` lexical form as ISO 8601 in UTC (``2026-11-19T10:00:00+00:00``)."""
    parsed = parse_instant(value) if value else None
    return parsed[0].isoformat() if parsed else value


def _item_path(item: str | None, patient: str) -> str | None:
    """``urn:…:patient:p-1/conditions/0`` → ``conditions[0]``; other nodes as they are."""
    if item is None:
        return None
    if item == patient:
        return "record"
    prefix = patient + "/"
    if item.startswith(prefix):
        parts = item[len(prefix):].split("/")
        if len(parts) == 2 and parts[1].isdigit():
            return f"{parts[0]}[{parts[1]}]"
    return item


# ------------------------------------------------------------------ aggregation


def _decisions(
    derivation_rows: Derivation, patient: str, asked: str | None = None
) -> tuple[Decision, ...]:
    """The decisions of one patient from the rows the derivation found for that patient."""
    names, ranks = _status_table()
    sides = side_names()
    alternatives = _alternatives()
    reasons_by: dict[str, list[Reason]] = defaultdict(list)
    targets: dict[str, str] = {
        row.intervention: row.target for row in derivation_rows.interventions
    }
    for row in derivation_rows.reasons:
        offered = alternatives.get(targets.get(row.intervention, ""), ())
        reasons_by[row.intervention].append(
            Reason(
                rule=row.rule_id,
                status=names[row.status],
                lifted=row.lifted,
                message=row.message,
                source=row.source,
                item=_item_path(row.item, patient),
                since=_instant_text(row.since) if row.item is not None else None,
                lifted_by=tuple(
                    _item_path(c, patient) or c for c in derivation_rows.lifts.get(row.match, ())
                ) if row.lifted else (),
                rule_iri=row.rule,
                item_iri=row.item,
                alternatives=offered if row.offers_alternatives else (),
            )
        )
    planned: dict[str, bool] = {}
    keys: dict[str, tuple[str, str, str]] = {}
    for row in derivation_rows.interventions:
        keys[row.intervention] = (row.technique, row.target, row.side)
        from_plan = row.plan is not None and row.plan != asked
        planned[row.intervention] = planned.get(row.intervention, False) or from_plan
    decisions = []
    lowest = status_order()[0]
    for intervention, (technique, target, side) in keys.items():
        reasons = sorted(
            set(reasons_by.get(intervention, ())),
            key=lambda r: (-ranks[r.status], r.lifted, r.rule, r.item or ""),
        )
        # duplicates of one rule from distinct items stay (set() only drops exact repeats
        # produced by several paths to the same fact)
        standing = [r.status for r in reasons if not r.lifted]
        status = max(standing, key=ranks.__getitem__) if standing else lowest
        decisions.append(
            Decision(
                technique=local_name(technique) or None,
                target=local_name(target) or None,
                technique_iri=technique if technique.startswith(KM_IRI) else None,
                target_iri=target if target.startswith(KM_IRI) else None,
                side=sides.get(side, local_name(side)),
                status=status,
                reasons=tuple(reasons),
                alternatives=tuple(sorted({a for r in reasons for a in r.alternatives})),
                planned=planned[intervention],
            )
        )
    decisions.sort(
        key=lambda d: (d.planned and not _in_catalogue(d), d.technique or "", d.target or "",
                       d.side)
    )
    return tuple(decisions)


@cache
def _catalogue() -> frozenset[tuple[str, str]]:
    graph = ontology_graph()
    return frozenset(
        (local_name(str(t)), local_name(str(g))) for t, g in graph.subject_objects(KM.targets)
    )


def _in_catalogue(decision: Decision) -> bool:
    return (decision.technique, decision.target) in _catalogue()


# ------------------------------------------------------------------ public API


def _assessments(
    records: Sequence[PatientRecord],
    reports: Sequence[ValidationReport],
    ats: Sequence[datetime],
    engine: str,
    asked: str | None = None,
) -> list[Assessment]:
    inputs = [PatientInput(URIRef(r.iri), r.graph, at) for r, at in zip(records, ats, strict=True)]
    rows = derive(inputs, engine=engine).by_patient()
    version = knowledge_version()
    done = []
    for record, report, at in zip(records, reports, ats, strict=True):
        found = rows.get(str(record.iri))
        if found is None:  # never expected: refuse rather than report an empty, "safe" list
            raise KgMassageError(
                f"{record.source}: no intervention could be derived for patient "
                f"{record.id or record.iri}; the record was not assessed"
            )
        done.append(Assessment(
            patient=record.id,
            assessed_at=at,
            knowledge_version=version,
            input_digest=record.digest,
            conforms=report.conforms,
            validation=report.results,
            decisions=_decisions(found, str(record.iri), asked),
            source=record.source,
            patient_iri=str(record.iri),
        ))
    return done


def _record_validity(record: PatientRecord, when: datetime) -> ValidationReport:
    """Validation against the record shapes only: the contraindication checks of planned
    interventions say what the decisions already say, at a much higher cost."""
    return validate(record, at=when, shapes=record_shapes_graph())


def _prepare(
    record: PatientRecord, at: datetime | str | None, strict: bool
) -> tuple[ValidationReport, datetime]:
    when = resolve_at(at, record.assessed_at)
    report = _record_validity(record, when)
    if strict and not report.conforms:
        raise NonConformingRecordError(
            f"{record.source}: record {record.id or record.position} does not conform "
            f"({sum(r.severity == 'Violation' for r in report.results)} violation(s)); "
            "strict mode refuses to assess it"
        )
    return report, when


def assess(
    record: Mapping[str, Any] | str | Path | Graph | PatientRecord,
    *,
    at: datetime | str | None = None,
    strict: bool = False,
    engine: str = "oxigraph",
) -> Assessment:
    """Assess one patient record.

    Args:
        record: a JSON-form dict, a path to a record file (one record), an rdflib Graph, or a
            :class:`~kgmassage.records.PatientRecord`.
        at: the assessment time; default the record's ``assessed_at``, else now (UTC).
        strict: refuse (raise :class:`~kgmassage.errors.NonConformingRecordError`) a record
            with SHACL Violations instead of assessing it fail-safe.
        engine: ``"oxigraph"`` (fast) or ``"rdflib"`` (reference); both give the same result.

    Returns:
        The :class:`Assessment`: every catalogue intervention on both sides plus every planned
        one, each with its status and reasons.

    >>> a = assess({"id": "p-1", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]},
    ...            at="2026-11-20T10:00:00Z")
    >>> a.decision("Petrissage", "Quadriceps", "left").status
    'forbidden'
    >>> a.summary["requires-clearance"]
    19
    """
    loaded = record if isinstance(record, PatientRecord) else load_record(record)
    report, when = _prepare(loaded, at, strict)
    return _assessments([loaded], [report], [when], engine)[0]


def assess_many(
    source: str | Path | Iterable[Mapping[str, Any]],
    *,
    at: datetime | str | None = None,
    strict: bool = False,
    engine: str = "oxigraph",
    chunk_size: int = 500,
) -> Iterator[Assessment | RecordError | NonConformingRecordError]:
    """Assess every record of a file (JSON array, NDJSON, Turtle) or an iterable of dicts.

    Records are derived in chunks of ``chunk_size`` patients, one query run per chunk (two
    records of the same patient never share a chunk: each is assessed on its own data). An
    unreadable record (or, in strict mode, a non-conforming one) is yielded as its error, in
    place, and the others go on.
    """
    items = iter_records(source) if isinstance(source, (str, Path)) else _loaded(source)
    batch: list[tuple[PatientRecord, ValidationReport, datetime]] = []

    def flush() -> list[Assessment]:
        if not batch:
            return []
        done = _assessments(
            [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch], engine
        )
        batch.clear()
        return done

    for item in items:
        if isinstance(item, RecordError):
            yield from flush()
            yield item
            continue
        try:
            report, when = _prepare(item, at, strict)
        except NonConformingRecordError as exc:
            yield from flush()
            yield exc
            continue
        if any(b[0].iri == item.iri for b in batch):
            yield from flush()
        batch.append((item, report, when))
        if len(batch) >= chunk_size:
            yield from flush()
    yield from flush()


def _loaded(objects: Iterable[Mapping[str, Any]]) -> Iterator[PatientRecord | RecordError]:
    for position, obj in enumerate(objects, start=1):
        try:
            yield load_record(obj, name=f"<record {position}>")
        except RecordError as exc:
            yield exc


def decide(
    record: Mapping[str, Any] | str | Path | Graph | PatientRecord,
    technique: str,
    target: str,
    side: str,
    *,
    at: datetime | str | None = None,
    engine: str = "oxigraph",
) -> Decision:
    """The decision for any one intervention, catalogue or not, by the same rules.

    ``technique`` and ``target`` are names of the ontology's terms: local name, label or
    synonym, in any case (``"Petrissage"``, ``"knee cap"``); a name the ontology does not know
    is decided as an unknown technique or target (UNRECOGNIZED). ``side`` is ``"left"`` or
    ``"right"``.

    >>> decide({"id": "p-2"}, "Petrissage", "Patella", "left", at="2026-11-20").status
    'forbidden'
    """
    if side not in ("left", "right"):
        raise ParameterError(f"side must be 'left' or 'right', not {cut(str(side))!r}")
    loaded = record if isinstance(record, PatientRecord) else load_record(record)
    technique_term = technique_named(technique) or Literal(technique)
    target_term = target_named(target) or Literal(target)
    asked, node = _with_plan(loaded, technique_term, target_term, side)
    when = resolve_at(at, loaded.assessed_at)
    report = _record_validity(loaded, when)
    assessment = _assessments([asked], [report], [when], engine, asked=node)[0]
    return assessment.decision(local_name(technique_term), local_name(target_term), side)


def _with_plan(
    record: PatientRecord, technique: URIRef | Literal, target: URIRef | Literal, side: str
) -> tuple[PatientRecord, str]:
    """A copy of ``record`` that also plans the asked intervention, and the asked node."""
    graph = Graph()
    graph += record.graph
    node = URIRef(f"{record.iri}/asked/0")
    graph.add((URIRef(record.iri), KM.hasPlannedIntervention, node))
    graph.add((node, RDF.type, KM.PlannedIntervention))
    graph.add((node, KM.technique, technique))
    graph.add((node, KM.target, target))
    graph.add((node, KM.side, KM.Left if side == "left" else KM.Right))
    return replace(record, graph=graph), str(node)
