"""The knowledge base: the packaged ontology, its SPARQL queries and a graph view for research.

:class:`KnowledgeBase` wraps the ontology (classes, anatomy, techniques, mechanisms, mappings
and the rule vocabulary) as the package ships it. It answers SPARQL 1.1 queries - the ones
shipped in ``queries/research`` and ``queries/qc``, a ``.rq`` file, or query text - over the
ontology alone or together with patient records and other RDF data, with parameters bound as
values (never formatted into the query text). Results come back as a small frozen
:class:`QueryResult` that serialises to a text table, SPARQL 1.1 CSV or SPARQL 1.1 JSON.

>>> kb = KnowledgeBase.load()
>>> result = kb.query("muscles-crossing-knee")
>>> [row["muscle"].split("#")[1] for row in result.to_dicts()][:3]
['Gastrocnemius', 'Hamstrings', 'Quadriceps']
>>> kb.explain_path("TensorFasciaeLatae", "KneeJoint")
[('TensorFasciaeLatae', 'attachesTo', 'IliotibialBand'), ('IliotibialBand', 'pullsOn', 'KneeJoint')]
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import warnings
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, cast

from rdflib import BNode, Dataset, Graph, Literal, URIRef, Variable
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from .errors import KgMassageError, QueryError, RecordError, UnknownTermError, cut, one_line
from .namespaces import KM_IRI, local_name
from .resources import knowledge_ntriples, query_names, query_text, rules_graph

if TYPE_CHECKING:  # pragma: no cover
    import networkx

__all__ = [
    "ENGINES",
    "QUERY_GROUPS",
    "KnowledgeBase",
    "QueryResult",
    "UnknownTermError",
    "DataSource",
    "list_queries",
]

logger = logging.getLogger(__name__)

#: SPARQL engines :meth:`KnowledgeBase.query` can run a query on (same answers on both).
ENGINES = ("rdflib", "oxigraph")
#: Folders of ``queries/`` whose queries can be named without their folder, in lookup order.
QUERY_GROUPS = ("research", "qc", "derive")

#: What ``data=`` accepts: a graph, a file path, or a sequence of them.
DataSource = Union[Graph, str, "os.PathLike[str]", Sequence[Union[Graph, str, "os.PathLike[str]"]]]

#: Prefixes used to shorten IRIs in :meth:`QueryResult.to_table`.
TABLE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("km", KM_IRI),
    ("rdf", str(RDF)),
    ("rdfs", str(RDFS)),
    ("owl", str(OWL)),
    ("xsd", str(XSD)),
    ("skos", str(SKOS)),
    ("dcterms", "http://purl.org/dc/terms/"),
    ("sct", "http://snomed.info/id/"),
    ("icd10cm", "http://purl.bioontology.org/ontology/ICD10CM/"),
    ("obo", "http://purl.obolibrary.org/obo/"),
    ("mesh", "http://id.nlm.nih.gov/mesh/"),
)

_NAME = re.compile(r"^(?:(?P<group>[a-z]+)/)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$")
_SPARQL_HINT = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b|\{", re.IGNORECASE)
#: A query's strings, IRIs and comments (blanked before its keywords are looked for).
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n\r]|\\.)*"|\'(?:[^\'\\\n\r]|\\.)*\''
    r'|<[^<>"{}|^`\\\s]*>|#[^\n\r]*',
    re.DOTALL,
)
_RECORD_SUFFIXES = (".json", ".ndjson", ".jsonl")
_RDF_FORMATS = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".ntriples": "nt",
    ".n3": "n3",
    ".nq": "nquads",
    ".nquads": "nquads",
    ".trig": "trig",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
_SYNTAX_NAMES = {"turtle": "Turtle", "nt": "N-Triples", "n3": "N3", "nquads": "N-Quads",
                 "trig": "TriG", "xml": "RDF/XML"}
#: Anatomy, region, technique and mechanism classes: the nodes of :meth:`to_networkx`.
_NODE_KINDS = (
    "Muscle", "Bone", "Joint", "ConnectiveTissue", "BodyRegion", "Technique", "Mechanism",
    "AnatomicalEntity", "MolecularEntity", "Outcome", "ComplementaryTherapy", "JointMovement",
)


# ------------------------------------------------------------------------------------ results


def _sparql_json_term(term: Node) -> dict[str, str]:
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    assert isinstance(term, Literal)
    out = {"type": "literal", "value": str(term)}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype is not None and term.datatype != XSD.string:
        out["datatype"] = str(term.datatype)
    return out


def _short(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        text = str(term)
        for prefix, namespace in TABLE_PREFIXES:
            if text.startswith(namespace) and len(text) > len(namespace):
                return f"{prefix}:{text[len(namespace):]}"
        return f"<{text}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    return one_line(str(term))


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query.

    Attributes:
        variables: the projected variable names, in order (``("subject", "predicate",
            "object")`` for CONSTRUCT and DESCRIBE; empty for ASK).
        rows: one tuple of rdflib terms per solution, aligned with ``variables``; ``None`` where
            a variable is unbound.
        boolean: the answer of an ASK query, else ``None``.

    >>> r = QueryResult(("x",), ((Literal("a"),), (None,)))
    >>> r.to_dicts()
    [{'x': rdflib.term.Literal('a')}, {'x': None}]
    >>> print(QueryResult(("x", "site"), ((Literal("a"), URIRef(KM_IRI + "Knee")),)).to_table())
    x  site
    -  -------
    a  km:Knee
    <BLANKLINE>
    (1 row)
    """

    variables: tuple[str, ...]
    rows: tuple[tuple[Node | None, ...], ...]
    boolean: bool | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows)

    def to_dicts(self) -> list[dict[str, Node | None]]:
        """One ``{variable: term or None}`` dict per row."""
        return [dict(zip(self.variables, row, strict=True)) for row in self.rows]

    def to_table(self) -> str:
        """A plain-text table for people: IRIs shortened with common prefixes (``km:Patella``).

        >>> print(QueryResult((), (), boolean=True).to_table())
        true
        """
        if self.boolean is not None:
            return "true" if self.boolean else "false"
        cells = [[_short(term) for term in row] for row in self.rows]
        widths = [
            max([len(name)] + [len(row[i]) for row in cells])
            for i, name in enumerate(self.variables)
        ]

        def line(values: Sequence[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

        lines = [line(self.variables), line(["-" * w for w in widths])]
        lines.extend(line(row) for row in cells)
        count = len(self.rows)
        lines.append(f"\n({count} row{'s' if count != 1 else ''})")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """SPARQL 1.1 Query Results CSV: header of variable names, lexical values, CRLF lines.

        >>> QueryResult(("a", "b"), ((URIRef("http://x/y"), Literal("z,1")),)).to_csv()
        'a,b\\r\\nhttp://x/y,"z,1"\\r\\n'
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if self.boolean is not None:
            writer.writerow(["boolean"])
            writer.writerow(["true" if self.boolean else "false"])
            return buffer.getvalue()
        writer.writerow(self.variables)
        for row in self.rows:
            writer.writerow(
                [
                    "" if t is None else (f"_:{t}" if isinstance(t, BNode) else str(t))
                    for t in row
                ]
            )
        return buffer.getvalue()

    def to_json(self, *, indent: int | None = 2) -> str:
        """SPARQL 1.1 Query Results JSON (``head``/``results``, or ``boolean`` for ASK).

        >>> r = QueryResult(("x",), ((Literal("a", lang="en"),),))
        >>> json.loads(r.to_json())["results"]["bindings"]
        [{'x': {'type': 'literal', 'value': 'a', 'xml:lang': 'en'}}]
        """
        if self.boolean is not None:
            document: dict[str, Any] = {"head": {}, "boolean": self.boolean}
        else:
            bindings = [
                {
                    v: _sparql_json_term(t)
                    for v, t in zip(self.variables, row, strict=True)
                    if t is not None
                }
                for row in self.rows
            ]
            document = {"head": {"vars": list(self.variables)}, "results": {"bindings": bindings}}
        return json.dumps(document, indent=indent, ensure_ascii=False)


# ------------------------------------------------------------------------------------ queries


def _summary(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            summary = line.lstrip("#").strip()
            if summary:
                return summary
        elif line:
            break
    return ""


def list_queries() -> list[tuple[str, str]]:
    """Every shipped query as ``(group/name, first line of its header)``.

    >>> ("research/muscles-crossing-knee", "Which muscles cross the knee joint?") in list_queries()
    True
    """
    out = []
    for group in QUERY_GROUPS:
        for name in query_names(group):
            out.append((f"{group}/{name}", _summary(query_text(group, name))))
    return out


def _blanked(query: str) -> str:
    """The query with its strings, IRIs and comments blanked (``""``, ``<>``, a space), so
    that its keywords can be looked for."""
    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        return "<>" if token.startswith("<") else " " if token.startswith("#") else '""'

    return _TOKENS.sub(blank, query)


_UPDATE_WORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY",
                           "MOVE", "ADD", "WITH"})
_PROLOGUE = re.compile(r"\s*(?:(?:BASE\s*<>|PREFIX\s+[^\s:]*:\s*<>)\s*)*", re.IGNORECASE)


def update_keyword(query: str) -> str | None:
    """The keyword a SPARQL update opens with after its prologue (``INSERT`` …), upper-cased;
    ``None`` for a query. Strings, IRIs and comments are no keywords.

    >>> update_keyword("PREFIX x: <urn:x#> # a comment\\ninsert data { x:a x:b x:c }")
    'INSERT'
    >>> update_keyword('SELECT ("INSERT" AS ?x) WHERE {}') is None
    True
    """
    text = _blanked(query)
    rest = text[_PROLOGUE.match(text).end():]  # type: ignore[union-attr]
    word = re.match(r"[A-Za-z]+", rest)
    return word.group(0).upper() if word and word.group(0).upper() in _UPDATE_WORDS else None


def federated(query: str) -> bool:
    """Whether a query may ask another server (``SERVICE``): the word found, the query is
    parsed (rdflib's SPARQL parser) and its ``SERVICE`` patterns looked for; a query that
    holds the word and cannot be parsed counts as one (fail safe).

    >>> federated('SELECT * { ?a ?b ?c .SERVICE <http://x/sparql> { ?s ?p "SERVICE" } }')
    True
    >>> federated('SELECT * { ?s ?p "SERVICE" } # no SERVICE')
    False
    """
    if "service" not in query.lower():
        return False
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    def found(node: Any) -> bool:
        if isinstance(node, CompValue):
            return node.name == "ServiceGraphPattern" or any(map(found, node.values()))
        if isinstance(node, (list, tuple)) or hasattr(node, "asList"):
            return any(map(found, node))
        return False

    try:
        return found(parseQuery(query))
    except Exception:  # noqa: BLE001 - the parser raises several types; unknown: refused
        return True


def _read_query_file(path: Path) -> tuple[str, str]:
    try:
        return str(path), path.read_text(encoding="utf-8-sig")  # a BOM is no query text
    except FileNotFoundError:
        raise QueryError(f"query file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"query file {path} cannot be read: {exc}") from None


def _resolve_query(query: str | os.PathLike[str]) -> tuple[str, str]:
    """``(label for messages, SPARQL text)`` of a shipped name, a file, or query text."""
    if not isinstance(query, str):
        return _read_query_file(Path(query))
    text = query.strip()
    match = _NAME.match(text[:-3] if text.endswith(".rq") else text)
    if match and match["group"] not in (None, *QUERY_GROUPS):
        match = None
    if match:
        for group in (match["group"],) if match["group"] else QUERY_GROUPS:
            if match["name"] in query_names(group):
                return f"{group}/{match['name']}", query_text(group, match["name"])
    if "\n" not in text and Path(text).is_file():
        return _read_query_file(Path(text))
    if _SPARQL_HINT.search(text):
        return "<query text>", query
    if match:
        known = ", ".join(name for name, _ in list_queries() if not name.startswith("derive/"))
        raise QueryError(f"unknown query {text!r}; shipped queries: {known}")
    raise QueryError(f"{text!r} is neither a shipped query, a query file nor SPARQL text")


@cache
def _prepared(text: str):  # type: ignore[no-untyped-def]
    from rdflib.plugins.sparql import prepareQuery

    return prepareQuery(text)


def _to_term(name: str, value: Any, terms: frozenset[str]) -> Node:
    """A binding value as an RDF term (see :meth:`KnowledgeBase.query`)."""
    if isinstance(value, Node):
        return value
    if isinstance(value, str):
        if value.startswith("km:"):
            return URIRef(KM_IRI + value[3:])
        if KM_IRI + value in terms:
            return URIRef(KM_IRI + value)
        folded = {t.casefold(): t for t in terms if t.casefold() == (KM_IRI + value).casefold()}
        if len(folded) == 1:  # a local name in another case: "fracture" is km:Fracture
            return URIRef(next(iter(folded.values())))
        if re.match(r"^(https?|urn|file):\S+$", value):
            if _IRI_FORBIDDEN.search(value):
                raise QueryError(f"cannot bind ?{name}: {value!r} is not a valid IRI")
            return URIRef(value)
        return Literal(value)
    if isinstance(value, (bool, int, float, date, datetime)):
        return Literal(value)
    raise QueryError(f"cannot bind ?{name} to a {type(value).__name__}: give an rdflib term")


# ------------------------------------------------------------------------------------ data


def _read_data(path: Path) -> Graph:
    source = str(path)
    if not path.is_file():
        raise RecordError(source, "no such file" if not path.exists() else "is not a file")
    suffix = path.suffix.lower()
    if suffix in _RECORD_SUFFIXES:
        from .records import iter_records

        graph = Graph()
        for record in iter_records(path):
            if isinstance(record, RecordError):
                raise record
            graph += record.graph
        return graph
    if suffix in (".jsonld", ".json-ld"):
        raise RecordError(source, "JSON-LD is not read (it may fetch remote contexts); use Turtle")
    fmt = _RDF_FORMATS.get(suffix, "turtle")
    quads = fmt in ("nquads", "trig")
    parsed = Dataset() if quads else Graph()
    try:
        with warnings.catch_warnings():  # rdflib's own quad parsers use its deprecated API
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed.parse(path, format=fmt)
    except Exception as exc:  # rdflib raises many parser-specific types
        from .records import rdf_syntax_error

        raise rdf_syntax_error(exc, source, _SYNTAX_NAMES.get(fmt, fmt)) from None
    if isinstance(parsed, Dataset):  # every graph's triples, queried with the knowledge base
        merged = Graph()
        for s, p, o, _ in parsed.quads((None, None, None, None)):
            merged.add((s, p, o))
        return merged
    return parsed


def _data_graph(data: DataSource) -> Graph:
    items: Iterable[Any] = (
        [data] if isinstance(data, (Graph, str, os.PathLike)) else data
    )
    graph = Graph()
    for item in items:
        if isinstance(item, Graph):
            graph += item
        elif isinstance(item, (str, os.PathLike)):
            graph += _read_data(Path(item))
        else:
            raise QueryError(f"cannot use a {type(item).__name__} as query data")
    return graph


# ------------------------------------------------------------------------------------ oxigraph


def _from_ox(term: Any) -> Node | None:
    import pyoxigraph as ox

    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == str(XSD.string):
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise QueryError(f"unsupported term in a query answer: {term!r}")


_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _values_clause(bindings: Mapping[Variable, Node]) -> str:
    """A trailing SPARQL ``VALUES`` clause for ``bindings``: each term serialised with its
    escaping (N-Triples syntax), so a value can never change the query's structure.

    pyoxigraph's own substitutions only reach projected variables; a trailing ``VALUES``
    (SPARQL 1.1, 18.2.4.3) joins with the query pattern like rdflib's initial bindings.
    """
    terms = []
    for variable, term in bindings.items():
        if isinstance(term, BNode):
            raise QueryError(f"cannot bind ?{variable} to a blank node")
        if isinstance(term, URIRef) and _IRI_FORBIDDEN.search(str(term)):
            raise QueryError(f"cannot bind ?{variable}: {str(term)!r} is not a valid IRI")
        terms.append(term.n3())
    names = " ".join(f"?{variable}" for variable in bindings)
    return f"VALUES ({names}) {{ ({' '.join(terms)}) }}"


def _run_oxigraph(
    text: str, label: str, data: Graph | None, bindings: Mapping[Variable, Node]
) -> QueryResult:
    import pyoxigraph as ox

    store = ox.Store()
    store.load(knowledge_ntriples(), format=ox.RdfFormat.N_TRIPLES)
    if data is not None and len(data):
        store.load(data.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    if bindings:
        text = text.rstrip() + "\n" + _values_clause(bindings) + "\n"
    try:
        answer = store.query(text)
    except SyntaxError as exc:
        raise _syntax_error(label, text, str(exc)) from None
    except Exception as exc:
        raise QueryError(f"{label}: query failed: {exc}") from None
    if isinstance(answer, ox.QueryBoolean):
        return QueryResult((), (), boolean=bool(answer))
    from .records import keep_lexical_forms

    # the answer is computed as it is read: a failure then (a SERVICE that cannot be reached)
    # is the query's too
    try:
        with keep_lexical_forms():  # a record's dates as written, an invalid one unwarned
            if isinstance(answer, ox.QuerySolutions):
                variables = tuple(v.value for v in answer.variables)
                rows = tuple(tuple(_from_ox(sol[v]) for v in variables) for sol in answer)
                return QueryResult(variables, rows)
            triples = sorted(
                (tuple(_from_ox(t) for t in (tr.subject, tr.predicate, tr.object))
                 for tr in answer),
                key=lambda row: tuple(str(t) for t in row),
            )
    except Exception as exc:
        raise QueryError(f"{label}: query failed: {exc}") from None
    return QueryResult(("subject", "predicate", "object"), tuple(triples))


def _syntax_error(label: str, text: str, detail: str) -> QueryError:
    """The error of a query that does not parse; an update is named as one (the engines call
    it a syntax error: 'expected CONSTRUCT')."""
    update = update_keyword(text)
    if update:
        return QueryError(f"{label}: updates ({update} …) are refused: queries "
                          "only read (SELECT, ASK, CONSTRUCT or DESCRIBE)")
    # oxigraph lists the character ranges it expected, hundreds of characters of them
    detail = re.sub(r"(, \[[^\]]*\.\.=[^\]]*\])+", ", a digit or a letter", detail)
    return QueryError(f"{label}: SPARQL syntax error: {cut(detail, 300)}")


def _run_rdflib(
    text: str, label: str, graph: Graph, bindings: Mapping[Variable, Node]
) -> QueryResult:
    try:
        prepared = _prepared(text)
    except Exception as exc:  # pyparsing.ParseException and friends
        raise _syntax_error(label, text, " ".join(str(exc).split())) from None
    try:
        answer = graph.query(prepared, initBindings=cast(Any, dict(bindings)))
        if answer.type == "ASK":
            return QueryResult((), (), boolean=bool(answer.askAnswer))
        if answer.type == "SELECT":
            variables = tuple(str(v) for v in answer.vars or ())
            rows = tuple(tuple(row) for row in answer)  # type: ignore[arg-type]
            return QueryResult(variables, rows)
        triples = sorted(
            (tuple(cast(Any, t)) for t in answer), key=lambda row: tuple(str(t) for t in row)
        )
        return QueryResult(("subject", "predicate", "object"), tuple(triples))
    except KgMassageError:
        raise
    except Exception as exc:
        raise QueryError(f"{label}: query failed: {exc}") from None


# ------------------------------------------------------------------------------------ the KB


class KnowledgeBase:
    """The packaged ontology and contraindication rules, with their queries; create it with
    :meth:`load`.

    The graph (ontology/*.ttl and shapes/contraindications.shapes.ttl) is parsed once and
    shared; nothing here mutates it. Query data
    (``data=``) is combined with a copy, never with the shared graph.

    >>> kb = KnowledgeBase.load()
    >>> kb.version
    '0.1.0'
    >>> KnowledgeBase.load() is kb
    True
    """

    __slots__ = ("_ontology", "_terms", "_network", "_names")

    def __init__(self, ontology: Graph) -> None:
        self._ontology = ontology
        self._terms = frozenset(
            str(s) for s in ontology.subjects() if str(s).startswith(KM_IRI)
        )
        self._network: networkx.MultiDiGraph[str] | None = None
        self._names: dict[str, str] | None = None

    @classmethod
    def load(cls) -> KnowledgeBase:
        """The knowledge base of the installed package (loaded once, then cached)."""
        return _load()

    @property
    def graph(self) -> Graph:
        """A read-only view of the ontology and the contraindication rules (adding or removing
        triples raises)."""
        return ReadOnlyGraphAggregate([self._ontology])

    @property
    def version(self) -> str:
        """The ontology's ``owl:versionInfo`` (e.g. ``"0.1.0"``)."""
        for ontology in self._ontology.subjects(RDF.type, OWL.Ontology):
            info = self._ontology.value(ontology, OWL.versionInfo)
            if info is not None:
                return str(info)
        return ""

    def __repr__(self) -> str:
        return f"<KnowledgeBase version={self.version!r} triples={len(self._ontology)}>"

    # -------------------------------------------------------------------------------- query

    def query(
        self,
        name_or_sparql: str | os.PathLike[str],
        *,
        data: DataSource | None = None,
        bindings: Mapping[str, Any] | None = None,
        engine: str = "rdflib",
    ) -> QueryResult:
        """Run a SPARQL 1.1 query over the ontology (plus ``data``).

        Args:
            name_or_sparql: the name of a shipped query (``"muscles-crossing-knee"``,
                ``"research/muscles-crossing-knee"``, ``"qc/missing-label-violation"``), the
                path of a ``.rq`` file, or SPARQL query text (SELECT, ASK, CONSTRUCT or
                DESCRIBE; updates are refused).
            data: extra RDF to query with the ontology: an rdflib ``Graph``, a file path, or a
                sequence of them. Patient records (``.json``, ``.ndjson``, ``.jsonl``) are read
                as patient graphs; other files as RDF by extension (``.ttl`` - the default -,
                ``.nt``, ``.n3``, ``.nq``, ``.trig``, ``.rdf``/``.owl``/``.xml``).
            bindings: values for query variables (``{"technique": "Effleurage"}``), applied as
                initial bindings - never formatted into the query text. An rdflib term is used
                as is; a string is a ``km:`` term when it is a local name of the ontology or
                starts with ``km:``, an IRI when it is an absolute ``http(s):``/``urn:`` IRI,
                else a plain literal; ``bool``/``int``/``float``/dates become typed literals.
            engine: ``"rdflib"`` (the reference) or ``"oxigraph"``; both give the same answers.

        Returns:
            the :class:`QueryResult`.

        Raises:
            QueryError: unknown query name, unreadable query file, SPARQL syntax error, a
                failing query, or a bad binding; the message names the query.
            RecordError: a ``data`` file cannot be read.

        >>> kb = KnowledgeBase.load()
        >>> r = kb.query("technique-mechanisms", bindings={"technique": "Effleurage"})
        >>> sorted({str(p) for p in (row["pressure"] for row in r.to_dicts())})
        ['light']
        >>> kb.query("ASK { km:Quadriceps km:crosses km:KneeJoint }").boolean
        True
        """
        if engine not in ENGINES:
            raise QueryError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        label, text = _resolve_query(name_or_sparql)
        text = self._with_default_prefixes(text)
        for name in bindings or {}:
            variable = name.lstrip("?$")
            if not re.search(rf"[?$]{re.escape(variable)}(?![\w])", text):
                raise QueryError(f"{label} has no variable ?{cut(variable, 40)} to bind")
        values = {
            Variable(name.lstrip("?$")): _to_term(name, value, self._terms)
            for name, value in (bindings or {}).items()
        }
        if data is not None and federated(text):
            raise QueryError(f"{label} calls another server (SERVICE): it is not run with "
                             "patient data (--data), which it could send there")
        extra = _data_graph(data) if data is not None else None
        logger.debug("running %s on %s (%d bindings)", label, engine, len(values))
        if engine == "oxigraph":
            return _run_oxigraph(text, label, extra, values)
        graph = self._ontology
        if extra is not None:
            graph = Graph()
            graph += self._ontology
            graph += extra
        return _run_rdflib(text, label, graph, values)

    @staticmethod
    def _with_default_prefixes(text: str) -> str:
        """Declare ``km:``, ``rdf:``, ``rdfs:``, ``owl:``, ``xsd:``, ``skos:`` when a query
        uses them without declaring them (handy for short queries; shipped ones declare all)."""
        declared = {m.lower() for m in re.findall(r"PREFIX\s+([A-Za-z][\w.-]*)?:", text, re.I)}
        missing = [
            (prefix, namespace)
            for prefix, namespace in TABLE_PREFIXES[:6]
            if prefix not in declared and re.search(rf"(?<![\w<]){prefix}:", text)
        ]
        header = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in missing)
        return header + text

    # -------------------------------------------------------------------------------- network

    def to_networkx(self) -> networkx.MultiDiGraph[str]:
        """The anatomy, regions, techniques and mechanisms as a networkx ``MultiDiGraph``.

        Nodes are keyed by local name (``"VastusMedialis"``) with attributes ``label`` and
        ``kind`` (``Muscle``, ``Bone``, ``Joint``, ``ConnectiveTissue``, ``BodyRegion``,
        ``Technique``, ``Mechanism``, and for what the article claims ``AnatomicalEntity``,
        ``MolecularEntity``, ``Outcome``, ``ComplementaryTherapy``, ``JointMovement``: a clinical
        class used as an outcome, such as ``KneePain``, is an ``Outcome`` node); techniques also
        carry ``pressure`` (``"light"``/
        ``"deep"``) and ``self_applied``. Every ``km:`` relation between two such nodes is an
        edge whose key and ``relation`` attribute are the relation's local name (``crosses``,
        ``partOf``, ``targets``, ``adjacentTo`` in both directions, ...). A new graph each call.

        >>> g = KnowledgeBase.load().to_networkx()
        >>> g.nodes["VastusMedialis"]["kind"]
        'Muscle'
        >>> g.has_edge("VastusMedialis", "Quadriceps", key="partOf")
        True
        """
        import networkx as nx

        onto = self._ontology
        network: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        nodes: dict[Node, str] = {}
        for kind in _NODE_KINDS:
            for node in sorted(onto.subjects(RDF.type, URIRef(KM_IRI + kind)), key=str):
                if not str(node).startswith(KM_IRI):
                    continue
                nodes[node] = local_name(node)
                attributes: dict[str, Any] = {
                    "label": str(onto.value(node, RDFS.label) or local_name(node)),
                    "kind": kind,
                }
                if kind == "Technique":
                    pressure = onto.value(node, URIRef(KM_IRI + "pressure"))
                    notation = onto.value(pressure, SKOS.notation) if pressure else None
                    self_applied = onto.value(node, URIRef(KM_IRI + "selfApplied"))
                    attributes["pressure"] = str(notation) if notation is not None else None
                    attributes["self_applied"] = (
                        bool(self_applied.toPython()) if isinstance(self_applied, Literal) else None
                    )
                network.add_node(local_name(node), **attributes)
        edges = sorted(
            (nodes[s], local_name(p), nodes[o])
            for s, p, o in onto
            if s in nodes and o in nodes and str(p).startswith(KM_IRI)
        )
        for source, relation, target in edges:
            network.add_edge(source, target, key=relation, relation=relation)
        return network

    def explain_path(
        self, source: str, target: str, *, relations: Iterable[str] | None = None
    ) -> list[tuple[str, str, str]]:
        """The shortest chain of typed relations from ``source`` to ``target``.

        Args:
            source: a node of :meth:`to_networkx`: its local name, ``km:`` name or full IRI, or
                its label or a synonym (``"TFL"``, ``"tensor fasciae latae"``, ``"kneecap"``),
                matched trimmed and case-insensitively as record techniques and targets are.
            target: another node, named the same ways.
            relations: follow only these relations (local names); default every relation.

        Returns:
            ``[(subject, relation, object), ...]`` along the path, following relations in
            their direction; ``[]`` when ``source == target`` or no path exists. Among equally
            short paths the first in alphabetical order of relations and nodes is returned.

        Raises:
            UnknownTermError: ``source`` or ``target`` is not a node of the knowledge graph.

        >>> KnowledgeBase.load().explain_path("VastusMedialis", "KneeJoint")
        [('VastusMedialis', 'crosses', 'KneeJoint')]
        >>> path = KnowledgeBase.load().explain_path("TFL", "knee joint")
        >>> [relation for _, relation, _ in path]
        ['attachesTo', 'pullsOn']
        >>> path = KnowledgeBase.load().explain_path("Hip", "LowerLeg", relations=["adjacentTo"])
        >>> [step[2] for step in path]
        ['Thigh', 'Knee', 'LowerLeg']
        """
        if self._network is None:
            self._network = self.to_networkx()
        network = self._network
        start, goal = (self._node_name(name, network) for name in (source, target))
        allowed = None if relations is None else {r.removeprefix("km:") for r in relations}
        previous: dict[str, tuple[str, str] | None] = {start: None}
        queue = deque([start])
        while queue and goal not in previous:
            node = queue.popleft()
            steps = sorted(
                (relation, successor)
                for _, successor, relation in network.out_edges(node, keys=True)
                if allowed is None or relation in allowed
            )
            for relation, successor in steps:
                if successor not in previous:
                    previous[successor] = (node, relation)
                    queue.append(successor)
        if goal not in previous or start == goal:
            return []
        path: list[tuple[str, str, str]] = []
        node = goal
        while previous[node] is not None:
            before, relation = previous[node]  # type: ignore[misc]
            path.append((before, relation, node))
            node = before
        return path[::-1]

    def _node_name(self, name: str, network: networkx.MultiDiGraph[str]) -> str:
        """The node ``name`` means: a local name, ``km:`` name or IRI; else a technique or
        target name as records use them (label or synonym); else any node's label or synonym."""
        from .vocabulary import name_key, target_named, technique_named

        local = name.removeprefix("km:").removeprefix(KM_IRI)
        if local in network:
            return local
        for resolve in (technique_named, target_named):
            term = resolve(name)
            if term is not None and local_name(term) in network:
                return local_name(term)
        if self._names is None:
            names: dict[str, str] = {}
            for node in sorted(network.nodes):
                term = URIRef(KM_IRI + node)
                labels = [node, *(str(o) for p in (RDFS.label, SKOS.altLabel)
                                  for o in self._ontology.objects(term, p))]
                for label in labels:
                    names.setdefault(name_key(label), node)
            self._names = names
        found = self._names.get(name_key(name))
        if found is None:
            known = ", ".join(sorted(network.nodes))
            raise UnknownTermError(f"{name!r} is not a structure, region, technique, mechanism "
                                   f"or outcome of the knowledge base; known: {known}")
        return found


@cache
def _load() -> KnowledgeBase:
    return KnowledgeBase(rules_graph())
