"""Shared test fixtures: generic ones, parsed once per session. Add yours below."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from rdflib import Graph

from kgmassage import resources

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The project's shared folder (specs, reference data); CI has it at ../shared.
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; the test is skipped where it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is not present")
    return SHARED_DIR


@pytest.fixture(scope="session")
def ontology() -> Graph:
    """The merged ontology as the package loads it (cached: do not mutate it)."""
    return resources.ontology_graph()


@pytest.fixture
def ontology_copy(ontology: Graph) -> Graph:
    """A fresh mutable copy of the ontology, for tests that add or remove triples."""
    return resources.copy_graph(ontology)


@pytest.fixture(scope="session")
def kb():
    """The packaged :class:`kgmassage.knowledge.KnowledgeBase`."""
    from kgmassage.knowledge import KnowledgeBase

    return KnowledgeBase.load()


@pytest.fixture(scope="session")
def kgmassage_command() -> list[str]:
    """The real ``kgmassage`` entry point: the console script installed beside this Python,
    else the one on PATH, else ``python -m kgmassage``."""
    beside = Path(sys.executable).with_name("kgmassage")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("kgmassage")
    if found:
        return [found]
    return [sys.executable, "-m", "kgmassage"]
