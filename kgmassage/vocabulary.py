"""How record values name the ontology's terms: techniques, targets, statuses, sides.

Everything here is read from the ontology (local names, ``rdfs:label``, ``skos:altLabel``,
``skos:notation``); nothing is listed in Python.

* Techniques and targets (planned interventions, :func:`kgmassage.decide`) are matched by local
  name, label or synonym, trimmed, with runs of white space taken as one space, and
  case-insensitively: ``"knee cap"``, ``"Kneecap"`` and ``"patella"`` all name ``km:Patella``.
* Statuses are matched by their notation, case-insensitively in ASCII (``"Resolved"``), but
  neither trimmed nor Unicode-folded: ``" resolved"`` and ``"reſolved"`` are not statuses (they
  count as active: fail safe).
* Sides are matched exactly (``"left"``, ``"right"``, ``"bilateral"``): anything else is an
  unknown side, which means both sides.

>>> technique_named(" Foam Rolling ") == KM.FoamRolling
True
>>> target_named("IT band") == KM.IliotibialBand
True
>>> target_named("kneecaps") is None
True
"""

from __future__ import annotations

import re
from functools import cache

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from .namespaces import KM, local_name
from .resources import ontology_graph

__all__ = ["name_key", "technique_named", "target_named", "status_named", "side_named"]

_SPACE = re.compile(r"\s+")


def name_key(text: str) -> str:
    """The form names are compared in: trimmed, white space runs as one space, case-folded."""
    return _SPACE.sub(" ", text).strip().casefold()


def _instances(graph: Graph, top: URIRef) -> set[URIRef]:
    classes = set(graph.transitive_subjects(RDFS.subClassOf, top))
    return {s for c in classes for s in graph.subjects(RDF.type, c) if isinstance(s, URIRef)}


def _names(graph: Graph, terms: set[URIRef]) -> dict[str, URIRef]:
    table: dict[str, URIRef] = {}
    for term in sorted(terms):
        names = [local_name(term)]
        names += [str(o) for p in (RDFS.label, SKOS.altLabel) for o in graph.objects(term, p)]
        for name in names:
            table.setdefault(name_key(name), term)
    return table


@cache
def _tables() -> dict[str, dict[str, URIRef]]:
    graph = ontology_graph()
    return {
        "technique": _names(graph, _instances(graph, KM.Technique)),
        "target": _names(graph, _instances(graph, KM.AnatomicalStructure)),
        "status": {
            str(n).lower(): URIRef(str(s))
            for s in graph.subjects(RDF.type, KM.ConditionStatus)
            for n in graph.objects(s, SKOS.notation)
        },
        "side": {
            str(n): URIRef(str(s))
            for s in graph.subjects(RDF.type, KM.Side)
            for n in graph.objects(s, SKOS.notation)
        },
    }


def technique_named(text: str) -> URIRef | None:
    """The technique a name means, or ``None``."""
    return _tables()["technique"].get(name_key(text))


def target_named(text: str) -> URIRef | None:
    """The anatomical structure a name means, or ``None``."""
    return _tables()["target"].get(name_key(text))


def status_named(text: str) -> URIRef | None:
    """The item status a value means (``"Resolved"`` → ``km:Resolved``), or ``None``.

    Case-insensitive in ASCII only: Unicode case folding would read look-alikes such as
    ``"reſolved"`` (a long s) as ``resolved``, and make an entry absent (fail safe: none is a
    status).
    """
    return _tables()["status"].get(text.lower()) if text.isascii() else None


def side_named(text: str) -> URIRef | None:
    """The side a value means, exactly (``"left"`` → ``km:Left``), or ``None``."""
    return _tables()["side"].get(text)
