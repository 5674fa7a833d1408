"""The record shapes compiled to SPARQL (kgmassage.shacl_sparql) agree with pySHACL exactly.

A cohort covering every record shape (every record of tests/data/records/ and examples/, plus
seeded records that mix their defects) is put into ONE data graph, built as
:func:`kgmassage.validation.validation_data` builds a record's (knowledge base, record triples,
evaluation context, classification facts), here for all records as one engine chunk. pySHACL
validates that graph; the compiled queries run on pyoxigraph over the same triples. Both must
give the same set of (focus, path, value, severity, shape) and the same messages.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pyshacl
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_isomorphic
from rdflib.namespace import RDF, SH, XSD

from kgmassage import resources
from kgmassage.engine import default_engine
from kgmassage.namespaces import KM
from kgmassage.records import PatientRecord, iter_records, keep_lexical_forms
from kgmassage.shacl_sparql import (
    OUTPUT_VARIABLES,
    CompiledShape,
    UnsupportedShapeError,
    compile_shapes,
    message_for,
)
from kgmassage.timeline import parse_date, resolve_at
from kgmassage.validation import validation_data

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "tests" / "data" / "records").iterdir()) + sorted(
    p for p in (ROOT / "examples").rglob("*") if p.suffix in (".json", ".ndjson", ".ttl")
)
#: The assessment time of a record without a readable assessed_at (instead of "now").
FIXED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
GENERATED = 250
LISTS = ("conditions", "findings", "procedures", "clearances", "planned")
Key = tuple[Any, ...]


# --- the cohort -----------------------------------------------------------------------------


def _donors() -> list[dict[str, Any]]:
    """Every JSON record object of the sources (to mix)."""
    found = []
    for path in SOURCES:
        if path.suffix == ".ndjson":
            texts = path.read_text(encoding="utf-8").splitlines()
        elif path.suffix == ".json":
            texts = [path.read_text(encoding="utf-8")]
        else:
            continue
        for text in texts:
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                found.append(obj)
    return found


def _mix(rng: random.Random, donors: list[dict[str, Any]], index: int) -> dict[str, Any]:
    """A record taking the lists (concatenated) and fields of two or three donors."""
    roll = rng.random()
    record: dict[str, Any] = (
        {"id": f"gen-{index}"} if roll < 0.9 else {"id": rng.choice(["", 5])} if roll < 0.95 else {}
    )
    for donor in rng.sample(donors, rng.randint(2, 3)):
        for key, value in donor.items():
            if key == "id":
                continue
            value = json.loads(json.dumps(value))
            if key in LISTS and isinstance(value, list) and isinstance(record.get(key), list):
                record[key].extend(value)
            elif key not in record or rng.random() < 0.5:
                record[key] = value
    if rng.random() < 0.1:  # backslashes and "$" reach a message through REPLACE and re.sub
        record[rng.choice(["no\\tes", "x$1", "a\\\\b"])] = rng.choice(["a\\b", "$1\\g", "1"])
    return record


def generated_records(count: int, seed: int = 7) -> list[PatientRecord]:
    """``count`` records mixing the defects of the sources (seeded, deterministic)."""
    rng = random.Random(seed)
    donors = _donors()
    found: list[PatientRecord] = []
    index = 0
    while len(found) < count:
        items = list(iter_records(_mix(rng, donors, index)))
        index += 1
        if len(items) == 1 and isinstance(items[0], PatientRecord):
            found.append(items[0])
    return found


def file_records() -> list[PatientRecord]:
    return [r for path in SOURCES for r in iter_records(path) if isinstance(r, PatientRecord)]


_SUBJECT = re.compile(r"^<([^>]*)>", re.M)


def apart(records: list[PatientRecord]) -> list[PatientRecord]:
    """The records, each renamed where it shares a node with an earlier one (same id, no id,
    the same file twice): one graph must hold them side by side."""
    used: set[str] = set()
    out = []
    for number, record in enumerate(records):
        subjects = set(_SUBJECT.findall(record.ntriples)) | {str(record.iri)}
        if subjects & used:
            renamed = {s: f"urn:kgmassage:cohort:{number}:{s}" for s in subjects}
            names = "|".join(re.escape(s) for s in sorted(subjects, key=len, reverse=True))
            pattern = re.compile(f"<({names})>")

            def rename(
                text: str, renamed: dict[str, str] = renamed, pattern: re.Pattern[str] = pattern
            ) -> str:
                return pattern.sub(lambda m: f"<{renamed[m.group(1)]}>", text)

            record = dataclasses.replace(
                record,
                iri=URIRef(renamed[str(record.iri)]),
                ntriples=rename(record.ntriples),
                dates=tuple((rename(s), p, o) for s, p, o in record.dates),
                parsed=None,
            )
            subjects = set(renamed.values())
        used |= subjects
        out.append(record)
    return out


def assessment_time(record: PatientRecord) -> datetime:
    readable = record.assessed_at is not None and parse_date(record.assessed_at) is not None
    return resolve_at(None, record.assessed_at) if readable else FIXED_AT


def cohort_data(records: list[PatientRecord]) -> Graph:
    """The data graph of :func:`kgmassage.validation.validation_data`, for many records."""
    engine = default_engine()
    chunk = engine.chunk([(r, assessment_time(r)) for r in records])
    data = resources.copy_graph(resources.rules_graph())
    with keep_lexical_forms():
        data.parse(data=chunk.ntriples, format="nt")
    for row in engine.classify(chunk):
        obj = (
            URIRef(row["o"])
            if row["iri"] == "true"
            else Literal(row["o"], datatype=XSD.boolean if row["p"] == str(KM.recognized) else None)
        )
        data.add((URIRef(row["s"]), URIRef(row["p"]), obj))
    return data


# --- results as comparable keys -------------------------------------------------------------


def rdflib_key(term: Any) -> Key | None:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return ("I", str(term))
    if isinstance(term, BNode):
        return ("B", str(term))
    datatype = term.datatype or (RDF.langString if term.language else XSD.string)
    return ("L", str(term), str(datatype), term.language)


def oxigraph_key(term: Any) -> Key | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return ("I", term.value)
    if isinstance(term, ox.BlankNode):
        return ("B", term.value)
    return ("L", term.value, term.datatype.value, term.language)


def pyshacl_results(data: Graph) -> set[Key]:
    with keep_lexical_forms():
        _, report, _ = pyshacl.validate(
            data,
            shacl_graph=resources.record_shapes_graph(),
            inference="none",
            advanced=True,
            allow_warnings=True,
            inplace=True,
        )
    found = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        (message,) = report.objects(result, SH.resultMessage)
        severity = str(report.value(result, SH.resultSeverity)).rpartition("#")[2]
        found.add(
            (
                rdflib_key(report.value(result, SH.focusNode)),
                rdflib_key(report.value(result, SH.resultPath)),
                rdflib_key(report.value(result, SH.value)),
                severity,
                str(report.value(result, SH.sourceShape)),
                str(message),
            )
        )
    return found


def compiled_results(store: ox.Store, compiled: tuple[CompiledShape, ...]) -> set[Key]:
    found = set()
    for shape in compiled:
        for row in store.query(shape.query):
            found.add(
                (
                    oxigraph_key(row["focus"]),
                    oxigraph_key(row["path"]),
                    oxigraph_key(row["value"]),
                    shape.severity,
                    shape.shape,
                    message_for(shape, row),
                )
            )
    return found


def oxigraph_store(data: Graph) -> ox.Store:
    store = ox.Store()
    # ox.parse keeps blank node labels (Store.load would rename them)
    store.extend(
        ox.parse(data.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    )
    return store


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled() -> tuple[CompiledShape, ...]:
    return compile_shapes(resources.record_shapes_graph())


@pytest.fixture(scope="module")
def cohort() -> Graph:
    return cohort_data(apart(file_records() + generated_records(GENERATED)))


def test_compiled_queries_give_pyshacls_results(cohort: Graph, compiled) -> None:
    got = compiled_results(oxigraph_store(cohort), compiled)
    want = pyshacl_results(cohort)
    assert want, "the cohort must produce results"
    missing, extra = sorted(want - got, key=str), sorted(got - want, key=str)
    assert not missing and not extra, (missing[:5], extra[:5])
    # every targeted shape of patient.shapes.ttl and record-vocabulary.shapes.ttl fired
    shapes = {s for s in _shape_nodes(resources.record_shapes_graph())}
    assert shapes == {c.shape for c in compiled}
    fired = {key[4] for key in want}
    assert shapes - fired == set()


def _shape_nodes(graph: Graph) -> set[str]:
    targets = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
    return {str(s) for p in targets for s in graph.subjects(p, None) if isinstance(s, URIRef)}


def test_cohort_graph_is_validation_data() -> None:
    """The cohort builder gives, for one record, what validation_data gives."""
    (record,) = [r for r in file_records() if r.source.endswith("unknown-fields.json")]
    at = assessment_time(record)
    kb = set(resources.rules_graph())

    def own(graph: Graph) -> Graph:
        return to_isomorphic(Graph().__iadd__([t for t in graph if t not in kb]))

    assert own(cohort_data([record])) == own(validation_data(record, at))


def test_queries_project_the_output_variables(compiled) -> None:
    store = ox.Store()
    for shape in compiled:
        solutions = store.query(shape.query)
        names = tuple(v.value for v in solutions.variables)
        assert names[:3] == OUTPUT_VARIABLES
        assert set(names[3:]) <= set(shape.variables)


def test_message_substitution_is_pyshacls() -> None:
    shape = CompiledShape(
        "s", "Warning", 'The field "{?key}" ({$this}).', "", ("key", "this", "path", "value")
    )
    row = {"focus": ox.NamedNode("urn:x"), "key": ox.Literal("no\\\\tes")}
    assert message_for(shape, row) == 'The field "no\\tes" (urn:x).'
    core = CompiledShape("s", "Violation", "{?value} stays", "")
    assert message_for(core, {"value": ox.Literal("v")}) == "{?value} stays"


SHAPES_HEAD = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


@pytest.mark.parametrize(
    "shape",
    [
        'ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:pattern "^a" ;'
        ' sh:message "m" .',
        'ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:node ex:T ; sh:message "m" .',
        "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:datatype xsd:date ;"
        ' sh:message "m" .',
        "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path [ sh:inversePath ex:p ] ;"
        ' sh:minCount 1 ; sh:message "m" .',
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount 1 ]"
        ' ; sh:message "m" .',
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:rule [ a sh:TripleRule ] ;"
        ' sh:message "m" .',
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select"
        ' "SELECT $this WHERE { $this <urn:p> ?x } LIMIT 1" ] ; sh:message "m" .',
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select"
        ' "SELECT $this WHERE { $this ex:p ?x }" ] ; sh:message "m" .',  # ex: undeclared
        "ex:S a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:minCount 1 .",
    ],
)
def test_unsupported_constructs_raise(shape: str) -> None:
    graph = Graph().parse(data=SHAPES_HEAD + shape, format="turtle")
    with pytest.raises(UnsupportedShapeError):
        compile_shapes(graph)
