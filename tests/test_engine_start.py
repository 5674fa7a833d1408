"""What every command starts with, read the fast way, is what rdflib's slower way reads: the
packaged Turtle (pyoxigraph's terms made rdflib's) and the skolemized knowledge base."""

from __future__ import annotations

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kgmassage import resources
from kgmassage.engine import skolemized_ntriples


@pytest.mark.parametrize(("package", "name"), [
    *(("ontology", n) for n in resources.ONTOLOGY_FILES),
    *(("shapes", n) for n in resources.SHAPE_FILES),
])
def test_packaged_turtle_reads_as_rdflib_reads_it(package: str, name: str) -> None:
    text = resources.read_text(package, name)
    fast, slow = resources._parse(package, (name,)), Graph().parse(data=text, format="turtle")
    assert isomorphic(fast, slow)
    assert set(fast.namespaces()) == set(slow.namespaces())  # prefixes too (serialisations)


def test_the_rules_graph_is_the_ontology_with_the_rules_and_record_vocabulary() -> None:
    expected = Graph()
    for graph in (resources.ontology_graph(),
                  resources.shape_graph("contraindications.shapes.ttl"),
                  resources.shape_graph("record-vocabulary.shapes.ttl")):
        expected += graph
    assert isomorphic(resources.rules_graph(), expected)


def test_skolemized_ntriples_name_blank_nodes_as_rdflib_does() -> None:
    graph = Graph()
    a, b = BNode(), BNode()
    graph.add((a, URIRef("urn:p"), b))
    graph.add((URIRef("urn:s"), URIRef("urn:p"), a))
    graph.add((b, URIRef("urn:p"), Literal("ends like a blank node _:x .")))
    fast = Graph().parse(data=skolemized_ntriples(graph).decode("utf-8"), format="nt")
    assert set(fast) == set(graph.skolemize())
    assert set(Graph().parse(data=skolemized_ntriples(resources.rules_graph()).decode("utf-8"),
                             format="nt")) == set(resources.rules_graph().skolemize())
