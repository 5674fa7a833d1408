"""Reuse parsed SPARQL while pySHACL validates.

pySHACL hands rdflib the text of each SPARQL constraint and rule once per focus node, and
rdflib parses it anew every time; for the long plan-check queries parsing is most of the
cost. :func:`reuse_parsed_queries` memoises rdflib's parse-and-translate step, keyed by the
query text, base and namespace bindings, for the duration of a ``with`` block. The parsed
algebra is not mutated by evaluation, so reusing it is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from rdflib.plugins.sparql import processor
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery

__all__ = ["reuse_parsed_queries"]

_lock = threading.RLock()
_original = processor.SPARQLProcessor.query


@lru_cache(maxsize=1024)
def _prepared(text: str, base: str | None, namespaces: tuple[tuple[str, Any], ...]) -> Any:
    return translateQuery(parseQuery(text), base, dict(namespaces))


def _query(self: Any, query: Any, initBindings: Any = None, initNs: Any = None,  # noqa: N803
           base: str | None = None, DEBUG: bool = False) -> Any:  # noqa: N803
    if isinstance(query, str):
        query = _prepared(query, base, tuple(sorted((initNs or {}).items())))
    return _original(self, query, initBindings, initNs, base, DEBUG)


@contextmanager
def reuse_parsed_queries() -> Iterator[None]:
    """Within the block, rdflib parses each distinct query text once."""
    with _lock:
        processor.SPARQLProcessor.query = _query  # type: ignore[method-assign]
        try:
            yield
        finally:
            processor.SPARQLProcessor.query = _original  # type: ignore[method-assign]
