"""The ``km:`` vocabulary as a closed rdflib namespace: a misspelt term raises."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import Literal, Node, URIRef

__all__ = ["KM", "KM_IRI", "SNOMED_SYSTEM", "ICD10CM_SYSTEM", "patient_iri", "km_term",
           "local_name"]

KM_IRI = "https://w3id.org/kgmassage#"
SNOMED_SYSTEM = URIRef("http://snomed.info/sct")
ICD10CM_SYSTEM = URIRef("http://hl7.org/fhir/sid/icd-10-cm")


class KM(DefinedNamespace):
    """Terms of https://w3id.org/kgmassage# (see ontology/)."""

    _NS = Namespace(KM_IRI)
    _fail = True

    # core classes
    Patient: URIRef
    Condition: URIRef
    Finding: URIRef
    Procedure: URIRef
    Clearance: URIRef
    AnatomicalStructure: URIRef
    Muscle: URIRef
    Bone: URIRef
    Joint: URIRef
    ConnectiveTissue: URIRef
    BodyRegion: URIRef
    Technique: URIRef
    Mechanism: URIRef
    Intervention: URIRef
    PlannedIntervention: URIRef
    Coding: URIRef
    Assessment: URIRef
    Decision: URIRef
    Reason: URIRef
    Rule: URIRef
    Side: URIRef
    Pressure: URIRef
    ConditionStatus: URIRef
    DecisionStatus: URIRef
    CodeSystem: URIRef
    CodeFamily: URIRef
    # clinical classes
    VenousThromboembolism: URIRef
    DeepVeinThrombosis: URIRef
    PulmonaryEmbolism: URIRef
    AcuteInjury: URIRef
    Fracture: URIRef
    SevereSprain: URIRef
    SkinLesion: URIRef
    OpenWound: URIRef
    SkinInfection: URIRef
    Cellulitis: URIRef
    Rash: URIRef
    ChronicCondition: URIRef
    Osteoarthritis: URIRef
    Osteoporosis: URIRef
    SevereOsteoporosis: URIRef
    RheumatoidArthritis: URIRef
    KneePain: URIRef
    Fever: URIRef
    Warmth: URIRef
    Redness: URIRef
    JointSwelling: URIRef
    AcuteInflammation: URIRef
    KneeSurgery: URIRef
    KneeReplacement: URIRef
    TotalKneeReplacement: URIRef
    # anatomy
    KneeJoint: URIRef
    Patella: URIRef
    IliotibialBand: URIRef
    TensorFasciaeLatae: URIRef
    Quadriceps: URIRef
    RectusFemoris: URIRef
    VastusMedialis: URIRef
    VastusLateralis: URIRef
    VastusIntermedius: URIRef
    Hamstrings: URIRef
    Gastrocnemius: URIRef
    Hip: URIRef
    Thigh: URIRef
    Knee: URIRef
    LowerLeg: URIRef
    # techniques and mechanisms
    Effleurage: URIRef
    Petrissage: URIRef
    MyofascialRelease: URIRef
    TriggerPointTherapy: URIRef
    FoamRolling: URIRef
    MassageBall: URIRef
    MuscleTensionReduction: URIRef
    Vasodilation: URIRef
    GateControl: URIRef
    EndorphinRelease: URIRef
    CortisolReduction: URIRef
    # enumerations
    Left: URIRef
    Right: URIRef
    Bilateral: URIRef
    Light: URIRef
    Deep: URIRef
    Active: URIRef
    Suspected: URIRef
    Resolved: URIRef
    Refuted: URIRef
    EnteredInError: URIRef
    Permitted: URIRef
    Caution: URIRef
    RequiresClearance: URIRef
    Forbidden: URIRef
    SNOMEDCT: URIRef
    ICD10CM: URIRef
    # ICD-10-CM code families (ontology/mappings.ttl)
    ICD10CM_I82_4: URIRef
    ICD10CM_I82_5: URIRef
    ICD10CM_I82_5_Right: URIRef
    ICD10CM_I82_5_Left: URIRef
    ICD10CM_I82_5_Bilateral: URIRef
    ICD10CM_I26: URIRef
    ICD10CM_I82_9: URIRef
    ICD10CM_O22_3: URIRef
    ICD10CM_O87_1: URIRef
    ICD10CM_S82: URIRef
    ICD10CM_S72: URIRef
    ICD10CM_S83_4: URIRef
    ICD10CM_S83_5: URIRef
    ICD10CM_S83_9: URIRef
    ICD10CM_S82_Right: URIRef
    ICD10CM_S82_Left: URIRef
    ICD10CM_S72_Right: URIRef
    ICD10CM_S72_Left: URIRef
    ICD10CM_S72_9_Right: URIRef
    ICD10CM_S72_9_Left: URIRef
    ICD10CM_S83_4_Right: URIRef
    ICD10CM_S83_4_Left: URIRef
    ICD10CM_S83_5_Right: URIRef
    ICD10CM_S83_5_Left: URIRef
    ICD10CM_S89_9: URIRef
    ICD10CM_S81_0: URIRef
    ICD10CM_L03_11: URIRef
    ICD10CM_M25_46: URIRef
    ICD10CM_M25_56: URIRef
    ICD10CM_M17: URIRef
    ICD10CM_M81: URIRef
    ICD10CM_R50: URIRef
    ICD10CM_I82_4_Right: URIRef
    ICD10CM_I82_4_Left: URIRef
    ICD10CM_I82_4_Bilateral: URIRef
    ICD10CM_L03_11_Right: URIRef
    ICD10CM_L03_11_Left: URIRef
    ICD10CM_M25_46_Right: URIRef
    ICD10CM_M25_46_Left: URIRef
    ICD10CM_M25_56_Right: URIRef
    ICD10CM_M25_56_Left: URIRef
    ICD10CM_S81_0_Right: URIRef
    ICD10CM_S81_0_Left: URIRef
    ICD10CM_S89_9_Right: URIRef
    ICD10CM_S89_9_Left: URIRef
    ICD10CM_S83_9_Right: URIRef
    ICD10CM_S83_9_Left: URIRef
    ICD10CM_R22_4_Right: URIRef
    ICD10CM_R22_4_Left: URIRef
    ICD10CM_R22_4_Bilateral: URIRef
    # knowledge relations
    partOf: URIRef
    inRegion: URIRef
    adjacentTo: URIRef
    crosses: URIRef
    attachesTo: URIRef
    refersPainTo: URIRef
    pullsOn: URIRef
    targets: URIRef
    precedes: URIRef
    hasMechanism: URIRef
    pressure: URIRef
    selfApplied: URIRef
    alternativeTarget: URIRef
    coversSide: URIRef
    countsAsPresent: URIRef
    severityRank: URIRef
    systemIRI: URIRef
    conceptNamespace: URIRef
    codeSystem: URIRef
    codePattern: URIRef
    mapsTo: URIRef
    impliesSide: URIRef
    # patient data
    identifier: URIRef
    birthDate: URIRef
    assessedAt: URIRef
    hasCondition: URIRef
    hasFinding: URIRef
    hasProcedure: URIRef
    hasClearance: URIRef
    hasPlannedIntervention: URIRef
    side: URIRef
    site: URIRef
    status: URIRef
    onset: URIRef
    recordedAt: URIRef
    performedOn: URIRef
    incisionClosed: URIRef
    suturesRemoved: URIRef
    issuedOn: URIRef
    issuedBy: URIRef
    technique: URIRef
    target: URIRef
    code: URIRef
    system: URIRef
    codeValue: URIRef
    unrecognizedField: URIRef
    unrecognizedContent: URIRef
    unrecognizedEntry: URIRef
    # assessments
    patient: URIRef
    knowledgeVersion: URIRef
    inputDigest: URIRef
    hasDecision: URIRef
    hasReason: URIRef
    rule: URIRef
    ruleId: URIRef
    lifted: URIRef
    alternative: URIRef
    # engine vocabulary (ontology/engine.ttl)
    RuleEffect: URIRef
    Scope: URIRef
    Guard: URIRef
    TimeWindow: URIRef
    WindowCutoff: URIRef
    UnrecognizedItem: URIRef
    UnrecognizedPlan: URIRef
    SameSide: URIRef
    OtherSide: URIRef
    AnySide: URIRef
    SameRegion: URIRef
    AdjacentRegion: URIRef
    OtherRegion: URIRef
    AnyRegion: URIRef
    WithinWindow: URIRef
    BeyondWindow: URIRef
    WoundNotHealed: URIRef
    WoundHealed: URIRef
    effect: URIRef
    trigger: URIRef
    effectStatus: URIRef
    exactTrigger: URIRef
    directClass: URIRef
    codeClass: URIRef
    plannableAs: URIRef
    sideScope: URIRef
    regionScope: URIRef
    deepPressureOnly: URIRef
    onTarget: URIRef
    guard: URIRef
    window: URIRef
    hours: URIRef
    days: URIRef
    defaultRegion: URIRef
    offersAlternatives: URIRef
    ruleVersion: URIRef
    validationStatus: URIRef
    evidence: URIRef
    failSafeNote: URIRef
    evaluatedAt: URIRef
    evaluationDay: URIRef
    clockLimit: URIRef
    windowCutoff: URIRef
    cutoff: URIRef
    instant: URIRef
    day: URIRef
    firstDay: URIRef
    firstInstant: URIRef
    timed: URIRef
    hasClass: URIRef
    onSide: URIRef
    inScopeRegion: URIRef
    triggerInstant: URIRef
    triggerDay: URIRef
    triggerTimed: URIRef
    triggerFact: URIRef
    fromPlan: URIRef
    targetRegion: URIRef
    deepPressure: URIRef
    matchedItem: URIRef
    planned: URIRef
    dateFact: URIRef
    dateField: URIRef
    dateProperty: URIRef
    factOf: URIRef
    # declared in ontology/engine.ttl (added so every declared km: term is in KM)
    Match: URIRef
    DateFact: URIRef
    codeConcept: URIRef
    matchesFamily: URIRef
    item: URIRef
    applies: URIRef
    liftedBy: URIRef
    message: URIRef
    plannedOnly: URIRef
    reportsStatus: URIRef
    CatalogueIntervention: URIRef
    RegionProbe: URIRef
    AnyPlace: URIRef
    Place: URIRef
    RegionReachEntry: URIRef
    SideReachEntry: URIRef
    AdmissionEntry: URIRef
    classClosure: URIRef
    placeRegion: URIRef
    fromPlace: URIRef
    reachesPlace: URIRef
    fromSide: URIRef
    reachesSide: URIRef
    targetPlace: URIRef
    admits: URIRef
    sideKey: URIRef
    sitePlace: URIRef
    sideReach: URIRef
    regionReach: URIRef
    decides: URIRef
    triggerDated: URIRef
    admittedBy: URIRef
    admitsDeep: URIRef
    admitsPlace: URIRef
    UnrecognizedContent: URIRef
    clearable: URIRef
    voidsClearance: URIRef
    codeDotPosition: URIRef
    codeSyntax: URIRef
    canonicalCode: URIRef
    inCodeSystem: URIRef
    unrecognizedAt: URIRef
    recognized: URIRef
    allowsProperty: URIRef
    dateValue: URIRef


