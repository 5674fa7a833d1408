"""The only module that reads the packaged artefacts (ontology, shapes, queries).

Each file is parsed once and cached; callers get the cached graph and must not mutate it
(copy it with :func:`copy_graph` first).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdflib import BNode, Graph, Literal, URIRef

from .errors import QueryError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from rdflib.term import Node

__all__ = [
    "ONTOLOGY_FILES",
    "SHAPE_FILES",
    "ontology_graph",
    "shapes_graph",
    "record_shapes_graph",
    "rules_graph",
    "query_text",
    "query_names",
    "read_text",
    "copy_graph",
]

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

#: Turtle files that make up the ontology, in load order.
ONTOLOGY_FILES = ("kgmassage.ttl", "mappings.ttl", "engine.ttl", "claims.ttl")
#: Turtle files that make up the SHACL shapes.
SHAPE_FILES = (
    "patient.shapes.ttl", "record-vocabulary.shapes.ttl", "contraindications.shapes.ttl",
)
#: The shapes of record validity: values, and the record vocabulary (closed shapes).
RECORD_SHAPE_FILES = ("patient.shapes.ttl", "record-vocabulary.shapes.ttl")


def _folder(package: str) -> Traversable:
    """The packaged data folder ``kgmassage.<package>`` (``ontology``, ``shapes``, ``queries``).

    In a source checkout imported from its root (``python -c`` there), ``kgmassage`` is the
    source folder and the data folders are its siblings."""
    try:
        return files(f"kgmassage.{package}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / package


def read_text(package: str, name: str) -> str:
    """Text of a packaged file, e.g. ``read_text("ontology", "kgmassage.ttl")``."""
    return _folder(package).joinpath(name).read_text(encoding="utf-8")


def _parse(package: str, names: tuple[str, ...], graph: Graph | None = None) -> Graph:
    """The packaged Turtle files ``names`` as one rdflib graph (added to ``graph`` if given).
    pyoxigraph reads the Turtle and its terms become rdflib's: the same graph as rdflib's own
    Turtle parser makes, in a third of its time (start-up of every command)."""
    import pyoxigraph as ox

    graph = Graph() if graph is None else graph
    for name in names:
        resource = _folder(package).joinpath(name)
        if resource.is_file():
            parser = ox.parse(resource.read_bytes(), format=ox.RdfFormat.TURTLE)
            blanks: dict[str, BNode] = {}  # one file's blank nodes are its own
            graph.addN((_term(t.subject, blanks), URIRef(t.predicate.value),
                        _term(t.object, blanks), graph)
                       for t in parser)
            for prefix, namespace in parser.prefixes.items():  # as rdflib's Turtle parser does
                graph.bind(prefix, namespace)
    return graph


def _term(node: Any, blanks: dict[str, BNode]) -> Node:
    """The rdflib term of a pyoxigraph one (an ``xsd:string`` literal is a plain one, as in
    rdflib's parsers)."""
    import pyoxigraph as ox

    if isinstance(node, ox.NamedNode):
        return URIRef(node.value)
    if isinstance(node, ox.BlankNode):
        return blanks.setdefault(node.value, BNode())
    if node.language:
        return Literal(node.value, lang=node.language)
    datatype = node.datatype.value
    return Literal(node.value, datatype=None if datatype == _XSD_STRING else URIRef(datatype))


@cache
def ontology_graph() -> Graph:
    """The whole ontology (classes, anatomy, techniques, mappings, engine vocabulary)."""
    return _parse("ontology", ONTOLOGY_FILES)


@cache
def shape_graph(name: str) -> Graph:
    """One shapes file, parsed."""
    return _parse("shapes", (name,))


@cache
def record_shapes_graph() -> Graph:
    """The shapes of record validity (values and vocabulary), without the plan checks."""
    return _parse("shapes", RECORD_SHAPE_FILES)


@cache
def shapes_graph() -> Graph:
    """All SHACL shapes (record validity and contraindications)."""
    return _parse("shapes", SHAPE_FILES)


@cache
def rules_graph() -> Graph:
    """Ontology, contraindication rules and record vocabulary: what the derivation reads."""
    graph = _parse("ontology", ONTOLOGY_FILES)
    return _parse("shapes", ("contraindications.shapes.ttl", "record-vocabulary.shapes.ttl"),
                  graph)


def copy_graph(graph: Graph) -> Graph:
    """A mutable copy of a (cached) graph."""
    copy = Graph()
    for prefix, ns in graph.namespaces():
        copy.bind(prefix, ns, override=True)
    copy += graph
    return copy


def query_names(group: str) -> list[str]:
    """Names (without ``.rq``) of the queries shipped in ``queries/<group>/``."""
    folder = _folder("queries").joinpath(group)
    if not folder.is_dir():
        return []
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".rq"))


@cache
def knowledge_ntriples() -> bytes:
    """The rules graph (ontology and rules) as N-Triples, for stores that load it."""
    return rules_graph().serialize(format="nt", encoding="utf-8")


@cache
def query_text(group: str, name: str) -> str:
    """Text of ``queries/<group>/<name>.rq`` (or ``.ru``)."""
    for suffix in (".rq", ".ru"):
        resource = _folder("queries").joinpath(group, name + suffix)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    raise QueryError(f"no query named {group}/{name}")
