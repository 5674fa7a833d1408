"""Assessments: decisions for every intervention of a patient, with their reasons.

:func:`assess` validates a record and runs the derivation (:mod:`kgmassage.derivation`); this
module only aggregates what the queries found, generically: an intervention's status is the most
severe (``km:severityRank``) of its reasons that no clearance lifted, ``permitted`` when none
applies. Status names, ranks, rule messages and sources all come from the ontology and the rules.
"""

from __future__ import annotations

import json
import typing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast, get_args

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from .engine import (
    ChunkRows,
    Engine,
    EngineName,
    Row,
    StageError,
    Tables,
    default_engine,
    runner_name,
)
from .errors import NonConformingRecordError, ParameterError, RecordError, UnknownDecisionError, cut
from .namespaces import KM, local_name, nt_term
from .records import PatientRecord, iter_unread, load_record, unskolemized
from .timeline import parse_instant, resolve_at
from .validation import ValidationResult, check_record, results_from_rows
from .vocabulary import target_named, technique_named

__all__ = [
    "Status",
    "Side",
    "EngineName",
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


#: The decision statuses, least severe first (the ontology's ``km:DecisionStatus`` notations;
#: a test checks they agree).
Status = typing.Literal["permitted", "caution", "requires-clearance", "forbidden"]
#: The sides of an intervention.
Side = typing.Literal["left", "right"]


_STATUSES = frozenset(get_args(Status))
_SIDES = frozenset(get_args(Side))


def _status(name: str) -> Status:
    if name not in _STATUSES:
        raise ParameterError(f"unknown decision status {cut(name)!r}")
    return cast(Status, name)


def _side(name: str) -> Side:
    if name not in _SIDES:
        raise ParameterError(f"side must be 'left' or 'right', not {cut(str(name))!r}")
    return cast(Side, name)


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
        since: the time the rule counts from: the item's onset, recorded time or procedure
            date (a date as the day it names, a date-time as a UTC instant); ``None`` when the
            item gives no usable time (the rule then counts from the assessment time).
        item_label: what the item is, for people (``"suspected deep vein thrombosis"``).
        lifted_by: the clearances that lifted it (``"clearances[0]"``).
        rule_iri: the rule's IRI (``km:RuleDVT``).
        item_iri: the triggering item's node in the patient graph.
        alternatives: targets to work instead, when the rule names them (ITB-DIRECT).
        item_source: for a record read from a FHIR Bundle, the resource the item comes from
            (``"Encounter/e1 (reasonCode)"``); ``None`` otherwise.
    """

    rule: str
    status: Status
    lifted: bool
    message: str
    source: str
    item: str | None = None
    since: str | None = None
    lifted_by: tuple[str, ...] = ()
    rule_iri: str = field(default="", repr=False)
    item_iri: str | None = field(default=None, repr=False)
    alternatives: tuple[str, ...] = ()
    item_label: str | None = None
    item_source: str | None = None
    #: ``lifted_by`` with what each clearance says of itself, for people
    #: (``"clearances[0] (issued 2026-11-15 by GP)"``).
    lifted_by_detail: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The reason JSON object (``item_source`` only for a record read from FHIR)."""
        out = {
            "rule": self.rule,
            "status": self.status,
            "lifted": self.lifted,
            "message": self.message,
            "source": self.source,
            "item": self.item,
            "item_label": self.item_label,
            "since": self.since,
            "lifted_by": list(self.lifted_by),
        }
        if self.item_source is not None:
            out["item_source"] = self.item_source
        return out


@dataclass(frozen=True)
class Decision:
    """The decision for one intervention (technique x target x side).

    ``technique`` and ``target`` are local names; a planned intervention's unknown name is the
    text given, a missing one ``None``.
    """

    technique: str | None
    target: str | None
    side: Side
    status: Status
    reasons: tuple[Reason, ...] = ()
    alternatives: tuple[str, ...] = ()
    planned: bool = False
    technique_iri: str | None = field(default=None, repr=False, compare=False)
    target_iri: str | None = field(default=None, repr=False, compare=False)
    plans: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self, reasons: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The decision JSON object; ``reasons`` keeps the objects of reasons already made
        (by id: decisions share their reasons)."""
        made = {} if reasons is None else reasons
        for r in self.reasons:
            if id(r) not in made:
                made[id(r)] = r.to_dict()
        return {
            "technique": self.technique,
            "target": self.target,
            "side": self.side,
            "status": self.status,
            "reasons": [made[id(r)] for r in self.reasons],
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
    #: Region probes: light massage on the structures of regions no catalogue intervention
    #: targets (the knee), each side, decided like the catalogue; not decisions of the
    #: assessment (the report reads them: what the items impose there even on light massage).
    probes: tuple[Decision, ...] = field(default=(), repr=False, compare=False)

    @property
    def summary(self) -> dict[str, int]:
        """Number of decisions per status, least severe first."""
        counts = dict.fromkeys(status_order(), 0)
        for decision in self.decisions:
            counts[decision.status] += 1
        return counts

    def decision(self, technique: str | None, target: str | None, side: Side) -> Decision:
        """The decision for one intervention: by local names (``"Petrissage",
        "VastusLateralis", "left"``), else by labels or synonyms in any case (``"petrissage",
        "vastus lateralis", "LEFT"``).

        Raises:
            UnknownDecisionError: the assessment holds no such decision.
        """
        for d in self.decisions:
            if (d.technique, d.target, d.side) == (technique, target, side):
                return d
        # else as people write them: labels and synonyms, any case ("IT band", " LEFT")
        names = (local_name(technique_named(technique) or technique) if technique else technique,
                 local_name(target_named(target) or target) if target else target,
                 side.strip().lower() if isinstance(side, str) else side)
        for d in self.decisions:
            if (d.technique, d.target, d.side) == names:
                return d
        raise UnknownDecisionError(
            f"no decision on {technique}, {target}, {side} in this assessment (names: local "
            "names, labels or synonyms, e.g. Petrissage, vastus lateralis, IT band; sides left, "
            "right)")

    def to_dict(self, *, share_reasons: bool = False) -> dict[str, Any]:
        """The assessment JSON object of the public interface. With ``share_reasons`` a
        reason that several decisions give is one dict object (faster to build and write;
        for writers that do not change the dicts)."""
        reasons: dict[int, dict[str, Any]] | None = {} if share_reasons else None
        return {
            "patient": self.patient,
            "assessed_at": self.assessed_at.isoformat(),
            "knowledge_version": self.knowledge_version,
            "input_digest": self.input_digest,
            "conforms": self.conforms,
            "validation": [r.to_dict() for r in self.validation],
            "decisions": [d.to_dict(reasons) for d in self.decisions],
            "summary": self.summary,
        }


# ------------------------------------------------------------------ vocabulary views


def status_names() -> dict[str, str]:
    """Decision status IRI → its JSON name (``km:Forbidden`` → ``"forbidden"``)."""
    return dict(default_engine().tables.status_names)


def status_order() -> tuple[str, ...]:
    """Decision status names, least severe first (``permitted`` … ``forbidden``)."""
    return default_engine().tables.status_order


def side_names() -> dict[str, str]:
    """Side IRI → its JSON name (``km:Left`` → ``"left"``), from the ontology."""
    return dict(default_engine().tables.side_names)


def knowledge_version() -> str:
    """The knowledge base's version (the ontology's ``owl:versionInfo``)."""
    return default_engine().tables.version


def _when(value: str | None, day: str | None, timed: str | None) -> str | None:
    """A trigger time as people read it: an instant as ISO 8601 in UTC
    (``2026-11-19T10:00:00+00:00``), a date alone as its day (``2026-11-19``)."""
    if timed == "false":
        return day
    parsed = parse_instant(value) if value else None
    return parsed[0].isoformat() if parsed else value


def _item_path(item: str | None, patient: str) -> str | None:
    """``urn:…:patient:p-1/conditions/0`` → ``conditions[0]``; other nodes as they are."""
    if item is None:
        return None
    item = unskolemized(item)
    if item == patient:
        return "record"
    prefix = patient + "/"
    if item.startswith(prefix):
        parts = item[len(prefix):].split("/")
        if len(parts) == 2 and parts[1].isdigit():
            return f"{parts[0]}[{parts[1]}]"
        if len(parts) >= 3 and parts[1].isdigit() and parts[2] == "code":
            return f"{parts[0]}[{parts[1]}].code"
    return item


# ------------------------------------------------------------------ aggregation


@dataclass(slots=True)
class _Slot:
    """One intervention of one patient while its decision is gathered."""

    technique: str | None
    target: str | None
    side: str
    technique_iri: str | None
    target_iri: str | None
    catalogue: bool
    planned: bool = False
    probe: bool = False
    plans: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)


def _name(value: str | None, known: bool) -> tuple[str | None, str | None]:
    """(shown name, IRI) of a technique or target value: a known term by its local name."""
    if value is None or value == "":
        return None, None
    return (local_name(value), value) if known else (value, None)


@dataclass(frozen=True)
class _Layout:
    """The interventions every patient of a chunk is decided on: the catalogue's (in the order
    decisions are listed: technique, target, side) and the region probes; each with what its
    slot starts from, and the decision it gets when no reason and no plan touch it."""

    slots: Mapping[str, tuple[Any, ...]]  # intervention → the _Slot arguments
    catalogue: tuple[str, ...]
    probes: tuple[str, ...]
    untouched: Mapping[str, Decision]

    @classmethod
    def of(cls, engine: Engine) -> _Layout:
        tables = engine.tables
        slots: dict[str, tuple[Any, ...]] = {}
        untouched: dict[str, Decision] = {}
        found: dict[bool, list[str]] = {False: [], True: []}  # probe? → interventions
        permitted = _status(tables.status_order[0])
        for rows, probe in ((engine.catalogue, False), (engine.probes, True)):
            for row in rows:
                key = row["intervention"] or ""
                technique, target = local_name(row["technique"]), local_name(row["target"])
                side = tables.side_names[row["side"] or ""]
                slots[key] = (technique, target, side, row["technique"], row["target"],
                              not probe, False, probe)  # _Slot(…, catalogue, planned, probe)
                untouched[key] = Decision(technique=technique, target=target, side=_side(side),
                                          status=permitted, technique_iri=row["technique"],
                                          target_iri=row["target"])
                found[probe].append(key)
        catalogue = sorted(found[False], key=lambda key: (
            untouched[key].technique or "", untouched[key].target or "", untouched[key].side))
        return cls(slots, tuple(catalogue), tuple(found[True]), untouched)


def _gather(engine: Engine, rows: ChunkRows, patients: Sequence[str], asked: str | None,
            origins: Mapping[str, Mapping[str, str]], layout: _Layout
            ) -> dict[str, dict[str, _Slot]]:
    """Each patient's interventions that a reason or a plan touches, with their reasons, from
    the result rows of one chunk (``origins``: each patient's FHIR resources by item,
    :attr:`PatientRecord.origins`); the others are decided as ``layout.untouched``."""
    tables = engine.tables
    slots: dict[str, dict[str, _Slot]] = {patient: {} for patient in patients}
    known = layout.slots

    def slot_of(mine: dict[str, _Slot], key: str) -> _Slot | None:
        slot = mine.get(key)
        if slot is None and key in known:
            slot = mine[key] = _Slot(*known[key])
        return slot

    for row in rows["planned"]:
        mine = slots.get(row["patient"] or "")
        if mine is None:
            continue
        slot = slot_of(mine, row["intervention"] or "")
        if slot is None:
            technique, technique_iri = _name(row["technique"], row["techniqueKnown"] == "true")
            target, target_iri = _name(row["target"], row["targetKnown"] == "true")
            slot = mine[row["intervention"] or ""] = _Slot(
                technique, target, tables.side_names[row["side"] or ""], technique_iri,
                target_iri, False)
        slot.planned = slot.planned or row["plan"] != asked
        if row["plan"] != asked:
            slot.plans.append(row["plan"] or "")
    lifts: dict[str, dict[str, list[str]]] = defaultdict(dict)  # match → clearance → said
    for row in rows["lifts"]:
        said = lifts[row["match"] or ""].setdefault(row["clearance"] or "", [])
        for part in (f"issued {row['issued']}" if row["issued"] else None,
                     f"by {row['issuer']}" if row["issuer"] else None,
                     f"with status {json.dumps(row['status'])}" if row["status"] else None):
            if part and part not in said:
                said.append(part)
    matches = {row["match"]: row for row in rows["matches"]}
    if len(matches) != len(rows["matches"]):  # one would hide another's date or reach
        raise StageError("matches", "a rule match with two values of one attribute")
    labels = _item_labels(engine, rows["items"])
    made: dict[tuple[str, str | None], Reason] = {}
    # equal reasons are one object (those of rules that always apply, for every patient
    # assessed at the same time), so that equal lists of reasons make one decision
    same: dict[Reason, Reason] = {}

    def reason(match: Row, target: str | None) -> Reason:
        # only the alternatives of a rule that offers them depend on the target
        key = (match["match"] or "",
               target if engine.effects[match["effect"]]["offers"] == "true" else None)
        if key not in made:
            made_now = _reason(engine, match, lifts, key[1], labels,
                               origins.get(match["patient"] or "", {}))
            made[key] = same.setdefault(made_now, made_now)
        return made[key]

    for match in matches.values():  # the catalogue: the engine's reach table
        mine = slots.get(match["patient"] or "")
        reached = engine.catalogue_reach.get(
            (match["effect"], match["sideReach"], match["regionReach"]), ())
        if mine is None or not reached:
            continue
        # a rule that offers no alternatives gives each intervention it reaches one reason
        shared = (reason(match, None) if engine.effects[match["effect"]]["offers"] != "true"
                  else None)
        for intervention in reached:
            slot = slot_of(mine, intervention)
            if slot is None:
                raise StageError("catalogue-reach", f"{intervention} is no catalogue's")
            slot.reasons.append(shared if shared is not None else reason(match, slot.target_iri))
    for row in rows["reasons"]:  # the patients' own planned interventions
        match = matches.get(row["match"])
        if match is None:
            continue
        mine = slots.get(match["patient"] or "")
        slot = None if mine is None else slot_of(mine, row["intervention"] or "")
        if slot is not None:
            slot.reasons.append(reason(match, slot.target_iri))
    return slots


def _item_labels(engine: Engine, rows: Iterable[Row]) -> dict[str, str]:
    """Each item as people name it: its status (when suspected, resolved …) and its classes;
    an unrecognised entry by what the record calls it (its type, its codes and their texts)."""
    classes: dict[str, set[str]] = defaultdict(set)
    called: dict[str, set[str]] = defaultdict(set)
    statuses: dict[str, str] = {}
    sides: dict[str, str] = {}
    keys: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        item = row["item"] or ""
        if row["content"] is not None:  # the unknown keys of a patient node
            keys[item].add(row["content"])
            continue
        if row["class"]:
            classes[item].add(engine.tables.labels.get(row["class"], local_name(row["class"])))
        if row["type"]:
            called[item].add(local_name(row["type"]))
        if row["code"]:
            called[item].add(f"{row['display']} ({row['code']})" if row["display"]
                             else row["code"])
        if row["status"] and row["status"] != "active":
            statuses[item] = row["status"]
        if row["side"]:
            sides[item] = "both legs" if row["side"] == "bilateral" else f"{row['side']} leg"
        classes.setdefault(item, set())

    def named(item: str, names: set[str]) -> str:
        said = "; ".join(sorted(called[item]))
        if names:  # and the codes that map to nothing
            return " and ".join(sorted(names)) + (f" (unmapped code {cut(said, 80)})" if said
                                                  else "")
        return f"unrecognised entry ({cut(said, 80)})" if said else "unrecognised entry"

    labels = {item: " ".join(filter(None, (statuses.get(item), named(item, names))))
              + (f", {sides[item]}" if item in sides else "")
              for item, names in classes.items()}
    for item, found in keys.items():
        labels.setdefault(item, f"unrecognised content ({cut(', '.join(sorted(found)), 80)})")
    return labels


def _item_label(item: str | None, patient: str, labels: Mapping[str, str]) -> str | None:
    if item is None:
        return None
    if item in labels:
        return labels[item]
    path = _item_path(item, patient) or ""
    if path.startswith(("planned", "asked")):
        return "planned intervention"
    return "unrecognised content"


def _reason(engine: Engine, match: Row, lifts: Mapping[str, Mapping[str, list[str]]],
            target: str | None, labels: Mapping[str, str], origins: Mapping[str, str]
            ) -> Reason:
    tables = engine.tables
    effect = engine.effects[match["effect"]]
    patient = match["patient"] or ""
    lifted_by = lifts.get(match["match"] or "", {})
    item = match["item"]
    path = _item_path(item, patient)
    return Reason(
        rule=effect["ruleId"] or "",
        status=_status(tables.status_names[effect["status"] or ""]),
        lifted=bool(lifted_by),
        message=effect["message"] or "",
        source=effect["source"] or "",
        item=path,
        since=_when(match["since"], match["day"], match["timed"])
        if item and match["dated"] == "true" else None,
        lifted_by=tuple(sorted(_item_path(c, patient) or c for c in lifted_by)),
        lifted_by_detail=tuple(sorted(
            f"{_item_path(c, patient) or c} ({' '.join(said) or 'no date or issuer'})"
            for c, said in lifted_by.items())),
        rule_iri=effect["rule"] or "",
        item_iri=item,
        alternatives=tables.alternatives.get(target or "", ()) if effect["offers"] == "true"
        else (),
        item_label=_item_label(item, patient, labels),
        item_source=origins.get(path or ""),
    )


Verdict = tuple[tuple[Reason, ...], Status, tuple[str, ...]]


def _verdict(tables: Tables, reasons: Iterable[Reason]) -> Verdict:
    """The reasons in order (most severe first), the status they make, their alternatives."""
    ranks = tables.status_ranks
    # duplicates of one rule from distinct items stay (set() only drops exact repeats
    # produced by several paths to the same fact)
    # a total order on what a reason shows (two effects of one rule on one item differ only
    # in their messages: ordered by rule and item alone, they came out in either order)
    ordered = tuple(sorted(set(reasons), key=lambda r: (
        -ranks[r.status], r.lifted, r.rule, r.item or "", r.message, r.since or "", r.source,
        r.item_label or "", r.lifted_by, r.item_source or "", r.alternatives)))
    standing = [r.status for r in ordered if not r.lifted]
    status = max(standing, key=ranks.__getitem__) if standing else tables.status_order[0]
    return ordered, _status(status), tuple(sorted({a for r in ordered for a in r.alternatives}))


def _decisions(tables: Tables, slots: Mapping[str, _Slot], layout: _Layout,
               verdicts: dict[tuple[int, ...], Verdict], made: dict[tuple[Any, ...], Decision]
               ) -> tuple[tuple[Decision, ...], tuple[Decision, ...]]:
    """One patient's decisions, catalogue first, by technique, target and side, then its own
    planned interventions; and the decisions of its region probes. ``slots``: the
    interventions a reason or a plan touches (:func:`_gather`); the others are untouched.

    ``verdicts`` remembers the verdict of each list of reason objects met in the chunk (many
    interventions share one list: all those a rule reaches, or none), ``made`` the decisions
    made; their keys hold object ids, so they must not outlive the chunk's slots.
    """

    def decided(slot: _Slot) -> Decision:
        key = tuple(map(id, slot.reasons))
        if key not in verdicts:
            verdicts[key] = _verdict(tables, slot.reasons)
        plans = tuple(sorted(set(slot.plans))) if slot.plans else ()
        # a frozen Decision is shared by every patient of the chunk it fits
        what = (slot.technique, slot.target, slot.side, slot.planned, slot.technique_iri,
                slot.target_iri, plans, key)
        decision = made.get(what)
        if decision is None:
            reasons, status, alternatives = verdicts[key]
            decision = made[what] = Decision(
                technique=slot.technique,
                target=slot.target,
                side=_side(slot.side),
                status=status,
                reasons=reasons,
                alternatives=alternatives,
                planned=slot.planned,
                technique_iri=slot.technique_iri,
                target_iri=slot.target_iri,
                plans=plans,
            )
        return decision

    untouched = layout.untouched
    catalogue = [decided(slots[key]) if key in slots else untouched[key]
                 for key in layout.catalogue]
    own = sorted((decided(slot) for slot in slots.values() if not slot.catalogue and
                  not slot.probe),
                 key=lambda d: (d.technique or "", d.target or "", d.side))
    probes = tuple(decided(slots[key]) if key in slots else untouched[key]
                   for key in layout.probes)
    return (*catalogue, *own), probes


def _engine(engine: str | Engine) -> Engine:
    """An engine by name: ``"oxigraph"``, ``"rdflib"``, or the URL of a SPARQL server (still
    accepted as ``engine``, for callers of the first releases)."""
    if isinstance(engine, Engine):
        return engine
    if engine.startswith(("http://", "https://")):
        return default_engine(endpoint=engine)
    return default_engine(engine)


def _validation(runner: Engine, record: PatientRecord, at: datetime,
                rows: Sequence[Mapping[str, Any]]) -> tuple[ValidationResult, ...]:
    """The record-shape results of ``record``: from its rows of the compiled shapes (fast
    path), or from pySHACL (the reference, when the engine runs on rdflib)."""
    if runner.backend_name == "rdflib":
        return check_record(record, at)[0]
    return results_from_rows(runner.shapes, record, rows)


def _assessments(
    records: Sequence[PatientRecord],
    ats: Sequence[datetime],
    engine: str | Engine,
    asked: str | None = None,
) -> list[Assessment]:
    """Validate and decide ``records`` (one chunk: one engine run)."""
    runner = _engine(engine)
    chunk = runner.chunk(list(zip(records, ats, strict=True)))
    rows = runner.run(chunk, validate=runner.backend_name != "rdflib")
    layout = _Layout.of(runner)
    slots = _gather(runner, rows, [str(r.iri) for r in records], asked,
                    {str(r.iri): r.origins for r in records if r.origins}, layout)
    version = runner.tables.version
    by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows["validation"]:
        by_patient[chunk.owners.get(str(row["focus"]), "")].append(row)
    done = []
    verdicts: dict[tuple[int, ...], Verdict] = {}
    made: dict[tuple[Any, ...], Decision] = {}
    for record, at in zip(records, ats, strict=True):
        results = _validation(runner, record, at, by_patient.get(str(record.iri), ()))
        decisions, probes = _decisions(runner.tables, slots[str(record.iri)], layout,
                                       verdicts, made)
        done.append(Assessment(
            patient=record.id,
            assessed_at=at,
            knowledge_version=version,
            input_digest=record.digest,
            conforms=not any(r.severity == "Violation" for r in results),
            validation=results,
            decisions=decisions,
            source=record.source,
            patient_iri=str(record.iri),
            probes=probes,
        ))
    return done


def run_assessments(records: Sequence[PatientRecord], ats: Sequence[datetime],
                    engine: str | Engine = "oxigraph") -> list[Assessment]:
    """Validate and decide ``records`` at ``ats`` in one engine run (no strict mode)."""
    return _assessments(records, ats, engine)


def _refused(assessment: Assessment, record: PatientRecord) -> NonConformingRecordError:
    where = record.source if record.line is None else f"{record.source}, line {record.line}"
    return NonConformingRecordError(
        f"{where}: record {record.id or record.position} does not conform "
        f"({sum(r.severity == 'Violation' for r in assessment.validation)} violation(s)); "
        "strict mode refuses to assess it"
    )


def assess(
    record: Mapping[str, Any] | str | Path | Graph | PatientRecord,
    *,
    at: datetime | str | None = None,
    strict: bool = False,
    engine: EngineName | Engine = "oxigraph",
    endpoint: str | None = None,
) -> Assessment:
    """Assess one patient record.

    Args:
        record: a JSON-form dict, a path to a record file (one record), an rdflib Graph, or a
            :class:`~kgmassage.records.PatientRecord`.
        at: the assessment time; default the record's ``assessed_at``, else now (UTC).
        strict: refuse (raise :class:`~kgmassage.errors.NonConformingRecordError`) a record
            with SHACL Violations instead of assessing it fail-safe.
        engine: ``"oxigraph"`` (fast), ``"rdflib"`` (reference) or an
            :class:`~kgmassage.engine.Engine`; all give the same result.
        endpoint: the URL of a SPARQL 1.1 server to run on instead (e.g.
            ``"http://127.0.0.1:7878"``, see :class:`~kgmassage.engine.EndpointBackend`).

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
    loaded = record if isinstance(record, PatientRecord) else load_record(record, at=_at(at))
    when = resolve_at(at, loaded.assessed_at)
    (assessment,) = _assessments([loaded], [when], runner_name(engine, endpoint))
    if strict and not assessment.conforms:
        raise _refused(assessment, loaded)
    return assessment


