"""Build ``ontology/kgmassage.owl``: the release, the merged ontology and its rules as RDF/XML.

Usage::

    python tools/build_owl.py            # (re)write ontology/kgmassage.owl
    python tools/build_owl.py --check    # exit 1 if ontology/kgmassage.owl is out of date
    python tools/build_owl.py --output PATH

The input (:func:`release_graph`) is the ontology exactly as the package loads it
(``kgmassage.resources.ontology_graph()``: the Turtle files of
``kgmassage.resources.ONTOLOGY_FILES`` that exist, in that order — ``kgmassage.ttl``,
``mappings.ttl``, ``engine.ttl``, ``claims.ttl``) together with the contraindication rules of
``shapes/contraindications.shapes.ttl``: every ``km:Rule`` with its effects, and the time
windows they use — that file without its SHACL shapes (the plan checks of ``validate``, which
belong to validation, not to the knowledge). So the release file alone answers every question
about the knowledge, the rules and why they exist, with nothing but an RDF library:
``SELECT ?r WHERE { ?r a km:Rule }``. The output is RDF/XML for OWL tools that do not read
Turtle (owlready2 and its HermiT reasoner, Protégé, ROBOT) and for plain RDF libraries.

The output is deterministic, so a diff of the ``.owl`` shows only real changes: blank nodes get
canonical labels (:func:`canonical_labels`: a hash of each blank node's neighbourhood, refined
until stable; ``rdflib.compare.to_canonical_graph`` when that leaves two blank nodes alike),
subjects are written in sorted order (IRIs, then blank nodes) with their statements sorted, one
``rdf:Description`` per subject, and namespace prefixes come from the Turtle files (others are
numbered in sorted order).

Re-run it after editing any of the Turtle files: ``tests/test_ontology.py`` fails while the
``.owl`` is not isomorphic to the merged Turtle.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.namespace import RDF

from kgmassage.resources import ONTOLOGY_FILES, copy_graph, ontology_graph, shape_graph

SH = "http://www.w3.org/ns/shacl#"
#: The shapes file whose rules (not its shapes) go into the release.
RULES_FILE = "contraindications.shapes.ttl"

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "ontology" / "kgmassage.owl"

_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _split(iri: str) -> tuple[str, str]:
    """Split a predicate IRI into namespace and an XML NCName local part."""
    for sep in ("#", "/"):
        if sep in iri:
            namespace, local = iri.rsplit(sep, 1)
            if local and _NCNAME.match(local):
                return namespace + sep, local
    raise ValueError(f"predicate {iri} cannot be written as an RDF/XML element name")


def _prefixes(graph: Graph, predicates: set[URIRef]) -> dict[str, str]:
    """Namespace -> prefix for every predicate namespace, preferring the Turtle prefixes."""
    bound = {str(ns): prefix for prefix, ns in graph.namespaces() if prefix}
    needed = sorted({_split(str(p))[0] for p in predicates} | {str(RDF)})
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for namespace in needed:
        prefix = bound.get(namespace)
        if prefix and prefix not in used and _NCNAME.match(prefix) and ":" not in prefix:
            mapping[namespace] = prefix
            used.add(prefix)
    counter = 1
    for namespace in needed:
        if namespace not in mapping:
            while f"ns{counter}" in used:
                counter += 1
            mapping[namespace] = f"ns{counter}"
            used.add(f"ns{counter}")
    return mapping


def _node_key(node: object) -> tuple[int, str, str, str]:
    if isinstance(node, URIRef):
        return (0, str(node), "", "")
    if isinstance(node, BNode):
        return (1, str(node), "", "")
    assert isinstance(node, Literal)
    return (2, str(node), str(node.datatype or ""), node.language or "")


def _text(value: str) -> str:
    return escape(value).replace("\r", "&#13;")


def _attr(value: str) -> str:
    return quoteattr(value, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def canonical_labels(graph: Graph) -> dict[BNode, str] | None:
    """A label for every blank node of ``graph`` that depends only on the graph's structure.

    Each blank node's label hashes its statements (predicates, ground terms, and the current
    labels of neighbouring blank nodes), refined until the partition is stable (colour
    refinement). Returns ``None`` when two blank nodes stay alike (then only a full
    canonicalisation can tell them apart). Two graphs whose relabelled triples are equal are
    isomorphic.
    """
    bnodes = {n for triple in graph for n in (triple[0], triple[2]) if isinstance(n, BNode)}
    labels = {node: "" for node in bnodes}

    def term(node: object) -> str:
        return labels[node] if isinstance(node, BNode) else node.n3()  # type: ignore[union-attr]

    distinct = 1 if bnodes else 0
    for _ in range(len(bnodes) + 1):
        refined = {}
        for node in bnodes:
            out = sorted(f"{p.n3()} {term(o)}" for p, o in graph.predicate_objects(node))
            into = sorted(f"{term(s)} {p.n3()}" for s, p in graph.subject_predicates(node))
            text = "\n".join(["out", *out, "in", *into])
            refined[node] = "b" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        labels = refined
        now = len(set(labels.values()))
        if now == distinct:
            break
        distinct = now
    return labels if len(set(labels.values())) == len(bnodes) else None


def relabelled(graph: Graph) -> Graph:
    """``graph`` with canonical blank-node labels (see :func:`canonical_labels`)."""
    labels = canonical_labels(graph)
    if labels is None:
        return to_canonical_graph(graph)
    out = Graph()
    for s, p, o in graph:
        out.add(
            (
                BNode(labels[s]) if isinstance(s, BNode) else s,
                p,
                BNode(labels[o]) if isinstance(o, BNode) else o,
            )
        )
    return out


def to_rdfxml(graph: Graph, *, sources: tuple[str, ...]) -> str:
    """Serialise ``graph`` as deterministic RDF/XML (see the module docstring)."""
    canonical = relabelled(graph)
    predicates = {p for p in canonical.predicates() if isinstance(p, URIRef)}
    prefixes = _prefixes(graph, predicates)

    def qname(predicate: URIRef) -> str:
        namespace, local = _split(str(predicate))
        return f"{prefixes[namespace]}:{local}"

    by_subject: dict[object, list[tuple[URIRef, object]]] = {}
    for s, p, o in canonical:
        by_subject.setdefault(s, []).append((p, o))

    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<!-- Generated by tools/build_owl.py from "
        + ", ".join(sources)
        + ". Do not edit: edit the Turtle and re-run the tool. -->",
    ]
    namespace_decls = "".join(
        f"\n    xmlns:{prefix}={_attr(namespace)}"
        for namespace, prefix in sorted(prefixes.items(), key=lambda item: item[1])
    )
    lines.append(f"<rdf:RDF{namespace_decls}>")
    for subject in sorted(by_subject, key=_node_key):
        if isinstance(subject, BNode):
            lines.append(f"  <rdf:Description rdf:nodeID={_attr(str(subject))}>")
        else:
            lines.append(f"  <rdf:Description rdf:about={_attr(str(subject))}>")
        for predicate, obj in sorted(
            by_subject[subject], key=lambda po: (str(po[0]), _node_key(po[1]))
        ):
            name = qname(predicate)
            if isinstance(obj, URIRef):
                lines.append(f"    <{name} rdf:resource={_attr(str(obj))}/>")
            elif isinstance(obj, BNode):
                lines.append(f"    <{name} rdf:nodeID={_attr(str(obj))}/>")
            else:
                assert isinstance(obj, Literal)
                attrs = ""
                if obj.language:
                    attrs = f" xml:lang={_attr(obj.language)}"
                elif obj.datatype is not None:
                    attrs = f" rdf:datatype={_attr(str(obj.datatype))}"
                lines.append(f"    <{name}{attrs}>{_text(str(obj))}</{name}>")
        lines.append("  </rdf:Description>")
    lines.append("</rdf:RDF>")
    return "\n".join(lines) + "\n"


def rules_part(shapes: Graph) -> Graph:
    """``shapes`` without its SHACL shapes: the rules, their effects and time windows.

    A node typed with a class of the SHACL namespace (``sh:NodeShape``, ``sh:PropertyShape``)
    is dropped with every triple about it and the blank nodes only it reaches.
    """
    dropped = {
        s for s, o in shapes.subject_objects(RDF.type)
        if isinstance(o, URIRef) and str(o).startswith(SH)
    }
    frontier = list(dropped)
    while frontier:
        node = frontier.pop()
        for obj in shapes.objects(node):
            if isinstance(obj, BNode) and obj not in dropped:
                dropped.add(obj)
                frontier.append(obj)
    part = Graph()
    for prefix, namespace in shapes.namespaces():
        part.bind(prefix, namespace, override=False)
    for s, p, o in shapes:
        if s not in dropped:
            part.add((s, p, o))
    return part


def release_graph() -> Graph:
    """The ontology as the package loads it plus the rules of the contraindication shapes."""
    graph = copy_graph(ontology_graph())
    graph += rules_part(shape_graph(RULES_FILE))
    return graph


def build() -> str:
    """The RDF/XML text of the release (:func:`release_graph`)."""
    from importlib.resources import files

    folder = files("kgmassage.ontology")
    sources = tuple(
        f"ontology/{name}" for name in ONTOLOGY_FILES if folder.joinpath(name).is_file()
    ) + (f"shapes/{RULES_FILE} (its rules, without the SHACL shapes)",)
    return to_rdfxml(release_graph(), sources=sources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="file to write")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is out of date"
    )
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
        if current != text:
            sys.stderr.write(f"{args.output} is out of date: run python tools/build_owl.py\n")
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
