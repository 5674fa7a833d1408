"""Patient records (JSON, NDJSON, Turtle) → patient graphs in the ``km:`` vocabulary.

A JSON record maps to RDF as fixed in ``interfaces.md``:

* the patient node is ``urn:kgmassage:patient:<percent-encoded id>`` (``a km:Patient``), or
  ``urn:kgmassage:record:<n>`` when the record has no usable id;
* each list item is ``<patient IRI>/<list>/<index>`` (``conditions``, ``findings``,
  ``procedures``, ``clearances``, ``planned``), its code ``<item IRI>/code``;
* dates keep their lexical form (``xsd:dateTime`` when the text holds a ``T``, else ``xsd:date``,
  even when invalid, so that validation reports them); enumerated values that are not one of the
  vocabulary's are kept as plain literals; technique and target names are resolved by local name,
  label or synonym (:mod:`kgmassage.vocabulary`), unknown ones kept as plain literals;
* nothing is dropped: an unknown key is kept as ``km:unrecognizedField`` (a scalar, an empty array
  or object) or ``km:unrecognizedContent`` (a non-empty array or object, which may hide items);
  a list entry that is not an object as ``km:unrecognizedEntry``. A record with a duplicate key
  is refused (:class:`~kgmassage.errors.RecordError` naming the key): JSON parsers keep only one
  of the values.

A Turtle record is the patient node, its items (the objects of the list properties) and their
codes; any other subject in the file is refused, and so is a record whose values (a status, a
technique…) are nodes the file describes or which states what the package derives (a date fact,
a class): a record cannot add to the knowledge base.

Nothing is ever fetched from the network: JSON is read as plain JSON (no JSON-LD), RDF only as
Turtle.

>>> rec = load_record({"id": "p-9", "conditions": [{"type": "KneePain", "side": "left"}]})
>>> rec.iri
rdflib.term.URIRef('urn:kgmassage:patient:p-9')
>>> str(rec.graph.value(URIRef(rec.iri + "/conditions/0"), KM.side))
'https://w3id.org/kgmassage#Left'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property, partial
from pathlib import Path
from typing import Any, TypeVar, cast

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from .errors import RecordError, cut
from .fhir import bundle_to_record, is_fhir
from .namespaces import KM, KM_IRI, km_term, local_name, nt_literal, nt_term, patient_iri
from .resources import rules_graph, shape_graph
from .timeline import literal_date, parse_date, utc_now
from .vocabulary import side_named, status_named, target_named, technique_named

__all__ = [
    "LISTS",
    "JSON_KEYS",
    "ITEM_IRI",
    "keep_lexical_forms",
    "PatientRecord",
    "iter_records",
    "iter_unread",
    "UnreadLine",
    "load_record",
    "record_to_graph",
    "graph_to_record",
    "record_iri",
    "iter_lines",
    "record_graph",
    "unskolemized",
    "nt_literal",
    "DATE_PROPERTY_IRIS",
]

#: JSON list name → patient property.
LISTS: dict[str, URIRef] = {
    "conditions": KM.hasCondition,
    "findings": KM.hasFinding,
    "procedures": KM.hasProcedure,
    "clearances": KM.hasClearance,
    "planned": KM.hasPlannedIntervention,
}
_T = TypeVar("_T")
_LIST_CLASS: dict[str, Node] = {"clearances": KM.Clearance, "planned": KM.PlannedIntervention}
_SIDES = {"left": KM.Left, "right": KM.Right, "bilateral": KM.Bilateral}
_STATUSES = {
    "active": KM.Active,
    "suspected": KM.Suspected,
    "resolved": KM.Resolved,
    "refuted": KM.Refuted,
    "entered-in-error": KM.EnteredInError,
}
_RECORD_DATES = {"assessed_at": KM.assessedAt, "birth_date": KM.birthDate}
#: Properties whose values are dates or date-times.
DATE_PROPERTY_IRIS = tuple(str(p) for p in (
    KM.onset, KM.recordedAt, KM.performedOn, KM.issuedOn, KM.birthDate, KM.assessedAt))
#: Item keys whose value is a date (``date`` depends on the list, see :func:`_date_property`).
_ITEM_DATES = {"onset": KM.onset, "recorded_at": KM.recordedAt}
_ITEM_FLAGS = {"incision_closed": KM.incisionClosed, "sutures_removed": KM.suturesRemoved}
_ITEM_NAMES = {"type": RDF.type, "site": KM.site}
_PLAN_NAMES = {"technique": (KM.technique, technique_named), "target": (KM.target, target_named)}
_COMMON_KEYS = frozenset({"side", "site", "status"})
#: The wound flags are read on every list: a knee surgery listed as a condition or finding is
#: judged by the same rule as a procedure (its stated open wound must not be dropped).
#: An item's ``onset`` and ``date`` are read in every list, as in Turtle: a surgery listed as a
#: condition with its date, a fracture listed as a procedure with its onset (each counts).
_ITEM_FIELDS = _COMMON_KEYS | {"type", "code", "onset", "date", "recorded_at", *_ITEM_FLAGS}
#: Keys each list's items understand; any other key is kept as ``km:unrecognizedField`` (or
#: ``km:unrecognizedContent``).
_KEYS = {
    "conditions": _ITEM_FIELDS,
    "findings": _ITEM_FIELDS,
    "procedures": _ITEM_FIELDS,
    "clearances": _COMMON_KEYS | {"date", "issued_by"},
    "planned": _COMMON_KEYS | {"technique", "target"},
}
_RECORD_KEYS = frozenset({"id", *_RECORD_DATES, *LISTS})
#: Keys that name a condition, finding or procedure. In a clearance or a planned intervention
#: they are content that may hide an item (a DVT filed under "clearances" must not pass for a
#: clearance, nor go unread): UNRECOGNIZED, not a field no rule reads.
_ITEM_KEYS = frozenset({"type", "code"})
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
#: An item node of a JSON record: ``<patient IRI>/<list>/<index>``.
ITEM_IRI = re.compile(r"^(?P<patient>.+)/(?P<list>" + "|".join(LISTS) + r")/(?P<index>[0-9]+)$")

_lexical_lock = threading.RLock()


class _IllTypedFilter(logging.Filter):
    """Drops rdflib's warning about literals whose lexical form is not of their datatype."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to convert Literal lexical form")


_ILL_TYPED_FILTER = _IllTypedFilter()


