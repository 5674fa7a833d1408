"""Time semantics shared by validation and decisions: one strict reading of dates.

:func:`parse_date` is the only date parser of the package. It accepts exactly the lexical forms
of ``xsd:date`` and ``xsd:dateTime`` (four-digit year, real calendar days, seconds required,
optional fraction and offset ``Z`` / ``±hh:mm`` up to ±14:00, ``24:00:00`` as the end of a day);
anything else is unparseable, for validation and decisions alike.

A record's dates keep their lexical form in the patient graph. Before validating or
deciding, :func:`add_context` adds, for one patient, the evaluation time and a normalised
form of every date it holds, so that SHACL and SPARQL only compare values of one kind:

* ``?patient km:evaluatedAt ?at`` (UTC ``xsd:dateTime``) and ``km:evaluationDay`` (its UTC day);
* ``?patient km:clockLimit ?limit``: the end of tomorrow by the computer's clock (UTC), after
  which a record's own assessment time is suspect (a typing error in its year makes every
  injury and surgery look old);
* ``?patient km:windowCutoff [ km:window ?w ; km:cutoff ?at_minus_w ]`` for each time window;
* ``?node km:dateFact [ km:dateProperty ?p ; km:dateValue ?value ; km:factOf ?patient ;
  km:instant ?i ; km:day ?d ; km:firstDay ?f ; km:firstInstant ?fi ; km:timed ?t ]`` for
  each date value ``?node ?p ?value`` of the patient's record: a date-time without offset is
  UTC; a date without a time stands for the **end** of that day in its own offset (its latest
  instant, so windows err on the safe side), its day is the day it names, its first instant
  the instant it begins (in its own offset) and its first day that instant's UTC day (a
  clearance is compared by them). A value that does not parse gets a fact with no instant or
  day (it is then "unusable");
* ``?node km:dateField ?p`` for each such property (whether ``?node`` gives a value for it,
  one step away).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.util import from_n3

from .errors import ParameterError, cut
from .namespaces import KM, KM_IRI, nt_term

__all__ = [
    "DATE_PROPERTIES",
    "DateValue",
    "parse_date",
    "parse_instant",
    "literal_date",
    "resolve_at",
    "add_context",
    "context_triples",
    "nt_date",
    "utc_now",
]

#: Properties whose values are dates or date-times.
DATE_PROPERTIES = (
    KM.onset, KM.recordedAt, KM.performedOn, KM.issuedOn, KM.birthDate, KM.assessedAt
)

_OFFSET = r"(?P<tz>Z|[+-](?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))?"
_DATE_RE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})" + _OFFSET)
_DATETIME_RE = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"T(?P<H>[0-9]{2}):(?P<M>[0-9]{2}):(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]+))?" + _OFFSET
)
_END_OF_DAY = time(23, 59, 59, 999999)
_DAY_SPAN = timedelta(days=1) - timedelta(microseconds=1)  # from a day's start to its end


@dataclass(frozen=True)
class DateValue:
    """A parsed date or date-time.

    Attributes:
        instant: the UTC instant it stands for; a date stands for the end of its day, its
            last microsecond (in its own offset when it carries one, else UTC).
        day: the calendar day: the day a date names; a date-time's UTC day.
        timed: whether it carried a time of day.
    """

    instant: datetime
    day: date
    timed: bool


def _offset(match: re.Match[str]) -> timezone | None:
    if match.group("tz") is None:
        return timezone.utc
    if match.group("tz") == "Z":
        return timezone.utc
    hours, minutes = int(match.group("oh")), int(match.group("om"))
    if minutes > 59 or hours > 14 or (hours == 14 and minutes):
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if match.group("tz")[0] == "-" else delta)


def _day(match: re.Match[str]) -> date | None:
    year = int(match.group("y"))
    if year < 1:
        return None
    try:
        return date(year, int(match.group("m")), int(match.group("d")))
    except ValueError:
        return None


def parse_date(text: str, *, round_up: bool = False) -> DateValue | None:
    """Read an ``xsd:date`` or ``xsd:dateTime`` lexical form; ``None`` for anything else.

    Fractions of a second finer than a microsecond are cut, or, with ``round_up``, rounded up
    (a record item's date then looks as recent as it can: the safe side).

    >>> parse_date("2026-11-19").instant.isoformat()
    '2026-11-19T23:59:59.999999+00:00'
    >>> parse_date("2026-11-19-12:00").instant.isoformat(), str(parse_date("2026-11-19-12:00").day)
    ('2026-11-20T11:59:59.999999+00:00', '2026-11-19')
    >>> parse_date("2026-11-20T10:00:00+01:00").instant.isoformat()
    '2026-11-20T09:00:00+00:00'
    >>> [parse_date(t) for t in ("2026-11-20T10:00Z", "2026-11-20 10:00:00", "20261120T100000Z",
    ...                          "2027-02-29", " 2026-11-20")]
    [None, None, None, None, None]
    """
    if not isinstance(text, str):
        return None
    match = _DATE_RE.fullmatch(text)
    if match:
        day, zone = _day(match), _offset(match)
        if day is None or zone is None:
            return None
        try:
            end = datetime.combine(day, _END_OF_DAY, zone).astimezone(timezone.utc)
        except (ValueError, OverflowError):
            return None
        return DateValue(end, day, False)
    match = _DATETIME_RE.fullmatch(text)
    if not match:
        return None
    day, zone = _day(match), _offset(match)
    hour, minute, second = int(match.group("H")), int(match.group("M")), int(match.group("S"))
    fraction = match.group("f") or ""
    if day is None or zone is None or minute > 59 or second > 59:
        return None
    extra = timedelta()
    if hour == 24:  # 24:00:00 is the end of the day: the next day's midnight
        if minute or second or fraction.strip("0"):
            return None
        hour, extra = 0, timedelta(days=1)
    elif hour > 23:
        return None
    micro = int((fraction + "000000")[:6])
    if round_up and fraction[6:].strip("0"):
        extra += timedelta(microseconds=1)
    try:
        local = datetime(day.year, day.month, day.day, hour, minute, second, micro, zone) + extra
        instant = local.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return DateValue(instant, instant.date(), True)


def parse_instant(text: str) -> tuple[datetime, bool] | None:
    """``(utc_instant, timed)`` of a date or date-time (see :func:`parse_date`), else ``None``."""
    value = parse_date(text)
    return None if value is None else (value.instant, value.timed)


def utc_now() -> datetime:
    """The current instant, UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def resolve_at(at: datetime | str | None, record_at: str | None = None) -> datetime:
    """The assessment time: the caller's, else the record's ``assessed_at``, else now (UTC).

    A date-time without offset is UTC. A date alone means the *start* of the day it names, in
    UTC, whatever offset it carries (``2026-11-20-05:00`` is 2026-11-20T00:00:00Z, not five
    hours later): every record date looks as recent as it can (time windows err on the safe
    side, as record dates do by standing for the end of their day), and a record date on that
    same day is not in the future. Raises :class:`~kgmassage.errors.ParameterError` for a
    caller's value that does not parse. A record value that does not parse is ignored
    (validation reports it) and the current time is used.

    >>> resolve_at("2026-11-20-05:00").isoformat()
    '2026-11-20T00:00:00+00:00'
    """
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    for text in (at, record_at):
        if text is None:
            continue
        parsed = parse_date(str(text))
        if parsed is None:
            if text is at:
                raise ParameterError(
                    f"not an xsd:date or xsd:dateTime (e.g. 2026-11-20 or "
                    f"2026-11-20T10:00:00Z): {cut(str(at))!r}"
                )
            continue
        if parsed.timed:
            return parsed.instant
        return datetime.combine(parsed.day, time(0), tzinfo=timezone.utc)
    return utc_now()


_XSD_DATE, _XSD_DATETIME = str(XSD.date), str(XSD.dateTime)
_NT_LITERAL = re.compile(
    r'^"(?P<text>(?:[^"\\]|\\.)*)"(?:\^\^<(?P<datatype>[^>]*)>|@[A-Za-z0-9-]+)?$'
)


def _instant_text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _nt_datetime(value: datetime) -> str:
    return f'"{_instant_text(value)}"^^<{_XSD_DATETIME}>'


def _nt_date(value: date) -> str:
    return f'"{value.isoformat()}"^^<{_XSD_DATE}>'


def nt_date(literal: str, *, round_up: bool = False) -> DateValue | None:
    """The date an N-Triples literal holds (see :func:`literal_date`): an ``xsd:date`` or
    ``xsd:dateTime`` literal whose lexical form parses as that datatype, else ``None``.
    (Date lexical forms hold no character N-Triples escapes.)"""
    match = _NT_LITERAL.match(literal)
    if not match or match.group("datatype") not in (_XSD_DATE, _XSD_DATETIME):
        return None
    parsed = parse_date(match.group("text"), round_up=round_up)
    if parsed is None or parsed.timed != (match.group("datatype") == _XSD_DATETIME):
        return None
    return parsed


def _before(at: datetime, length: timedelta) -> datetime:
    """``at - length``, or the earliest instant there is when that lies before year 1 (no
    date can be earlier, so a window's cutoff means the same)."""
    try:
        return at - length
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def context_triples(
    patient: str,
    at: datetime,
    windows: Mapping[str, timedelta],
    dates: Iterable[tuple[str, str, str]],
    label: str = "",
    clock: datetime | None = None,
) -> list[tuple[str, str, str]]:
    """The evaluation context of one patient (see module doc) as triples of N-Triples terms.

    Args:
        patient: the patient node's IRI.
        at: the assessment time (UTC).
        windows: each time window's IRI and length.
        dates: the record's date values, ``(subject, property IRI, literal)``, subject and
            literal in N-Triples syntax (:attr:`kgmassage.records.PatientRecord.dates`).
        label: makes the blank nodes' labels unique among the patients of one document.
        clock: the time now (default: the computer's clock); only its UTC day counts.
    """
    node = f"<{patient}>"
    km = KM_IRI
    today = (clock if clock is not None else datetime.now(timezone.utc)).astimezone(
        timezone.utc).date()
    limit = datetime.combine(today + timedelta(days=2), time(0), timezone.utc)
    out = [
        (node, f"<{km}evaluatedAt>", _nt_datetime(at)),
        (node, f"<{km}evaluationDay>", _nt_date(at.date())),
        (node, f"<{km}clockLimit>", _nt_datetime(limit)),
    ]
    for index, (window, length) in enumerate(windows.items()):
        cutoff = f"_:w{label}x{index}"
        out += [(node, f"<{km}windowCutoff>", cutoff), (cutoff, f"<{km}window>", f"<{window}>"),
                (cutoff, f"<{km}cutoff>", _nt_datetime(_before(at, length)))]
    for index, (subject, prop, literal) in enumerate(dates):
        fact = f"_:d{label}x{index}"
        out += [(subject, f"<{km}dateFact>", fact), (subject, f"<{km}dateField>", f"<{prop}>"),
                (fact, f"<{km}dateProperty>", f"<{prop}>"),
                (fact, f"<{km}dateValue>", literal), (fact, f"<{km}factOf>", node)]
        # finer than a microsecond: an item's date rounds up (more recent), a clearance's down
        parsed = nt_date(literal, round_up=prop != f"{km}issuedOn")
        if parsed is not None:
            first = parsed.instant if parsed.timed else _day_start(parsed.instant)
            out += [(fact, f"<{km}instant>", _nt_datetime(parsed.instant)),
                    (fact, f"<{km}day>", _nt_date(parsed.day)),
                    (fact, f"<{km}firstDay>", _nt_date(first.date())),
                    (fact, f"<{km}firstInstant>", _nt_datetime(first)),
                    (fact, f"<{km}timed>", f'"{str(parsed.timed).lower()}"^^<{XSD.boolean}>')]
    return out


def _day_start(end: datetime) -> datetime:
    """The first instant of the day whose last instant is ``end`` (a date stands for its
    last instant, in its own offset); the year 1 when that is before it."""
    try:
        return end - _DAY_SPAN
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def add_context(
    graph: Graph,
    patient: URIRef,
    at: datetime,
    windows: Mapping[URIRef, timedelta] | None = None,
    nodes: Iterable[URIRef | BNode] | None = None,
) -> None:
    """Add the evaluation context of ``patient`` at ``at`` to an rdflib ``graph`` (the same
    triples as :func:`context_triples`).

    ``nodes`` limits the date facts to these subjects (default: every subject of the graph).
    """
    subjects = set(nodes) if nodes is not None else None
    dates = [
        (nt_term(node), str(prop), nt_term(value))
        for prop in DATE_PROPERTIES
        for node, value in graph.subject_objects(prop)
        if subjects is None or node in subjects
    ]
    label = BNode()
    spans = {str(w): length for w, length in (windows or {}).items()}
    for triple in context_triples(str(patient), at, spans, dates, label=str(label)):
        graph.add(tuple(from_n3(term) for term in triple))  # type: ignore[arg-type]


def literal_date(value: object) -> DateValue | None:
    """The date a graph value holds: an ``xsd:date`` or ``xsd:dateTime`` literal whose lexical
    form parses as that datatype (:func:`parse_date`); ``None`` for anything else (a plain
    literal, a string, an IRI, a date typed as a date-time)."""
    if not isinstance(value, Literal) or value.datatype not in (XSD.date, XSD.dateTime):
        return None
    parsed = parse_date(str(value))
    if parsed is None or parsed.timed != (value.datatype == XSD.dateTime):
        return None
    return parsed