def patient_iri(identifier: str) -> URIRef:
    """IRI of the patient node of a JSON record: ``urn:kgmassage:patient:<id>``."""
    return URIRef("urn:kgmassage:patient:" + quote(identifier, safe=""))


def km_term(name: str) -> URIRef:
    """The ``km:`` IRI of a local name (percent-encoded), known to the ontology or not.

    >>> km_term("Deep Vein")
    rdflib.term.URIRef('https://w3id.org/kgmassage#Deep%20Vein')
    """
    return URIRef(KM_IRI + quote(name, safe=""))


def local_name(iri: object) -> str:
    """The local name of a ``km:`` IRI (percent-decoded); any other node as its text.

    >>> local_name(km_term("Deep Vein")), local_name("http://snomed.info/sct")
    ('Deep Vein', 'http://snomed.info/sct')
    """
    text = str(iri)
    return unquote(text[len(KM_IRI):]) if text.startswith(KM_IRI) else text


# --- N-Triples -------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile(r'[\\"\x00-\x1f\x7f]')


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04X}"


def nt_literal(text: str, datatype: str | None = None) -> str:
    """An N-Triples literal: ``"text"`` or ``"text"^^<datatype>``."""
    quoted = '"' + _CONTROL.sub(_escape, text) + '"'
    return quoted if datatype is None else f"{quoted}^^<{datatype}>"


def nt_term(term: Node) -> str:
    """An rdflib term in N-Triples syntax. (``Literal.n3()`` writes a literal that holds a
    line break in Turtle's triple quotes, which N-Triples does not have.)

    >>> nt_term(Literal("line 1\\nline 2", datatype="urn:x"))
    '"line 1\\\\nline 2"^^<urn:x>'
    """
    if isinstance(term, Literal):
        if term.language:
            return '"' + _CONTROL.sub(_escape, str(term)) + '"@' + term.language
        return nt_literal(str(term), str(term.datatype) if term.datatype else None)
    return term.n3()
