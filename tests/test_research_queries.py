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

#: Labels of the terms the answers name (every IRI column has a label column beside it).
LABEL = {
    "Gastrocnemius": "gastrocnemius", "Hamstrings": "hamstrings", "Quadriceps": "quadriceps",
    "RectusFemoris": "rectus femoris", "VastusIntermedius": "vastus intermedius",
    "VastusLateralis": "vastus lateralis", "VastusMedialis": "vastus medialis",
    "TensorFasciaeLatae": "tensor fasciae latae", "IliotibialBand": "iliotibial band",
    "Patella": "patella", "KneeJoint": "knee joint", "TriggerPoint": "trigger point",
    "Hip": "hip", "Thigh": "thigh", "Knee": "knee", "LowerLeg": "lower leg",
    "Effleurage": "effleurage", "Petrissage": "petrissage",
    "MyofascialRelease": "myofascial release", "TriggerPointTherapy": "trigger point therapy",
    "FoamRolling": "foam rolling", "MassageBall": "massage ball",
    "MuscleTensionReduction": "muscle tension reduction", "Vasodilation": "vasodilation",
    "GateControl": "gate control of pain", "EndorphinRelease": "endorphin release",
    "CortisolReduction": "cortisol reduction",
    "Condition": "condition", "Finding": "finding", "Procedure": "procedure",
}


def lab(name: str) -> tuple[str, str]:
    """A term's column and its label column."""
    return (name, LABEL[name])


