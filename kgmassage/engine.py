"""The decision engine: the knowledge base's SPARQL stages, run over a chunk of patients at once.

An :class:`Engine` holds everything once: the knowledge base, the stage manifest
(``queries/derive/manifest.json``), the prepared stage texts, and the knowledge tables the
``knowledge`` stages compute from the ontology and rules (run once, when the engine is built).
Each chunk of patients then goes through the ``classification`` and ``decision`` stages in the
manifest's order, in a graph of its own beside the knowledge graph, and the ``results`` queries
are read by role and column name. Python here only moves data: every clinical statement is in
the ontology, the rules and the queries.

Three interchangeable back ends run the same texts: ``"oxigraph"`` (pyoxigraph, embedded; the
knowledge graph is loaded once and each chunk is a named graph, dropped afterwards),
``"rdflib"`` (the reference, one in-memory graph per chunk) and a SPARQL 1.1 server
(:class:`EndpointBackend`). A CONSTRUCT stage runs as
``INSERT { GRAPH <chunk> { template } } USING <knowledge> USING <chunk> WHERE { pattern }``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from rdflib import Graph

from .errors import KgMassageError, ParameterError, cut
from .resources import query_text, read_text

__all__ = [
    "EngineName",
    "KNOWLEDGE_GRAPH",
    "BACKENDS",
    "StageError",
    "Manifest",
    "Stage",
    "Row",
    "ChunkInput",
    "Backend",
    "OxigraphBackend",
    "RdflibBackend",
    "EndpointBackend",
    "knowledge_tables",
    "ChunkRows",
    "Engine",
    "Tables",
    "default_engine",
]

#: The embedded engines by name (a SPARQL server is given by its URL as ``endpoint``).
EngineName = Literal["oxigraph", "rdflib"]

logger = logging.getLogger(__name__)

#: The named graph that holds the knowledge base (ontology, rules and knowledge tables).
KNOWLEDGE_GRAPH = "urn:kgmassage:graph:knowledge"
BACKENDS = ("oxigraph", "rdflib")
#: The result queries read after the decision stages.
DECISION_RESULTS = ("matches", "reasons", "lifts", "planned", "items")

#: A result row: column name → value (an IRI or a literal's lexical form; a blank node as
#: ``_:label``), ``None`` when unbound.
Row = dict[str, str | None]


class StageError(KgMassageError):
    """A stage of the derivation failed (a bug, or a back end that cannot run it)."""

    def __init__(self, stage: str, detail: str) -> None:
        self.stage = stage
        self.detail = detail
        super().__init__(f"derivation stage {stage} failed: {cut(detail, 300)}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (raised in cohort workers)
        return (type(self), (self.stage, self.detail))


# ------------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Stage:
    """One CONSTRUCT stage, split into its parts."""

    name: str
    text: str
    prologue: str
    template: str
    pattern: str

    def insert(self, graph: str | None, using: Sequence[str] = ()) -> str:
        """The stage as a SPARQL 1.1 update writing into ``graph``, reading ``using`` (none:
        the default graph, read and written)."""
        if graph is None:
            return f"{self.prologue}\nINSERT {{ {self.template} }}\nWHERE {{ {self.pattern} }}"
        sources = " ".join(f"USING <{g}>" for g in using)
        return (f"{self.prologue}\nINSERT {{ GRAPH <{graph}> {{ {self.template} }} }}\n"
                f"{sources}\nWHERE {{ {self.pattern} }}")


def _skip(text: str, index: int) -> int:
    """Past a string literal, an IRI or a comment starting at ``index`` (else ``index``)."""
    char = text[index]
    if char == "#":
        end = text.find("\n", index)
        return len(text) if end < 0 else end
    if char == "<" and re.match(r"<[^\s<>\"{}|^`\\]*>", text[index:]):
        return text.index(">", index) + 1
    if char in "\"'":
        quote = text[index : index + 3] if text[index : index + 3] in ('"""', "'''") else char
        end = index + len(quote)
        while not text.startswith(quote, end):
            end += 2 if text[end] == "\\" else 1
        return end + len(quote)
    return index