def assess_many(
    source: str | Path | Iterable[Mapping[str, Any]],
    *,
    at: datetime | str | None = None,
    strict: bool = False,
    engine: EngineName = "oxigraph",
    endpoint: str | None = None,
    chunk_size: int = 500,
    jobs: int = 1,
) -> Iterator[Assessment | RecordError | NonConformingRecordError]:
    """Assess every record of a file (JSON array, NDJSON, Turtle) or an iterable of dicts.

    Records are read lazily and assessed in chunks of ``chunk_size`` patients, one engine run
    per chunk (two records that share a node, the same patient or an item both describe,
    never share a chunk: each is assessed on its own data), on ``jobs`` processes; memory
    stays flat whatever the cohort's size. An unreadable record (or, in strict mode, a
    non-conforming one) is yielded as its error, in place, and the others go on. ``engine``
    and ``endpoint`` are as for :func:`assess`.
    With ``jobs`` above 1 the workers are spawned processes: call it under
    ``if __name__ == "__main__":`` in a script.
    """
    from .cohort import assess_chunks

    # the lines of an NDJSON cohort are read where they are assessed (in the workers)
    items = (iter_unread(source, at=_at(at)) if isinstance(source, (str, Path))
             else _loaded(source, _at(at)))
    yield from assess_chunks(items, at=at, strict=strict, engine=runner_name(engine, endpoint),
                             chunk_size=chunk_size, jobs=jobs)


