"""The research queries of queries/research: exact answers, the same on rdflib and pyoxigraph."""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from kgmassage import resources
from kgmassage.namespaces import KM_IRI

ENGINES = ("rdflib", "oxigraph")


def simple(term: object) -> object:
    """A km: IRI as its local name, another IRI as its text, a literal as its Python value."""
    if term is None:
        return None
    if isinstance(term, URIRef):
        text = str(term)
        return text[len(KM_IRI):] if text.startswith(KM_IRI) else text
    assert isinstance(term, Literal)
    return term.toPython() if term.datatype is not None else str(term)


def answer(kb, name: str, engine: str, **bindings: str) -> list[tuple]:
    result = kb.query(name, engine=engine, bindings=bindings or None)
    return [tuple(simple(t) for t in row) for row in result.rows]


def test_every_research_query_has_a_header() -> None:
    names = resources.query_names("research")
    assert set(EXPECTED) <= set(names)
    for name in names:
        text = resources.query_text("research", name)
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert text.startswith("# ") and text.splitlines()[0].endswith("?"), name
        for part in ("Question:", "Parameters:", "Example:"):
            assert part in header, f"research/{name}.rq header lacks {part}"


SYSTEMIC = ["CortisolReduction", "EndorphinRelease", "GateControl"]

