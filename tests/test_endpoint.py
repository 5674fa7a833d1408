"""The engine on a SPARQL 1.1 server (Oxigraph's, started here on a free loopback port) gives
the decisions and validation of the embedded engine, chunk for chunk."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from kgmassage import assess_many
from kgmassage.engine import Engine
from kgmassage.resources import rules_graph

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T10:00:00Z"


def _oxigraph() -> str | None:
    beside = Path(sys.executable).with_name("oxigraph")
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _oxigraph()
    if binary is None:
        pytest.skip("the Oxigraph server (PyPI package oxigraph) is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("oxigraph")
    process = subprocess.Popen([binary, "serve", "--location", str(folder), "--bind",
                                f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_server_gives_the_embedded_engines_assessments(server: str) -> None:
    cohort = ROOT / "examples" / "cohort.ndjson"
    embedded = [a.to_dict() for a in assess_many(cohort, at=AT, chunk_size=5)]
    remote = [a.to_dict() for a in assess_many(cohort, at=AT, chunk_size=5, endpoint=server)]
    assert remote == embedded
    assert sum(a["summary"]["forbidden"] for a in remote) > 0


def test_chunks_leave_nothing_behind_on_the_server(server: str) -> None:
    engine = Engine(rules_graph(), endpoint=server)
    list(assess_many(ROOT / "examples" / "cohort.ndjson", at=AT, engine=engine))
    query = urlencode({"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"})
    request = urllib.request.Request(f"{server}/query?{query}",
                                     headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        graphs = [b["g"]["value"] for b in json.load(answer)["results"]["bindings"]]
    assert graphs == ["urn:kgmassage:graph:knowledge"]


def test_the_server_shows_values_as_the_record_wrote_them(server: str) -> None:
    """Trial 13: through the server a date without seconds came back as rdflib's normal form
    ("2026-11-01T10:00:00+00:00" beside "is not a valid date")."""
    records = [{"id": "d", "conditions": [{"type": "KneePain", "onset": "2026-11-01T10:00Z"}],
                "findings": [{"type": "Fever", "onset": "2026-11-20T10:00:01Z"}]}]
    embedded = [a.to_dict() for a in assess_many(records, at=AT)]
    remote = [a.to_dict() for a in assess_many(records, at=AT, endpoint=server)]
    assert remote == embedded
    assert {r["value"] for r in remote[0]["validation"]} >= {"2026-11-01T10:00Z",
                                                            "2026-11-20T10:00:01Z"}
