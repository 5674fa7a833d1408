"""kgmassage.knowledge: KnowledgeBase, QueryResult, the networkx view and explain_path."""

from __future__ import annotations

import csv
import doctest
import io
import json
from pathlib import Path

import networkx as nx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.graph import ModificationException
from rdflib.namespace import RDFS

import kgmassage.knowledge as knowledge
from kgmassage.errors import KgMassageError, QueryError, RecordError
from kgmassage.knowledge import KnowledgeBase, QueryResult, UnknownTermError, list_queries
from kgmassage.namespaces import KM, KM_IRI
from kgmassage.resources import rules_graph

# (rdflib's XSD namespace object warns when pytest inspects module globals)
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")

ENGINES = ("rdflib", "oxigraph")


def test_module_doctests() -> None:
    failures, tried = doctest.testmod(knowledge, optionflags=doctest.ELLIPSIS)
    assert tried > 10 and failures == 0


def test_load_is_cached_and_versioned(kb: KnowledgeBase) -> None:
    assert KnowledgeBase.load() is kb
    assert kb.version == "0.1.0"
    assert "0.1.0" in repr(kb)


def test_graph_is_a_read_only_view(kb: KnowledgeBase, ontology: Graph) -> None:
    view = kb.graph
    assert len(view) == len(rules_graph())  # the ontology and the contraindication rules
    assert (URIRef(KM_IRI + "RuleDVT"), KM.ruleId, Literal("DVT")) in view
    assert (KM.Quadriceps, KM.crosses, KM.KneeJoint) in view
    with pytest.raises(ModificationException):
        view.add((KM.Patella, KM.crosses, KM.KneeJoint))
    with pytest.raises(ModificationException):
        view.remove((KM.Quadriceps, KM.crosses, KM.KneeJoint))
    assert (KM.Quadriceps, KM.crosses, KM.KneeJoint) in ontology


# ------------------------------------------------------------------------ naming queries


MUSCLES = [
    "Gastrocnemius", "Hamstrings", "Quadriceps",
    # the four heads of the quadriceps cross the knee too (through the quadriceps tendon)
    "RectusFemoris", "VastusIntermedius", "VastusLateralis", "VastusMedialis",
]


def _muscles(result: QueryResult) -> list[str]:
    return [str(row[0]).removeprefix(KM_IRI) for row in result.rows]


@pytest.mark.parametrize(
    "query",
    [
        "muscles-crossing-knee",
        "research/muscles-crossing-knee",
        "muscles-crossing-knee.rq",
        "  muscles-crossing-knee\n",
    ],
)
def test_query_by_name(kb: KnowledgeBase, query: str) -> None:
    assert _muscles(kb.query(query)) == MUSCLES


def test_qc_query_by_name(kb: KnowledgeBase) -> None:
    result = kb.query("qc/missing-label-violation")
    assert result.variables == ("term",) and result.rows == ()
    assert kb.query("missing-label-violation").variables == ("term",)


def test_query_from_file(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "crossing.rq"
    path.write_text(
        "PREFIX km: <https://w3id.org/kgmassage#>\n"
        "SELECT ?m WHERE { ?m km:crosses km:KneeJoint } ORDER BY ?m\n",
        encoding="utf-8",
    )
    assert _muscles(kb.query(path)) == MUSCLES
    assert _muscles(kb.query(str(path))) == MUSCLES


@pytest.mark.parametrize("engine", ENGINES)
def test_query_text_select_ask_construct(kb: KnowledgeBase, engine: str) -> None:
    # km:, rdfs:, skos: ... are declared automatically when a query uses them undeclared
    select = kb.query("SELECT ?m WHERE { ?m km:crosses km:KneeJoint } ORDER BY ?m", engine=engine)
    assert _muscles(select) == MUSCLES
    ask = kb.query("ASK { km:Patella a km:Bone }", engine=engine)
    assert ask.boolean is True and ask.rows == () and ask.variables == ()
    assert kb.query("ASK { km:Patella a km:Muscle }", engine=engine).boolean is False
    construct = kb.query(
        "CONSTRUCT { ?m rdfs:label ?l } WHERE { ?m km:crosses km:KneeJoint ; rdfs:label ?l }",
        engine=engine,
    )
    assert construct.variables == ("subject", "predicate", "object")
    assert (KM.Quadriceps, RDFS.label, Literal("quadriceps", lang="en")) in construct.rows
    assert len(construct) == 7


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("no-such-query", "unknown query 'no-such-query'"),
        ("research/no-such-query", "unknown query 'research/no-such-query'"),
        ("SELECT ?x WHERE { ?x km:crosses }", "<query text>: SPARQL syntax error"),
        ("/no/such/file.rq", "neither a shipped query"),
    ],
)
def test_query_errors_name_the_query(kb: KnowledgeBase, query, message, engine) -> None:
    with pytest.raises(QueryError) as info:
        kb.query(query, engine=engine)
    assert message in str(info.value)
    assert isinstance(info.value, KgMassageError)