def _braced(text: str, start: int) -> int:
    """The index just past the group whose ``{`` is at ``start``."""
    depth, index = 0, start
    while index < len(text):
        after = _skip(text, index)
        if after != index:
            index = after
            continue
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unbalanced braces")


def split_construct(name: str, text: str) -> Stage:
    """A ``CONSTRUCT { template } WHERE { pattern }`` query split into its parts."""
    match = re.search(r"^CONSTRUCT\s*\{", text, re.MULTILINE)
    if match is None:
        raise StageError(name, "not a CONSTRUCT query")
    open_template = match.end() - 1
    end_template = _braced(text, open_template)
    where = re.compile(r"\s*WHERE\s*\{").match(text, end_template)
    if where is None:
        raise StageError(name, "CONSTRUCT template not followed by WHERE { … }")
    open_pattern = where.end() - 1
    end_pattern = _braced(text, open_pattern)
    if text[end_pattern:].strip():
        raise StageError(name, "text after the WHERE clause (modifiers are not supported)")
    return Stage(
        name=name,
        text=text,
        prologue=text[: match.start()],
        template=text[open_template + 1 : end_template - 1],
        pattern=text[open_pattern + 1 : end_pattern - 1],
    )


@dataclass(frozen=True)
class Manifest:
    """The derivation's stages in order, and its result queries by role."""

    knowledge: tuple[Stage, ...]
    classification: tuple[Stage, ...]
    decision: tuple[Stage, ...]
    results: Mapping[str, str]

    @classmethod
    def read(cls) -> Manifest:
        """The manifest shipped in ``queries/derive/manifest.json``, with its queries."""
        data = json.loads(read_text("queries", "derive/manifest.json"))

        def stages(group: str) -> tuple[Stage, ...]:
            return tuple(split_construct(n, query_text("derive", n)) for n in data[group])

        results = {role: query_text("derive", name) for role, name in data["results"].items()}
        return cls(stages("knowledge"), stages("classification"), stages("decision"), results)

    @property
    def chunk_stages(self) -> tuple[Stage, ...]:
        """The stages run on each chunk of patients, in order."""
        return self.classification + self.decision


# ------------------------------------------------------------------------------- back ends


@dataclass(frozen=True)
class ChunkInput:
    """A chunk of patients as the engine loads it: N-Triples of the records and of their
    evaluation context, and the patients' nodes with their assessment times."""

    ntriples: bytes
    patients: tuple[tuple[str, datetime], ...]
    #: each record node (a subject of a record's triples) → its patient
    owners: Mapping[str, str]


class Backend(Protocol):
    """Where the stages run: a store with the knowledge graph and one graph per chunk."""

    def open_chunk(self, data: bytes) -> str:
        """Load a chunk's N-Triples into a graph of its own; its name."""

    def construct(self, stage: Stage, graph: str) -> None:
        """Run a CONSTRUCT stage over the knowledge and ``graph``, adding to ``graph``."""

    def select(self, label: str, text: str, graph: str) -> list[Row]:
        """Rows of a SELECT query over the knowledge and ``graph``."""

    def select_terms(self, label: str, text: str, graph: str) -> list[dict[str, Any]]:
        """Rows of a SELECT query as rdflib terms (``None`` when unbound)."""

    def close_chunk(self, graph: str) -> None:
        """Forget a chunk's graph."""


_TSV_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_TSV_CHARS = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f"}


def _tsv_unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    if code:
        return chr(int(code, 16))
    return _TSV_CHARS.get(match.group(3), match.group(3))


def _tsv_value(token: str) -> str | None:
    """A term of SPARQL TSV results as a row value: an IRI, a literal's lexical form, a blank
    node as ``_:label``; ``None`` when unbound."""
    if not token:
        return None
    if token[0] == "<":
        return token[1:-1]
    if token[0] == '"':
        body = token[1 : token.rindex('"')]
        return _TSV_ESCAPE.sub(_tsv_unescape, body) if "\\" in body else body
    return token