EXPECTED: dict[str, tuple[tuple[str, ...], list[tuple]]] = {
    "muscles-crossing-knee": (
        ("muscle", "label", "region", "regionLabel"),
        [
            (*lab("Gastrocnemius"), *lab("LowerLeg")),
            (*lab("Hamstrings"), *lab("Thigh")),
            (*lab("Quadriceps"), *lab("Thigh")),
            # the four heads of the quadriceps cross the knee through the quadriceps tendon
            (*lab("RectusFemoris"), *lab("Thigh")),
            (*lab("VastusIntermedius"), *lab("Thigh")),
            (*lab("VastusLateralis"), *lab("Thigh")),
            (*lab("VastusMedialis"), *lab("Thigh")),
        ],
    ),
    "referred-pain-sources": (
        ("source", "sourceLabel", "site", "siteLabel", "technique", "techniqueLabel"),
        [(*lab("TriggerPoint"), *lab("KneeJoint"), None, None)]
        + [
            (*lab(source), *lab("KneeJoint"), *lab(technique))
            for source, techniques in (
                ("VastusLateralis",
                 ("FoamRolling", "MassageBall", "MyofascialRelease", "TriggerPointTherapy")),
                ("VastusMedialis", ("MassageBall", "MyofascialRelease", "TriggerPointTherapy")),
            )
            for technique in techniques
        ],
    ),
    "tension-paths": (
        ("structure", "structureLabel", "hops", "path", "joint", "jointLabel"),
        [
            (*lab(name), 1, f"{name} {relation} KneeJoint", *lab("KneeJoint"))
            for name, relation in (
                ("Gastrocnemius", "crosses"), ("Hamstrings", "crosses"),
                ("IliotibialBand", "pullsOn"), ("Quadriceps", "crosses"),
                ("RectusFemoris", "crosses"), ("VastusIntermedius", "crosses"),
                ("VastusLateralis", "crosses"), ("VastusMedialis", "crosses"),
            )
        ]
        + [
            (
                *lab("TensorFasciaeLatae"), 2,
                "TensorFasciaeLatae attachesTo IliotibialBand pullsOn KneeJoint",
                *lab("KneeJoint"),
            ),
        ],
    ),
    "technique-mechanisms": (
        ("technique", "techniqueLabel", "pressure", "mechanism", "mechanismLabel"),
        [(*lab("Effleurage"), "light", *lab(m)) for m in [*SYSTEMIC[:3], "Vasodilation"]]
        + [
            (*lab(t), "deep", *lab(m))
            for t in ("FoamRolling", "MassageBall", "MyofascialRelease")
            for m in [*SYSTEMIC, "MuscleTensionReduction"]
        ]
        + [(*lab("Petrissage"), "deep", *lab(m))
           for m in [*SYSTEMIC, "MuscleTensionReduction", "Vasodilation"]]
        + [(*lab("TriggerPointTherapy"), "deep", *lab(m))
           for m in [*SYSTEMIC, "MuscleTensionReduction"]],
    ),
    "therapy-sequence": (
        ("first", "firstLabel", "firstPressure", "then", "thenLabel", "thenPressure"),
        [(*lab("Effleurage"), "light", *lab("Petrissage"), "deep")],
    ),
    "self-massage-options": (
        ("technique", "techniqueLabel", "target", "targetLabel", "region", "regionLabel"),
        [
            (*lab("FoamRolling"), *lab("Hamstrings"), *lab("Thigh")),
            (*lab("FoamRolling"), *lab("Quadriceps"), *lab("Thigh")),
            (*lab("FoamRolling"), *lab("TensorFasciaeLatae"), *lab("Hip")),
            (*lab("FoamRolling"), *lab("VastusLateralis"), *lab("Thigh")),
            (*lab("MassageBall"), *lab("TensorFasciaeLatae"), *lab("Hip")),
            (*lab("MassageBall"), *lab("VastusLateralis"), *lab("Thigh")),
            (*lab("MassageBall"), *lab("VastusMedialis"), *lab("Thigh")),
        ],
    ),
    "itb-alternatives": (
        ("structure", "structureLabel", "alternative", "alternativeLabel", "technique",
         "techniqueLabel"),
        [
            (*lab("IliotibialBand"), *lab(alternative), *lab(technique))
            for alternative in ("TensorFasciaeLatae", "VastusLateralis")
            for technique in ("FoamRolling", "MassageBall", "MyofascialRelease",
                              "TriggerPointTherapy")
        ],
    ),
    "conditions-by-class": (
        ("top", "topLabel", "class", "label", "parent", "parentLabel"),
        [
            (*lab(top), cls, label, parent, parent_label)
            for top, cls, label, parent, parent_label in (
                ("Condition", "AcuteInjury", "acute injury", "Condition", "condition"),
                ("Condition", "Cellulitis", "cellulitis", "SkinInfection", "skin infection"),
                ("Condition", "ChronicCondition", "chronic condition", "Condition", "condition"),
                ("Condition", "DeepVeinThrombosis", "deep vein thrombosis",
                 "VenousThromboembolism", "venous thromboembolism"),
                ("Condition", "Fracture", "fracture", "AcuteInjury", "acute injury"),
                ("Condition", "KneePain", "knee pain", "Condition", "condition"),
                ("Condition", "OpenWound", "open wound", "SkinLesion", "skin lesion"),
                ("Condition", "Osteoarthritis", "osteoarthritis", "ChronicCondition",
                 "chronic condition"),
                ("Condition", "Osteoporosis", "osteoporosis", "ChronicCondition",
                 "chronic condition"),
                ("Condition", "PulmonaryEmbolism", "pulmonary embolism",
                 "VenousThromboembolism", "venous thromboembolism"),
                ("Condition", "Rash", "rash", "SkinLesion", "skin lesion"),
                ("Condition", "RheumatoidArthritis", "rheumatoid arthritis", "ChronicCondition",
                 "chronic condition"),
                ("Condition", "SevereOsteoporosis", "severe osteoporosis", "Osteoporosis",
                 "osteoporosis"),
                ("Condition", "SevereSprain", "severe sprain", "AcuteInjury", "acute injury"),
                ("Condition", "SkinInfection", "skin infection", "SkinLesion", "skin lesion"),
                ("Condition", "SkinLesion", "skin lesion", "Condition", "condition"),
                ("Condition", "VenousThromboembolism", "venous thromboembolism", "Condition",
                 "condition"),
                ("Finding", "AcuteInflammation", "acute inflammation", "Finding", "finding"),
                ("Finding", "Fever", "fever", "Finding", "finding"),
                ("Finding", "JointSwelling", "joint swelling", "Finding", "finding"),
                ("Finding", "Redness", "redness", "Finding", "finding"),
                ("Finding", "Warmth", "warmth", "Finding", "finding"),
                ("Procedure", "KneeReplacement", "knee replacement", "KneeSurgery",
                 "knee surgery"),
                ("Procedure", "KneeSurgery", "knee surgery", "Procedure", "procedure"),
                ("Procedure", "TotalKneeReplacement", "total knee replacement",
                 "KneeReplacement", "knee replacement"),
            )
        ],
    ),
    "catalogue": (
        ("technique", "techniqueLabel", "target", "targetLabel", "pressure", "selfApplied",
         "region", "regionLabel"),
        [
            (*lab(technique), *lab(target), pressure, self_applied, *lab(region))
            for technique, target, pressure, self_applied, region in (
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
            )
        ],
    ),
    "structures-by-region": (
        ("region", "regionLabel", "structure", "structureLabel", "kind"),
        [
            (*lab(region), *lab(structure), kind)
            for region, structure, kind in (
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
            )
        ],
    ),
    # ---------------------------------------------------------------- what massage is for
    "mechanism-targets": (
        ("mechanism", "mechanismLabel", "tissue", "tissueLabel", "kind", "region",
         "regionLabel", "within", "withinLabel"),
        [
            (*lab("CortisolReduction"), "NervousSystem", "nervous system", "AnatomicalEntity",
             None, None, None, None),
            (*lab("EndorphinRelease"), "OpioidReceptor", "opioid receptors", "MolecularEntity",
             None, None, "Brain", "brain"),
            (*lab("GateControl"), "Brain", "brain", "AnatomicalEntity", None, None, None, None),
            (*lab("GateControl"), "LargeNerveFibre", "large nerve fibres", "AnatomicalEntity",
             None, None, None, None),
            (*lab("GateControl"), "SmallNerveFibre", "small nerve fibres", "AnatomicalEntity",
             None, None, None, None),
            (*lab("MuscleTensionReduction"), *lab("Gastrocnemius"), "Muscle",
             *lab("LowerLeg"), None, None),
            (*lab("MuscleTensionReduction"), *lab("Hamstrings"), "Muscle", *lab("Thigh"),
             None, None),
            (*lab("MuscleTensionReduction"), *lab("Quadriceps"), "Muscle", *lab("Thigh"),
             None, None),
            (*lab("Vasodilation"), "SoftTissue", "soft tissues surrounding the knee",
             "AnatomicalEntity", None, None, None, None),
        ],
    ),
    "contraindication-hazards": (
        ("rule", "ruleLabel", "hazard", "hazardLabel", "hops", "path", "harm", "harmLabel",
         "source"),
        [
            ("ACUTE-INFLAMMATION", "Acute inflammation or joint swelling",
             "JointCompressiveLoad", "compressive load on the knee joint", 1,
             "compressive load on the knee joint increases pain perception",
             "PainPerception", "pain perception", "Absolute Contraindications"),
            ("ACUTE-INFLAMMATION", "Acute inflammation or joint swelling",
             "Vasodilation", "vasodilation", 2,
             "vasodilation increases local blood circulation increases pain perception",
             "PainPerception", "pain perception", "Absolute Contraindications"),
            ("ACUTE-INFLAMMATION", "Acute inflammation or joint swelling",
             "Vasodilation", "vasodilation", 2,
             "vasodilation increases local blood circulation increases swelling",
             "Swelling", "swelling", "Absolute Contraindications"),
            ("ACUTE-INJURY", "Acute injury (fracture, severe sprain)",
             "Vasodilation", "vasodilation", 2,
             "vasodilation increases local blood circulation increases pain perception",
             "PainPerception", "pain perception", "Absolute Contraindications"),
            ("ACUTE-INJURY", "Acute injury (fracture, severe sprain)",
             "Vasodilation", "vasodilation", 2,
             "vasodilation increases local blood circulation increases swelling",
             "Swelling", "swelling", "Absolute Contraindications"),
            ("CHRONIC-CONDITION", "Chronic condition",
             "MissedContraindication", "massage despite an unassessed condition", 1,
             "massage despite an unassessed condition leadsTo serious complication",
             "SeriousComplication", "serious complication", "Medical Clearance and Caution"),
            ("DVT", "Deep vein thrombosis or pulmonary embolism",
             "ClotDislodgement", "dislodgement of a blood clot", 1,
             "dislodgement of a blood clot leadsTo pulmonary embolism",
             "PulmonaryEmbolism", "pulmonary embolism", "Absolute Contraindications"),
            ("ITB-DIRECT", "Direct work on the IT band",
             "DirectBandPressure", "direct pressure on the IT band", 1,
             "direct pressure on the IT band increases pain perception",
             "PainPerception", "pain perception", "Targeted Massage Techniques for Knee Support"),
            ("JOINT-PRESSURE", "Deep pressure on the knee joint",
             "JointCompressiveLoad", "compressive load on the knee joint", 1,
             "compressive load on the knee joint increases pain perception",
             "PainPerception", "pain perception", "Medical Clearance and Caution"),
            ("OSTEOPOROSIS-DEEP", "Osteoporosis and deep pressure",
             "BoneLoading", "load on fragile bone", 1, "load on fragile bone leadsTo fracture",
             "Fracture", "fracture", "Medical Clearance and Caution"),
            ("PATELLA-PRESSURE", "No deep pressure on the kneecap",
             "PatellarCompressiveLoad", "compressive load on the kneecap", 1,
             "compressive load on the kneecap increases pain perception",
             "PainPerception", "pain perception", "Medical Clearance and Caution"),
            ("POST-SURGERY", "After knee surgery",
             "WoundDisruption", "disruption of an unhealed surgical wound", 1,
             "disruption of an unhealed surgical wound leadsTo spread of infection",
             "InfectionSpread", "spread of infection", "Medical Clearance and Caution"),
            ("POST-SURGERY", "After knee surgery",
             "WoundDisruption", "disruption of an unhealed surgical wound", 1,
             "disruption of an unhealed surgical wound leadsTo tissue damage",
             "TissueDamage", "tissue damage", "Medical Clearance and Caution"),
            ("RED-FLAG", "Red-flag findings (fever, warmth, redness)",
             "MissedContraindication", "massage despite an unassessed condition", 1,
             "massage despite an unassessed condition leadsTo serious complication",
             "SeriousComplication", "serious complication", "Medical Clearance and Caution"),
            ("SKIN-LESION", "Open wound, skin infection or rash",
             "InfectionSpread", "spread of infection", 0, "spread of infection",
             "InfectionSpread", "spread of infection", "Absolute Contraindications"),
            ("SKIN-LESION", "Open wound, skin infection or rash",
             "TissueDamage", "tissue damage", 0, "tissue damage",
             "TissueDamage", "tissue damage", "Absolute Contraindications"),
            ("UNRECOGNIZED", "Unrecognized record content",
             "MissedContraindication", "massage despite an unassessed condition", 1,
             "massage despite an unassessed condition leadsTo serious complication",
             "SeriousComplication", "serious complication",
             "Safety Considerations and Contraindications"),
        ],
    ),
}

