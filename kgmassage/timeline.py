"""Time semantics shared by validation and decisions.

A record's dates keep their lexical form in the patient graph. Before validating or
deciding, :func:`add_context` adds, for one patient, the evaluation time and a normalised
form of every date it holds, so that SHACL and SPARQL only compare values of one kind:

* ``?patient km:evaluatedAt ?at`` (UTC ``xsd:dateTime``) and ``km:evaluationDay`` (its UTC day);
* ``?patient km:windowCutoff [ km:window ?w ; km:cutoff ?at_minus_w ]`` for each time window;
* ``?node km:dateFact [ km:dateProperty ?p ; km:instant ?i ; km:day ?d ; km:timed ?t ]`` for each
  date value ``?node ?p ?value``: a date-time without offset is UTC; a date without a time stands
  for the **end** of that day (its latest instant, so windows err on the safe side). A value that
  does not parse gets a fact with no instant or day (it is then "unusable").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from .namespaces import KM

__all__ = [
    "DATE_PROPERTIES",
    "parse_instant",
    "resolve_at",
    "add_context",
    "utc_now",
]

#: Properties whose values are dates or date-times.
DATE_PROPERTIES = (
    KM.onset, KM.recordedAt, KM.performedOn, KM.issuedOn, KM.birthDate, KM.assessedAt
)

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_END_OF_DAY = time(23, 59, 59, 999999)


def utc_now() -> datetime:
    """The current instant, UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def parse_instant(text: str) -> tuple[datetime, bool] | None:
    """Parse an ``xsd:date`` or ``xsd:dateTime`` lexical form.

    Returns ``(utc_instant, timed)``; a date gives the end of its day (UTC) and ``timed=False``.
    ``None`` when the text is neither.

    >>> parse_instant("2026-11-19")
    (datetime.datetime(2026, 11, 19, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc), False)
    >>> parse_instant("2026-11-20T10:00:00+01:00")[0].isoformat()
    '2026-11-20T09:00:00+00:00'
    """
    text = text.strip()
    try:
        match = _DATE.match(text)
        if match:
            day = date.fromisoformat(match.group(1))
            return datetime.combine(day, _END_OF_DAY, timezone.utc), False
        if "T" not in text:
            return None
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc), True


def resolve_at(at: datetime | str | None, record_at: str | None = None) -> datetime:
    """The assessment time: the caller's, else the record's ``assessed_at``, else now (UTC).

    A date-time without offset is UTC. A bare date means the *start* of that day: the earliest
    instant it can mean, so that every record date looks as recent as it can (time windows err
    on the safe side, as record dates do by standing for the end of their day). Raises
    ``ValueError`` for a caller's value that does not parse. A record value that does not parse
    is ignored (validation reports it) and the current time is used.

    >>> resolve_at("2026-11-20").isoformat()
    '2026-11-20T00:00:00+00:00'
    """
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    for text in (at, record_at):
        if text is None:
            continue
        parsed = parse_instant(str(text))
        if parsed is None:
            if text is at:
                raise ValueError(f"not an ISO 8601 date or date-time: {at!r}")
            continue
        instant, timed = parsed
        if timed:
            return instant
        return datetime.combine(instant.date(), time(0, 0), timezone.utc)
    return utc_now()


def _dt_literal(value: datetime) -> Literal:
    return Literal(value.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def add_context(
    graph: Graph,
    patient: URIRef,
    at: datetime,
    windows: Mapping[URIRef, timedelta] | None = None,
    nodes: Iterable[URIRef | BNode] | None = None,
) -> None:
    """Add the evaluation context of ``patient`` at ``at`` to ``graph`` (see module doc).

    ``nodes`` limits the date facts to these subjects (default: every subject of the graph).
    """
    graph.add((patient, KM.evaluatedAt, _dt_literal(at)))
    graph.add((patient, KM.evaluationDay, Literal(at.date().isoformat(), datatype=XSD.date)))
    for window, length in (windows or {}).items():
        cut = BNode()
        graph.add((patient, KM.windowCutoff, cut))
        graph.add((cut, KM.window, window))
        graph.add((cut, KM.cutoff, _dt_literal(at - length)))
    subjects = set(nodes) if nodes is not None else None
    facts = []
    for prop in DATE_PROPERTIES:
        for node, value in graph.subject_objects(prop):
            if subjects is not None and node not in subjects:
                continue
            facts.append((node, prop, value))
    for node, prop, value in facts:
        fact = BNode()
        graph.add((node, KM.dateFact, fact))
        graph.add((fact, KM.dateProperty, prop))
        parsed = parse_instant(str(value)) if isinstance(value, Literal) else None
        if parsed is None:
            continue
        instant, timed = parsed
        graph.add((fact, KM.instant, _dt_literal(instant)))
        graph.add((fact, KM.day, Literal(instant.date().isoformat(), datatype=XSD.date)))
        graph.add((fact, KM.timed, Literal(timed)))
