"""Runs the derivation queries of ``queries/derive/`` over one or many patient graphs.

The derivation is pure SPARQL 1.1: numbered CONSTRUCT stages materialise intermediate facts
(code concepts, clinical classes, sides, regions, rule matches, guards, clearances,
interventions) into the working store, then two SELECTs read the reasons and the decisions.
Python only loads data, adds the evaluation context (:mod:`kgmassage.timeline`) and runs the
stages in order; it holds no clinical logic. Two interchangeable back ends run the same files:

* ``"rdflib"`` — the reference engine (an in-memory rdflib graph);
* ``"oxigraph"`` — pyoxigraph, for cohorts: each stage runs as ``INSERT … WHERE`` over a whole
  chunk of patients at once, results keyed by patient.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from rdflib import Graph, URIRef

from .errors import ParameterError, cut
from .resources import copy_graph, query_text, rules_graph
from .rules import time_windows
from .timeline import add_context

__all__ = [
    "ENGINES", "stages", "PatientInput", "ReasonRow", "InterventionRow", "Derivation", "derive",
    "classification_facts", "CLASSIFICATION_STAGES", "DECISION_STAGES",
]

ENGINES = ("oxigraph", "rdflib")
_CONSTRUCT = re.compile(r"^CONSTRUCT\b", re.MULTILINE)


#: The CONSTRUCT stages of ``queries/derive/``, in the order they run. The first ones classify
#: the record (what its codes, items and content are); validation adds their facts too.
CLASSIFICATION_STAGES = (
    "00-record-vocabulary-table",
    "01-record-vocabulary",
    "02-unrecognized-content",
    "05-canonical-codes",
    "10-codes",
    "20-classes",
    "21-unrecognized",
)
DECISION_STAGES = (
    "30-sides",
    "31-regions",
    "40-matches",
    "41-match-regions",
    "41-match-sides",
    "42-match-facts",
    "43-match-times",
    "44-match-guards",
    "45-clearances",
    "50-interventions",
    "51-intervention-facts",
)
#: Predicates of the classification facts (what validation adds to a record).
CLASSIFICATION_QUERY = """
PREFIX km: <https://w3id.org/kgmassage#>
CONSTRUCT { ?s ?p ?o } WHERE {
  VALUES ?p { km:unrecognizedAt km:hasClass km:recognized km:canonicalCode km:inCodeSystem
              km:codeConcept km:matchesFamily }
  ?s ?p ?o .
}
"""


def stages() -> tuple[str, ...]:
    """Names of the CONSTRUCT stages of ``queries/derive/``, in the order they run."""
    return CLASSIFICATION_STAGES + DECISION_STAGES


REASONS_QUERY = "60-reasons"
LIFTS_QUERY = "65-lifts"
DECISIONS_QUERY = "70-decisions"


@dataclass(frozen=True)
class PatientInput:
    """One patient graph to derive, with its node and assessment time (UTC)."""

    iri: URIRef
    graph: Graph
    at: datetime


@dataclass(frozen=True)
class ReasonRow:
    """One rule effect applying to one intervention (a row of ``60-reasons.rq``)."""

    patient: str
    intervention: str
    rule: str
    rule_id: str
    status: str
    message: str
    source: str
    item: str | None
    lifted: bool
    offers_alternatives: bool
    match: str = ""
    since: str | None = None


@dataclass(frozen=True)
class InterventionRow:
    """One intervention to decide (a row of ``70-decisions.rq``)."""

    patient: str
    intervention: str
    technique: str
    target: str
    side: str
    plan: str | None


@dataclass(frozen=True)
class Derivation:
    """Everything the derivation found for a chunk of patients."""

    interventions: tuple[InterventionRow, ...]
    reasons: tuple[ReasonRow, ...]
    #: rule match → the clearances that lifted it (nodes of the patient graph)
    lifts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def by_patient(self) -> dict[str, Derivation]:
        """The rows of each patient (keyed by the patient node's IRI)."""
        interventions: dict[str, list[InterventionRow]] = defaultdict(list)
        reasons: dict[str, list[ReasonRow]] = defaultdict(list)
        for row in self.interventions:
            interventions[row.patient].append(row)
        for reason in self.reasons:
            reasons[reason.patient].append(reason)
        return {
            patient: Derivation(tuple(rows), tuple(reasons.get(patient, ())), self.lifts)
            for patient, rows in interventions.items()
        }


def _working_data(patients: Sequence[PatientInput]) -> Graph:
    data = Graph()
    windows = time_windows()
    for patient in patients:
        sub = Graph()
        sub += patient.graph
        add_context(sub, patient.iri, patient.at, windows)
        data += sub
    return data


def _text(term: object) -> str | None:
    if term is None:
        return None
    return str(term)


def _truthy(term: object) -> bool:
    return str(term).lower() in ("true", "1")


def _reason_rows(rows: Iterable[Sequence[object]]) -> tuple[ReasonRow, ...]:
    """Rows of ``60-reasons.rq`` (in its column order) as :class:`ReasonRow`."""
    return tuple(
        ReasonRow(str(patient), str(intervention), str(rule), str(rule_id), str(status),
                  _text(message) or "", _text(source) or "", _text(item), _truthy(lifted),
                  _truthy(offers), str(match), _text(since))
        for (patient, intervention, rule, rule_id, status, message, source, match, item,
             lifted, offers, since) in rows
    )


def _lifts(rows: Iterable[Sequence[object]]) -> dict[str, tuple[str, ...]]:
    """Rows of ``65-lifts.rq`` as match → clearances."""
    found: dict[str, list[str]] = defaultdict(list)
    for match, clearance in rows:
        found[str(match)].append(str(clearance))
    return {match: tuple(sorted(clearances)) for match, clearances in found.items()}


def _intervention_rows(rows: Iterable[Sequence[object]]) -> tuple[InterventionRow, ...]:
    """Rows of ``70-decisions.rq`` (in its column order) as :class:`InterventionRow`."""
    return tuple(
        InterventionRow(str(patient), str(intervention), str(technique), str(target), str(side),
                        _text(plan))
        for patient, intervention, technique, target, side, plan in rows
    )


# --------------------------------------------------------------------------- rdflib


def _derive_rdflib(data: Graph) -> Derivation:
    graph = copy_graph(rules_graph())
    graph += data
    for name in stages():
        for triple in list(graph.query(query_text("derive", name))):
            graph.add(triple)  # type: ignore[arg-type]
    reasons = _reason_rows(graph.query(query_text("derive", REASONS_QUERY)))
    interventions = _intervention_rows(graph.query(query_text("derive", DECISIONS_QUERY)))
    lifts = _lifts(graph.query(query_text("derive", LIFTS_QUERY)))
    return Derivation(interventions, reasons, lifts)


# --------------------------------------------------------------------------- oxigraph


@cache
def _rules_ntriples() -> bytes:
    return rules_graph().serialize(format="nt", encoding="utf-8")


@cache
def _insert_text(name: str) -> str:
    return _CONSTRUCT.sub("INSERT", query_text("derive", name), count=1)


def _ox_value(term: object) -> str | None:
    if term is None:
        return None
    value = getattr(term, "value", None)
    return str(value) if value is not None else str(term)


def _oxigraph_store(data: Graph, names: Sequence[str]) -> object:
    import pyoxigraph as ox

    store = ox.Store()
    store.load(_rules_ntriples(), format=ox.RdfFormat.N_TRIPLES)
    store.load(data.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    for name in names:
        store.update(_insert_text(name))
    return store


def classification_facts(patients: Sequence[PatientInput]) -> Graph:
    """The facts the classification stages derive for ``patients`` (their codes' concepts,
    their items' classes, unrecognized content), as a graph to validate with the record."""
    import pyoxigraph as ox

    skolemized = [PatientInput(p.iri, p.graph.skolemize(), p.at) for p in patients]
    store = _oxigraph_store(_working_data(skolemized), CLASSIFICATION_STAGES)
    data = store.query(CLASSIFICATION_QUERY).serialize(format=ox.RdfFormat.N_TRIPLES)
    return Graph().parse(data=data, format="nt").de_skolemize()


def _derive_oxigraph(data: Graph) -> Derivation:
    store = _oxigraph_store(data, stages())

    def select(name: str) -> list[list[str | None]]:
        solutions = store.query(query_text("derive", name))
        variables = [v.value for v in solutions.variables]
        return [[_ox_value(sol[v]) for v in variables] for sol in solutions]

    reasons = _reason_rows(select(REASONS_QUERY))
    interventions = _intervention_rows(select(DECISIONS_QUERY))
    return Derivation(interventions, reasons, _lifts(select(LIFTS_QUERY)))


def derive(patients: Sequence[PatientInput], *, engine: str = "oxigraph") -> Derivation:
    """Derive interventions and reasons for ``patients`` (one chunk) with ``engine``."""
    if engine not in ENGINES:
        raise ParameterError(f"unknown engine {cut(str(engine))!r}; choose one of "
                             f"{', '.join(ENGINES)}")
    data = _working_data(patients)
    if engine == "rdflib":
        return _derive_rdflib(data)
    return _derive_oxigraph(data)