def test_missing_query_file_path(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="does not exist"):
        kb.query(tmp_path / "missing.rq")


def test_unknown_engine(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match="unknown engine"):
        kb.query("muscles-crossing-knee", engine="virtuoso")


def test_list_queries() -> None:
    entries = dict(list_queries())
    assert entries["research/muscles-crossing-knee"] == "Which muscles cross the knee joint?"
    assert "qc/missing-label-violation" in entries
    assert all(summary for name, summary in entries.items() if not name.startswith("derive/"))


# ------------------------------------------------------------------------ bindings


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "value",
    ["Effleurage", "km:Effleurage", KM.Effleurage, KM_IRI + "Effleurage"],
)
def test_bindings_accept_names_and_terms(kb: KnowledgeBase, value, engine: str) -> None:
    result = kb.query("technique-mechanisms", bindings={"technique": value}, engine=engine)
    assert {row["technique"] for row in result.to_dicts()} == {KM.Effleurage}
    assert len(result) == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_bindings_are_values_not_text(kb: KnowledgeBase, engine: str) -> None:
    """A value that would break the query if formatted into it is just a literal."""
    query = "SELECT ?s WHERE { ?s skos:notation ?n }"
    hostile = '"} ?s ?p ?o {"'
    assert kb.query(query, bindings={"n": hostile}, engine=engine).rows == ()
    result = kb.query(query, bindings={"?n": "requires-clearance"}, engine=engine)
    assert result.rows == ((KM.RequiresClearance,),)
    ranked = kb.query(
        "SELECT ?s WHERE { ?s km:severityRank ?r }", bindings={"$r": 3}, engine=engine
    )
    assert ranked.rows == ((KM.Forbidden,),)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "value", [object(), "http://x.org/a>}{<x", URIRef("http://x.org/a b")]
)
def test_bad_binding_value(kb: KnowledgeBase, value, engine: str) -> None:
    if engine == "rdflib" and isinstance(value, URIRef):
        pytest.skip("rdflib takes terms as they are (no query text is built)")
    with pytest.raises(QueryError, match="cannot bind"):
        kb.query("muscles-crossing-knee", bindings={"muscle": value}, engine=engine)


# ------------------------------------------------------------------------ data