@contextmanager
def keep_lexical_forms() -> Iterator[None]:
    """Within the block, rdflib keeps literals' lexical forms and stays quiet about invalid ones.

    Record dates must keep the form they were written in (``Z`` stays ``Z``), and invalid dates
    are expected (validation reports them), so rdflib's normalisation and its warning are turned
    off here, and restored afterwards.
    """
    term_logger = logging.getLogger("rdflib.term")
    with _lexical_lock:
        previous = rdflib.NORMALIZE_LITERALS
        rdflib.NORMALIZE_LITERALS = False
        term_logger.addFilter(_ILL_TYPED_FILTER)
        try:
            yield
        finally:
            term_logger.removeFilter(_ILL_TYPED_FILTER)
            rdflib.NORMALIZE_LITERALS = previous


@dataclass(frozen=True)
class PatientRecord:
    """One patient record, read and mapped to its patient graph.

    Attributes:
        id: the record's ``id`` (``None`` when it has none).
        iri: the patient node.
        source: the file name (``"<stdin>"``, ``"<dict>"``, ``"<graph>"``).
        position: 1-based position of the record in its source.
        line: 1-based line where the record starts, when known.
        digest: ``sha256:<hex>`` of the canonical JSON (Turtle: of the sorted N-Triples of
            the patient graph, its blank nodes numbered as the file gives them).
        assessed_at: the record's own ``assessed_at`` lexical value, if any.
        ntriples: the patient graph as N-Triples (blank nodes of a Turtle record skolemized:
            what the decision engine loads).
        dates: every date value of the record: ``(subject, property, literal)``, subject and
            literal in N-Triples syntax (for the evaluation context, :mod:`kgmassage.timeline`).
        graph: the patient graph as an rdflib graph (parsed when first asked for; do not
            mutate it: copy it first).
    """

    id: str | None
    iri: URIRef
    source: str
    position: int
    line: int | None
    digest: str
    assessed_at: str | None
    ntriples: str = field(default="", compare=False, repr=False)
    dates: tuple[tuple[str, str, str], ...] = field(default=(), compare=False, repr=False)
    parsed: Graph | None = field(default=None, compare=False, repr=False)
    #: For a record read from a FHIR Bundle: the resource each item comes from, by the item's
    #: place in the record (``"findings[0]"`` → ``"Encounter/e1 (reasonCode)"``).
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def graph(self) -> Graph:
        """The patient graph (rdflib)."""
        return self.parsed if self.parsed is not None else _parse_ntriples(self.ntriples)

    @cached_property
    def data_graph(self) -> Graph:
        """The patient graph as the engine sees it (rdflib; blank nodes skolemized)."""
        return self.graph if self.parsed is None else _parse_ntriples(self.ntriples)

    @cached_property
    def nodes(self) -> frozenset[str]:
        """The record's nodes (IRIs; blank nodes skolemized): those it describes, and those it
        links to outside the vocabulary, even when they say nothing (``"findings": [{}]``)."""
        found = set()
        for line in self.ntriples.splitlines():
            if line.startswith("<"):  # <subject> <predicate> object . (IRIs hold no spaces)
                found.add(line[1:line.index(">")])
                node = line.split(" ", 2)[2].removesuffix(" .")
                if node.startswith("<") and not node.startswith(f"<{KM_IRI}"):
                    found.add(node[1:-1])
        return frozenset(found)

    @classmethod
    def from_graph(cls, graph: Graph, **fields: Any) -> PatientRecord:
        """A record whose patient graph is ``graph`` (N-Triples and dates taken from it)."""
        skolem = graph.skolemize()
        dates = tuple(
            (nt_term(term), str(prop), nt_term(value))
            for prop in DATE_PROPERTY_IRIS
            for term, value in skolem.subject_objects(URIRef(prop))
        )
        text = skolem.serialize(format="nt")
        _check_loadable(text, fields.get("source", "<graph>"), fields.get("line"))
        return cls(ntriples=text, dates=dates, parsed=graph, **fields)


def _check_loadable(ntriples: str, source: str, line: int | None) -> None:
    """Refuse a patient graph the engine could not load, which would fail the whole chunk it
    is loaded with: a value beyond the 16 MiB the N-Triples reader holds, or a term rdflib
    accepts and oxigraph does not (IRIs are checked before, by :func:`_is_iri` and
    :func:`_bad_iri`, and named there)."""
    try:
        for _ in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES):
            pass
    except MemoryError:
        raise RecordError(source, "a value of the record is longer than 16 MiB",
                          line=line) from None
    except SyntaxError as exc:
        raise RecordError(source, f"a term of the record is not valid RDF ({cut(str(exc), 120)})"
                          "; correct it", line=line) from None


def _bad_iri(graph: Graph) -> str | None:
    """Why ``graph`` cannot be loaded, if an IRI of it is one that rdflib reads but RFC 3987
    refuses (``<urn:c{0}>``, ``<http://a/b#c#d>``): nothing could write or load it."""
    iris = {str(term) for triple in graph for term in triple if isinstance(term, URIRef)}
    bad = sorted(iri for iri in iris if not _is_iri(iri))
    return (f"the IRI <{cut(bad[0], 80)}> is not valid (RFC 3987): correct or percent-encode "
            "it" if bad else None)


def _is_iri(value: str) -> bool:
    """Whether ``value`` is an absolute IRI the engine can load (RFC 3987)."""
    if not _ABSOLUTE_IRI.match(value):
        return False
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


# --- JSON → graph ---------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(value: Any) -> str:
    """A scalar as text: strings as they are, anything else as its compact JSON."""
    return value if isinstance(value, str) else _compact(value)


# --- JSON → N-Triples ------------------------------------------------------------------------
#
# A JSON record is written straight to N-Triples (no rdflib terms: ~50 µs a record); its rdflib
# graph, when one is wanted, is parsed from that text (:attr:`PatientRecord.graph`).

_XSD = str(XSD)
_RDF_TYPE = str(RDF.type)


def _json_literal(value: Any) -> str:
    """A JSON scalar as an N-Triples literal: text as a plain literal, numbers and booleans
    typed (xsd:integer, xsd:double, xsd:boolean), anything else as its compact JSON text."""
    if isinstance(value, bool):
        return nt_literal("true" if value else "false", _XSD + "boolean")
    if isinstance(value, int):
        return nt_literal(str(value), _XSD + "integer")
    if isinstance(value, float):
        return nt_literal(repr(value), _XSD + "double")
    return nt_literal(_text(value))