class OxigraphBackend:
    """pyoxigraph, embedded.

    A large chunk (:attr:`OWN_STORE_BYTES` of records or more) gets a store of its own: the
    knowledge graph and the records in its default graph (loading the knowledge takes ≈ 17 ms;
    the stages then run ≈ 20 % faster than over a union of two named graphs), dropped when the
    chunk closes. A small chunk (one patient) is a named graph in a shared store that holds the
    knowledge graph once. That store never gives back what a removed graph used (its strings and
    quad versions stay), and its queries slow down as they pile up (by about 0.3 ms a record
    for every 100 kB of records it has seen), so it serves chunks until :attr:`RECYCLE_BYTES`
    of records were loaded into it; the next chunk opens a fresh one (about 8 ms: the
    knowledge's quads are parsed once) and the old one is freed when its last chunk closes.
    Memory stays flat whatever the cohort's size.
    """

    #: N-Triples bytes loaded into the shared store before a fresh one is opened (about 30
    #: records: the cost of a fresh store against that of a slower one, measured).
    RECYCLE_BYTES = 160 * 1024
    #: N-Triples bytes of records (≈ 60 patients) from which a chunk gets a store of its own.
    OWN_STORE_BYTES = 256 * 1024

    def __init__(self, knowledge: bytes) -> None:
        import pyoxigraph as ox

        self._ox = ox
        self._knowledge = knowledge
        graph = ox.NamedNode(KNOWLEDGE_GRAPH)
        self._quads = [ox.Quad(q.subject, q.predicate, q.object, graph)
                       for q in ox.parse(knowledge, format=ox.RdfFormat.N_TRIPLES)]
        #: the knowledge's quads in the default graph (a chunk's own store), made on the first
        #: large chunk: adding them is twice as fast as parsing the knowledge's N-Triples again
        self._default_quads: list[Any] | None = None
        self._lock = threading.Lock()
        self._store = self._fresh_store()
        self._loaded = 0
        self._stores: dict[str, Any] = {}  # open chunk graph → its store
        self._own: set[str] = set()  # the open chunks that have a store of their own

    def _fresh_store(self) -> Any:
        store = self._ox.Store()
        store.extend(self._quads)
        return store

    def _own_store_quads(self) -> list[Any]:
        with self._lock:
            if self._default_quads is None:
                default = self._ox.DefaultGraph()
                self._default_quads = [self._ox.Quad(q.subject, q.predicate, q.object, default)
                                       for q in self._quads]
            return self._default_quads

    def open_chunk(self, data: bytes) -> str:
        graph = f"urn:kgmassage:graph:chunk:{uuid.uuid4()}"
        if len(data) >= self.OWN_STORE_BYTES:
            store = self._ox.Store()
            store.extend(self._own_store_quads())
            try:
                store.load(data, format=self._ox.RdfFormat.N_TRIPLES)
            except SyntaxError as exc:
                raise StageError("load", str(exc)) from None
            with self._lock:
                self._stores[graph] = store
                self._own.add(graph)
            return graph
        with self._lock:
            if self._loaded + len(data) > self.RECYCLE_BYTES and self._loaded:
                self._store, self._loaded = self._fresh_store(), 0
            self._loaded += len(data)
            store = self._stores[graph] = self._store
        try:
            store.load(data, format=self._ox.RdfFormat.N_TRIPLES,
                       to_graph=self._ox.NamedNode(graph))
        except SyntaxError as exc:
            self.close_chunk(graph)
            raise StageError("load", str(exc)) from None
        return graph

    def construct(self, stage: Stage, graph: str) -> None:
        own = graph in self._own
        try:
            self._stores[graph].update(
                stage.insert(None) if own else stage.insert(graph, (KNOWLEDGE_GRAPH, graph)))
        except Exception as exc:  # pyoxigraph raises SyntaxError, OSError, ValueError…
            raise StageError(stage.name, str(exc)) from None

    def _query(self, text: str, graph: str) -> Any:
        ox = self._ox
        solutions = (self._stores[graph].query(text) if graph in self._own else
                     self._stores[graph].query(
                         text, default_graph=[ox.NamedNode(KNOWLEDGE_GRAPH), ox.NamedNode(graph)]))
        if not isinstance(solutions, ox.QuerySolutions):
            raise TypeError("not a SELECT query")
        return solutions

    def select(self, label: str, text: str, graph: str) -> list[Row]:
        try:
            solutions = self._query(text, graph)
            data = (solutions.serialize(format=self._ox.QueryResultsFormat.TSV) or b""
                    ).decode("utf-8")
        except Exception as exc:
            raise StageError(label, str(exc)) from None
        lines = data.split("\n")
        names = [name[1:] for name in lines[0].split("\t")]
        return [dict(zip(names, map(_tsv_value, line.split("\t")), strict=True))
                for line in lines[1:] if line]

    def select_terms(self, label: str, text: str, graph: str) -> list[dict[str, Any]]:
        try:
            solutions = self._query(text, graph)
            names = [v.value for v in solutions.variables]
            from .records import keep_lexical_forms

            with keep_lexical_forms():
                return [{n: _rdflib_term(s[n]) for n in names} for s in solutions]
        except Exception as exc:
            raise StageError(label, str(exc)) from None

    def close_chunk(self, graph: str) -> None:
        with self._lock:
            store = self._stores.pop(graph, None)
            own = graph in self._own
            self._own.discard(graph)
        if store is not None and not own:
            store.remove_graph(self._ox.NamedNode(graph))


