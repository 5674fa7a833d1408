"""The embedded engine's memory stays flat: a store serves chunks until enough records went
through it, then a fresh one takes over; decisions do not depend on which store a chunk ran in."""

from __future__ import annotations

from pathlib import Path

from kgmassage import assess_many
from kgmassage.engine import Engine, OxigraphBackend
from kgmassage.resources import rules_graph

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T10:00:00Z"
COHORT = ROOT / "examples" / "cohort.ndjson"


def test_a_fresh_store_takes_over_and_gives_the_same_assessments() -> None:
    recycling = Engine(rules_graph())
    backend = recycling.backend
    assert isinstance(backend, OxigraphBackend)
    backend.RECYCLE_BYTES = 1  # every chunk after the first opens a fresh store
    stores: list[object] = []
    opened = backend.open_chunk

    def open_chunk(data: bytes) -> str:
        graph = opened(data)
        stores.append(backend._stores[graph])  # held: ids stay distinct
        return graph

    backend.open_chunk = open_chunk  # type: ignore[method-assign]
    fresh = [a.to_dict() for a in assess_many(COHORT, at=AT, chunk_size=2, engine=recycling)]
    kept = [a.to_dict() for a in assess_many(COHORT, at=AT, chunk_size=2,
                                             engine=Engine(rules_graph()))]
    assert fresh == kept
    assert len(stores) >= 3 and len({id(s) for s in stores}) == len(stores)
    assert backend._stores == {}  # every chunk closed, no store held for it


def test_a_small_chunk_stays_in_the_current_store() -> None:
    engine = Engine(rules_graph())
    backend = engine.backend
    assert isinstance(backend, OxigraphBackend)
    first = backend.open_chunk(b"")
    second = backend.open_chunk(b"<urn:a> <urn:b> <urn:c> .\n")
    assert backend._stores[first] is backend._stores[second]
    backend.close_chunk(first)
    backend.close_chunk(second)
    assert backend._stores == {}


def test_a_large_chunk_runs_in_a_store_of_its_own_with_the_same_assessments() -> None:
    own = Engine(rules_graph())
    shared = Engine(rules_graph())
    assert isinstance(own.backend, OxigraphBackend)
    assert isinstance(shared.backend, OxigraphBackend)
    own.backend.OWN_STORE_BYTES = 1  # every chunk: a store of its own, default graph
    shared.backend.OWN_STORE_BYTES = 1 << 40  # every chunk: a named graph in the shared store
    opened = own.backend.open_chunk
    stores: list[object] = []

    def open_chunk(data: bytes) -> str:
        graph = opened(data)
        stores.append(own.backend._stores[graph])
        return graph

    own.backend.open_chunk = open_chunk  # type: ignore[method-assign]
    first = [a.to_dict() for a in assess_many(COHORT, at=AT, chunk_size=4, engine=own)]
    second = [a.to_dict() for a in assess_many(COHORT, at=AT, chunk_size=4, engine=shared)]
    assert first == second
    assert len(stores) >= 3 and len({id(s) for s in stores}) == len(stores)
    assert own.backend._stores == {} and own.backend._own == set()