class _Writer:
    """Collects the N-Triples lines of one record, and the record's date values."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.dates: list[tuple[str, str, str]] = []  # (subject, property, literal), N-Triples

    def iri(self, subject: str, predicate: str, obj: str) -> None:
        self.lines.append(f"<{subject}> <{predicate}> <{obj}> .")

    def literal(self, subject: str, predicate: str, literal: str) -> None:
        self.lines.append(f"<{subject}> <{predicate}> {literal} .")

    def term(self, subject: str, predicate: str, term: URIRef | None, value: Any) -> None:
        """``term`` when the value named one, else the value as given (a plain literal)."""
        if term is not None:
            self.iri(subject, predicate, str(term))
        else:
            self.literal(subject, predicate, nt_literal(_text(value)))

    def date(self, subject: str, predicate: str, value: Any) -> None:
        """A date keeps its lexical form (``xsd:dateTime`` when it holds a ``T``, else
        ``xsd:date``, valid or not: validation reports it); a non-text value its JSON text."""
        if isinstance(value, str):
            literal = nt_literal(value, _XSD + ("dateTime" if "T" in value else "date"))
        else:
            literal = nt_literal(_compact(value))
        self.literal(subject, predicate, literal)
        self.dates.append((f"<{subject}>", predicate, literal))

    def unrecognized(self, subject: str, key: str, value: Any, states: bool = False) -> None:
        """An unknown key: content that may hide items (a non-empty array or object, or a
        key that ``states`` an item where none belongs), else a field no rule reads."""
        hides = states or (isinstance(value, (dict, list)) and len(value) > 0)
        prop = KM.unrecognizedContent if hides else KM.unrecognizedField
        self.literal(subject, str(prop), nt_literal(f"{key}={_compact(value)}"))


def record_iri(position: int) -> URIRef:
    """IRI of the patient node of a record without a usable id: ``urn:kgmassage:record:<n>``."""
    return URIRef(f"urn:kgmassage:record:{position}")


def _patient_node(obj: Mapping[str, Any], position: int) -> tuple[URIRef, str | None]:
    ident = obj.get("id")
    if isinstance(ident, str) and ident:
        return patient_iri(ident), ident
    return record_iri(position), None


def _add_codes(out: _Writer, item: str, code: Any, source: str, where: str) -> None:
    """An item's ``code``: one code object, or an array of them (every coding counts)."""
    if isinstance(code, list) and code and all(isinstance(c, dict) for c in code):
        for index, one in enumerate(code):
            _add_coding(out, item, f"{item}/code/{index}", one)
    elif isinstance(code, dict):
        _add_coding(out, item, f"{item}/code", code)
    else:
        raise RecordError(source, "a code must be a JSON object with \"system\" and \"code\" "
                          "(or an array of such objects)", field=where)


def _add_coding(out: _Writer, item: str, node: str, code: Mapping[str, Any]) -> None:
    out.iri(item, str(KM.code), node)
    out.iri(node, _RDF_TYPE, str(KM.Coding))
    for key, value in code.items():
        if value is None:
            continue
        if key == "system":
            if isinstance(value, str) and _is_iri(value):
                out.iri(node, str(KM.system), value)
            else:
                out.literal(node, str(KM.system), nt_literal(_text(value)))
        elif key == "code":
            out.literal(node, str(KM.codeValue), nt_literal(_text(value)))
        elif key == "display":
            out.literal(node, str(RDFS.label), nt_literal(_text(value)))
        else:
            out.unrecognized(node, key, value)


def _date_property(list_name: str) -> URIRef:
    """What ``date`` means in a list: when a clearance was issued, else when the item was
    done (a procedure's date; also in another list)."""
    return KM.issuedOn if list_name == "clearances" else KM.performedOn


def _add_item(out: _Writer, patient: str, list_name: str, index: int, item: Any,
              source: str) -> None:
    node = f"{patient}/{list_name}/{index}"
    out.iri(patient, str(LISTS[list_name]), node)
    if list_name in _LIST_CLASS:
        out.iri(node, _RDF_TYPE, str(_LIST_CLASS[list_name]))
    if not isinstance(item, dict):
        out.literal(node, str(KM.unrecognizedEntry), nt_literal(_compact(item)))
        return
    known = _KEYS[list_name]
    for key, value in item.items():
        if key not in known:
            out.unrecognized(node, key, value, states=key in _ITEM_KEYS and value is not None)
        elif value is None:
            continue
        elif key in _ITEM_NAMES:
            out.iri(node, str(_ITEM_NAMES[key]), str(km_term(_text(value))))
        elif key in _PLAN_NAMES:
            prop, resolve = _PLAN_NAMES[key]
            out.term(node, str(prop), resolve(value) if isinstance(value, str) else None, value)
        elif key == "code":
            _add_codes(out, node, value, source, f"{list_name}[{index}].code")
        elif key == "side":
            out.term(node, str(KM.side), side_named(value) if isinstance(value, str) else None,
                     value)
        elif key == "status":
            named = status_named(value) if isinstance(value, str) else None
            out.term(node, str(KM.status), named, value)
        elif key in _ITEM_DATES:
            out.date(node, str(_ITEM_DATES[key]), value)
        elif key == "date":
            out.date(node, str(_date_property(list_name)), value)
        elif key in _ITEM_FLAGS:
            flag = _json_literal(value) if isinstance(value, bool) else nt_literal(_text(value))
            out.literal(node, str(_ITEM_FLAGS[key]), flag)
        elif key == "issued_by":
            out.literal(node, str(KM.issuedBy), nt_literal(_text(value)))


def _bind(graph: Graph) -> Graph:
    graph.bind("km", KM_IRI)
    graph.bind("xsd", str(XSD))
    return graph


def _write_record(obj: Mapping[str, Any], source: str, position: int) -> _Writer:
    if not isinstance(obj, Mapping):
        raise RecordError(source, "a patient record must be a JSON object")
    out = _Writer()
    patient = str(_patient_node(obj, position)[0])
    out.iri(patient, _RDF_TYPE, str(KM.Patient))
    for key, value in obj.items():
        if key not in _RECORD_KEYS:
            out.unrecognized(patient, key, value)
        elif value is None:
            continue
        elif key == "id":
            if isinstance(value, (dict, list)):
                raise RecordError(source, "the record id must be a text", field="id")
            out.literal(patient, str(KM.identifier), _json_literal(value))
        elif key in _RECORD_DATES:
            out.date(patient, str(_RECORD_DATES[key]), value)
        else:
            if not isinstance(value, list):
                raise RecordError(source, f"\"{key}\" must be a JSON array (of objects), "
                                  f"not {_json_kind(value)}", field=key)
            for index, item in enumerate(value):
                _add_item(out, patient, key, index, item, source)
    return out


#: Prefix of the IRIs rdflib gives blank nodes when it skolemizes a graph.
SKOLEM_PREFIX = "https://rdflib.github.io/.well-known/genid/rdflib/"


