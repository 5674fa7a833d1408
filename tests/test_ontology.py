"""The ontology: quality control, OWL consistency, the generated .owl, vocabulary and mappings."""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import graph_diff, isomorphic
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from records_helpers import HEADINGS

from kgmassage import resources
from kgmassage.namespaces import KM, KM_IRI

# (rdflib's XSD namespace object warns when pytest inspects module globals)
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")
XSD_BOOLEAN = URIRef("http://www.w3.org/2001/XMLSchema#boolean")

DCTERMS_SOURCE = URIRef("http://purl.org/dc/terms/source")
SSSOM_JUSTIFICATION = URIRef("https://w3id.org/sssom/mapping_justification")
MANUAL_CURATION = URIRef("https://w3id.org/semapv/vocab/ManualMappingCuration")
SCT = "http://snomed.info/id/"
ICD = "http://purl.bioontology.org/ontology/ICD10CM/"
OBO = "http://purl.obolibrary.org/obo/"
MESH = "http://id.nlm.nih.gov/mesh/"
MAPPING_PREDICATES = (
    SKOS.exactMatch, SKOS.narrowMatch, SKOS.broadMatch, SKOS.closeMatch, SKOS.relatedMatch
)
DECLARATIONS = (
    OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
    OWL.NamedIndividual,
)


def local(term: object) -> str:
    text = str(term)
    return text[len(KM_IRI):] if text.startswith(KM_IRI) else text


def km(name: str) -> URIRef:
    return URIRef(KM_IRI + name)


def pairs(graph: Graph, predicate: URIRef) -> set[tuple[str, str]]:
    return {(local(s), local(o)) for s, o in graph.subject_objects(predicate)}


# ------------------------------------------------------------------------ quality control


QC_QUERIES = resources.query_names("qc")


def test_qc_queries_are_shipped() -> None:
    assert len(QC_QUERIES) >= 7
    assert all(name.endswith("-violation") for name in QC_QUERIES)
    for name in QC_QUERIES:
        header = resources.query_text("qc", name).splitlines()
        comments = "\n".join(line for line in header if line.startswith("#"))
        for part in ("Purpose:", "Parameters:", "Example:"):
            assert part in comments, f"qc/{name}.rq header lacks {part}"


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
@pytest.mark.parametrize("name", QC_QUERIES)
def test_qc_query_finds_no_violation(kb, name: str, engine: str) -> None:
    result = kb.query(f"qc/{name}", engine=engine)
    assert not result.rows, f"qc/{name} ({engine}) found violations:\n{result.to_table()}"


NEGATIVE_CASES = [
    ("missing-label-violation", [(km("Bogus"), RDF.type, OWL.Class)], []),
    ("missing-definition-violation",
     [(km("Bogus"), RDF.type, OWL.Class), (km("Bogus"), RDFS.label, Literal("bogus"))], []),
    ("undeclared-term-violation", [(KM.Quadriceps, km("crossez"), KM.KneeJoint)], []),
    ("label-is-iri-violation", [(KM.Quadriceps, RDFS.label, Literal("km:Quadriceps"))], []),
    ("domain-violation", [(KM.Hip, KM.crosses, KM.KneeJoint)], []),
    ("range-violation", [(KM.Quadriceps, KM.crosses, KM.Hip)], []),
    ("range-violation", [(KM.Effleurage, KM.selfApplied, Literal("no"))], []),
    ("range-violation", [(KM.Effleurage, KM.pressure, Literal("deep"))], []),
    ("range-violation", [(KM.Effleurage, KM.site, KM.Left)], []),
    ("catalogue-violation", [(KM.Effleurage, KM.targets, KM.Patella)], []),
    ("catalogue-violation", [], [(KM.Effleurage, KM.targets, KM.Quadriceps)]),
    ("technique-attribute-violation", [(KM.Effleurage, KM.pressure, KM.Deep)], []),
    ("technique-attribute-violation", [], [(KM.MassageBall, KM.selfApplied, None)]),
    ("enumeration-violation", [(KM.Left, SKOS.notation, Literal("right"))], []),
    ("enumeration-violation", [], [(KM.Caution, KM.severityRank, None)]),
    ("mapping-justification-violation",
     [(KM.Quadriceps, SKOS.exactMatch, URIRef(SCT + "123456"))], []),
    ("mapping-justification-violation", [], [(KM.Rash, SKOS.exactMatch, URIRef(ICD + "R21"))]),
    ("exact-match-conflict-violation", [(KM.Thigh, SKOS.exactMatch, URIRef(SCT + "29836001"))], []),
    ("code-family-violation", [(KM.ICD10CM_I26, SKOS.example, Literal("I27.0"))], []),
    ("code-family-violation", [(KM.ICD10CM_I26, KM.mapsTo, KM.Quadriceps)], []),
    ("code-family-violation", [], [(KM.ICD10CM_R50, KM.codePattern, None)]),
    ("article-source-violation", [(KM.Fever, DCTERMS_SOURCE, Literal("Wikipedia"))], []),
    ("article-source-violation", [], [(KM.Rash, DCTERMS_SOURCE, None)]),
    ("relation-closure-violation", [(KM.Hip, KM.adjacentTo, KM.LowerLeg)], []),
    ("relation-closure-violation", [], [(KM.Knee, KM.adjacentTo, KM.Thigh)]),
    ("rule-effect-violation",  # an effect that says nowhere where it reaches
     [(km("RuleBogus"), KM.effect, km("BogusEffect")),
      (km("BogusEffect"), KM.effectStatus, KM.Forbidden),
      (km("BogusEffect"), KM.message, Literal("bogus"))], []),
    ("rule-effect-violation",  # two side scopes
     [(km("RuleBogus"), KM.effect, km("BogusEffect")),
      (km("BogusEffect"), KM.sideScope, KM.SameSide), (km("BogusEffect"), KM.sideScope, KM.AnySide),
      (km("BogusEffect"), KM.regionScope, KM.AnyRegion),
      (km("BogusEffect"), KM.effectStatus, KM.Forbidden),
      (km("BogusEffect"), KM.message, Literal("bogus"))], []),
]