def _rdflib_term(term: Any) -> Any:
    """A pyoxigraph term as the rdflib term it is."""
    from pyoxigraph import BlankNode, NamedNode
    from rdflib import BNode, Literal, URIRef

    if term is None:
        return None
    if isinstance(term, NamedNode):
        return URIRef(term.value)
    if isinstance(term, BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


class RdflibBackend:
    """rdflib, the reference: each chunk is an in-memory graph with the knowledge copied in."""

    def __init__(self, knowledge: bytes) -> None:
        self._knowledge = knowledge
        self._graphs: dict[str, Graph] = {}

    def open_chunk(self, data: bytes) -> str:
        from .records import keep_lexical_forms

        graph = Graph()
        with keep_lexical_forms():
            graph.parse(data=self._knowledge, format="nt")
            graph.parse(data=data, format="nt")
        name = f"urn:kgmassage:graph:chunk:{uuid.uuid4()}"
        self._graphs[name] = graph
        return name

    def construct(self, stage: Stage, graph: str) -> None:
        data = self._graphs[graph]
        try:
            for triple in list(data.query(stage.text)):
                data.add(triple)  # type: ignore[arg-type]
        except Exception as exc:
            raise StageError(stage.name, str(exc)) from None

    def select(self, label: str, text: str, graph: str) -> list[Row]:
        from rdflib import BNode

        try:
            answer = self._graphs[graph].query(text)
            names = [str(v) for v in answer.vars or ()]
            return [
                {n: (None if t is None else f"_:{t}" if isinstance(t, BNode) else str(t))
                 for n, t in zip(names, row, strict=True)}  # type: ignore[arg-type]
                for row in answer
            ]
        except Exception as exc:
            raise StageError(label, str(exc)) from None

    def select_terms(self, label: str, text: str, graph: str) -> list[dict[str, Any]]:
        try:
            answer = self._graphs[graph].query(text)
            names = [str(v) for v in answer.vars or ()]
            return [dict(zip(names, row, strict=True)) for row in answer]  # type: ignore[arg-type]
        except Exception as exc:
            raise StageError(label, str(exc)) from None

    def close_chunk(self, graph: str) -> None:
        self._graphs.pop(graph, None)


class EndpointBackend:
    """A SPARQL 1.1 server over HTTP: the SPARQL 1.1 Protocol for queries and updates, the Graph
    Store HTTP Protocol for loading. The knowledge graph is (re)loaded when the backend starts;
    each chunk is a named graph, dropped afterwards.

    Args:
        url: the server's base URL; by default its endpoints are ``<url>/query``,
            ``<url>/update`` and ``<url>/store`` (Oxigraph's; other servers: pass them).
        timeout: seconds to wait for one request.
    """

    def __init__(self, knowledge: bytes, url: str, *, query: str | None = None,
                 update: str | None = None, store: str | None = None,
                 timeout: float = 120.0) -> None:
        base = endpoint_url(url).rstrip("/")
        self.query_url = query or f"{base}/query"
        self.update_url = update or f"{base}/update"
        self.store_url = store or f"{base}/store"
        self.timeout = timeout
        self._put(KNOWLEDGE_GRAPH, knowledge)

    def _request(self, label: str, url: str, data: bytes | None, headers: dict[str, str],
                 method: str) -> bytes:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                body: bytes = answer.read()
                return body
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise StageError(label, f"HTTP {exc.code} from {url}: {detail}") from None
        except OSError as exc:
            raise StageError(label, f"cannot reach {url}: {exc}") from None

    def _put(self, graph: str, data: bytes) -> None:
        from urllib.parse import quote

        self._request("load", f"{self.store_url}?graph={quote(graph, safe='')}", data,
                      {"Content-Type": "application/n-triples"}, "PUT")

    def open_chunk(self, data: bytes) -> str:
        graph = f"urn:kgmassage:graph:chunk:{uuid.uuid4()}"
        self._put(graph, data)
        return graph

    def construct(self, stage: Stage, graph: str) -> None:
        from urllib.parse import urlencode

        body = urlencode({"update": stage.insert(graph, (KNOWLEDGE_GRAPH, graph))}).encode()
        self._request(stage.name, self.update_url, body,
                      {"Content-Type": "application/x-www-form-urlencoded"}, "POST")

    def _select(self, label: str, text: str, graph: str, accept: str) -> bytes:
        from urllib.parse import urlencode

        body = urlencode([("query", text), ("default-graph-uri", KNOWLEDGE_GRAPH),
                          ("default-graph-uri", graph)]).encode()
        return self._request(label, self.query_url, body,
                             {"Content-Type": "application/x-www-form-urlencoded",
                              "Accept": accept}, "POST")

    def select(self, label: str, text: str, graph: str) -> list[Row]:
        data = self._select(label, text, graph, "text/tab-separated-values").decode("utf-8")
        lines = data.split("\n")
        names = [name[1:] for name in lines[0].split("\t")]
        return [dict(zip(names, map(_tsv_value, line.split("\t")), strict=True))
                for line in lines[1:] if line]

    def select_terms(self, label: str, text: str, graph: str) -> list[dict[str, Any]]:
        from rdflib import BNode, Literal, URIRef

        from .records import keep_lexical_forms

        answer = json.loads(self._select(label, text, graph, "application/sparql-results+json"))
        names = answer["head"]["vars"]
        rows = []
        with keep_lexical_forms():  # a value shown as the record wrote it ("10:00Z")
            for binding in answer["results"]["bindings"]:
                row: dict[str, Any] = dict.fromkeys(names)
                for name, term in binding.items():
                    if term["type"] == "uri":
                        row[name] = URIRef(term["value"])
                    elif term["type"] == "bnode":
                        row[name] = BNode(term["value"])
                    else:
                        row[name] = Literal(term["value"], lang=term.get("xml:lang"),
                                            datatype=term.get("datatype"))
                rows.append(row)
        return rows

    def close_chunk(self, graph: str) -> None:
        from urllib.parse import urlencode

        body = urlencode({"update": f"DROP SILENT GRAPH <{graph}>"}).encode()
        self._request("drop", self.update_url, body,
                      {"Content-Type": "application/x-www-form-urlencoded"}, "POST")


_E = TypeVar("_E")


def endpoint_url(url: str, name: str = "the SPARQL endpoint") -> str:
    """``url`` when it is an http:// or https:// URL (a SPARQL server's), else a
    :class:`ParameterError` naming it ``name``."""
    if not url.startswith(("http://", "https://")):
        raise ParameterError(f"{name} must be an http:// or https:// URL, not {cut(url)!r}")
    return url


def runner_name(engine: _E, endpoint: str | None, name: str = "the SPARQL endpoint"
                ) -> _E | str:
    """What runs the stages, as one value a worker process can be given: the SPARQL server's
    URL when there is one (checked by :func:`endpoint_url`, naming it ``name``), else
    ``engine``."""
    return engine if endpoint is None else endpoint_url(endpoint, name)


def make_backend(name: str, knowledge: bytes, *, endpoint: str | None = None) -> Backend:
    """The back end called ``name`` (``"oxigraph"``, ``"rdflib"``), or the SPARQL server at
    ``endpoint`` (:class:`EndpointBackend`), holding ``knowledge``."""
    if endpoint is not None:
        return EndpointBackend(knowledge, endpoint)
    if name == "oxigraph":
        return OxigraphBackend(knowledge)
    if name == "rdflib":
        return RdflibBackend(knowledge)
    raise ParameterError(f"unknown engine {cut(str(name))!r}; choose one of {', '.join(BACKENDS)}")


def _time_windows(graph: Graph) -> dict[str, timedelta]:
    """Every ``km:TimeWindow`` of the rules with its length, by IRI."""
    from .rules import windows_in

    return {str(window): length for window, length in windows_in(graph).items()}


_BLANK_SUBJECT = re.compile(rb"^_:(\S+)", re.MULTILINE)
_BLANK_OBJECT = re.compile(rb" _:(\S+) \.$", re.MULTILINE)


def skolemized_ntriples(graph: Graph) -> bytes:
    """``graph`` as N-Triples with its blank nodes as the IRIs ``graph.skolemize()`` gives them
    (``SKOLEM_PREFIX`` + label), in a fraction of its time. In rdflib's N-Triples a blank node
    is only ever a line's subject or its object, which ends the line."""
    from .records import SKOLEM_PREFIX

    prefix = SKOLEM_PREFIX.encode("utf-8")
    data = graph.serialize(format="nt", encoding="utf-8")
    data = _BLANK_SUBJECT.sub(lambda m: b"<" + prefix + m.group(1) + b">", data)
    return _BLANK_OBJECT.sub(lambda m: b" <" + prefix + m.group(1) + b"> .", data)


def knowledge_tables(graph: Graph, stages: Iterable[Stage]) -> bytes:
    """The knowledge base with the tables its ``knowledge`` stages derive, as N-Triples; its
    blank nodes (the rules' effects) get IRIs, so that every back end names them alike."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(skolemized_ntriples(graph), format=ox.RdfFormat.N_TRIPLES)
    for stage in stages:
        try:
            store.update(f"{stage.prologue}\nINSERT {{ {stage.template} }}\n"
                         f"WHERE {{ {stage.pattern} }}")
        except Exception as exc:
            raise StageError(stage.name, str(exc)) from None
    return store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()) or b""


# ---------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class Tables:
    """What the engine reads from the ontology to present decisions (nothing clinical):
    status names and severity ranks, side names, alternative targets, the version."""

    status_names: Mapping[str, str]
    status_ranks: Mapping[str, int]
    side_names: Mapping[str, str]
    alternatives: Mapping[str, tuple[str, ...]]
    version: str
    #: term IRI → its English label (classes, structures, regions, techniques)
    labels: Mapping[str, str] = dc_field(default_factory=dict)
    #: structure IRI → the local names of the regions it lies in
    regions: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)
    #: technique IRIs of deep pressure
    deep: frozenset[str] = frozenset()
    #: ids of the rules no clearance lifts (km:clearable false)
    unclearable: frozenset[str] = frozenset()

    @property
    def status_order(self) -> tuple[str, ...]:
        """Decision status names, least severe first."""
        return tuple(sorted(self.status_ranks, key=self.status_ranks.__getitem__))

    @classmethod
    def from_graph(cls, graph: Graph) -> Tables:
        from rdflib import Literal as RdfLiteral
        from rdflib.namespace import OWL, RDF, RDFS, SKOS

        from .namespaces import KM, KM_IRI, local_name

        names: dict[str, str] = {}
        ranks: dict[str, int] = {}
        for status in graph.subjects(RDF.type, KM.DecisionStatus):
            name = str(graph.value(status, SKOS.notation))
            names[str(status)] = name
            ranks[name] = int(str(graph.value(status, KM.severityRank)))
        sides = {str(s): str(graph.value(s, SKOS.notation))
                 for s in set(graph.subjects(KM.coversSide, None))}
        alternatives: dict[str, list[str]] = {}
        for target, alternative in graph.subject_objects(KM.alternativeTarget):
            alternatives.setdefault(str(target), []).append(local_name(str(alternative)))
        version = next((str(v) for o in graph.subjects(RDF.type, OWL.Ontology)
                        for v in graph.objects(o, OWL.versionInfo)), "")
        labels = {str(s): str(o) for s, o in graph.subject_objects(RDFS.label)
                  if str(s).startswith(KM_IRI) and getattr(o, "language", None) in (None, "en")}
        regions: dict[str, list[str]] = {}
        for structure, region in graph.subject_objects(KM.inRegion):
            regions.setdefault(str(structure), []).append(local_name(str(region)))
        deep = frozenset(str(t) for t in graph.subjects(KM.pressure, KM.Deep))
        unclearable = frozenset(str(graph.value(r, KM.ruleId))
                                for r in graph.subjects(KM.clearable, RdfLiteral(False)))
        return cls(names, ranks, sides, {k: tuple(sorted(v)) for k, v in alternatives.items()},
                   version, labels, {k: tuple(sorted(v)) for k, v in regions.items()}, deep,
                   unclearable)


@dataclass(frozen=True)
class ChunkRows:
    """What the result queries found for a chunk, by role (see the manifest's ``results``)."""

    rows: Mapping[str, list[Any]]

    def __getitem__(self, role: str) -> list[Any]:
        return self.rows[role]


class Engine:
    """The knowledge base with its derivation, ready to run (build it once, reuse it).

    Args:
        graph: the knowledge base graph (ontology, rules, record vocabulary); default: the
            packaged one.
        backend: ``"oxigraph"`` (fast) or ``"rdflib"`` (the reference).
        shapes: the record shapes to check (default: the package's).
        endpoint: run on this SPARQL 1.1 server instead (:class:`EndpointBackend`).
    """

    def __init__(self, graph: Graph, *, backend: str = "oxigraph",
                 shapes: Graph | None = None, endpoint: str | None = None) -> None:
        from .resources import record_shapes_graph
        from .shacl_sparql import compile_shapes

        self.manifest = Manifest.read()
        #: The record shapes, compiled to SPARQL (checked set-at-a-time on each chunk).
        self.shapes = compile_shapes(record_shapes_graph() if shapes is None else shapes)
        self.knowledge = knowledge_tables(graph, self.manifest.knowledge)
        self.backend_name = backend if endpoint is None else "endpoint"
        self.backend = make_backend(backend, self.knowledge, endpoint=endpoint)
        self.catalogue = tuple(self._select_on_empty("catalogue"))
        reach: dict[tuple[str | None, ...], list[str]] = {}
        for row in self._select_on_empty("catalogue-reach"):
            key = (row["effect"], row["sideReach"], row["regionReach"])
            reach.setdefault(key, []).extend((row["interventions"] or "").split(" "))
        #: (effect, side reach key, region reach key) → the catalogue interventions reached.
        self.catalogue_reach = {key: tuple(sorted(set(v))) for key, v in reach.items()}
        #: effect → what it says (rule, ruleId, status, message, source, offers)
        self.effects = {row["effect"]: row for row in self._select_on_empty("effects")}
        #: Region probes (table k30-region-probes): light massage where the catalogue has none.
        self.probes = tuple(self._select_on_empty("probes"))
        self.windows = _time_windows(graph)
        self.tables = Tables.from_graph(graph)

    def chunk(self, patients: Sequence[tuple[Any, datetime]]) -> ChunkInput:
        """The chunk of ``(record, assessment time)`` pairs as the engine loads it: the
        records' N-Triples and their evaluation context
        (:func:`kgmassage.timeline.context_triples`)."""
        from .timeline import context_triples

        parts: list[str] = []
        for index, (record, at) in enumerate(patients):
            parts.append(record.ntriples)
            context = context_triples(str(record.iri), at, self.windows, record.dates,
                                      label=str(index))
            parts.append("".join(f"{s} {p} {o} .\n" for s, p, o in context))
        data = "".join(parts).encode("utf-8")
        owners = {subject: str(record.iri) for record, _ in patients
                  for subject in record.nodes}
        return ChunkInput(data, tuple((str(r.iri), at) for r, at in patients), owners)

    def _select_on_empty(self, role: str) -> list[Row]:
        graph = self.backend.open_chunk(b"")
        try:
            return self.backend.select(role, self.manifest.results[role], graph)
        finally:
            self.backend.close_chunk(graph)

    def classify(self, chunk: ChunkInput) -> list[Row]:
        """The classification facts of ``chunk`` (the manifest's ``classification`` result)."""
        backend = self.backend
        graph = backend.open_chunk(chunk.ntriples)
        try:
            for stage in self.manifest.classification:
                backend.construct(stage, graph)
            return backend.select("classification", self.manifest.results["classification"],
                                  graph)
        finally:
            backend.close_chunk(graph)

    def run(self, chunk: ChunkInput, *, validate: bool = True, decide: bool = True
            ) -> ChunkRows:
        """Run the chunk stages on ``chunk`` and read the result queries.

        Validation (``validate``) runs the compiled record shapes after the classification
        stages (their facts are part of what the shapes check); its rows are under the role
        ``"validation"``, each with the index of its shape in :attr:`shapes` as ``"shape"``.
        ``decide`` runs the decision stages and reads their results.
        """
        backend = self.backend
        graph = backend.open_chunk(chunk.ntriples)
        rows: dict[str, list[Any]] = {"validation": []}
        try:
            for stage in self.manifest.classification:
                backend.construct(stage, graph)
            if validate:
                for index, shape in enumerate(self.shapes):
                    for row in backend.select_terms(f"shape {shape.shape}", shape.query, graph):
                        row["shape"] = index
                        rows["validation"].append(row)
            if decide:
                for stage in self.manifest.decision:
                    backend.construct(stage, graph)
                for role in DECISION_RESULTS:
                    rows[role] = backend.select(role, self.manifest.results[role], graph)
            return ChunkRows(rows)
        finally:
            backend.close_chunk(graph)


_DEFAULTS: dict[str, Engine] = {}
_DEFAULTS_LOCK = threading.Lock()


def default_engine(backend: str = "oxigraph", *, endpoint: str | None = None) -> Engine:
    """The engine of the packaged knowledge base on ``backend``, or on the SPARQL server at
    ``endpoint`` (built on first use, then reused)."""
    if backend not in BACKENDS:
        make_backend(backend, b"")  # raises the ParameterError
    key = backend if endpoint is None else f"endpoint {endpoint}"
    with _DEFAULTS_LOCK:
        if key not in _DEFAULTS:
            from .resources import rules_graph

            _DEFAULTS[key] = Engine(rules_graph(), backend=backend, endpoint=endpoint)
        return _DEFAULTS[key]