def unskolemized(node: str) -> str:
    """A node as the record wrote it: a skolemized blank node back to ``_:label``."""
    return "_:" + node[len(SKOLEM_PREFIX):] if node.startswith(SKOLEM_PREFIX) else node


def record_graph(ntriples: str) -> Graph:
    """The rdflib graph of a record's N-Triples (lexical forms kept)."""
    return _parse_ntriples(ntriples)


def _parse_ntriples(text: str) -> Graph:
    graph = _bind(Graph())
    with keep_lexical_forms():
        graph.parse(data=text, format="nt")
    return graph


def record_to_graph(obj: Mapping[str, Any], *, source: str = "<dict>", position: int = 1) -> Graph:
    """Map one JSON record (a parsed object) to its patient graph.

    Args:
        obj: the record.
        source: where it came from, for error messages.
        position: its 1-based position in the source (names the node of a record without id).

    Raises:
        RecordError: the record's structure is wrong (not an object, a list that is not a list,
            a code that is not an object); names the field.
    """
    return _parse_ntriples("\n".join(_write_record(obj, source, position).lines) + "\n")


# --- graph → JSON ---------------------------------------------------------------------------

#: Patient-graph predicate → the JSON key it comes from (lists, record, item and code keys).
JSON_KEYS: dict[Node, str] = {
    **{prop: name for name, prop in LISTS.items()},
    KM.identifier: "id",
    KM.assessedAt: "assessed_at",
    KM.birthDate: "birth_date",
    RDF.type: "type",
    KM.code: "code",
    KM.side: "side",
    KM.status: "status",
    KM.site: "site",
    KM.onset: "onset",
    KM.recordedAt: "recorded_at",
    KM.performedOn: "date",
    KM.issuedOn: "date",
    KM.issuedBy: "issued_by",
    KM.incisionClosed: "incision_closed",
    KM.suturesRemoved: "sutures_removed",
    KM.technique: "technique",
    KM.target: "target",
    KM.system: "system",
    KM.codeValue: "code",
    RDFS.label: "display",
}
#: Item predicates whose value goes back to JSON as a name or a plain value.
_ITEM_PREDICATES = (
    KM.onset, KM.recordedAt, KM.performedOn, KM.issuedOn, KM.issuedBy, KM.incisionClosed,
    KM.suturesRemoved, KM.site, KM.technique, KM.target,
)
_SIDE_NAMES: dict[Node, str] = {v: k for k, v in _SIDES.items()}
_STATUS_NAMES: dict[Node, str] = {v: k for k, v in _STATUSES.items()}
_LIST_NAMES = {v: k for k, v in LISTS.items()}


def _literal_value(node: Any) -> Any:
    if isinstance(node, Literal) and node.datatype == XSD.boolean and not node.ill_typed:
        return node.toPython()
    return str(node)


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    if key in out:
        previous = out[key]
        out[key] = (previous if isinstance(previous, list) else [previous]) + [value]
    else:
        out[key] = value


def _unrecognized_to_json(out: dict[str, Any], value: Any) -> None:
    key, _, text = str(value).partition("=")
    try:
        out[key] = json.loads(text)
    except ValueError:
        out[key] = text