#: What each mechanism does, as the article says (massage-purposes).
MECHANISM_EFFECTS = {
    "CortisolReduction": [("decreases", "NervousSystemArousal", "nervous system arousal"),
                          ("decreases", "StressHormoneLevel", "stress hormone level")],
    "EndorphinRelease": [("decreases", "PainPerception", "pain perception"),
                         ("increases", "Relaxation", "relaxation")],
    "GateControl": [("decreases", "PainPerception", "pain perception"),
                    ("increases", "TouchSignalling", "touch and pressure signals")],
    "MuscleTensionReduction": [
        ("decreases", "JointCompressiveLoad", "compressive load on the knee joint"),
        ("decreases", "MuscleTension", "muscle tension"),
    ],
    "Vasodilation": [("decreases", "Inflammation", "inflammation"),
                     ("increases", "LocalBloodFlow", "local blood circulation"),
                     ("increases", "MetabolicWasteRemoval", "metabolic waste removal"),
                     ("increases", "OxygenAndNutrientDelivery", "oxygen and nutrient delivery"),
                     ("increases", "TissueRecovery", "tissue recovery")],
}
#: Effects the article gives a technique itself (no mechanism).
TECHNIQUE_EFFECTS = {
    "Effleurage": [("increases", "TissueWarmth", "tissue warmth")],
    "FoamRolling": [("decreases", "MuscleTension", "muscle tension")],
    "MyofascialRelease": [("decreases", "MuscleTension", "muscle tension"),
                          ("decreases", "PatellarCompressiveLoad",
                           "compressive load on the kneecap")],
    "TriggerPointTherapy": [("decreases", "MuscleTension", "muscle tension"),
                            ("decreases", "PatellarCompressiveLoad",
                             "compressive load on the kneecap")],
}
TECHNIQUE_MECHANISMS = {
    "Effleurage": ["CortisolReduction", "EndorphinRelease", "GateControl", "Vasodilation"],
    "FoamRolling": [*SYSTEMIC[:2], "GateControl", "MuscleTensionReduction"],
    "MassageBall": [*SYSTEMIC[:2], "GateControl", "MuscleTensionReduction"],
    "MyofascialRelease": [*SYSTEMIC[:2], "GateControl", "MuscleTensionReduction"],
    "Petrissage": [*SYSTEMIC[:2], "GateControl", "MuscleTensionReduction", "Vasodilation"],
    "TriggerPointTherapy": [*SYSTEMIC[:2], "GateControl", "MuscleTensionReduction"],
}