EXPECTED: dict[str, tuple[tuple[str, ...], list[tuple]]] = {
    "muscles-crossing-knee": (
        ("muscle", "label", "region"),
        [
            ("Gastrocnemius", "gastrocnemius", "LowerLeg"),
            ("Hamstrings", "hamstrings", "Thigh"),
            ("Quadriceps", "quadriceps", "Thigh"),
        ],
    ),
    "referred-pain-sources": (
        ("source", "site", "technique"),
        [
            ("VastusLateralis", "KneeJoint", "FoamRolling"),
            ("VastusLateralis", "KneeJoint", "MassageBall"),
            ("VastusLateralis", "KneeJoint", "MyofascialRelease"),
            ("VastusLateralis", "KneeJoint", "TriggerPointTherapy"),
            ("VastusMedialis", "KneeJoint", "MassageBall"),
            ("VastusMedialis", "KneeJoint", "MyofascialRelease"),
            ("VastusMedialis", "KneeJoint", "TriggerPointTherapy"),
        ],
    ),
    "tension-paths": (
        ("structure", "hops", "path", "joint"),
        [
            ("Gastrocnemius", 1, "Gastrocnemius crosses KneeJoint", "KneeJoint"),
            ("Hamstrings", 1, "Hamstrings crosses KneeJoint", "KneeJoint"),
            ("IliotibialBand", 1, "IliotibialBand pullsOn KneeJoint", "KneeJoint"),
            ("Quadriceps", 1, "Quadriceps crosses KneeJoint", "KneeJoint"),
            (
                "TensorFasciaeLatae", 2,
                "TensorFasciaeLatae attachesTo IliotibialBand pullsOn KneeJoint", "KneeJoint",
            ),
        ],
    ),
    "technique-mechanisms": (
        ("technique", "pressure", "mechanism"),
        [("Effleurage", "light", m) for m in [*SYSTEMIC[:3], "Vasodilation"]]
        + [
            (t, "deep", m)
            for t in ("FoamRolling", "MassageBall", "MyofascialRelease")
            for m in [*SYSTEMIC, "MuscleTensionReduction"]
        ]
        + [("Petrissage", "deep", m)
           for m in [*SYSTEMIC, "MuscleTensionReduction", "Vasodilation"]]
        + [("TriggerPointTherapy", "deep", m) for m in [*SYSTEMIC, "MuscleTensionReduction"]],
    ),
    "therapy-sequence": (
        ("first", "firstPressure", "then", "thenPressure"),
        [("Effleurage", "light", "Petrissage", "deep")],
    ),
    "self-massage-options": (
        ("technique", "target", "region"),
        [
            ("FoamRolling", "Hamstrings", "Thigh"),
            ("FoamRolling", "Quadriceps", "Thigh"),
            ("FoamRolling", "TensorFasciaeLatae", "Hip"),
            ("FoamRolling", "VastusLateralis", "Thigh"),
            ("MassageBall", "TensorFasciaeLatae", "Hip"),
            ("MassageBall", "VastusLateralis", "Thigh"),
            ("MassageBall", "VastusMedialis", "Thigh"),
        ],
    ),
    "itb-alternatives": (
        ("structure", "alternative", "technique"),
        [
            ("IliotibialBand", alternative, technique)
            for alternative in ("TensorFasciaeLatae", "VastusLateralis")
            for technique in ("FoamRolling", "MassageBall", "MyofascialRelease",
                              "TriggerPointTherapy")
        ],
    ),
    "conditions-by-class": (
        ("top", "class", "parent", "label"),
        [
            ("Condition", "AcuteInjury", "Condition", "acute injury"),
            ("Condition", "Cellulitis", "SkinInfection", "cellulitis"),
            ("Condition", "ChronicCondition", "Condition", "chronic condition"),
            ("Condition", "DeepVeinThrombosis", "VenousThromboembolism", "deep vein thrombosis"),
            ("Condition", "Fracture", "AcuteInjury", "fracture"),
            ("Condition", "KneePain", "Condition", "knee pain"),
            ("Condition", "OpenWound", "SkinLesion", "open wound"),
            ("Condition", "Osteoarthritis", "ChronicCondition", "osteoarthritis"),
            ("Condition", "Osteoporosis", "ChronicCondition", "osteoporosis"),
            ("Condition", "PulmonaryEmbolism", "VenousThromboembolism", "pulmonary embolism"),
            ("Condition", "Rash", "SkinLesion", "rash"),
            ("Condition", "RheumatoidArthritis", "ChronicCondition", "rheumatoid arthritis"),
            ("Condition", "SevereOsteoporosis", "Osteoporosis", "severe osteoporosis"),
            ("Condition", "SevereSprain", "AcuteInjury", "severe sprain"),
            ("Condition", "SkinInfection", "SkinLesion", "skin infection"),
            ("Condition", "SkinLesion", "Condition", "skin lesion"),
            ("Condition", "VenousThromboembolism", "Condition", "venous thromboembolism"),
            ("Finding", "AcuteInflammation", "Finding", "acute inflammation"),
            ("Finding", "Fever", "Finding", "fever"),
            ("Finding", "JointSwelling", "Finding", "joint swelling"),
            ("Finding", "Redness", "Finding", "redness"),
            ("Finding", "Warmth", "Finding", "warmth"),
            ("Procedure", "KneeReplacement", "KneeSurgery", "knee replacement"),
            ("Procedure", "KneeSurgery", "Procedure", "knee surgery"),
            ("Procedure", "TotalKneeReplacement", "KneeReplacement", "total knee replacement"),
        ],
    ),
    "catalogue": (
        ("technique", "target", "pressure", "selfApplied", "region"),
        [
            ("Effleurage", "Gastrocnemius", "light", False, "LowerLeg"),
            ("Effleurage", "Hamstrings", "light", False, "Thigh"),
            ("Effleurage", "Quadriceps", "light", False, "Thigh"),
            ("FoamRolling", "Hamstrings", "deep", True, "Thigh"),
            ("FoamRolling", "Quadriceps", "deep", True, "Thigh"),
            ("FoamRolling", "TensorFasciaeLatae", "deep", True, "Hip"),
            ("FoamRolling", "VastusLateralis", "deep", True, "Thigh"),
            ("MassageBall", "TensorFasciaeLatae", "deep", True, "Hip"),
            ("MassageBall", "VastusLateralis", "deep", True, "Thigh"),
            ("MassageBall", "VastusMedialis", "deep", True, "Thigh"),
            ("MyofascialRelease", "TensorFasciaeLatae", "deep", False, "Hip"),
            ("MyofascialRelease", "VastusLateralis", "deep", False, "Thigh"),
            ("MyofascialRelease", "VastusMedialis", "deep", False, "Thigh"),
            ("Petrissage", "Gastrocnemius", "deep", False, "LowerLeg"),
            ("Petrissage", "Hamstrings", "deep", False, "Thigh"),
            ("Petrissage", "Quadriceps", "deep", False, "Thigh"),
            ("TriggerPointTherapy", "TensorFasciaeLatae", "deep", False, "Hip"),
            ("TriggerPointTherapy", "VastusLateralis", "deep", False, "Thigh"),
            ("TriggerPointTherapy", "VastusMedialis", "deep", False, "Thigh"),
        ],
    ),
    "structures-by-region": (
        ("region", "structure", "kind"),
        [
            ("Hip", "TensorFasciaeLatae", "Muscle"),
            ("Hip", "Thigh", "adjacent region"),
            ("Knee", "Patella", "Bone"),
            ("Knee", "KneeJoint", "Joint"),
            ("Knee", "LowerLeg", "adjacent region"),
            ("Knee", "Thigh", "adjacent region"),
            ("LowerLeg", "Gastrocnemius", "Muscle"),
            ("LowerLeg", "Knee", "adjacent region"),
            ("Thigh", "IliotibialBand", "ConnectiveTissue"),
            ("Thigh", "Hamstrings", "Muscle"),
            ("Thigh", "Quadriceps", "Muscle"),
            ("Thigh", "RectusFemoris", "Muscle"),
            ("Thigh", "VastusIntermedius", "Muscle"),
            ("Thigh", "VastusLateralis", "Muscle"),
            ("Thigh", "VastusMedialis", "Muscle"),
            ("Thigh", "Hip", "adjacent region"),
            ("Thigh", "Knee", "adjacent region"),
        ],
    ),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_research_query_answer(kb, name: str, engine: str) -> None:
    variables, rows = EXPECTED[name]
    result = kb.query(name, engine=engine)
    assert result.variables == variables
    assert [tuple(simple(t) for t in row) for row in result.rows] == rows


@pytest.mark.parametrize("engine", ENGINES)
def test_codes_for_class_dvt(kb, engine: str) -> None:
    rows = answer(kb, "codes-for-class", engine, **{"class": "DeepVeinThrombosis"})
    icd = "http://purl.bioontology.org/ontology/ICD10CM/"
    sct = "http://snomed.info/id/"
    skos = "http://www.w3.org/2004/02/skos/core#"
    assert rows == [
        ("DeepVeinThrombosis", "DeepVeinThrombosis", skos + "exactMatch",
         "http://purl.obolibrary.org/obo/HP_0002625"),
        ("DeepVeinThrombosis", "DeepVeinThrombosis", skos + "exactMatch", sct + "128053003"),
        *[
            ("DeepVeinThrombosis", "DeepVeinThrombosis", skos + "narrowMatch", icd + code)
            for code in ("I82.401", "I82.402", "I82.403", "I82.409", "I82.501", "I82.502",
                         "I82.503", "I82.509")
        ],
        ("DeepVeinThrombosis", "DeepVeinThrombosis", skos + "narrowMatch",
         sct + "132281000119108"),
        ("DeepVeinThrombosis", "DeepVeinThrombosis", skos + "narrowMatch", sct + "404223003"),
        ("DeepVeinThrombosis", "DeepVeinThrombosis", "mapsTo", r"^I82\.4"),
        ("DeepVeinThrombosis", "DeepVeinThrombosis", "mapsTo", r"^I82\.5"),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_codes_for_a_parent_class_include_its_subclasses(kb, engine: str) -> None:
    rows = answer(kb, "codes-for-class", engine, **{"class": "VenousThromboembolism"})
    assert {row[1] for row in rows} == {"DeepVeinThrombosis", "PulmonaryEmbolism"}
    assert ("VenousThromboembolism", "PulmonaryEmbolism", "mapsTo", r"^I26(\.|$)") in rows


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("name", "bindings", "expected_count"),
    [
        ("technique-mechanisms", {"technique": "Effleurage"}, 4),
        ("technique-mechanisms", {"technique": "km:Petrissage"}, 5),
        ("conditions-by-class", {"top": "Procedure"}, 3),
        ("conditions-by-class", {"top": "Finding"}, 5),
        ("self-massage-options", {"target": "TensorFasciaeLatae"}, 2),
        ("catalogue", {"technique": "MassageBall"}, 3),
        ("structures-by-region", {"region": "Knee"}, 4),
        ("referred-pain-sources", {"site": "Patella"}, 0),
        ("itb-alternatives", {"structure": "IliotibialBand"}, 8),
        ("tension-paths", {"joint": "KneeJoint"}, 5),
    ],
)
def test_research_query_parameters(kb, engine, name, bindings, expected_count) -> None:
    result = kb.query(name, bindings=bindings, engine=engine)
    assert len(result) == expected_count
    variable, value = next(iter(bindings.items()))
    assert {simple(row[variable]) for row in result.to_dicts()} <= {value.removeprefix("km:")}