def _coding_to_json(graph: Graph, node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pred, obj in _ordered(graph.predicate_objects(node)):
        if pred in (KM.system, KM.codeValue, RDFS.label):
            _set(out, JSON_KEYS[pred], str(obj))
        elif pred in (KM.unrecognizedField, KM.unrecognizedContent):
            _unrecognized_to_json(out, obj)
    return out




def _ordered(nodes: Iterable[Any]) -> list[Any]:
    """``nodes`` in rdflib's term order (stable output for the same graph)."""
    return sorted(nodes)


def _item_to_json(graph: Graph, node: Any, list_name: str) -> Any:
    entry = graph.value(node, KM.unrecognizedEntry)
    if entry is not None:
        return json.loads(str(entry))
    out: dict[str, Any] = {}
    codes = _ordered(graph.objects(node, KM.code))
    if codes:
        listed = len(codes) > 1 or str(codes[0]).rsplit("/", 1)[-1].isdigit()
        coded = [_coding_to_json(graph, c) for c in codes]
        out["code"] = coded if listed else coded[0]
    for pred, obj in _ordered(graph.predicate_objects(node)):
        if pred == RDF.type:
            if obj != _LIST_CLASS.get(list_name):
                _set(out, "type", local_name(obj))
        elif pred == KM.code:
            continue
        elif pred == KM.side:
            _set(out, "side", _SIDE_NAMES.get(obj, str(obj)))
        elif pred == KM.status:
            _set(out, "status", _STATUS_NAMES.get(obj, str(obj)))
        elif pred in (KM.unrecognizedField, KM.unrecognizedContent):
            _unrecognized_to_json(out, obj)
        elif pred in _ITEM_PREDICATES:
            value = local_name(obj) if isinstance(obj, URIRef) else _literal_value(obj)
            _set(out, JSON_KEYS[pred], value)
    return out


def _item_order(node: Any) -> tuple[int, str]:
    match = ITEM_IRI.match(str(node))
    return (int(match.group("index")), "") if match else (sys.maxsize, str(node))


def graph_to_record(graph: Graph, patient: URIRef) -> dict[str, Any]:
    """The JSON record of ``patient`` in ``graph`` (the inverse of :func:`record_to_graph`).

    Keys come out normalised: a condition's ``date`` becomes ``recorded_at``; items are ordered
    by the index in their IRI.
    """
    out: dict[str, Any] = {}
    ident = graph.value(patient, KM.identifier)
    if ident is not None:
        out["id"] = ident.toPython() if isinstance(ident, Literal) else str(ident)
    for prop, key in ((KM.assessedAt, "assessed_at"), (KM.birthDate, "birth_date")):
        value = graph.value(patient, prop)
        if value is not None:
            out[key] = str(value)
    for prop in (KM.unrecognizedField, KM.unrecognizedContent):
        for value in _ordered(graph.objects(patient, prop)):
            _unrecognized_to_json(out, value)
    for list_name, prop in LISTS.items():
        items = sorted(graph.objects(patient, prop), key=_item_order)
        if items:
            out[list_name] = [_item_to_json(graph, item, list_name) for item in items]
    return out


# --- reading sources ------------------------------------------------------------------------


_NOT_UNICODE = "text that is not valid Unicode (a lone surrogate such as \\ud800)"


def _digest(data: str) -> str:
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def _from_python(value: Any, source: str, where: str = "") -> Any:
    """A record built in Python as the JSON it stands for: ``date`` and ``datetime`` values as
    their ISO 8601 text (a naive date-time then means UTC, as in JSON), tuples as arrays.

    Raises:
        RecordError: a value JSON has no form for (a set, bytes, a Decimal …, a key that is not
            text), naming its field.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):  # JSON keys are text; json.dumps would even renumber
                raise RecordError(source, f"the key {cut(repr(key), 40)} is not text (JSON "
                                  "keys are text)", field=where or None)
        return {key: _from_python(item, source, f"{where}.{key}" if where else str(key))
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_from_python(item, source, f"{where}[{index}]")
                for index, item in enumerate(value)]
    raise RecordError(source, f"a {type(value).__name__} value has no JSON form: give text, a "
                      "number, true/false, null, an array or an object", field=where or None)


def _json_record(obj: Any, source: str, position: int, line: int | None,
                 at: datetime | None = None) -> PatientRecord:
    if not isinstance(obj, Mapping):
        raise RecordError(source, f"a patient record must be a JSON object, not {_json_kind(obj)}",
                          line=line)
    if too_deep(obj):
        raise RecordError(source, f"JSON nested more than {MAX_DEPTH} levels deep", line=line)
    try:
        digest = _digest(_compact(dict(obj)))
        origins: dict[str, str] = {}
        if is_fhir(obj):
            sources: dict[str, list[str]] = {}
            obj = bundle_to_record(obj, at=at or utc_now(), source=source, sources=sources)
            origins = {f"{name}[{index}]": resource for name, found in sources.items()
                       for index, resource in enumerate(found)}
        written = _write_record(obj, source, position)
        text = "\n".join(written.lines) + "\n"
        text.encode("utf-8")
        _check_loadable(text, source, line)
    except RecordError as exc:
        if exc.line is not None or line is None:
            raise
        raise RecordError(source, exc.detail, line=line, field=exc.field) from None
    except UnicodeEncodeError:
        raise RecordError(source, f"the record holds {_NOT_UNICODE}", line=line) from None
    patient, ident = _patient_node(obj, position)
    assessed = obj.get("assessed_at")
    return PatientRecord(
        id=ident,
        iri=patient,
        source=source,
        position=position,
        line=line,
        digest=digest,
        assessed_at=assessed if isinstance(assessed, str) else None,
        ntriples=text,
        dates=tuple(written.dates),
        origins=origins,
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return _compact(value)
    return "a number"


def _decode(data: bytes, source: str, first_line: int = 1) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        raise RecordError(source, "the file is not UTF-8 text (byte "
                          f"0x{data[exc.start]:02x} cannot be decoded)", line=line) from None


def _json_error(exc: json.JSONDecodeError, source: str, line_offset: int = 0) -> RecordError:
    return RecordError(source, f"malformed JSON: {exc.msg} (column {exc.colno})",
                       line=exc.lineno + line_offset)


#: Deepest nesting of arrays and objects accepted in a record (a real record needs 4).
MAX_DEPTH = 100


class DuplicateKeyError(Exception):
    """A JSON object gives one key twice (raised by :func:`unique_keys`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class NotJsonError(Exception):
    """NaN or Infinity, which Python's reader accepts and JSON does not."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def reject_constant(token: str) -> Any:
    """``parse_constant``: NaN and Infinity are not JSON (Python's reader accepts them)."""
    raise NotJsonError(token)


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a JSON object as a dict, refusing a key given twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def too_deep(value: Any) -> bool:
    """Whether JSON ``value`` is nested more than :data:`MAX_DEPTH` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _loads(decode: Callable[[], _T], source: str, line: int | None) -> _T:
    """Run ``decode()`` (a JSON decoding step), turning what can go wrong into RecordErrors."""
    try:
        return decode()
    except DuplicateKeyError as exc:
        raise RecordError(
            source, f"the key {json.dumps(cut(exc.key))} is given twice in one object; a JSON "
            "reader keeps only one of its values, so the record is refused: give each key once",
            line=line) from None
    except RecursionError:
        raise RecordError(source, f"JSON nested more than {MAX_DEPTH} levels deep",
                          line=line) from None
    except NotJsonError as exc:
        raise RecordError(source, f"malformed JSON: {exc.token} is not a JSON value",
                          line=line) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # Python reads integers of at most 4,300 digits
        raise RecordError(source, "malformed JSON: a number of more than 4,300 digits",
                          line=line) from None


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=unique_keys, parse_constant=reject_constant)
_PLAIN_DECODER = json.JSONDecoder()


def _json_values(text: str, source: str) -> list[tuple[Any, int]]:
    """The top-level value(s) of a JSON text: an array's elements or one value, with lines.

    An element that repeats a key is returned as its :class:`RecordError` (the others are
    still read)."""
    values: list[tuple[Any, int]] = []
    index = _skip_ws(text, 0)

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def element(start: int) -> tuple[Any, int]:
        try:
            return _loads(lambda: _STRICT_DECODER.raw_decode(text, start), source, line_of(start))
        except RecordError as exc:
            _, end = _loads(lambda: _PLAIN_DECODER.raw_decode(text, start), source, line_of(start))
            return exc, end

    try:
        if index < len(text) and text[index] == "[":
            index = _skip_ws(text, index + 1)
            if index < len(text) and text[index] == "]":
                index += 1
            else:
                while True:
                    value, end = element(index)
                    values.append((value, line_of(index)))
                    index = _skip_ws(text, end)
                    if index < len(text) and text[index] == ",":
                        index = _skip_ws(text, index + 1)
                        continue
                    if index < len(text) and text[index] == "]":
                        index += 1
                        break
                    raise json.JSONDecodeError("Expecting ',' delimiter or ']'", text, index)
        else:
            value, end = element(index)
            if isinstance(value, RecordError):
                raise value
            values.append((value, line_of(index)))
            index = end
        index = _skip_ws(text, index)
        if index != len(text):
            hint = " (one record per line? then name the file .ndjson)" if values else ""
            raise json.JSONDecodeError("Extra data" + hint, text, index)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, source) from None
    return values


def _iter_json(text: str, source: str, at: datetime | None
               ) -> Iterator[PatientRecord | RecordError]:
    values = _json_values(text, source)
    if not values:
        raise RecordError(source, "the JSON array holds no records", line=1)
    array = text.lstrip("\ufeff \t\r\n").startswith("[")
    for position, (value, line) in enumerate(values, start=1):
        if isinstance(value, RecordError):
            yield value
            continue
        try:
            yield _json_record(value, source, position, line, at)
        except RecordError as exc:
            if array and exc.field is None:  # which element of the array
                exc = RecordError(exc.source, exc.detail, line=exc.line,
                                  field=f"[{position - 1}]")
            yield exc


@dataclass(frozen=True)
class UnreadLine:
    """One line of an NDJSON source, not read yet: cohorts hand lines to the worker processes
    that assess them, which read them there (:meth:`read`), in parallel."""

    data: bytes
    source: str
    position: int  # the record's position in its source (blank lines do not count)
    number: int  # the line's number
    at: datetime | None

    def read(self) -> PatientRecord | RecordError:
        """The record on this line, or the error that says why it cannot be read."""
        source, number = self.source, self.number
        try:
            text = _decode(self.data, source, first_line=number).rstrip("\r\n")
            try:
                value = _loads(partial(json.loads, text, object_pairs_hook=unique_keys,
                                       parse_constant=reject_constant), source, number)
            except json.JSONDecodeError as exc:
                raise _json_error(exc, source, line_offset=number - 1) from None
            return _json_record(value, source, self.position, number, self.at)
        except RecordError as exc:
            return exc


def _iter_ndjson_lines(
    lines: Iterator[bytes], source: str, at: datetime | None, defer: bool = False
) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    position = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        position += 1
        line = UnreadLine(raw, source, position, number, at)
        yield line if defer else line.read()
    if position == 0:
        yield RecordError(source, "the file holds no records (it is empty)")


def rdf_syntax_error(exc: Exception, source: str, syntax: str = "Turtle") -> RecordError:
    """The RecordError for an rdflib parser's ``exc`` on ``source``: the line (where the parser
    gives it) and the parser's reason, without its echo of the input."""
    lines = getattr(exc, "lines", None)
    text = str(exc).strip()
    why = getattr(exc, "_why", None) or (text.splitlines()[0] if text else type(exc).__name__)
    relative = re.search(r"with relative '([^']*)'", str(why))
    if relative:  # rdflib words it in terms of the base it resolves against
        why = (f"the relative IRI <{cut(relative.group(1), 60)}> has no base: write an absolute "
               "IRI (<urn:example:…>) or a prefixed name, or declare @base")
    return RecordError(source, f"malformed {syntax}: {why}",
                       line=lines + 1 if isinstance(lines, int) else None)


#: A blank node rdflib's Turtle parser made up (``[ … ]``): a random prefix, then a count.
_MADE_UP = re.compile(r"[nf][0-9a-f]{32}b([0-9]+)")


def _parse_turtle(text: str, source: str) -> Graph:
    graph = Graph()
    try:
        with keep_lexical_forms():
            graph.parse(data=text, format="turtle", publicID="urn:kgmassage:source:")
    except Exception as exc:  # rdflib raises several unrelated types for bad syntax
        raise rdf_syntax_error(exc, source) from None
    _relabel(graph, text)
    return graph


def _relabel(graph: Graph, text: str) -> None:
    """Give the blank nodes the parser made up labels from the file's content and their order
    in it, in place: a file's items keep their labels (shown in reports) from run to run, and
    two files' labels differ."""
    prefix = "t" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] + "b"

    def label(node: Node) -> Node:
        made_up = _MADE_UP.fullmatch(node) if isinstance(node, BNode) else None
        return BNode(prefix + made_up.group(1)) if made_up else node

    for s, p, o in [t for t in graph if isinstance(t[0], BNode) or isinstance(t[2], BNode)]:
        renamed = (label(s), p, label(o))
        if renamed != (s, p, o):
            graph.remove((s, p, o))
            graph.add(renamed)


def _canonical_lines(graph: Graph) -> list[str]:
    """The triples of ``graph`` as sorted N-Triples lines, each blank node named by the number
    the parser gave it in the file (:func:`_relabel`): the same for the same file, in linear
    time. (A canonical labelling, rdflib's or RDFC-1.0, takes exponential time on blank nodes
    that look alike: ten items linked to one another, minutes.)"""
    lines = graph.serialize(format="nt").splitlines()
    return sorted(_FILE_LABEL.sub(r"_:b\1", line) for line in lines if line)


#: A blank-node label of :func:`_relabel` (its file's hash, then the parser's number).
_FILE_LABEL = re.compile(r"_:t[0-9a-f]{16}b([0-9]+)")


def _described(graph: Graph, node: Any) -> bool:
    """Whether ``node`` is a record node the file describes (not a term of the vocabulary)."""
    return (
        isinstance(node, (URIRef, BNode))
        and not str(node).startswith(KM_IRI)
        and (node, None, None) in graph
    )


def _reachable(graph: Graph, start: URIRef | BNode) -> Graph:
    """The record of patient ``start``: its own triples, those of the nodes it links to (its
    items, whatever the link: a misspelt list property still leads to its items) and those of
    the nodes they link to (codes)."""
    sub = _bind(Graph())
    items = {o for o in graph.objects(start, None) if _described(graph, o)}
    parts = {o for item in items for o in graph.objects(item, None) if _described(graph, o)}
    for node in {start, *items, *parts}:
        for pred, obj in graph.predicate_objects(node):
            sub.add((node, pred, obj))
    return sub


def _line_in(text: str, graph: Graph, node: URIRef | BNode) -> int | None:
    candidates = [f"<{node}>"]
    for prefix, namespace in graph.namespaces():
        if str(node).startswith(str(namespace)):
            local = str(node)[len(str(namespace)):]
            if local:
                candidates.append(f"{prefix}:{local}")
    best: int | None = None
    for candidate in candidates:
        match = re.search(re.escape(candidate) + r"(?![\w.:-]*[\w:-])", text)
        if match and (best is None or match.start() < best):
            best = match.start()
    return None if best is None else text.count("\n", 0, best) + 1


def _names_resolved(graph: Graph) -> Graph:
    """``graph`` with each planned technique or target given by name (a literal such as
    ``"Petrissage"``) replaced by the term the name means, as a JSON record's name is: both
    forms give one patient graph (a copy; ``graph`` itself is left as it is)."""
    found = [(s, prop, o, term) for prop, resolve in _PLAN_NAMES.values()
             for s, o in graph.subject_objects(prop)
             if isinstance(o, Literal) and (term := resolve(str(o))) is not None]
    if not found:
        return graph
    out = _bind(Graph())
    for triple in graph:
        out.add(triple)
    for s, prop, o, term in found:
        out.remove((s, prop, o))
        out.add((s, prop, term))
    return out


def _iter_graph(
    graph: Graph, source: str, text: str | None = None
) -> Iterator[PatientRecord | RecordError]:
    graph = _names_resolved(graph)
    patients = [p for p in set(graph.subjects(RDF.type, KM.Patient))
                if isinstance(p, URIRef | BNode)]
    try:
        for triple in graph:
            "".join(map(str, triple)).encode("utf-8")
    except UnicodeEncodeError:
        yield RecordError(source, f"the data hold {_NOT_UNICODE}")
        return
    if not patients:
        yield RecordError(source, "no patient found: the data holds no node of type km:Patient")
        return
    lines = {p: (_line_in(text, graph, p) if text is not None else None) for p in patients}
    patients.sort(key=lambda p: (lines[p] if lines[p] is not None else sys.maxsize, str(p)))
    subs = {patient: _reachable(graph, patient) for patient in patients}
    covered = {s for sub in subs.values() for s in sub.subjects()}
    orphans = sorted(str(s) for s in set(graph.subjects()) - covered)
    if orphans:  # whose data they are cannot be known: nobody's record is read without them
        shown = ", ".join(cut(o) for o in orphans[:3]) + (" …" if len(orphans) > 3 else "")
        yield RecordError(source, f"{len(orphans)} node(s) are described that are not a "
                          "patient, an item of a patient's lists or an item's code (a record "
                          "cannot add to the knowledge base, and such data may belong to any "
                          f"patient of the file, so none is read): {shown}")
        return
    for position, patient in enumerate(patients, start=1):
        sub = subs[patient]
        line = lines[patient]
        refused = (_listed_twice(sub, patient) or _says_too_much(sub) or _bad_iri(sub)
                   or _knowledge_node(sub))
        if refused is not None:
            yield RecordError(source, refused, line=line)
            continue
        idents = sorted(str(v) for v in sub.objects(patient, KM.identifier))
        if not isinstance(patient, URIRef):  # a blank-node patient gets the IRI a JSON record would
            named = patient_iri(idents[0]) if idents else record_iri(position)
            sub = _renamed(sub, patient, named)
            patient = named
        # a date the validator does not read as one ("…"^^xsd:string, untyped) is not used:
        # only its datatype would tell them apart, and the engine reads the lexical form
        assessed = sorted(str(v) for v in sub.objects(patient, KM.assessedAt)
                          if literal_date(v) is not None or parse_date(str(v)) is None)
        canonical = _canonical_lines(sub)
        try:
            yield PatientRecord.from_graph(
                sub,
                id=idents[0] if idents else None,
                iri=patient,
                source=source,
                position=position,
                line=line,
                digest=_digest("\n".join(line for line in canonical if line) + "\n"),
                assessed_at=assessed[0] if assessed else None,
            )
        except RecordError as exc:
            yield exc


@cache
def _record_properties() -> tuple[frozenset[Node], frozenset[Node]]:
    """(the properties whose values are values, not record nodes; the properties the package
    derives), read from the closed shapes of the record vocabulary: a shape's sh:property paths
    are what a record may say, its sh:targetObjectsOf the links to record nodes (the lists,
    ``km:code``), its sh:ignoredProperties (but ``rdf:type``) what the package adds."""
    shapes = shape_graph("record-vocabulary.shapes.ttl")
    closed = set(shapes.subjects(SH.closed, Literal(True)))
    links = {o for s in closed for o in shapes.objects(s, SH.targetObjectsOf)}
    said = {p for s in closed for p in shapes.objects(s, SH.property / SH.path)}
    derived = {p for s in closed for head in shapes.objects(s, SH.ignoredProperties)
               for p in shapes.items(head)}
    return frozenset(said - links | {RDF.type}), frozenset(derived - {RDF.type})


def _says_too_much(graph: Graph) -> str | None:
    """Why a patient's record ``graph`` cannot be read when it states what only the knowledge base
    or the package may state, else ``None``: a property the package derives (a date fact, a
    class, a side key: it would replace what the package finds), or a value that is a node the
    file describes (a status ``ex:S`` with ``ex:S km:countsAsPresent false``; a technique
    ``ex:T a km:Technique``): a value must be a term of the vocabulary or a literal."""
    values, derived = _record_properties()
    for s, p, o in sorted(graph):
        if p in derived:
            return (f"{cut(str(s), 80)} states {local_name(p)}, which the package derives from "
                    "the record: a record cannot state it")
        if p in values and (o, None, None) in graph:
            name = "type" if p == RDF.type else local_name(p)
            return (f"{cut(str(o), 80)}, the {name} of {cut(str(s), 80)}, is described "
                    "in the file: a value must be a term of the vocabulary or a literal (a "
                    "record cannot add to the knowledge base)")
    return None


@cache
def _knowledge_subjects() -> frozenset[str]:
    """The IRIs the knowledge base describes (classes, code concepts, rules, shapes)."""
    return frozenset(str(s) for s in rules_graph().subjects() if isinstance(s, URIRef))


@cache
def _knowledge_prefixes() -> tuple[str, ...]:
    """Where the knowledge base and the engine name nodes: the kgmassage namespace and paths,
    and the namespaces of the code systems' concepts (the engine names a code's concept
    there: a record node so named would give the concept its statements)."""
    graph = rules_graph()
    spaces = {str(o) for o in graph.objects(None, KM.conceptNamespace)}
    return (KM_IRI, _KB_BASE + "/", *sorted(spaces))


def _knowledge_node(graph: Graph) -> str | None:
    """Why a patient's record ``graph`` cannot be read when it describes a node of the
    knowledge base (its statements would merge with the knowledge base's: a "DVT" whose IRI
    is a catalogue intervention took that intervention's side), else ``None``: one the
    knowledge base describes, or any IRI under https://w3id.org/kgmassage (the engine names
    its interventions, admissions and probes there)."""
    known = _knowledge_subjects()
    for node in sorted({str(s) for s in graph.subjects() if isinstance(s, URIRef)}):
        if node.startswith(_knowledge_prefixes()) or node in known:
            return (f"{cut(node, 80)} is a node of the knowledge base: a record cannot describe "
                    "it (name the record's own nodes with IRIs of their own)")
    return None


_KB_BASE = KM_IRI.rstrip("#")


def _listed_twice(graph: Graph, patient: Any) -> str | None:
    """Why the record of ``patient`` cannot be read when one node is in two of its lists (a
    surgery both a condition and a procedure counts from different dates in each: which one
    the record means cannot be known), else ``None``."""
    lists: dict[Any, list[str]] = {}
    for name, prop in LISTS.items():
        for node in graph.objects(patient, prop):
            lists.setdefault(node, []).append(name)
    for node, names in lists.items():
        if len(names) > 1:
            return (f"{cut(str(node), 80)} is in two lists of one patient ({' and '.join(names)})"
                    ": give each entry in one list")
    return None


def _renamed(graph: Graph, old: Any, new: URIRef) -> Graph:
    """A copy of ``graph`` with node ``old`` renamed ``new``."""
    out = _bind(Graph())
    for s, p, o in graph:
        out.add((new if s == old else s, p, new if o == old else o))
    return out


def _sniff(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        lines = [line.lstrip() for line in stripped.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.startswith("{") for line in lines):
            return "ndjson"  # one object a line, even if the first is broken
        first, _, rest = stripped.partition("\n")
        if rest.strip() and first.strip().endswith("}"):
            try:
                json.loads(first)
                return "ndjson"
            except ValueError:
                pass
        return "json"
    if _XML.match(stripped):
        return "xml"
    return "turtle"


#: The start of an XML document (a declaration, or an element declaring a namespace): not
#: Turtle, though it too begins with "<".
_XML = re.compile(r"<\?xml|<[A-Za-z_][\w.-]*\s+xmlns")


def _iter_text(text: str, source: str, kind: str, at: datetime | None, defer: bool = False
               ) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    if not text.strip():
        yield RecordError(source, "the file is empty")
        return
    if kind == "xml":
        yield RecordError(source, "XML is not read (a FHIR Bundle in XML too): give the "
                          "record as JSON (a FHIR Bundle in JSON) or Turtle")
    elif kind == "quads":
        yield RecordError(source, "TriG and N-Quads (named graphs) are not read: give the "
                          "record as Turtle or N-Triples (one graph)")
    elif kind == "json":
        yield from _iter_json(text, source, at)
    elif kind == "ndjson":
        yield from _iter_ndjson_lines(iter(text.encode("utf-8").split(b"\n")), source, at,
                                      defer)
    else:
        yield from _iter_graph(_parse_turtle(text, source), source, text)


def _kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".ttl":
        return "turtle"
    if suffix == ".xml":
        return "xml"
    if suffix in (".trig", ".nq", ".nquads"):
        return "quads"
    return None


def _iter_path(path: Path, source: str, at: datetime | None, defer: bool = False
               ) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    try:
        if path.is_dir():
            raise RecordError(source, "is a directory, not a record file")
        kind = _kind_of(path)
        if kind == "ndjson":
            with path.open("rb") as handle:
                yield from _iter_ndjson_lines(iter(handle), source, at, defer)
            return
        data = path.read_bytes()
    except FileNotFoundError:
        hint = (" (JSON text is not a path: pass the record as a dict, e.g. json.loads(text))"
                if str(path).lstrip().startswith(("{", "[")) else "")
        yield RecordError(cut(source), "no such file" + hint)
        return
    except RecordError as exc:
        yield exc
        return
    except OSError as exc:
        yield RecordError(source, f"cannot be read: {exc.strerror or exc}")
        return
    yield from _iter_bytes(data, source, kind, at, defer)


def _iter_bytes(
    data: bytes, source: str, kind: str | None, at: datetime | None, defer: bool = False
) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    try:
        text = _decode(data, source)
        yield from _iter_text(text, source, kind or _sniff(text), at, defer)
    except RecordError as exc:
        yield exc


def iter_records(
    source: Mapping[str, Any] | str | os.PathLike[str] | Graph | PatientRecord,
    *,
    name: str | None = None,
    at: datetime | None = None,
) -> Iterator[PatientRecord | RecordError]:
    """Read every patient record of ``source``, yielding a record or an error for each.

    Args:
        source: a parsed JSON object; a path (``.json``: one object or an array; ``.ndjson`` /
            ``.jsonl``: one object per line; ``.ttl``: Turtle, one or more ``km:Patient``; other
            names are recognised by their content); ``"-"`` for standard input; an rdflib
            ``Graph``; or an already read :class:`PatientRecord`. Wherever a JSON record is
            accepted, a FHIR R4 ``Bundle`` is too (:mod:`kgmassage.fhir`).
        name: the source's name in messages (default: the path, ``<stdin>``, ``<dict>``,
            ``<graph>``).
        at: the assessment time a FHIR Bundle is read for (its 72-hour fever window; default
            now, UTC).

    Yields:
        a :class:`PatientRecord` per readable record, a :class:`RecordError` per unreadable one
        (the rest of the source is still read); a source that cannot be read at all yields one
        :class:`RecordError`.
    """
    return cast(Iterator[PatientRecord | RecordError], _iter_source(source, name, at, False))


def iter_unread(
    source: Mapping[str, Any] | str | os.PathLike[str] | Graph | PatientRecord,
    *,
    name: str | None = None,
    at: datetime | None = None,
) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    """As :func:`iter_records`, but each line of an NDJSON source comes unread, as an
    :class:`UnreadLine` (cohorts read them in their worker processes)."""
    return _iter_source(source, name, at, True)


def _iter_source(
    source: Mapping[str, Any] | str | os.PathLike[str] | Graph | PatientRecord,
    name: str | None, at: datetime | None, defer: bool
) -> Iterator[PatientRecord | RecordError | UnreadLine]:
    if isinstance(source, PatientRecord):
        yield source
    elif isinstance(source, Graph):
        yield from _iter_graph(source, name or "<graph>")
    elif isinstance(source, Mapping):
        label = name or "<dict>"
        try:
            yield _json_record(_from_python(source, label), label, 1, None, at)
        except RecordError as exc:
            yield exc
    elif isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            yield from _iter_bytes(sys.stdin.buffer.read(), name or "<stdin>", None, at, defer)
        else:
            yield from _iter_path(Path(source), name or str(source), at, defer)
    else:
        yield RecordError(name or "<input>", f"cannot read a record from a {type(source).__name__}")


def iter_lines(
    lines: Iterable[str | bytes], *, name: str = "<lines>", at: datetime | None = None
) -> Iterator[PatientRecord | RecordError]:
    """Read NDJSON lines (text or bytes), one record per non-blank line, as
    :func:`iter_records` reads an ``.ndjson`` file."""
    encoded = (line.encode("utf-8") if isinstance(line, str) else line for line in lines)
    return cast(Iterator[PatientRecord | RecordError], _iter_ndjson_lines(encoded, name, at))


def load_record(
    record: Mapping[str, Any] | str | os.PathLike[str] | Graph | PatientRecord,
    *,
    name: str | None = None,
    at: datetime | None = None,
) -> PatientRecord:
    """Read exactly one patient record (see :func:`iter_records` for the accepted sources).

    Raises:
        RecordError: the source cannot be read, or holds no record or more than one.
    """
    found: PatientRecord | None = None
    for item in iter_records(record, name=name, at=at):
        if isinstance(item, RecordError):
            raise item
        if found is not None:
            raise RecordError(item.source, "holds more than one patient record; expected one")
        found = item
    if found is None:  # pragma: no cover - iter_records always yields something
        raise RecordError(name or str(record), "holds no patient record")
    return found