def _purposes() -> list[tuple]:
    rows = []
    for technique in sorted(TECHNIQUE_MECHANISMS):
        for effect, outcome, label in TECHNIQUE_EFFECTS.get(technique, []):
            rows.append(("KneePain", "knee pain", *lab(technique), None, None, effect, outcome,
                         label))
        for mechanism in TECHNIQUE_MECHANISMS[technique]:
            for effect, outcome, label in MECHANISM_EFFECTS[mechanism]:
                rows.append(("KneePain", "knee pain", *lab(technique), *lab(mechanism), effect,
                             outcome, label))
    return rows


EXPECTED["massage-purposes"] = (
    ("condition", "conditionLabel", "technique", "techniqueLabel", "mechanism",
     "mechanismLabel", "effect", "outcome", "outcomeLabel"),
    _purposes(),
)


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
    dvt = ("DeepVeinThrombosis", "deep vein thrombosis") * 2
    icd_labels = {
        "I82.401": "Acute embolism and thrombosis of unspecified deep veins of right lower "
                   "extremity",
        "I82.402": "Acute embolism and thrombosis of unspecified deep veins of left lower "
                   "extremity",
        "I82.403": "Acute embolism and thrombosis of unspecified deep veins of lower extremity, "
                   "bilateral",
        "I82.409": "Acute embolism and thrombosis of unspecified deep veins of unspecified lower "
                   "extremity",
        "I82.501": "Chronic embolism and thrombosis of unspecified deep veins of right lower "
                   "extremity",
        "I82.502": "Chronic embolism and thrombosis of unspecified deep veins of left lower "
                   "extremity",
        "I82.503": "Chronic embolism and thrombosis of unspecified deep veins of lower "
                   "extremity, bilateral",
        "I82.509": "Chronic embolism and thrombosis of unspecified deep veins of unspecified "
                   "lower extremity",
    }
    assert rows == [
        (*dvt, skos + "exactMatch", "http://purl.obolibrary.org/obo/HP_0002625",
         "Deep venous thrombosis", None),
        (*dvt, skos + "exactMatch", sct + "128053003", "Deep venous thrombosis (disorder)",
         None),
        *[(*dvt, skos + "narrowMatch", icd + code, label, None)
          for code, label in icd_labels.items()],
        (*dvt, skos + "narrowMatch", sct + "132281000119108",
         "Acute deep venous thrombosis (disorder)", None),
        (*dvt, skos + "narrowMatch", sct + "404223003",
         "Deep venous thrombosis of lower extremity (disorder)", None),
        # code families: the pattern in its own column, never in ?code
        (*dvt, "mapsTo", None, "I82.4-", r"^I82\.4"),
        (*dvt, "mapsTo", None, "I82.5-", r"^I82\.5"),
        (*dvt, "mapsTo", None, "O22.3-", r"^O22\.3"),
        (*dvt, "mapsTo", None, "O87.1", r"^O87\.1$"),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_codes_for_a_parent_class_include_its_subclasses(kb, engine: str) -> None:
    rows = answer(kb, "codes-for-class", engine, **{"class": "VenousThromboembolism"})
    assert {row[2] for row in rows} == {"DeepVeinThrombosis", "PulmonaryEmbolism",
                                        "VenousThromboembolism"}  # I82.9-: of unknown kind
    assert ("VenousThromboembolism", "venous thromboembolism", "PulmonaryEmbolism",
            "pulmonary embolism", "mapsTo", None, "I26", r"^I26(\.|$)") in rows


@pytest.mark.parametrize("engine", ENGINES)
def test_codes_column_holds_only_iris(kb, engine: str) -> None:
    result = kb.query("codes-for-class", engine=engine)
    for row in result.to_dicts():
        assert (row["code"] is None) != (row["pattern"] is None), row
        assert row["code"] is None or isinstance(row["code"], URIRef)
        assert row["codeLabel"] is not None, row


@pytest.mark.parametrize("engine", ENGINES)
def test_a_class_without_rule_has_a_clear_row(kb, engine: str) -> None:
    rows = answer(kb, "conditions-by-contraindication", engine, **{"class": "KneePain"})
    assert rows == [("KneePain", "knee pain", None, "(no rule fires on this class)", "none",
                     None)]
    rows = answer(kb, "conditions-by-contraindication", engine, **{"class": "Fracture"})
    assert rows == [("Fracture", "fracture", "ACUTE-INJURY",
                     "Acute injury (fracture, severe sprain)", "forbidden, requires-clearance",
                     "Absolute Contraindications")]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(set(resources.query_names("research"))))