PATIENT_TTL = """
@prefix km: <https://w3id.org/kgmassage#> .
<urn:kgmassage:patient:t-1> a km:Patient ;
    km:hasCondition <urn:kgmassage:patient:t-1/conditions/0> .
<urn:kgmassage:patient:t-1/conditions/0> a km:Cellulitis ; km:side km:Left ; km:site km:Knee .
"""
SKIN_LESIONS = """
SELECT ?item ?class WHERE {
  ?patient km:hasCondition ?item . ?item a ?class . ?class rdfs:subClassOf* km:SkinLesion .
}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_query_with_turtle_data(kb, ontology: Graph, tmp_path: Path, engine: str) -> None:
    size = len(ontology)
    path = tmp_path / "patient.ttl"
    path.write_text(PATIENT_TTL, encoding="utf-8")
    for data in (path, str(path), Graph().parse(data=PATIENT_TTL, format="turtle"), [path]):
        result = kb.query(SKIN_LESIONS, data=data, engine=engine)
        assert [row[1] for row in result.rows] == [KM.Cellulitis]
    assert len(ontology) == size, "query data leaked into the shared ontology graph"
    assert kb.query(SKIN_LESIONS, engine=engine).rows == ()


@pytest.mark.parametrize("engine", ENGINES)
def test_query_with_json_records(kb, tmp_path: Path, engine: str) -> None:
    first = tmp_path / "a.json"
    first.write_text(json.dumps({"id": "a", "conditions": [{"type": "Rash", "side": "left"}]}))
    second = tmp_path / "b.ndjson"
    second.write_text(
        json.dumps({"id": "b", "conditions": [{"type": "OpenWound"}]}) + "\n"
        + json.dumps({"id": "c", "findings": [{"type": "Fever"}]}) + "\n"
    )
    result = kb.query(SKIN_LESIONS, data=[first, second], engine=engine)
    assert sorted(str(row[1]).removeprefix(KM_IRI) for row in result.rows) == ["OpenWound", "Rash"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.ttl", None, "no such file"),
        ("bad.ttl", "this is not turtle", "malformed Turtle"),
        ("doc.jsonld", "{}", "JSON-LD is not read"),
        ("bad.json", "{not json", ""),
    ],
)
def test_unreadable_data(kb, tmp_path: Path, name: str, content, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RecordError) as info:
        kb.query("muscles-crossing-knee", data=path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_bad_data_type(kb) -> None:
    with pytest.raises(QueryError, match="cannot use"):
        kb.query("muscles-crossing-knee", data=[42])  # type: ignore[list-item]


# ------------------------------------------------------------------------ QueryResult formats


def test_result_formats(kb: KnowledgeBase) -> None:
    result = kb.query("therapy-sequence")
    assert result.to_dicts() == [
        {
            "first": KM.Effleurage, "firstLabel": Literal("effleurage", lang="en"),
            "firstPressure": Literal("light"),
            "then": KM.Petrissage, "thenLabel": Literal("petrissage", lang="en"),
            "thenPressure": Literal("deep"),
        }
    ]
    table = result.to_table().splitlines()
    header = ["first", "firstLabel", "firstPressure", "then", "thenLabel", "thenPressure"]
    assert table[0].split() == header
    # the table shows the labels beside the terms
    assert table[2].split() == [
        "km:Effleurage", "effleurage", "light", "km:Petrissage", "petrissage", "deep"
    ]
    assert table[-1] == "(1 row)"
    text = result.to_csv()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        header,
        [str(KM.Effleurage), "effleurage", "light", str(KM.Petrissage), "petrissage", "deep"],
    ]
    document = json.loads(result.to_json())
    assert document["head"]["vars"] == header
    assert document["results"]["bindings"][0]["firstLabel"] == {
        "type": "literal", "value": "effleurage", "xml:lang": "en"
    }
    binding = document["results"]["bindings"][0]
    assert binding["first"] == {"type": "uri", "value": str(KM.Effleurage)}
    assert binding["thenPressure"] == {"type": "literal", "value": "deep"}


def test_result_json_typed_literals_unbound_and_ask() -> None:
    result = QueryResult(
        ("n", "label", "missing"),
        ((Literal(3), Literal("knee", lang="en"), None),),
    )
    binding = json.loads(result.to_json())["results"]["bindings"][0]
    assert binding == {
        "n": {"type": "literal", "value": "3", "datatype": str(XSD_INTEGER)},
        "label": {"type": "literal", "value": "knee", "xml:lang": "en"},
    }
    assert result.to_dicts()[0]["missing"] is None
    ask = QueryResult((), (), boolean=False)
    assert json.loads(ask.to_json()) == {"head": {}, "boolean": False}
    assert ask.to_csv() == "boolean\r\nfalse\r\n"
    assert ask.to_table() == "false"
    empty = QueryResult(("x",), ())
    assert empty.to_table().splitlines()[-1] == "(0 rows)"


def test_result_is_frozen() -> None:
    result = QueryResult(("x",), ())
    with pytest.raises(AttributeError):
        result.rows = ((URIRef("urn:x"),),)  # type: ignore[misc]


def test_engines_agree_on_data_queries(kb, tmp_path: Path) -> None:
    path = tmp_path / "p.ttl"
    path.write_text(PATIENT_TTL, encoding="utf-8")
    query = (
        "SELECT ?item ?side ?region WHERE { ?item km:side ?side ; km:site ?region } ORDER BY ?item"
    )
    a = kb.query(query, data=path)
    b = kb.query(query, data=path, engine="oxigraph")
    assert a.rows == b.rows and len(a) == 1


def test_library_never_prints(kb, capsys) -> None:
    kb.query("muscles-crossing-knee").to_table()
    kb.query("muscles-crossing-knee", engine="oxigraph")
    kb.to_networkx()
    kb.explain_path("TensorFasciaeLatae", "KneeJoint")
    with pytest.raises(QueryError):
        kb.query("nope")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ------------------------------------------------------------------------ networkx and paths


def test_to_networkx(kb: KnowledgeBase) -> None:
    graph = kb.to_networkx()
    assert isinstance(graph, nx.MultiDiGraph)
    kinds: dict[str, int] = {}
    for _, data in graph.nodes(data=True):
        kinds[data["kind"]] = kinds.get(data["kind"], 0) + 1
    assert kinds == {
        "Muscle": 8, "Bone": 1, "Joint": 1, "ConnectiveTissue": 1, "BodyRegion": 4,
        "Technique": 6, "Mechanism": 5,
        # what the article claims: tissues, molecules, outcomes, the therapy, TFL's movements
        "AnatomicalEntity": 8, "MolecularEntity": 2, "Outcome": 28, "ComplementaryTherapy": 1,
        "JointMovement": 3,
    }
    assert graph.nodes["IliotibialBand"] == {"label": "iliotibial band", "kind": "ConnectiveTissue"}
    assert graph.nodes["FoamRolling"]["pressure"] == "deep"
    assert graph.nodes["FoamRolling"]["self_applied"] is True
    assert graph.nodes["Effleurage"]["pressure"] == "light"
    assert graph.nodes["Effleurage"]["self_applied"] is False
    relations: dict[str, int] = {}
    for _, _, key, data in graph.edges(keys=True, data=True):
        assert data["relation"] == key
        relations[key] = relations.get(key, 0) + 1
    assert relations == {
        "targets": 19, "hasMechanism": 25, "inRegion": 11, "adjacentTo": 6, "partOf": 4,
        "crosses": 7, "refersPainTo": 3, "attachesTo": 1, "pullsOn": 1, "precedes": 1,
        "alternativeTarget": 2,
        "increases": 18, "decreases": 18, "leadsTo": 5, "actsOn": 14, "techniqueOf": 6,
        "indicatedFor": 1, "locatedIn": 3, "bindsTo": 1, "carriedBy": 2, "concerns": 3,
        "tensions": 1, "hasAction": 3, "movementAt": 3, "distalAttachment": 1, "distalTo": 1,
        "liesBeneath": 1,
    }
    assert graph.has_edge("Thigh", "Knee", key="adjacentTo")
    assert graph.has_edge("Knee", "Thigh", key="adjacentTo")
    graph.remove_node("Patella")  # a fresh graph each call
    assert "Patella" in kb.to_networkx()


def test_explain_path(kb: KnowledgeBase) -> None:
    assert kb.explain_path("TensorFasciaeLatae", "KneeJoint") == [
        ("TensorFasciaeLatae", "attachesTo", "IliotibialBand"),
        ("IliotibialBand", "pullsOn", "KneeJoint"),
    ]
    assert kb.explain_path("km:VastusLateralis", KM_IRI + "KneeJoint") == [
        ("VastusLateralis", "crosses", "KneeJoint")
    ]
    assert kb.explain_path("km:VastusLateralis", "KneeJoint", relations=["refersPainTo"]) == [
        ("VastusLateralis", "refersPainTo", "KneeJoint")
    ]
    assert kb.explain_path("Quadriceps", "KneeJoint") == [("Quadriceps", "crosses", "KneeJoint")]
    assert kb.explain_path("RectusFemoris", "KneeJoint") == [
        ("RectusFemoris", "crosses", "KneeJoint"),
    ]
    assert kb.explain_path("RectusFemoris", "KneeJoint", relations=["partOf", "pullsOn"]) == []
    assert kb.explain_path("Petrissage", "Vasodilation") == [
        ("Petrissage", "hasMechanism", "Vasodilation")
    ]
    assert kb.explain_path("Hip", "Hip") == []
    assert kb.explain_path("CortisolReduction", "Hip") == []
    assert kb.explain_path("TensorFasciaeLatae", "KneeJoint", relations=["crosses"]) == []
    assert kb.explain_path("Gastrocnemius", "Hip", relations=["inRegion", "km:adjacentTo"]) == [
        ("Gastrocnemius", "inRegion", "LowerLeg"),
        ("LowerLeg", "adjacentTo", "Knee"),
        ("Knee", "adjacentTo", "Thigh"),
        ("Thigh", "adjacentTo", "Hip"),
    ]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("TFL", "KneeJoint"),
        ("tensor fasciae latae", "knee joint"),
        ("  Tensor  Fasciae Latae ", "KNEE JOINT"),
        ("km:TensorFasciaeLatae", "knee joint"),
    ],
)
def test_explain_path_accepts_labels_and_synonyms(kb: KnowledgeBase, source, target) -> None:
    assert kb.explain_path(source, target) == [
        ("TensorFasciaeLatae", "attachesTo", "IliotibialBand"),
        ("IliotibialBand", "pullsOn", "KneeJoint"),
    ]


def test_explain_path_through_what_the_article_claims(kb: KnowledgeBase) -> None:
    # why massage relieves pain, and why vasodilation is also the acute-injury hazard
    assert kb.explain_path("effleurage", "pain perception") == [
        ("Effleurage", "hasMechanism", "EndorphinRelease"),
        ("EndorphinRelease", "decreases", "PainPerception"),
    ]
    assert kb.explain_path("IT band", "lateral tibia") == [
        ("IliotibialBand", "distalAttachment", "LateralTibia")
    ]
    assert kb.explain_path("vasodilation", "swelling") == [
        ("Vasodilation", "increases", "LocalBloodFlow"),
        ("LocalBloodFlow", "increases", "Swelling"),
    ]
    assert kb.explain_path("kneecap", "knee") == [("Patella", "inRegion", "Knee")]


@pytest.mark.parametrize(("source", "target"), [("Kneecaps", "KneeJoint"), ("Patella", "Active")])
def test_explain_path_unknown_names(kb: KnowledgeBase, source: str, target: str) -> None:
    with pytest.raises(UnknownTermError) as info:
        kb.explain_path(source, target)
    assert isinstance(info.value, ValueError) and isinstance(info.value, QueryError)
    assert ("Kneecaps" if source == "Kneecaps" else "Active") in str(info.value)
