"""Cohorts: records read lazily, assessed in chunks, on one process or several.

:func:`assess_chunks` reads records one at a time (NDJSON line by line), groups them into
chunks of ``chunk_size`` patients and assesses each chunk in one engine run, in order. With
``jobs`` > 1 the chunks go to worker processes (each builds its own engine), at most
``2 × jobs`` chunks in flight, so memory stays flat whatever the cohort's size. A record that
cannot be read is yielded as its :class:`~kgmassage.errors.RecordError`, in place, and the
others go on. ``render`` (a picklable function of an assessment) lets the workers also turn
each assessment into its output, e.g. a JSON line, so that only text crosses processes.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any, cast

from .errors import ParameterError, RecordError
from .records import PatientRecord, UnreadLine
from .timeline import resolve_at

__all__ = ["assess_chunks", "assess_partition", "prepare_process"]

Item = Any  # an Assessment, a rendering of one, or an error


Source = PatientRecord | RecordError | UnreadLine


def prepare_process(engine: str = "oxigraph") -> None:
    """Build this process's engine now and keep it, with everything the process holds so far,
    out of the cyclic garbage collector's passes (:func:`gc.freeze`): otherwise each full pass
    walks the knowledge base and the engine's tables again (about 7 % of a cohort's time). For
    processes that exist to assess (the command line, the workers of ``jobs`` > 1); objects
    frozen are never collected, so a library embedding kgmassage decides for itself."""
    import gc

    from .assessment import _engine

    _engine(engine)
    gc.freeze()


def _chunks(items: Iterable[Source], chunk_size: int) -> Iterator[list[Source]]:
    """Records (read or not) grouped into chunks; errors travel in place; no two records read
    in a chunk share a node (a patient, or an item that another file also describes: one
    record's data would change the other's), an unread line is checked when it is read
    (:func:`_assess_chunk`)."""
    chunk: list[Source] = []
    seen: set[str] = set()
    count = 0
    for item in items:
        if not isinstance(item, RecordError):
            nodes = ({str(item.iri), *item.nodes} if isinstance(item, PatientRecord)
                     else set())
            if count >= chunk_size or not seen.isdisjoint(nodes):
                yield chunk
                chunk, seen, count = [], set(), 0
            seen |= nodes
            count += 1
        chunk.append(item)
    if chunk:
        yield chunk


def _assess_chunk(chunk: list[Source], at: datetime | str | None, strict: bool, engine: str,
                  render: Callable[[Any], Any] | None) -> list[Item]:
    """One chunk, its lines read, assessed in one engine run each time no patient comes twice;
    the items in input order."""
    read = [item.read() if isinstance(item, UnreadLine) else item for item in chunk]
    return [out for part in _chunks(read, len(read))
            for out in _assess_read(cast(list[PatientRecord | RecordError], part), at, strict,
                                    engine, render)]


def _assess_read(chunk: list[PatientRecord | RecordError], at: datetime | str | None,
                 strict: bool, engine: str, render: Callable[[Any], Any] | None) -> list[Item]:
    """One chunk of records read, assessed in one engine run; the items in input order."""
    from .assessment import _assessments, _refused

    records = [r for r in chunk if isinstance(r, PatientRecord)]
    done = iter(_assessments(records, [resolve_at(at, r.assessed_at) for r in records], engine))
    out: list[Item] = []
    for item in chunk:
        if isinstance(item, RecordError):
            out.append(item)
            continue
        assessment = next(done)
        if strict and not assessment.conforms:
            out.append(_refused(assessment, item))
        else:
            out.append(render(assessment) if render is not None else assessment)
    return out


def assess_chunks(
    items: Iterable[PatientRecord | RecordError | UnreadLine],
    *,
    at: datetime | str | None = None,
    strict: bool = False,
    engine: str = "oxigraph",
    chunk_size: int = 500,
    jobs: int = 1,
    render: Callable[[Any], Any] | None = None,
) -> Iterator[Item]:
    """Assess a stream of records in chunks, in input order (see the module doc).

    Yields each assessment (or ``render(assessment)``), each :class:`RecordError` read, and,
    in strict mode, a :class:`~kgmassage.errors.NonConformingRecordError` for each record that
    does not conform. ``engine``: ``"oxigraph"``, ``"rdflib"`` or a SPARQL server's URL.
    """
    if jobs < 1 or chunk_size < 1:
        raise ParameterError("jobs and chunk_size must be at least 1")
    chunks = _chunks(items, chunk_size)
    if jobs == 1:
        for chunk in chunks:
            yield from _assess_chunk(chunk, at, strict, engine, render)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=prepare_process,
                             initargs=(engine,)) as pool:
        pending: deque[Future[list[Item]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_assess_chunk, chunk, at, strict, engine, render))
            if len(pending) >= 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()




def assess_partition(lines: Iterable[str | bytes], *, at: datetime | str | None = None,
                     strict: bool = False, name: str = "<partition>",
                     chunk_size: int = 500) -> list[str]:
    """Assess one partition of an NDJSON cohort: its lines in, one JSON line out per line.

    Made for distributed runs (a Dask bag's ``map_partitions``, a Spark ``mapPartitions``):
    each assessment comes out as the JSON line ``kgmassage assess --format ndjson`` writes;
    a line that cannot be read, or a record strict mode refuses, as
    ``{"error": "<message>", "source": …, "line": …}`` (lines count within the partition).

    >>> out = assess_partition(['{"id": "p-1"}', 'not json'], at="2026-11-20")
    >>> [sorted(json.loads(line))[:2] for line in out]
    [['assessed_at', 'conforms'], ['error', 'line']]
    """
    from .output import to_json_line
    from .records import iter_lines

    out: list[str] = []
    items = iter_lines(lines, name=name, at=None if at is None else resolve_at(at))
    for item in assess_chunks(items, at=at, strict=strict, chunk_size=chunk_size,
                              render=to_json_line):
        if isinstance(item, str):
            out.append(item)
        else:
            out.append(json.dumps({"error": str(item), "source": getattr(item, "source", name),
                                   "line": getattr(item, "line", None)}))
    return out