def test_every_iri_column_has_a_label_column(kb, name: str, engine: str) -> None:
    """Every research answer names its terms: each IRI column has a label column beside it."""
    result = kb.query(name, engine=engine)
    assert result.rows, name
    for index, variable in enumerate(result.variables):
        if not any(isinstance(row[index], URIRef) for row in result.rows):
            continue
        if variable in ("match", "property", "eco", "context", "code") and name in (
            "codes-for-class", "claims-by-evidence"
        ):
            continue  # a predicate, an ECO class or a context; codes: ?codeLabel
        label = "label" if (name, variable) in {
            ("muscles-crossing-knee", "muscle"), ("conditions-by-class", "class")
        } else f"{variable}Label"
        assert label in result.variables, f"{name}: ?{variable} has no ?{label}"


# ------------------------------------------------------------------------ claims by evidence


@pytest.mark.parametrize("engine", ENGINES)
def test_claims_by_evidence(kb, engine: str) -> None:
    result = kb.query("claims-by-evidence", engine=engine)
    counts: dict[str, int] = {}
    for row in result.to_dicts():
        kind = simple(row["evidence"])
        counts[kind] = counts.get(kind, 0) + 1
        assert row["source"] is not None and row["eco"] is not None
    assert counts == {"ConsumerArticleStatement": 99, "ProjectInference": 56,
                      "DisputedStatement": 1}
    rows = answer(kb, "claims-by-evidence", engine, evidence="DisputedStatement")
    assert len(rows) == 1
    assert rows[0][:11] == (
        "DisputedStatement", "disputed author statement",
        "http://purl.obolibrary.org/obo/ECO_0000303", "Vasodilation", "vasodilation",
        "increases", "increases", "MetabolicWasteRemoval", "metabolic waste removal",
        "The Biological Mechanism of Pain Relief", None,
    )
    assert "lactic acid" in rows[0][11]
    # the project's own inferences say what they rest on
    for row in answer(kb, "claims-by-evidence", engine, evidence="ProjectInference"):
        subject, prop, obj = row[3], row[5], row[7]
        if prop in ("crosses", "hasAction", "distalAttachment", "tensions", "liesBeneath",
                    "hazard", "guardsAgainst"):
            assert row[11], (subject, prop, obj)


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
        ("tension-paths", {"joint": "KneeJoint"}, 9),
        ("massage-purposes", {"technique": "Effleurage"}, 12),
        ("massage-purposes", {"outcome": "PainPerception"}, 12),
        ("mechanism-targets", {"mechanism": "GateControl"}, 3),
        ("contraindication-hazards", {"rule": "DVT"}, 1),
        ("claims-by-evidence", {"evidence": "DisputedStatement"}, 1),
    ],
)
def test_research_query_parameters(kb, engine, name, bindings, expected_count) -> None:
    result = kb.query(name, bindings=bindings, engine=engine)
    assert len(result) == expected_count
    variable, value = next(iter(bindings.items()))
    assert {simple(row[variable]) for row in result.to_dicts()} <= {value.removeprefix("km:")}


PLAIN_QUESTIONS = ("massage-purposes", "mechanism-targets", "contraindication-hazards",
                   "claims-by-evidence")


@pytest.mark.parametrize("name", PLAIN_QUESTIONS)
def test_plain_rdflib_answers_the_four_questions_from_the_release(kb, repo_root, name) -> None:
    """A user with nothing but rdflib, the release file ontology/kgmassage.owl and the query
    files gets the same answers as the package."""
    from rdflib import Graph

    graph = Graph().parse(repo_root / "ontology" / "kgmassage.owl", format="xml")
    text = (repo_root / "queries" / "research" / f"{name}.rq").read_text(encoding="utf-8")
    plain = [tuple(row) for row in graph.query(text)]
    assert plain == list(kb.query(name).rows)
    assert len(plain) == len(EXPECTED[name][1]) if name in EXPECTED else plain
