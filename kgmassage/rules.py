"""Python view of the contraindication rules stated in shapes/contraindications.shapes.ttl."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from rdflib import URIRef
from rdflib.namespace import RDF

from .namespaces import KM
from .resources import rules_graph

__all__ = ["time_windows"]


@cache
def time_windows() -> dict[URIRef, timedelta]:
    """Every ``km:TimeWindow`` of the rules with its length (``km:hours`` / ``km:days``)."""
    graph = rules_graph()
    windows: dict[URIRef, timedelta] = {}
    for window in graph.subjects(RDF.type, KM.TimeWindow):
        hours = graph.value(window, KM.hours)
        days = graph.value(window, KM.days)
        length = timedelta(hours=float(hours or 0), days=float(days or 0))
        windows[URIRef(window)] = length
    return windows