@pytest.mark.parametrize(
    ("name", "added", "removed"), NEGATIVE_CASES, ids=[case[0] for case in NEGATIVE_CASES]
)
def test_qc_query_detects_its_violation(ontology_copy: Graph, name, added, removed) -> None:
    """Each QC query fires on a broken copy of the ontology (it is not vacuously empty)."""
    for triple in removed:
        ontology_copy.remove(triple)
    for triple in added:
        ontology_copy.add(triple)
    rows = list(ontology_copy.query(resources.query_text("qc", name)))
    assert rows, f"qc/{name} did not detect the injected violation"


# ------------------------------------------------------------------------ the .owl and HermiT


def _owl_path() -> Path:
    return Path(str(files("kgmassage.ontology").joinpath("kgmassage.owl")))


def _load_build_tool(repo_root: Path):
    spec = importlib.util.spec_from_file_location("build_owl", repo_root / "tools" / "build_owl.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_owl_file_matches_the_turtle(repo_root: Path) -> None:
    path = _owl_path()
    assert path.is_file(), "ontology/kgmassage.owl is missing: run `python tools/build_owl.py`"
    from_owl = Graph().parse(path, format="xml")
    tool = _load_build_tool(repo_root)
    ontology = tool.release_graph()  # the ontology files and the rules of the shapes
    # Canonical blank-node labels make the isomorphism check a set comparison (fast); where
    # they cannot be computed, rdflib's full isomorphism test decides.
    if tool.canonical_labels(from_owl) is not None and tool.canonical_labels(ontology) is not None:
        same = set(tool.relabelled(from_owl)) == set(tool.relabelled(ontology))
    else:  # pragma: no cover - only for graphs with indistinguishable blank nodes
        same = isomorphic(from_owl, ontology)
    if not same:
        _, only_owl, only_ttl = graph_diff(from_owl, ontology)
        pytest.fail(
            "ontology/kgmassage.owl is out of date with the Turtle files "
            f"({len(only_ttl)} triples only in the Turtle, {len(only_owl)} only in the .owl): "
            "run `python tools/build_owl.py` after editing ontology/*.ttl or the rules of "
            "shapes/contraindications.shapes.ttl, and commit the regenerated ontology/kgmassage.owl"
        )


def test_owl_build_is_deterministic(repo_root: Path) -> None:
    tool = _load_build_tool(repo_root)
    built = tool.build()
    assert built.startswith('<?xml version="1.0" encoding="utf-8"?>')
    current = _owl_path().read_text(encoding="utf-8")
    assert current == built, (
        "ontology/kgmassage.owl differs from what tools/build_owl.py writes: run "
        "`python tools/build_owl.py` after editing kgmassage.ttl, mappings.ttl or engine.ttl"
    )
    # the output does not depend on the order the triples were read in
    release = tool.release_graph()
    shuffled = Graph()
    for prefix, namespace in release.namespaces():
        shuffled.bind(prefix, namespace, override=True)
    for triple in sorted(release, key=lambda t: tuple(map(str, t)))[::-1]:
        shuffled.add(triple)
    body = tool.to_rdfxml(shuffled, sources=("x.ttl",)).split("\n", 2)[2]
    assert body == built.split("\n", 2)[2]


@pytest.fixture(scope="session")
def hermit_world():
    """Load ontology/kgmassage.owl with owlready2 and run HermiT on it once per session."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed: HermiT cannot run")
    from owlready2 import World, sync_reasoner

    world = World()
    onto = world.get_ontology(_owl_path().as_uri()).load()
    with onto:
        sync_reasoner(world, infer_property_values=False, debug=0)
    return world, onto


def test_hermit_finds_the_ontology_consistent(hermit_world) -> None:
    world, onto = hermit_world
    assert onto.base_iri == KM_IRI
    unsatisfiable = [c for c in world.inconsistent_classes() if c is not OWL.Nothing]
    assert not unsatisfiable, f"unsatisfiable classes: {unsatisfiable}"
    assert len(list(onto.classes())) >= 40


def test_hermit_infers_nothing_false_from_domains_and_ranges(hermit_world) -> None:
    """The domains and ranges make no massage target, technique or clinical class of the
    entities that are none (HermiT's inferred types of the knowledge individuals)."""
    world, onto = hermit_world
    structure, technique, mechanism = (onto[n] for n in (
        "AnatomicalStructure", "Technique", "Mechanism"))
    for name in ("SoftTissue", "TriggerPoint", "LateralTibia", "LargeNerveFibre", "Brain",
                 "OpioidReceptor", "Endorphin", "MassageTherapy", "PainPerception"):
        ancestors = set(onto[name].INDIRECT_is_a)
        assert structure not in ancestors and technique not in ancestors, name
    for name in ("Effleurage", "FoamRolling"):
        assert mechanism not in set(onto[name].INDIRECT_is_a)


def test_the_release_holds_the_rules_and_answers_with_plain_rdflib(repo_root: Path) -> None:
    """kgmassage.owl alone (plain rdflib, no package) lists the rules and their hazards."""
    release = Graph().parse(_owl_path(), format="xml")
    rules = {str(r.id) for r in release.query(
        "PREFIX km: <https://w3id.org/kgmassage#> "
        "SELECT ?id WHERE { ?r a km:Rule ; km:ruleId ?id }")}
    assert len(rules) == 12 and {"DVT", "ITB-DIRECT", "UNRECOGNIZED"} <= rules
    # the plan-check shapes of validation are not knowledge: they stay out of the release
    assert not set(release.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#NodeShape")))
    assert (km("RuleDVT"), km("hazard"), km("ClotDislodgement")) in release


def test_readme_plain_rdflib_snippet_is_true(repo_root: Path, monkeypatch) -> None:
    """The README's plain-rdflib snippet runs from the repository and prints what it says."""
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Query the knowledge graph", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(repo_root)
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own code
    expected = [
        line.split("# ", 1)[1].strip()
        for line in code.splitlines()
        if line.lstrip().startswith("print(") and "# " in line
    ]
    assert expected and printed == expected


# ------------------------------------------------------------------------ header and vocabulary


def test_ontology_header(ontology: Graph) -> None:
    onto = URIRef("https://w3id.org/kgmassage")
    assert (onto, RDF.type, OWL.Ontology) in ontology
    assert ontology.value(onto, OWL.versionIRI) == URIRef("https://w3id.org/kgmassage/0.1.0")
    assert str(ontology.value(onto, OWL.versionInfo)) == "0.1.0"
    dcterms = "http://purl.org/dc/terms/"
    assert ontology.value(onto, URIRef(dcterms + "license")) == URIRef(
        "https://creativecommons.org/licenses/by/4.0/"
    )
    for prop in ("title", "description", "source", "created"):
        assert ontology.value(onto, URIRef(dcterms + prop)) is not None, prop
    assert str(ontology.value(onto, URIRef(dcterms + "source"))) == "Is Massage Good for Knee Pain?"


def _declared(graph: Graph) -> set[str]:
    return {
        str(s)
        for kind in DECLARATIONS
        for s in graph.subjects(RDF.type, kind)
        if str(s).startswith(KM_IRI)
    }


def _namespace_terms() -> set[str]:
    return {KM_IRI + name for name in KM.__annotations__}


def test_every_namespace_term_is_declared(ontology: Graph) -> None:
    missing = sorted(local(t) for t in _namespace_terms() - _declared(ontology))
    assert not missing, (
        "terms of kgmassage.namespaces.KM not declared in the ontology (declare them in "
        f"ontology/kgmassage.ttl, or ontology/engine.ttl for engine terms): {missing}"
    )


def test_every_declared_term_is_in_the_namespace(ontology: Graph) -> None:
    # The terms of claims.ttl (what the article claims: outcomes, hazards, evidence) are read by
    # queries only, never by the Python code, so kgmassage.namespaces.KM need not list them.
    claims = _declared(resources._parse("ontology", ("claims.ttl",)))
    extra = sorted(local(t) for t in _declared(ontology) - _namespace_terms() - claims)
    assert not extra, f"declared km: terms missing from kgmassage.namespaces.KM: {extra}"


INTERFACE_TERMS = """
Patient Condition Finding Procedure Clearance AnatomicalStructure Muscle BodyRegion Technique
Mechanism Intervention PlannedIntervention Coding Assessment Decision Reason Rule
VenousThromboembolism DeepVeinThrombosis PulmonaryEmbolism AcuteInjury Fracture SevereSprain
SkinLesion OpenWound SkinInfection Cellulitis Rash ChronicCondition Osteoarthritis Osteoporosis
SevereOsteoporosis RheumatoidArthritis KneePain Fever Warmth Redness JointSwelling
AcuteInflammation KneeSurgery KneeReplacement TotalKneeReplacement
KneeJoint Patella IliotibialBand TensorFasciaeLatae Quadriceps RectusFemoris VastusMedialis
VastusLateralis VastusIntermedius Hamstrings Gastrocnemius Hip Thigh Knee LowerLeg Effleurage
Petrissage MyofascialRelease TriggerPointTherapy FoamRolling MassageBall MuscleTensionReduction
Vasodilation GateControl EndorphinRelease CortisolReduction Left Right Bilateral Light Deep Active
Suspected Resolved Refuted Permitted Caution RequiresClearance Forbidden
partOf inRegion adjacentTo crosses attachesTo refersPainTo pullsOn targets precedes hasMechanism
pressure selfApplied identifier birthDate assessedAt hasCondition hasFinding hasProcedure
hasClearance hasPlannedIntervention side site status onset recordedAt performedOn incisionClosed
suturesRemoved issuedOn issuedBy technique target code system codeValue patient knowledgeVersion
inputDigest hasDecision hasReason rule ruleId lifted alternative
""".split()


def test_interfaces_vocabulary_is_declared_labelled_and_defined(ontology: Graph) -> None:
    declared = _declared(ontology)
    for name in INTERFACE_TERMS:
        term = km(name)
        assert str(term) in declared, name
        assert ontology.value(term, RDFS.label) is not None, name
        assert ontology.value(term, SKOS.definition) is not None, name


def test_date_properties_have_no_range(ontology: Graph) -> None:
    """HermiT rejects xsd:date: SHACL checks the datatypes of these instead."""
    for name in ("birthDate", "assessedAt", "onset", "recordedAt", "performedOn", "issuedOn"):
        assert (km(name), RDF.type, OWL.DatatypeProperty) in ontology
        assert ontology.value(km(name), RDFS.range) is None, name


# ------------------------------------------------------------------------ clinical hierarchy


EXPECTED_PARENTS = {
    "VenousThromboembolism": "Condition", "DeepVeinThrombosis": "VenousThromboembolism",
    "PulmonaryEmbolism": "VenousThromboembolism", "AcuteInjury": "Condition",
    "Fracture": "AcuteInjury", "SevereSprain": "AcuteInjury", "SkinLesion": "Condition",
    "OpenWound": "SkinLesion", "SkinInfection": "SkinLesion", "Cellulitis": "SkinInfection",
    "Rash": "SkinLesion", "ChronicCondition": "Condition", "Osteoarthritis": "ChronicCondition",
    "Osteoporosis": "ChronicCondition", "SevereOsteoporosis": "Osteoporosis",
    "RheumatoidArthritis": "ChronicCondition", "KneePain": "Condition", "Fever": "Finding",
    "Warmth": "Finding", "Redness": "Finding", "JointSwelling": "Finding",
    "AcuteInflammation": "Finding", "KneeSurgery": "Procedure", "KneeReplacement": "KneeSurgery",
    "TotalKneeReplacement": "KneeReplacement",
}


def test_clinical_hierarchy(ontology: Graph) -> None:
    for child, parent in EXPECTED_PARENTS.items():
        parents = {local(p) for p in ontology.objects(km(child), RDFS.subClassOf)}
        assert parents == {parent}, child
        sources = {str(s) for s in ontology.objects(km(child), DCTERMS_SOURCE)}
        assert sources and sources <= set(HEADINGS), child
    for top in ("Condition", "Finding", "Procedure"):
        assert (km(top), RDF.type, OWL.Class) in ontology
        assert ontology.value(km(top), RDFS.subClassOf) is None


# ------------------------------------------------------------------------ anatomy and techniques


def test_individuals_are_named_and_typed(ontology: Graph) -> None:
    expected = {
        "KneeJoint": "Joint", "Patella": "Bone", "IliotibialBand": "ConnectiveTissue",
        "TensorFasciaeLatae": "Muscle", "Quadriceps": "Muscle", "RectusFemoris": "Muscle",
        "VastusMedialis": "Muscle", "VastusLateralis": "Muscle", "VastusIntermedius": "Muscle",
        "Hamstrings": "Muscle", "Gastrocnemius": "Muscle",
        **dict.fromkeys(("Hip", "Thigh", "Knee", "LowerLeg"), "BodyRegion"),
        **dict.fromkeys(("Effleurage", "Petrissage", "MyofascialRelease", "TriggerPointTherapy",
                         "FoamRolling", "MassageBall"), "Technique"),
        **dict.fromkeys(("MuscleTensionReduction", "Vasodilation", "GateControl",
                         "EndorphinRelease", "CortisolReduction"), "Mechanism"),
        **dict.fromkeys(("Left", "Right", "Bilateral"), "Side"),
        **dict.fromkeys(("Light", "Deep"), "Pressure"),
        **dict.fromkeys(("Active", "Suspected", "Resolved", "Refuted"), "ConditionStatus"),
        **dict.fromkeys(("Permitted", "Caution", "RequiresClearance", "Forbidden"),
                        "DecisionStatus"),
        **dict.fromkeys(("SNOMEDCT", "ICD10CM"), "CodeSystem"),
    }
    for name, kind in expected.items():
        types = {local(t) for t in ontology.objects(km(name), RDF.type)}
        assert types == {"http://www.w3.org/2002/07/owl#NamedIndividual", kind}, name
    for kind in ("Muscle", "Bone", "Joint", "ConnectiveTissue"):
        assert (km(kind), RDFS.subClassOf, KM.AnatomicalStructure) in ontology


def test_anatomical_relations(ontology: Graph) -> None:
    quadriceps_heads = ("RectusFemoris", "VastusMedialis", "VastusLateralis", "VastusIntermedius")
    assert pairs(ontology, KM.crosses) == {
        ("Quadriceps", "KneeJoint"), ("Hamstrings", "KneeJoint"), ("Gastrocnemius", "KneeJoint"),
        *((head, "KneeJoint") for head in quadriceps_heads),
    }
    assert pairs(ontology, KM.partOf) == {
        (m, "Quadriceps")
        for m in ("RectusFemoris", "VastusMedialis", "VastusLateralis", "VastusIntermedius")
    }
    assert pairs(ontology, KM.attachesTo) == {("TensorFasciaeLatae", "IliotibialBand")}
    assert pairs(ontology, KM.pullsOn) == {("IliotibialBand", "KneeJoint")}
    assert pairs(ontology, KM.refersPainTo) == {
        ("VastusMedialis", "KneeJoint"), ("VastusLateralis", "KneeJoint"),
        ("TriggerPoint", "KneeJoint"),
    }
    assert pairs(ontology, KM.alternativeTarget) == {
        ("IliotibialBand", "TensorFasciaeLatae"), ("IliotibialBand", "VastusLateralis")
    }
    regions = {
        "TensorFasciaeLatae": "Hip", "Quadriceps": "Thigh", "RectusFemoris": "Thigh",
        "VastusMedialis": "Thigh", "VastusLateralis": "Thigh", "VastusIntermedius": "Thigh",
        "Hamstrings": "Thigh", "IliotibialBand": "Thigh", "Patella": "Knee",
        "KneeJoint": "Knee", "Gastrocnemius": "LowerLeg",
    }
    assert pairs(ontology, KM.inRegion) == set(regions.items())
    adjacent = {("Hip", "Thigh"), ("Thigh", "Knee"), ("Knee", "LowerLeg")}
    assert pairs(ontology, KM.adjacentTo) == adjacent | {(b, a) for a, b in adjacent}
    assert (KM.partOf, RDF.type, OWL.TransitiveProperty) in ontology
    assert (KM.adjacentTo, RDF.type, OWL.SymmetricProperty) in ontology


CATALOGUE = {
    "Effleurage": {"Quadriceps", "Hamstrings", "Gastrocnemius"},
    "Petrissage": {"Quadriceps", "Hamstrings", "Gastrocnemius"},
    "MyofascialRelease": {"VastusMedialis", "VastusLateralis", "TensorFasciaeLatae"},
    "TriggerPointTherapy": {"VastusMedialis", "VastusLateralis", "TensorFasciaeLatae"},
    "FoamRolling": {"Quadriceps", "Hamstrings", "TensorFasciaeLatae", "VastusLateralis"},
    "MassageBall": {"TensorFasciaeLatae", "VastusMedialis", "VastusLateralis"},
}


def test_techniques(ontology: Graph) -> None:
    expected_pairs = {(t, m) for t, targets in CATALOGUE.items() for m in targets}
    assert len(expected_pairs) == 19
    assert pairs(ontology, KM.targets) == expected_pairs
    for technique in CATALOGUE:
        pressure = "Light" if technique == "Effleurage" else "Deep"
        assert list(ontology.objects(km(technique), KM.pressure)) == [km(pressure)]
        self_applied = list(ontology.objects(km(technique), KM.selfApplied))
        assert self_applied == [
            Literal(technique in ("FoamRolling", "MassageBall"), datatype=XSD_BOOLEAN)
        ], technique
    assert pairs(ontology, KM.precedes) == {("Effleurage", "Petrissage")}
    systemic = {"GateControl", "EndorphinRelease", "CortisolReduction"}
    mechanisms = {
        "Effleurage": systemic | {"Vasodilation"},
        "Petrissage": systemic | {"Vasodilation", "MuscleTensionReduction"},
        **{
            t: systemic | {"MuscleTensionReduction"}
            for t in ("MyofascialRelease", "TriggerPointTherapy", "FoamRolling", "MassageBall")
        },
    }
    assert pairs(ontology, KM.hasMechanism) == {
        (t, m) for t, ms in mechanisms.items() for m in ms
    }
    for mechanism in systemic:
        assert ontology.value(km(mechanism), SKOS.editorialNote) is not None


def test_enumerations(ontology: Graph) -> None:
    notations = {
        "Left": "left", "Right": "right", "Bilateral": "bilateral", "Light": "light",
        "Deep": "deep", "Active": "active", "Suspected": "suspected", "Resolved": "resolved",
        "Refuted": "refuted", "Permitted": "permitted", "Caution": "caution",
        "RequiresClearance": "requires-clearance", "Forbidden": "forbidden",
    }
    for name, notation in notations.items():
        assert list(ontology.objects(km(name), SKOS.notation)) == [Literal(notation)], name
    assert pairs(ontology, KM.coversSide) == {
        ("Left", "Left"), ("Right", "Right"), ("Bilateral", "Left"), ("Bilateral", "Right")
    }
    present = {"Active": True, "Suspected": True, "Resolved": False, "Refuted": False}
    for name, value in present.items():
        assert ontology.value(km(name), KM.countsAsPresent) == Literal(value)
    ranks = {"Permitted": 0, "Caution": 1, "RequiresClearance": 2, "Forbidden": 3}
    for name, rank in ranks.items():
        value = ontology.value(km(name), KM.severityRank)
        assert value == Literal(rank) and value.datatype == XSD_INTEGER, name


def test_code_systems(ontology: Graph) -> None:
    assert ontology.value(KM.SNOMEDCT, KM.systemIRI) == URIRef("http://snomed.info/sct")
    assert str(ontology.value(KM.SNOMEDCT, KM.conceptNamespace)) == SCT
    assert ontology.value(KM.ICD10CM, KM.systemIRI) == URIRef("http://hl7.org/fhir/sid/icd-10-cm")
    assert str(ontology.value(KM.ICD10CM, KM.conceptNamespace)) == ICD


# ------------------------------------------------------------------------ mappings


def _mapped(ontology: Graph, name: str, predicate: URIRef) -> set[str]:
    return {str(o) for o in ontology.objects(km(name), predicate)}


def test_key_mappings(ontology: Graph) -> None:
    narrow, exact = SKOS.narrowMatch, SKOS.exactMatch
    assert SCT + "13301002" in _mapped(ontology, "Cellulitis", narrow)
    assert ICD + "I82.402" in _mapped(ontology, "DeepVeinThrombosis", narrow)
    assert {SCT + c for c in ("54888009", "444470001", "239720000", "444448004", "30832001")} <= (
        _mapped(ontology, "AcuteInjury", narrow)
    )
    assert SCT + "699253003" in _mapped(ontology, "KneeSurgery", narrow)
    assert SCT + "239873007" in _mapped(ontology, "Osteoarthritis", narrow)
    assert SCT + "64859006" in _mapped(ontology, "Osteoporosis", exact)
    assert ICD + "M81.0" in _mapped(ontology, "Osteoporosis", narrow)
    assert SCT + "69896004" in _mapped(ontology, "RheumatoidArthritis", exact)
    assert SCT + "609588000" in _mapped(ontology, "TotalKneeReplacement", exact)
    assert {SCT + "443682009", SCT + "443681002"} <= _mapped(
        ontology, "TotalKneeReplacement", narrow
    )
    assert SCT + "386661006" in _mapped(ontology, "Fever", exact)
    assert ICD + "R50.9" in _mapped(ontology, "Fever", narrow)
    assert SCT + "59282003" in _mapped(ontology, "PulmonaryEmbolism", exact)
    assert ICD + "I26.99" in _mapped(ontology, "PulmonaryEmbolism", narrow)
    assert SCT + "108365000" in _mapped(ontology, "SkinInfection", exact)
    assert SCT + "271807003" in _mapped(ontology, "Rash", exact)
    assert SCT + "247441003" in _mapped(ontology, "Redness", exact)
    assert SCT + "30989003" in _mapped(ontology, "KneePain", exact)
    assert OBO + "FMA_35175" in _mapped(ontology, "KneeJoint", exact)
    assert OBO + "UBERON_0001485" in _mapped(ontology, "KneeJoint", exact)
    assert MESH + "D007719" in _mapped(ontology, "KneeJoint", exact)
    # PARTIAL rows: closeMatch at most
    assert SCT + "182204005" in _mapped(ontology, "KneeJoint", SKOS.closeMatch)
    # SevereSprain and SevereOsteoporosis carry no resolvable SNOMED/ICD code (no severity code)
    for name in ("SevereSprain", "SevereOsteoporosis"):
        for predicate in (exact, narrow):
            assert not {o for o in _mapped(ontology, name, predicate) if o.startswith((SCT, ICD))}


def test_every_mapping_is_justified(ontology: Graph) -> None:
    axioms = {
        (s, p, o)
        for axiom in ontology.subjects(RDF.type, OWL.Axiom)
        if ontology.value(axiom, DCTERMS_SOURCE) is not None
        and ontology.value(axiom, SSSOM_JUSTIFICATION) == MANUAL_CURATION
        for s in [ontology.value(axiom, OWL.annotatedSource)]
        for p in [ontology.value(axiom, OWL.annotatedProperty)]
        for o in [ontology.value(axiom, OWL.annotatedTarget)]
    }
    mappings = {
        (s, p, o) for p in MAPPING_PREDICATES for s, o in ontology.subject_objects(p)
        if str(s).startswith(KM_IRI)
    }
    assert len(mappings) > 150
    assert mappings <= axioms


CODES_TO_CLASSES = {
    # (system, code): a class the engine must resolve it to (exact, narrow or family)
    ("icd", "I82.402"): "DeepVeinThrombosis", ("icd", "I82.4Z1"): "DeepVeinThrombosis",
    ("icd", "I26.99"): "PulmonaryEmbolism", ("icd", "I26.09"): "PulmonaryEmbolism",
    ("icd", "S82.001A"): "Fracture", ("icd", "S82.202D"): "Fracture",
    ("icd", "S82.92XA"): "Fracture", ("icd", "S83.92XA"): "AcuteInjury",
    ("icd", "S89.91XA"): "AcuteInjury", ("icd", "S81.002A"): "OpenWound",
    ("icd", "L03.116"): "Cellulitis", ("icd", "M25.462"): "JointSwelling",
    ("icd", "M25.561"): "KneePain", ("icd", "M81.0"): "Osteoporosis", ("icd", "R50.9"): "Fever",
    ("icd", "M17.11"): "Osteoarthritis", ("icd", "L08.9"): "SkinInfection", ("icd", "R21"): "Rash",
    ("sct", "128053003"): "DeepVeinThrombosis", ("sct", "404223003"): "DeepVeinThrombosis",
    ("sct", "54888009"): "AcuteInjury", ("sct", "125660006"): "OpenWound",
    ("sct", "202381003"): "JointSwelling", ("sct", "19063003"): "KneeReplacement",
}
RESOLVE = """
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX km: <https://w3id.org/kgmassage#>
SELECT DISTINCT ?class WHERE {
  { ?class skos:exactMatch|skos:narrowMatch ?concept }
  UNION
  { ?family km:codeSystem ?system ; km:codePattern ?pattern ; km:mapsTo ?class .
    FILTER (REGEX(?code, STR(?pattern))) }
}
"""


@pytest.mark.parametrize(("code", "expected"), CODES_TO_CLASSES.items(), ids=str)
def test_codes_resolve_to_classes(ontology: Graph, code: tuple[str, str], expected: str) -> None:
    system, value = code
    concept = URIRef((ICD if system == "icd" else SCT) + value)
    rows = ontology.query(
        RESOLVE,
        initBindings={"concept": concept, "code": Literal(value),
                      "system": KM.ICD10CM if system == "icd" else KM.SNOMEDCT},
    )
    assert expected in {local(row[0]) for row in rows}


SIDE_OF_CODE = {
    "I82.401": "Right", "I82.402": "Left", "I82.403": "Bilateral", "I82.419": None,
    "I82.4Y2": "Left", "L03.115": "Right", "L03.116": "Left", "L03.119": None,
    "M25.461": "Right", "M25.462": "Left", "M25.469": None, "M25.561": "Right",
    "M25.562": "Left", "S81.001A": "Right", "S81.002A": "Left", "S81.009A": None,
    "S81.011A": "Right", "S81.012A": "Left", "S81.022D": "Left", "S81.031A": "Right",
    "S81.032A": "Left", "S81.041S": "Right", "S81.052A": "Left", "S81.059A": None,
    "S89.91XA": "Right", "S89.91XD": "Right", "S89.92XA": "Left", "S89.92XS": "Left",
    "S89.90XA": None,
    "S82.001A": "Right", "S82.002A": "Left", "S82.201A": "Right", "S82.202A": "Left",
    "S82.91XA": "Right", "S82.92XA": "Left", "S82.90XA": None, "S83.91XA": "Right",
    "S83.92XA": "Left", "S83.90XA": None, "R22.41": "Right", "R22.42": "Left",
    "R22.43": "Bilateral", "R50.9": None,
}
SIDES_QUERY = """
PREFIX km: <https://w3id.org/kgmassage#>
SELECT DISTINCT ?side WHERE {
  { ?concept km:impliesSide ?side }
  UNION
  { ?family km:codeSystem km:ICD10CM ; km:codePattern ?pattern ; km:impliesSide ?side .
    FILTER (REGEX(?code, STR(?pattern))) }
}
"""


@pytest.mark.parametrize(("code", "side"), SIDE_OF_CODE.items())
def test_sides_implied_by_icd_codes(ontology: Graph, code: str, side: str | None) -> None:
    rows = ontology.query(
        SIDES_QUERY, initBindings={"concept": URIRef(ICD + code), "code": Literal(code)}
    )
    assert {local(row[0]) for row in rows} == ({side} if side else set())


def test_snomed_side_implications(ontology: Graph) -> None:
    assert ontology.value(URIRef(SCT + "443682009"), KM.impliesSide) == KM.Right
    assert ontology.value(URIRef(SCT + "443681002"), KM.impliesSide) == KM.Left
    assert ontology.value(URIRef(SCT + "609588000"), KM.impliesSide) is None


# ------------------------------------------------------------------------ mapping policy


def _reference_ids(shared: Path) -> tuple[set[str], set[str], str]:
    """(verified ids, UNVERIFIED/PARTIAL-only ids, all reference text) of the crosswalk."""
    crosswalk = shared / "reference" / "terminology-crosswalk.csv"
    verified: set[str] = set()
    doubtful: set[str] = set()
    with crosswalk.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ids = {part.strip() for part in re.split(r"[|+]", row["id"]) if part.strip()}
            if row["verified_from"].startswith(("UNVERIFIED", "PARTIAL")):
                doubtful |= ids
            else:
                verified |= ids
    text = crosswalk.read_text(encoding="utf-8")
    readme = shared / "reference" / "fhir-samples" / "README.md"
    if readme.is_file():
        text += "\n" + readme.read_text(encoding="utf-8")
    return verified, doubtful - verified, text


def _id_of(iri: str) -> str | None:
    for prefix in (SCT, ICD, MESH):
        if iri.startswith(prefix):
            return iri[len(prefix):]
    if iri.startswith(OBO):
        return iri[len(OBO):].replace("_", ":", 1)
    return None


def test_no_exact_or_narrow_mapping_to_unverified_ids(ontology: Graph, shared_dir: Path) -> None:
    _, doubtful, _ = _reference_ids(shared_dir)
    offending = sorted(
        f"km:{local(s)} {p.n3()} {o}"
        for p in (SKOS.exactMatch, SKOS.narrowMatch)
        for s, o in ontology.subject_objects(p)
        if _id_of(str(o)) in doubtful
    )
    assert not offending, f"exact/narrow mappings to UNVERIFIED or PARTIAL ids: {offending}"


def test_every_mapping_target_is_in_the_reference(ontology: Graph, shared_dir: Path) -> None:
    _, _, text = _reference_ids(shared_dir)
    targets = {
        str(o)
        for p in (*MAPPING_PREDICATES, KM.impliesSide)
        for s, o in ontology.subject_objects(p)
    } | {str(s) for s in ontology.subjects(KM.impliesSide) if not str(s).startswith(KM_IRI)}
    missing = []
    for iri in sorted(targets):
        if iri.startswith(KM_IRI):
            continue
        identifier = _id_of(iri)
        assert identifier is not None, f"mapping target {iri} is in no known vocabulary"
        if not re.search(r"(?<![\w.])" + re.escape(identifier) + r"(?![\w.])", text):
            missing.append(iri)
    assert not missing, f"mapping targets not found in ../shared/reference: {missing}"


# ------------------------------------------------------------------------ researcher polish


@pytest.mark.parametrize("package", ["ontology", "shapes"])
def test_every_label_and_definition_is_english(package: str) -> None:
    names = resources.ONTOLOGY_FILES if package == "ontology" else resources.SHAPE_FILES
    graph = resources._parse(package, names)
    untagged = sorted(
        f"{local(s)} {p.n3()} {o!r}" for p in (RDFS.label, SKOS.definition, RDFS.comment)
        for s, o in graph.subject_objects(p) if isinstance(o, Literal) and o.language != "en"
    )
    assert not untagged, f"labels without @en in {package}/: {untagged[:10]}"


def test_external_codes_have_labels(ontology: Graph) -> None:
    external = {
        o for p in MAPPING_PREDICATES for s, o in ontology.subject_objects(p)
        if str(s).startswith(KM_IRI)
    } | {s for s in ontology.subjects(KM.impliesSide) if not str(s).startswith(KM_IRI)}
    assert len(external) > 150
    missing = sorted(str(c) for c in external if ontology.value(c, RDFS.label) is None)
    assert not missing, f"external codes without rdfs:label: {missing}"
    assert ontology.value(URIRef(SCT + "128053003"), RDFS.label) == Literal(
        "Deep venous thrombosis (disorder)", lang="en")
    assert ontology.value(URIRef(OBO + "FMA_35175"), RDFS.label) == Literal("knee joint", lang="en")
    # the curator's remarks stay in the mapping axioms, not in the labels
    assert ontology.value(URIRef(MESH + "D005206"), RDFS.label) == Literal("Fascia Lata", lang="en")


def test_every_object_property_has_domain_and_range(ontology: Graph) -> None:
    """Every km: object property (the RO relations km:increases etc. specialise are RO's)."""
    lacking = sorted(
        local(p) for p in ontology.subjects(RDF.type, OWL.ObjectProperty)
        if str(p).startswith(KM_IRI)
        and (ontology.value(p, RDFS.domain) is None or ontology.value(p, RDFS.range) is None)
    )
    assert not lacking, f"object properties without rdfs:domain or rdfs:range: {lacking}"


def test_region_of_the_it_band_is_unchanged_and_its_attachment_is_recorded(
    ontology: Graph,
) -> None:
    """km:inRegion drives the region rules: the band stays in the thigh (clinical-rules.md);
    its lower attachment below the knee is a relation of its own that no rule reads."""
    assert set(ontology.objects(KM.IliotibialBand, KM.inRegion)) == {KM.Thigh}
    assert (KM.IliotibialBand, km("distalAttachment"), km("LateralTibia")) in ontology
    assert (km("LateralTibia"), km("distalTo"), KM.KneeJoint) in ontology
    assert "Thigh" in str(ontology.value(KM.inRegion, SKOS.editorialNote))
    for action in ("HipFlexion", "HipAbduction", "HipInternalRotation"):
        assert (KM.TensorFasciaeLatae, km("hasAction"), km(action)) in ontology
    assert (KM.TensorFasciaeLatae, km("tensions"), KM.IliotibialBand) in ontology
    assert (KM.VastusLateralis, km("liesBeneath"), KM.IliotibialBand) in ontology
    assert (KM.VastusLateralis, KM.attachesTo, KM.IliotibialBand) not in ontology


def test_new_anatomy_is_no_target_or_site(ontology: Graph) -> None:
    """Entities the article mentions but massage does not target are not km:AnatomicalStructure:
    a record naming them stays an unknown target or site (fail safe), never a known one."""
    from kgmassage.vocabulary import target_named, technique_named

    for name in ("trigger point", "lateral tibia", "Gerdy's tubercle", "soft tissue", "fascia",
                 "large nerve fibres", "brain", "opioid receptors"):
        assert target_named(name) is None, name
    assert technique_named("massage") is None and technique_named("massage therapy") is None
    structures = {
        s for c in ontology.transitive_subjects(RDFS.subClassOf, KM.AnatomicalStructure)
        for s in ontology.subjects(RDF.type, c)
    }
    assert {local(s) for s in structures} == {
        "KneeJoint", "Patella", "IliotibialBand", "TensorFasciaeLatae", "Quadriceps",
        "RectusFemoris", "VastusMedialis", "VastusLateralis", "VastusIntermedius", "Hamstrings",
        "Gastrocnemius",
    }


def test_itb_direct_message_names_the_attaching_muscle_and_the_one_beneath() -> None:
    rules = resources.shape_graph("contraindications.shapes.ttl")
    effect = rules.value(URIRef(KM_IRI + "RuleItbDirect"), KM.effect)
    message = str(rules.value(effect, KM.message))
    assert "tensor fasciae latae (the muscle near the hip that attaches to the IT band)" in message
    assert "vastus lateralis (which lies beneath the band)" in message
    evidence = str(rules.value(URIRef(KM_IRI + "RuleItbDirect"), URIRef(KM_IRI + "evidence")))
    assert "lies beneath the band" in evidence


def test_status_means_one_thing_per_class() -> None:
    """km:status: record items (a condition status), decisions and reasons (a decision status);
    a rule effect's status is km:effectStatus, exactly one, a decision status."""
    rules = resources.rules_graph()
    effects = set(rules.subjects(RDF.type, KM.RuleEffect))
    assert len(effects) >= 20
    assert not [e for e in effects if rules.value(e, KM.status) is not None]
    for effect in effects:
        (status,) = rules.objects(effect, KM.effectStatus)
        assert (status, RDF.type, KM.DecisionStatus) in rules