def _at(at: datetime | str | None) -> datetime | None:
    """The caller's assessment time, read (``None`` when not given)."""
    return None if at is None else resolve_at(at)


def _loaded(objects: Iterable[Mapping[str, Any]], at: datetime | None
            ) -> Iterator[PatientRecord | RecordError]:
    for position, obj in enumerate(objects, start=1):
        try:
            yield load_record(obj, name=f"<record {position}>", at=at)
        except RecordError as exc:
            yield exc


def decide(
    record: Mapping[str, Any] | str | Path | Graph | PatientRecord,
    technique: str,
    target: str,
    side: Side,
    *,
    at: datetime | str | None = None,
    engine: EngineName | Engine = "oxigraph",
    endpoint: str | None = None,
) -> Decision:
    """The decision for any one intervention, catalogue or not, by the same rules.

    ``technique`` and ``target`` are names of the ontology's terms: local name, label or
    synonym, in any case (``"Petrissage"``, ``"knee cap"``); a name the ontology does not know,
    or an empty one, is decided as an unknown or missing technique or target (UNRECOGNIZED).
    ``side`` is ``"left"`` or ``"right"`` (in any case); ``engine`` and ``endpoint`` are as for
    :func:`assess`. Raises :class:`~kgmassage.errors.ParameterError` for a name that is not
    text or another side.

    >>> decide({"id": "p-2"}, "Petrissage", "Patella", "left", at="2026-11-20").status
    'forbidden'
    """
    for what, value in (("technique", technique), ("target", target), ("side", side)):
        if not isinstance(value, str):
            raise ParameterError(f"the {what} must be a name (text), not "
                                 f"{cut(repr(value), 40)}")
    side = _side(side.strip().lower())
    loaded = record if isinstance(record, PatientRecord) else load_record(record, at=_at(at))
    technique_term = technique_named(technique) or Literal(technique)
    target_term = target_named(target) or Literal(target)
    asked, node = _with_plan(loaded, technique_term, target_term, side)
    when = resolve_at(at, loaded.assessed_at)
    assessment = _assessments([asked], [when], runner_name(engine, endpoint), asked=node)[0]
    # an empty name is a missing one: its decision names no technique (or target)
    return assessment.decision(local_name(technique_term) or None,
                               local_name(target_term) or None, side)


def _with_plan(
    record: PatientRecord, technique: URIRef | Literal, target: URIRef | Literal, side: str
) -> tuple[PatientRecord, str]:
    """A copy of ``record`` that also plans the asked intervention, and the asked node."""
    node = URIRef(f"{record.iri}/asked/0")
    lines = [
        (URIRef(record.iri), KM.hasPlannedIntervention, node),
        (node, RDF.type, KM.PlannedIntervention),
        (node, KM.technique, technique),
        (node, KM.target, target),
        (node, KM.side, KM.Left if side == "left" else KM.Right),
    ]
    extra = "".join(f"{nt_term(s)} {nt_term(p)} {nt_term(o)} .\n" for s, p, o in lines)
    graph = Graph()
    graph += record.graph
    for triple in lines:
        graph.add(triple)
    return replace(record, ntriples=record.ntriples + extra, parsed=graph), str(node)
