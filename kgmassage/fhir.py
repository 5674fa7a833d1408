"""FHIR R4 input: a FHIR ``Bundle`` (JSON) → a patient record in kgmassage's JSON form.

:func:`bundle_to_record` reads one Bundle holding one Patient and returns the record as
``interfaces.md`` ("Patient record as JSON") defines it, so every record path (``assess``,
``validate``, the API, the service) can take a Bundle wherever it takes a record. Only keys of
the record form come out, so the record validates like a hand-written one.

Each resource the mapping reads is checked against the FHIR model of `fhir.resources`_ (its
``R4B`` package: FHIR 4.3.0, which leaves every resource read here as R4 defines it) plus the
required code bindings of the elements read (``Bundle.type``, the statuses); a resource that is
not valid FHIR is refused with a :class:`~kgmassage.errors.RecordError` naming the entry
(``entry[3] (Condition/abc)``). Values are then read from the checked JSON, so dates keep the
lexical form they were written in.

What is read (everything else is ignored; nothing that may count is ever dropped):

* **Patient** (exactly one): ``id`` (else the Bundle's ``id``) → ``id``; ``birthDate`` →
  ``birth_date``.
* **Condition** → ``conditions``: every coding of ``code`` → ``code`` (one object, or an array
  when there are several); ``clinicalStatus`` active/recurrence/relapse → ``active``,
  inactive/remission/resolved → ``resolved`` (``active`` while its ``abatementDateTime`` or
  ``abatementPeriod`` lies after the assessment time, or before its onset); ``verificationStatus``
  provisional/differential/unconfirmed → ``suspected``, refuted → ``refuted``, entered-in-error
  → ``entered-in-error`` (only codings of the statuses' own code systems count; of two codings,
  the one that counts most: refuted beside confirmed is present); ``onsetDateTime`` /
  ``onsetPeriod.end`` (no end: the assessment time) → ``onset`` (``onsetAge``, ``onsetString`` …
  as written: no date, so the item counts from the assessment time); ``recordedDate`` →
  ``recorded_at``; ``bodySite`` → ``site`` and ``side`` (below). A Condition without ``code`` is
  kept as an item without type or code (UNRECOGNIZED).
* **Procedure** → ``procedures``: ``code``; ``performedDateTime`` / ``performedPeriod.end`` (no
  end: the assessment time) → ``date`` (another ``performed[x]`` as written, as for an onset;
  the assessment time while the status is in-progress or on-hold: not over yet);
  ``bodySite`` → ``site``, ``side``; status not-done or entered-in-error → status
  ``entered-in-error`` (kept, does not count). Each coded ``complication`` → a condition.
* **Observation**: a body temperature (LOINC 8310-5 or a variant such as 8331-1 oral) of at
  least 38.0 °C / 100.4 °F / 311.15 K (or one that may be: above a bound such as ``> 37.9``,
  or a value that cannot be read, ``"hot"``) whose effective time is no more than 72 h before the
  assessment time (or after it) → a finding ``{"type": "Fever", "recorded_at": …}``; an
  Observation, or a component of one, coded with a condition, finding or procedure the
  ontology maps (erythema, joint effusion, fever, a DVT …: read from the ontology's SNOMED CT
  and ICD-10-CM mappings) → a finding with those codes, ``recorded_at`` and its
  ``bodySite``. Other Observations are ignored (and not checked).
* **ServiceRequest** (status draft, active, on-hold or unknown) that is or may be a massage
  (SNOMED CT 387854002 or CPT 97124, 97140; a code text or display naming a technique or
  massage; or a code in free text only, with no coding of a system: ``"Deep tissue
  massage"``) → ``planned``
  items: the technique from ``code.text`` or a coding's display (and ``orderDetail``: a detail
  naming anything but techniques, ``"deep pressure"``, makes the order as written count as an
  unknown technique too), the target from ``bodySite`` (text or display), the side from its
  laterality. A name that cannot be read is given as written (or left out), so kgmassage
  decides the plan as UNRECOGNIZED: a massage request is never dropped.
* **Any other coded statement**: a SNOMED CT or ICD-10-CM coding the ontology maps to a
  condition, finding or procedure, wherever a resource states it (an Encounter's ``reasonCode``,
  a DiagnosticReport's ``conclusionCode``, a MedicationRequest's or a ServiceRequest's reason, a
  ClinicalImpression finding, a Condition's ``evidence``, an extension, a Flag, a
  QuestionnaireResponse answer …) → a finding with that CodeableConcept's codes, ``recorded_at``
  the latest date the resource gives at its top level (a period still going on: the assessment
  time; none: no date, so it counts from the assessment time), no site or side but what its
  codes imply, an item of its own (a resolved Condition with the same code cancels nothing).
  Which codings map is asked of the decision engine (its classification stages, on a probe
  record): the mapping is stated once, in the ontology. Not read this way: the elements read
  above; what is asked for (a request's ``code``: a knee replacement ordered is not one done);
  resources that state nothing present about the patient (FamilyMemberHistory,
  AllergyIntolerance reactions, RiskAssessment predictions, definitions); a resource entered in
  error; the evidence of a Condition that is resolved, refuted or entered in error.
* **A Condition referred to but not sent**: a reference to a Condition in those same
  statements (a massage order's ``reasonReference``, an Encounter's diagnosis; also a logical
  reference, a ``type`` of Condition with only a display or an identifier) that names none of
  the Bundle's Conditions → a condition with neither type nor code (UNRECOGNIZED, never
  lifted): it exists, and what it is was not sent.
* **Contained resources** (``contained``) of any entry are read as the entries above.
* **OperationOutcome**: one with an error, or saying the data is not whole or withheld
  (``too-costly``, ``incomplete``, ``suppressed``, ``forbidden`` … even as a warning), refuses
  the Bundle, as a paginated search result does (a ``next`` or ``previous`` link); so does a
  ``REDACTED`` security label or a ``SUBSETTED`` tag on the Bundle or a resource.
* **Modifiers**: a resource read (or whose codes are read) holding a ``modifierExtension``
  (anywhere in it) or ``implicitRules`` is refused: FHIR says such a resource may mean
  something else and must not be processed by a system that does not understand it.

Body sites: a ``bodySite`` names a site when its SNOMED CT code is one the ontology maps
exactly (``skos:exactMatch``: knee region 72696002, knee joint 49076000, patella 64234005,
hip 29836001, thigh 68367000, lower leg 30021000) or its text or a display contains the name,
label or synonym of a region or structure ("Structure of knee joint", "left vastus
lateralis"). The site is given only when every body site of the item names the same one;
otherwise it is left out (every region: fail safe). Laterality is SNOMED CT 7771000 left,
24028007 right, 51440002 bilateral (the ontology's mappings of ``km:Left``, ``km:Right``,
``km:Bilateral``), as a coding of the body site, as the value of the laterality attribute
272741003 in a post-coordinated code (``182204005:272741003=7771000``), in an extension of
the body site, or as the word left/right/bilateral in its text or display. Left and right
together make ``bilateral``; no laterality leaves the side out (both sides).

Dates: FHIR allows partial dates (``2019``, ``2019-05``); they become the last day they can
mean (``2019-12-31``, ``2019-05-31``), the latest instant, as kgmassage reads dates so that
windows err on the safe side; a partial date holding the assessment day becomes that day (a
record date cannot be after it). The record's ``assessed_at`` is the assessment time, the one
the 72-hour window was taken from.

.. _fhir.resources: https://pypi.org/project/fhir.resources/

>>> from datetime import datetime, timezone
>>> bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
...     {"resource": {"resourceType": "Patient", "id": "p-7"}},
...     {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/p-7"},
...                   "code": {"coding": [{"system": "http://snomed.info/sct",
...                                        "code": "128053003"}]},
...                   "bodySite": [{"coding": [{"system": "http://snomed.info/sct",
...                                             "code": "7771000"}]}]}}]}
>>> bundle_to_record(bundle, at=datetime(2026, 11, 20, 10, tzinfo=timezone.utc))
... # doctest: +NORMALIZE_WHITESPACE
{'id': 'p-7', 'assessed_at': '2026-11-20T10:00:00Z',
 'conditions': [{'code': {'system': 'http://snomed.info/sct', 'code': '128053003'},
                 'side': 'left'}]}
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

from rdflib import URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from .errors import RecordError, cut
from .namespaces import ICD10CM_SYSTEM, KM, km_term, local_name
from .resources import ontology_graph
from .timeline import parse_date, resolve_at
from .vocabulary import name_key, target_named, technique_named

__all__ = [
    "FEVER_WINDOW",
    "SNOMED",
    "LOINC",
    "MASSAGE_CODE",
    "TEMPERATURE_CODES",
    "is_fhir",
    "bundle_to_record",
    "may_be_massage",
    "resource_name",
    "unknown_type",
]

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_SCT_IRI = "http://snomed.info/id/"

#: How long before the assessment time a temperature reading still makes a Fever finding.
FEVER_WINDOW = timedelta(hours=72)
#: SNOMED CT "massage" (a ServiceRequest with this code is a massage request).
MASSAGE_CODE = "387854002"
#: CPT, the codes US orders for massage are billed under: 97124 (massage, including
#: effleurage and petrissage) and 97140 (manual therapy techniques, which include soft-tissue
#: mobilisation). Marked unverified in the project's crosswalk (CPT is licensed): they only
#: widen which orders are checked, so a wrong one adds a check, never removes one.
MASSAGE_CPT_CODES = frozenset({"97124", "97140"})
#: CPT's system as written in the wild: its URI http://www.ama-assn.org/go/cpt (any case or
#: scheme, a final slash) or its HL7 OID.
_CPT_SYSTEM = re.compile(r"https?://(www\.)?ama-assn\.org/go/cpt/?"
                         r"|urn:oid:2\.16\.840\.1\.113883\.6\.12", re.IGNORECASE)
#: SNOMED CT attribute "laterality" in post-coordinated expressions.
_LATERALITY_ATTRIBUTE = "272741003"
#: Codes of body-temperature Observations: (system, code). The codes for which the HL7 FHIR
#: validator (org.hl7.fhir.validation ObservationValidator) checks an Observation against the
#: R4 body temperature profile: LOINC 8310-5 body temperature and its variants by site or
#: method (8331-1 oral, 8332-9 rectal, 8333-7 tympanic, 8328-7 axillary, 8329-5 core,
#: 75539-7 temporal artery, 76011-6 ear, 76010-8 nasal, 60836-4 esophageal, 8334-5 urinary
#: bladder …), and SNOMED CT 386725007 body temperature with its variants (276885007 core,
#: 307047009 rectal, 415882003 axillary, 415974002 tympanic …). A reading at one of them at
#: the fever threshold makes a fever, wherever it was taken (fail safe).
TEMPERATURE_CODES = frozenset(
    [(LOINC, c) for c in (
        "8310-5", "60834-9", "60835-6", "60836-4", "60838-0", "60955-2", "61009-7", "75539-7",
        "75987-8", "76010-8", "76011-6", "76278-1", "8309-7", "8328-7", "8329-5", "8330-3",
        "8331-1", "8332-9", "8333-7", "8334-5", "91371-5", "98657-0", "98663-8")]
    + [(SNOMED, c) for c in (
        "386725007", "276885007", "300076005", "1222808002", "364246006", "307047009",
        "708499008", "431598003", "698831002", "698832009", "415882003", "415974002",
        "415929009", "415945006")]
)
#: Fever thresholds by UCUM unit (inclusive).
_FEVER_AT = {"Cel": 38.0, "[degF]": 100.4, "K": 311.15}
#: Body temperatures a living patient can have, by unit: a value outside is a slip (38.5 given
#: in °F is a Celsius value), so it cannot be read, and may be a fever.
_PLAUSIBLE = {"Cel": (25.0, 46.0), "[degF]": (77.0, 115.0), "K": (298.0, 319.0)}
#: A code's text or display that names a body temperature (an Observation coded in no system).
_TEMPERATURE_WORD = re.compile(r"\btemp(?:erature)?\b", re.IGNORECASE)
#: Unit texts seen instead of UCUM codes.
_UNIT_ALIASES = {
    "cel": "Cel", "°c": "Cel", "c": "Cel", "degc": "Cel", "celsius": "Cel", "deg c": "Cel",
    "[degf]": "[degF]", "°f": "[degF]", "f": "[degF]", "degf": "[degF]", "fahrenheit": "[degF]",
    "deg f": "[degF]", "k": "K", "kelvin": "K",
}

_CLINICAL = {
    "active": "active", "recurrence": "active", "relapse": "active",
    "inactive": "resolved", "remission": "resolved", "resolved": "resolved",
}
_VERIFICATION = {
    "unconfirmed": "suspected", "provisional": "suspected", "differential": "suspected",
    "confirmed": "active", "refuted": "refuted", "entered-in-error": "entered-in-error",
}
#: The code systems of Condition.clinicalStatus and .verificationStatus (required bindings: a
#: coding of another system, or of none, says nothing of the status).
_STATUS_SYSTEMS = {
    "clinicalStatus": "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "verificationStatus": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
}
#: Record statuses, the one that counts most first (a field with two codings takes the first:
#: refuted and confirmed together count as present).
_COUNTING_FIRST = ("active", "suspected", "resolved", "refuted", "entered-in-error")
#: Across clinicalStatus and verificationStatus, the one that overrides the other first.
_OVERRIDING_FIRST = ("entered-in-error", "refuted", "resolved", "suspected", "active")

#: Required code bindings of the elements read (FHIR R4); the model does not check them.
_BUNDLE_TYPES = frozenset({
    "document", "message", "transaction", "transaction-response", "batch", "batch-response",
    "history", "searchset", "collection",
})
_STATUSES = {
    "Procedure": frozenset({
        "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
        "entered-in-error", "unknown",
    }),
    "Observation": frozenset({
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    }),
    "ServiceRequest": frozenset({
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
    }),
}
_NOT_DONE = {
    "Procedure": frozenset({"not-done", "entered-in-error"}),
    "Observation": frozenset({"cancelled", "entered-in-error"}),
}
#: The Procedure statuses of one not over yet (in progress, or paused to resume).
_GOING_ON = frozenset({"in-progress", "on-hold"})
#: The ServiceRequest statuses of an order that may still be carried out (on hold: it may
#: resume; unknown: it may be any, fail safe).
PLANNING = frozenset({"draft", "active", "on-hold", "unknown"})
_LATERALITY_WORDS = {"left": "left", "right": "right", "bilateral": "bilateral"}
#: Words of a body site that names nothing but a laterality ("Right and left (qualifier value)").
_LATERALITY_TEXT = frozenset({*_LATERALITY_WORDS, "and", "side", "sided", "qualifier", "value"})
#: Words that join or qualify the names of a text without naming anything themselves
#: ("Structure of left knee joint", "Effleurage and petrissage", "Quadriceps muscle"). Any
#: other word a text holds beside the names read from it may name what the vocabulary does not
#: know ("Effleurage followed by deep friction", "calf and popliteal fossa"): fail safe, the
#: text then also counts as written.
_NEUTRAL_WORDS = _LATERALITY_TEXT | frozenset({
    "or", "of", "the", "a", "an", "with", "to", "on", "at", "in", "both", "structure",
    "structures", "entire", "region", "area", "muscle", "muscles", "massage", "therapy",
    "technique", "procedure", "body", "part", "regime",
})
_WORD = re.compile(r"[^\W_]+")
_LONGEST_NAME = 6  # words
#: Characters of a text read for names (a longer one also counts as written: fail safe).
_LONGEST_TEXT = 2_000


# --- the ontology's terms ---------------------------------------------------------------------


def _instances(top: URIRef) -> set[URIRef]:
    graph = ontology_graph()
    classes = set(graph.transitive_subjects(RDFS.subClassOf, top))
    return {s for c in classes for s in graph.subjects(RDF.type, c) if isinstance(s, URIRef)}


def _sct_codes(term: URIRef, properties: Iterable[URIRef]) -> set[str]:
    graph = ontology_graph()
    return {
        str(o)[len(_SCT_IRI):]
        for p in properties
        for o in graph.objects(term, p)
        if str(o).startswith(_SCT_IRI)
    }


@cache
def _tables() -> dict[str, dict[str, str]]:
    """Lookups read from the ontology: region names, SNOMED CT codes of sites and sides."""
    graph = ontology_graph()
    regions: dict[str, str] = {}
    for term in sorted(_instances(KM.BodyRegion)):
        names = [local_name(term)]
        names += [str(o) for p in (RDFS.label, SKOS.altLabel) for o in graph.objects(term, p)]
        for name in names:
            regions.setdefault(name_key(name), local_name(term))
    sites = {
        code: local_name(term)
        for term in sorted(_instances(KM.BodyRegion) | _instances(KM.AnatomicalStructure))
        for code in _sct_codes(term, (SKOS.exactMatch,))
    }
    sides = {
        code: str(notation)
        for term in _instances(KM.Side)
        for notation in graph.objects(term, SKOS.notation)
        for code in _sct_codes(term, (SKOS.exactMatch,))
    }
    return {"regions": regions, "sites": sites, "sides": sides}


def _structure(text: str) -> str | None:
    term = target_named(text)
    return local_name(term) if term is not None else None


def _site_named(text: str) -> str | None:
    """The region or structure a name means (local name), or ``None``."""
    return _tables()["regions"].get(name_key(text)) or _structure(text)


def _technique(text: str) -> str | None:
    term = technique_named(text)
    return local_name(term) if term is not None else None


def _read_names(text: str, lookup: Callable[[str], str | None]) -> tuple[list[str], bool]:
    """The terms named in ``text`` (the longest runs of words that ``lookup`` knows, in order:
    ``"Structure of knee joint"`` → ``["KneeJoint"]``), and whether ``text`` holds other
    words than those names and the neutral ones (``"Effleurage (deep)"`` → ``True``)."""
    words = _WORD.findall(text[:_LONGEST_TEXT])
    found: list[str] = []
    unread = len(text) > _LONGEST_TEXT  # the rest is not read: it may name anything
    start = 0
    while start < len(words):
        for length in range(min(_LONGEST_NAME, len(words) - start), 0, -1):
            term = lookup(" ".join(words[start:start + length]))
            if term is not None:
                if term not in found:
                    found.append(term)
                start += length
                break
        else:
            unread = unread or words[start].casefold() not in _NEUTRAL_WORDS
            start += 1
    return found, unread


def _sides_in(text: str) -> set[str]:
    return {_LATERALITY_WORDS[w] for w in map(str.casefold, _WORD.findall(text))
            if w in _LATERALITY_WORDS}


# --- reading JSON ---------------------------------------------------------------------------


def is_fhir(obj: object) -> bool:
    """Whether ``obj`` is a FHIR resource in JSON: a mapping with a ``resourceType``.

    >>> is_fhir({"resourceType": "Bundle"}), is_fhir({"id": "p-1"}), is_fhir([])
    (True, False, False)
    """
    return isinstance(obj, Mapping) and "resourceType" in obj


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    """The codings of a CodeableConcept (an empty list for anything else)."""
    if not isinstance(concept, Mapping):
        return []
    return [c for c in _list(concept.get("coding")) if isinstance(c, Mapping)]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _code_of(coding: Mapping[str, Any]) -> str | None:
    code = _text(coding.get("code"))
    return code.strip() if code is not None else None


def _is(coding: Mapping[str, Any], system: str) -> bool:
    """Whether a coding is of ``system`` (a coding without a system is taken as any)."""
    given = coding.get("system")
    return given is None or given == system


def _record_codes(concept: Any) -> dict[str, Any] | list[dict[str, Any]] | None:
    """Every coding of a CodeableConcept that says something (a code, a system or a display),
    as record code objects: one object, an array when there are several, ``None`` when there
    is none. A coding without a code is kept without one: it cannot be read, so its item is
    unrecognised (a display-only "Fracture of femur" beside a knee pain code is no knee pain
    alone)."""
    out = []
    for coding in _codings(concept):
        code = _text(coding.get("code"))
        one: dict[str, Any] = {}
        if isinstance(coding.get("system"), str):
            one["system"] = coding["system"]
        if code is not None:
            one["code"] = code
        elif not one and _text(coding.get("display")) is None:
            continue  # an empty coding says nothing
        display = _text(coding.get("display"))
        if display is not None:
            one["display"] = display
        out.append(one)
    if not out:
        return None
    return out[0] if len(out) == 1 else out


def _date(value: Any, at: datetime | None = None) -> str | None:
    """A FHIR date or dateTime in an xsd form: a partial date (``2019``, ``2019-05``) as the
    last day it can mean, but not after the assessment day ``at`` when it holds that day.

    >>> _date("2019"), _date("2020-02"), _date("2019-05-19"), _date("2019-05-19T19:33:18Z")
    ('2019-12-31', '2020-02-29', '2019-05-19', '2019-05-19T19:33:18Z')
    >>> _date("2026", datetime(2026, 11, 20, 10, tzinfo=timezone.utc))
    '2026-11-20'
    """
    text = _text(value)
    if text is None:
        return None
    if re.fullmatch(r"[0-9]{4}", text):
        first, last = date(int(text), 1, 1), date(int(text), 12, 31)
    elif (match := re.fullmatch(r"([0-9]{4})-([0-9]{2})", text)) and 1 <= int(match.group(2)) <= 12:
        year, month = int(match.group(1)), int(match.group(2))
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
    else:
        return text
    if at is not None and first <= at.astimezone(timezone.utc).date() < last:
        last = at.astimezone(timezone.utc).date()
    return last.isoformat()


def _period_date(resource: Mapping[str, Any], prefix: str, at: datetime) -> str | None:
    """``<prefix>DateTime``, else the latest instant ``<prefix>Period`` can mean: its end, or
    the assessment time when it has none (an onset or a surgery still going on may have
    begun now: fail safe, not its start); another form (``onsetAge``, ``onsetString`` …: no
    date) as it is written, a value that is no date, so that the item counts from the
    assessment time and validation says why (fail safe: it does not fall through to
    ``recordedDate``)."""
    found = _date(resource.get(prefix + "DateTime"), at)
    if found is not None:
        return found
    period = resource.get(prefix + "Period")
    if isinstance(period, Mapping) and (period.get("start") or period.get("end")):
        return _date(period.get("end"), at) or _instant_text(at)
    other = sorted(key for key in resource if key.startswith(prefix) and key != prefix)
    if other:
        return cut(f"{other[0]}: {json.dumps(resource[other[0]], ensure_ascii=False)}", 80)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --- checking -------------------------------------------------------------------------------


def _where(index: int, resource: Mapping[str, Any]) -> str:
    return f"entry[{index}] ({cut(resource_name(resource), 60)})"


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("root", "__root__"):
            out += f".{part}" if out else str(part)
    return out


def _model_errors(exc: Exception) -> tuple[str, str | None]:
    """A model error for a person (at most three problems), and the path of the first."""
    errors = getattr(exc, "errors", None)
    listed: list[Any] = []
    if callable(errors):
        try:
            listed = list(errors())
        except Exception:  # pragma: no cover - a library error type without a usable list
            listed = []
    paths = [_path(e.get("loc", ())) for e in listed]
    parts = [f"{path or '(resource)'}: {e.get('msg', 'invalid')}"
             for path, e in zip(paths[:3], listed[:3], strict=True)]
    if not parts:
        text = str(exc).strip()
        return (text.splitlines()[0] if text else type(exc).__name__), None
    more = f" (and {len(listed) - 3} more)" if len(listed) > 3 else ""
    return "; ".join(parts) + more, paths[0] or None


def unknown_type(kind: str) -> str | None:
    """Why ``kind`` is no FHIR R4 resource type (``"condition"``, ``"Conditon"``), or ``None``
    when it is one. A resource of an unknown type is never skipped as one not read: it may be
    the misspelt Condition that a decision needs."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(kind)
    except ValueError:
        return f"{cut(kind, 40)!r} is not a FHIR R4 resource type (they are case-sensitive)"
    return None


def _validate(kind: str, data: Mapping[str, Any], source: str, where: str | None) -> None:
    """Check ``data`` against the FHIR model of ``kind``; a RecordError if it is not valid
    (its field ``where``, else the path of the first problem)."""
    from fhir.resources.R4B import get_fhir_model_class

    why = unknown_type(kind)
    if why is not None:
        raise RecordError(source, why, field=where or "resourceType")
    try:
        get_fhir_model_class(kind).model_validate(dict(data))
    except (ValueError, TypeError) as exc:
        detail, path = _model_errors(exc)
        raise RecordError(source, f"not valid FHIR R4 ({kind}): {detail}",
                          field=where or path) from None


def _check_code(value: Any, allowed: frozenset[str], what: str, source: str,
                where: str | None) -> None:
    if value is not None and value not in allowed:
        raise RecordError(
            source,
            f"not valid FHIR R4: {what} {cut(str(value), 40)!r} is not one of "
            f"{', '.join(sorted(allowed))}",
            field=where,
        )


def _check_resource(kind: str, resource: Mapping[str, Any], source: str, where: str) -> None:
    _validate(kind, resource, source, where)
    if kind in _STATUSES:
        _check_code(resource.get("status"), _STATUSES[kind], f"{kind}.status", source, where)
    if kind == "Condition":
        for element, table in (("clinicalStatus", _CLINICAL),
                               ("verificationStatus", _VERIFICATION)):
            concept = resource.get(element)
            if concept is None:
                continue
            codes = _status_codes(concept, element)
            if not any(code in table for code in codes):
                given = ", ".join(repr(cut(c, 40)) for c in codes if c)
                raise RecordError(
                    source,
                    f"not valid FHIR R4: Condition.{element} has "
                    + (f"the code(s) {given}" if given else "no code")
                    + f" of {_STATUS_SYSTEMS[element]} (its required binding): give one of "
                    + ", ".join(sorted(table)),
                    field=where)


def _status_codes(concept: Any, element: str) -> list[str | None]:
    """The codes of a Condition status (``element``) in its own code system."""
    return [_code_of(c) for c in _codings(concept)
            if c.get("system") == _STATUS_SYSTEMS[element]]


def _check_bundle(bundle: Mapping[str, Any], source: str) -> list[Any]:
    """Check the Bundle itself (its entries' resources are checked one by one, later);
    return its entries."""
    entries = bundle.get("entry")
    shell = dict(bundle)
    if isinstance(entries, list):
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, Mapping) else e
            for e in entries
        ]
    _validate("Bundle", shell, source, None)
    _check_code(bundle.get("type"), _BUNDLE_TYPES, "Bundle.type", source, "type")
    return entries if isinstance(entries, list) else []


#: Issue types that say a search result is not whole, whatever their severity (also data
#: withheld: "suppressed" by consent, "security" and its "forbidden", "login").
_CUT_SHORT = frozenset({"too-costly", "incomplete", "throttled", "timeout", "too-long",
                        "suppressed", "security", "forbidden", "login"})


def outcome_issues(outcome: Mapping[str, Any], severities: Iterable[str] = ("error", "fatal")
                   ) -> list[str]:
    """The issues of an OperationOutcome of the given severities, or of a type that says the
    result was cut short (a warning "too-costly": results truncated), as ``severity: text``."""
    issues = outcome.get("issue")
    wanted = set(severities)
    found = []
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping) or (issue.get("severity") not in wanted
                                              and issue.get("code") not in _CUT_SHORT):
            continue
        details = issue.get("details")
        text = issue.get("diagnostics") or (
            details.get("text") if isinstance(details, Mapping) else None)
        found.append(f"severity {issue.get('severity')}: "
                     + cut(str(text or issue.get("code") or "no text"), 120))
    return found


_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/]+?)(?:/_history/[^/]*)?$")


def _match(entry: object) -> bool:
    """Whether a Bundle entry is a search match (not an included resource, not an outcome)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
        return False
    search = entry.get("search")
    mode = search.get("mode") if isinstance(search, Mapping) else None
    return mode not in ("include", "outcome") and (
        entry["resource"].get("resourceType") != "OperationOutcome")


def incomplete(bundle: Mapping[str, Any]) -> str | None:
    """Why ``bundle`` is one page or part of a search result (a ``next`` link; a ``total``
    above the matches it holds), else ``None``: the rest of the data,
    which a decision cannot do without, is elsewhere."""
    links = bundle.get("link")
    if isinstance(links, list) and any(
            isinstance(link, Mapping) and isinstance(link.get("relation"), str)
            and link["relation"].strip().lower() in ("next", "previous", "prev")
            for link in links):
        return ("the search result is paginated (a 'next' or 'previous' link): give every "
                "page")
    entries = bundle.get("entry")
    matches = sum(1 for e in (entries if isinstance(entries, list) else []) if _match(e))
    total = bundle.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total > matches:
        return f"the search found {total} resources but the Bundle holds {matches}: give them all"
    return None


def other_patient(resource: Mapping[str, Any], patient_id: str | None,
                  full_url: str | None = None) -> str | None:
    """The reference by which ``resource`` (its ``subject`` or ``patient``) names a patient
    other than ``patient_id`` (or than the Patient entry's ``full_url``), else ``None``."""
    for key in ("subject", "patient"):
        ref = resource.get(key)
        text = ref.get("reference") if isinstance(ref, Mapping) else None
        if not isinstance(text, str) or text == full_url:
            continue
        match = _PATIENT_REF.search(text)
        if match and patient_id is not None and match.group(1) != patient_id:
            return text
        if not match and full_url and text.startswith("urn:"):
            return text
    return None


# --- body sites -----------------------------------------------------------------------------


def _sct_parts(code: str) -> tuple[list[str], list[str]]:
    """The focus concepts and laterality values of a SNOMED CT code or post-coordinated
    expression (``182204005:272741003=7771000`` → ``(["182204005"], ["7771000"])``)."""
    expression = re.sub(r"\|[^|]*\|", " ", code)
    focus, _, refinement = expression.partition(":")
    sides = re.findall(_LATERALITY_ATTRIBUTE + r"\s*=\s*\(?\s*([0-9]+)", refinement)
    return re.findall(r"[0-9]+", focus), sides


def _extension_codings(node: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Codings held by the extensions of ``node`` (nested extensions too)."""
    if not isinstance(node, Mapping) or depth > 5:
        return
    for ext in _list(node.get("extension")):
        if not isinstance(ext, Mapping):
            continue
        if isinstance(ext.get("valueCoding"), Mapping):
            yield ext["valueCoding"]
        yield from _codings(ext.get("valueCodeableConcept"))
        yield from _extension_codings(ext, depth + 1)


class _BodySite:
    """What one ``bodySite`` CodeableConcept says: sites (local names), sides, its text."""

    def __init__(self, concept: Any, lookup: Callable[[str], str | None]) -> None:
        tables = _tables()
        self.names: list[str] = []
        self.sides: set[str] = set()
        texts: list[str] = []
        if isinstance(concept, Mapping) and _text(concept.get("text")):
            texts.append(concept["text"])
        codings = _codings(concept) + list(_extension_codings(concept))
        for coding in codings:
            code = _code_of(coding)
            if code is not None and _is(coding, SNOMED):
                focus, sides = _sct_parts(code)
                self.sides.update(tables["sides"][s] for s in sides if s in tables["sides"])
                for one in focus:
                    if one in tables["sides"]:
                        self.sides.add(tables["sides"][one])
                    elif one in tables["sites"] and lookup(tables["sites"][one]):
                        self._add(tables["sites"][one])
            if _text(coding.get("display")):
                texts.append(coding["display"])
        #: Whether a text also holds words that name nothing known (it may name another site).
        self.unread = False
        for text in texts:
            self.sides |= _sides_in(text)
            names, unread = _read_names(text, lookup)
            self.unread = self.unread or unread
            for name in names:
                self._add(name)
        self.text = texts[0].strip() if texts else None
        words = {w.casefold() for text in texts for w in _WORD.findall(text)}
        codes = [code for code in map(_code_of, _codings(concept)) if code]
        #: Whether it says nothing but a laterality (it then qualifies the other body sites).
        self.laterality_only = (
            bool(self.sides) and not self.names and words <= _LATERALITY_TEXT
            and all(code in tables["sides"] for code in codes)
        )

    def _add(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)


def _side(sides: set[str]) -> str | None:
    if not sides:
        return None
    if "bilateral" in sides or {"left", "right"} <= sides:
        return "bilateral"
    return next(iter(sides))


def _concepts(value: Any) -> list[Any]:
    """A ``bodySite``: a list of CodeableConcepts, or one (``Observation.bodySite``)."""
    return [value] if isinstance(value, Mapping) else _list(value)


def _site_and_side(concepts: Any) -> dict[str, str]:
    """``site`` (when every body site names the same one and nothing else) and ``side`` of an
    item."""
    sites = [_BodySite(c, _site_named) for c in _concepts(concepts)]
    out: dict[str, str] = {}
    named = [s for s in sites if not s.laterality_only]
    names = {tuple(s.names) for s in named}
    if named and len(names) == 1 and len(named[0].names) == 1 and not any(
            s.unread for s in named):
        out["site"] = named[0].names[0]
    side = _side(set().union(*(s.sides for s in sites)) if sites else set())
    if side is not None:
        out["side"] = side
    return out


# --- resources → items ----------------------------------------------------------------------


def _status(candidates: Iterable[str | None], order: tuple[str, ...]) -> str | None:
    found = {c for c in candidates if c is not None}
    return next((s for s in order if s in found), None)


def _abates_later(resource: Mapping[str, Any], at: datetime) -> bool:
    """Whether a Condition's abatement (``abatementDateTime``, or an ``abatementPeriod`` by its
    start or its end) lies after the assessment time, or before its onset (a record that
    contradicts itself: the condition may be going on)."""
    period = resource.get("abatementPeriod")
    texts = [resource.get("abatementDateTime")] + (
        [period.get("start"), period.get("end")] if isinstance(period, Mapping) else [])
    onset = parse_date(_period_date(resource, "onset", at) or "")
    return any((parsed := parse_date(text)) is not None
               and (parsed.instant > at or (onset is not None and parsed.instant < onset.instant))
               for value in texts if (text := _date(value, at)) is not None)


def _condition_status(resource: Mapping[str, Any], at: datetime) -> str | None:
    """A Condition's record status from its clinical and verification statuses; resolved
    (also inactive, remission) only once it has abated: not with an abatement date after the
    assessment time (it was still going on then)."""
    clinical = _status((_CLINICAL.get(code or "") for code in
                        _status_codes(resource.get("clinicalStatus"), "clinicalStatus")),
                       _COUNTING_FIRST)
    if clinical == "resolved" and _abates_later(resource, at):
        clinical = "active"
    verification = _status((_VERIFICATION.get(code or "") for code in
                            _status_codes(resource.get("verificationStatus"),
                                          "verificationStatus")), _COUNTING_FIRST)
    return _status((clinical, verification), _OVERRIDING_FIRST)


def _condition(resource: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {}
    codes = _record_codes(resource.get("code"))
    if codes is not None:
        item["code"] = codes
    status = _condition_status(resource, at)
    if status is not None:
        item["status"] = status
    onset = _period_date(resource, "onset", at)
    if onset is not None:
        item["onset"] = onset
    recorded = _date(resource.get("recordedDate"), at)
    if recorded is not None:
        item["recorded_at"] = recorded
    item.update(_site_and_side(resource.get("bodySite")))
    return item


def _procedure(resource: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {}
    codes = _record_codes(resource.get("code"))
    if codes is not None:
        item["code"] = codes
    if resource.get("status") in _NOT_DONE["Procedure"]:
        item["status"] = "entered-in-error"
    performed = _period_date(resource, "performed", at)
    if resource.get("status") in _GOING_ON:  # not over: its date may be when it began
        performed = _instant_text(at)
    if performed is not None:
        item["date"] = performed
    item.update(_site_and_side(resource.get("bodySite")))
    return item


# --- codes anywhere --------------------------------------------------------------------------

#: (system, code) pairs of SNOMED CT and ICD-10-CM codings.
Known = frozenset[tuple[str, str]]
_CODE_SYSTEMS = (SNOMED, str(ICD10CM_SYSTEM))
#: Resources whose codes say nothing present about the patient: another person's history,
#: what may happen on an exposure, a predicted risk, definitions; the Patient and outcomes.
_NOT_FACTS = frozenset({
    "Patient", "FamilyMemberHistory", "AllergyIntolerance", "RiskAssessment",
    "OperationOutcome", "Bundle", "Questionnaire", "PlanDefinition", "ActivityDefinition",
    "ValueSet", "CodeSystem", "ConceptMap", "StructureDefinition", "Library", "Measure",
    "MeasureReport", "ObservationDefinition", "SpecimenDefinition", "EvidenceVariable",
    "ResearchDefinition", "ResearchElementDefinition",
})
#: Elements whose codes name what is asked for, not what the patient has (a knee replacement
#: requested is not one done).
_ASKED_FOR = frozenset({"code", "serviceType", "serviceCategory", "appointmentType"})
#: The elements each resource type read as items already says (not read again).
_READ_KEYS = {
    "Condition": frozenset({"code", "clinicalStatus", "verificationStatus", "bodySite"}),
    "Procedure": frozenset({"code", "complication", "bodySite"}),
    "Observation": frozenset({"code", "valueCodeableConcept", "component", "bodySite"}),
    "ServiceRequest": frozenset({"bodySite"}),
}
#: Elements that hold no clinical statement (their codes are about the data).
_NOT_STATEMENTS = frozenset({"resourceType", "id", "meta", "text", "contained", "identifier"})
#: Top-level dates of a resource, read for the time a swept code counts from (the latest).
_WHEN_KEYS = ("effectiveDateTime", "effectiveInstant", "issued", "authoredOn", "authored",
              "date", "recordedDate", "assertedDate", "occurrenceDateTime", "onsetDateTime",
              "performedDateTime", "created")
_WHEN_PERIODS = ("effectivePeriod", "period", "occurrencePeriod", "onsetPeriod",
                 "performedPeriod")
_DEEPEST = 100
#: Record statuses of an item that does not count.
_ABSENT = frozenset({"resolved", "refuted", "entered-in-error"})


def _pairs(concept: Any) -> set[tuple[str, str]]:
    """The (system, code) of each SNOMED CT or ICD-10-CM coding of a CodeableConcept (a
    coding without a system taken as SNOMED CT, as elsewhere here)."""
    out = set()
    for coding in _codings(concept):
        code, system = _code_of(coding), coding.get("system", SNOMED)
        if code is not None and system in _CODE_SYSTEMS:
            out.add((str(system), code))
    return out


def _coded(node: Any, source: str, where: str, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every CodeableConcept under ``node``, and every bare Coding (``valueCoding``) as a
    CodeableConcept of its own."""
    if depth > _DEEPEST:
        raise RecordError(source, f"nested more than {_DEEPEST} levels deep", field=where)
    if isinstance(node, list):
        for one in node:
            yield from _coded(one, source, where, depth + 1)
    elif isinstance(node, Mapping):
        if isinstance(node.get("coding"), list):
            yield node
        elif isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
            yield {"coding": [node]}
        for key, value in node.items():
            if key != "coding":
                yield from _coded(value, source, where, depth + 1)


def _statements(kind: str | None, resource: Mapping[str, Any], at: datetime
                ) -> Iterator[tuple[str, Any]]:
    """The elements of a resource whose codes may state what the patient has, by name: all
    but those read already (``kind``: the type it was read as) and what is asked for."""
    if resource.get("resourceType") in _NOT_FACTS or resource.get("status") == "entered-in-error":
        return
    if kind == "Condition" and _condition_status(resource, at) in _ABSENT:
        return  # a resolved or refuted condition's evidence is its history
    skip = _NOT_STATEMENTS | _READ_KEYS.get(kind or "", frozenset())
    if str(resource.get("resourceType", "")).endswith("Request") or kind == "ServiceRequest":
        skip |= _ASKED_FOR
    for key, value in resource.items():
        if key not in skip:
            yield key, value


def _candidates(resources: Iterable[tuple[str, str | None, Mapping[str, Any]]], at: datetime,
                source: str) -> set[tuple[str, str]]:
    """The SNOMED CT and ICD-10-CM codings the resources state (see :func:`_statements`) or
    whose read elements may make a finding (an Observation's code or value)."""
    found: set[tuple[str, str]] = set()
    for where, kind, resource in resources:
        for _, value in _statements(kind, resource, at):
            for concept in _coded(value, source, where):
                found |= _pairs(concept)
        if resource.get("resourceType") == "Observation":
            parts = [resource] + [c for c in _list(resource.get("component"))
                                  if isinstance(c, Mapping)]
            for part in parts:
                found |= _pairs(part.get("code")) | _pairs(part.get("valueCodeableConcept"))
    return found


def _mapped(pairs: set[tuple[str, str]], at: datetime) -> Known:
    """The codings the knowledge base maps to a condition, finding or procedure, as the
    decision engine reads codes (its classification stages, on one probe record holding each
    coding as a finding): the mapping is stated once, in the ontology."""
    if not pairs:
        return frozenset()
    from .engine import default_engine
    from .records import load_record

    ordered = sorted(pairs)
    probe = load_record({"id": "fhir-code-probe", "findings": [
        {"code": {"system": system, "code": code}} for system, code in ordered]}, at=at)
    engine = default_engine()
    recognized = {row["s"] for row in engine.classify(engine.chunk([(probe, at)]))
                  if row["p"] == str(KM.recognized)}
    return frozenset(pair for index, pair in enumerate(ordered)
                     if f"{probe.iri}/findings/{index}" in recognized)


def _when(resource: Mapping[str, Any], at: datetime) -> str | None:
    """The latest date a resource gives at its top level (a period: its end, else the
    assessment time), ``None`` when it gives none."""
    found = [d for key in _WHEN_KEYS if (d := _date(resource.get(key), at)) is not None]
    for key in _WHEN_PERIODS:
        period = resource.get(key)
        if isinstance(period, Mapping) and (period.get("start") or period.get("end")):
            found.append(_date(period.get("end"), at) or _instant_text(at))
    dated = [(parsed.instant, text) for text in found if (parsed := parse_date(text))]
    return max(dated)[1] if dated else None


def _swept(kind: str | None, resource: Mapping[str, Any], known: Known, at: datetime,
           source: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(element, finding)`` for each coded concept the resource states outside what was read
    of it (an Encounter's reason, a report's conclusion, a condition's evidence, an answer, an
    extension …) that the knowledge base maps: a finding with its codes, counting from the
    latest date the resource gives (none: the assessment time). It is an item of its own (a
    resolved or refuted Condition of the Bundle cancels nothing), with no site or side but
    those its codes imply: a resource's ``bodySite`` is that of what it is about, not of what
    it mentions (a DVT as the evidence of a cellulitis of the right knee)."""
    out: list[tuple[str, dict[str, Any]]] = [(key, {"code": _record_codes(concept)})
           for key, value in _statements(kind, resource, at)
           for concept in _coded(value, source, where) if _pairs(concept) & known]
    when = _when(resource, at) if out else None  # its dates are read only when it counts
    if when is not None:
        for _, item in out:
            item["recorded_at"] = when
    return out


#: A reference to a Condition, relative or absolute, with or without its version.
_CONDITION_REF = re.compile(r"(?:^|/)Condition/([^/]+?)(?:/_history/[^/]*)?$")


def _references(node: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every Reference under ``node``: an object with a ``reference``, or a logical one (a
    ``type`` with an ``identifier`` or a ``display``)."""
    if depth > _DEEPEST:
        return
    if isinstance(node, list):
        for one in node:
            yield from _references(one, depth + 1)
    elif isinstance(node, Mapping):
        if isinstance(node.get("reference"), str) or (
                isinstance(node.get("type"), str) and ("identifier" in node or "display" in node)):
            yield node
        for value in node.values():
            yield from _references(value, depth + 1)


def _unsent(kind: str | None, resource: Mapping[str, Any], at: datetime,
            present: set[str]) -> list[tuple[str, str]]:
    """``(element, reference)`` for each reference to a Condition that the resource states
    (:func:`_statements`: not in a resolved Condition, a resource entered in error …) and that
    names none of the Bundle's Conditions (``present``: ``Condition/<id>`` and full URLs): a
    massage order's reason, a procedure's indication, an encounter's diagnosis. The condition
    exists, and what it is was not sent."""
    out = []
    for key, value in _statements(kind, resource, at):
        for ref in _references(value):
            text = ref.get("reference")
            if isinstance(text, str):
                named = _CONDITION_REF.search(text)
                if text.startswith("#") or text in present or (
                        named is None and ref.get("type") != "Condition") or (
                        named is not None and f"Condition/{named.group(1)}" in present):
                    continue
            elif ref.get("type") != "Condition":
                continue
            out.append((key, text if isinstance(text, str) else
                        f"Condition {_text(ref.get('display')) or '(by identifier)'}"))
    return out


def _modifier(node: Any, depth: int = 0) -> str | None:
    """The url of a ``modifierExtension`` anywhere in a resource (or ``implicitRules``): an
    element that may change what the rest means, which kgmassage does not understand."""
    if depth > _DEEPEST:
        return None
    if isinstance(node, list):
        return next((m for one in node if (m := _modifier(one, depth + 1))), None)
    if not isinstance(node, Mapping):
        return None
    if "implicitRules" in node:
        return f"implicitRules {cut(str(node['implicitRules']), 60)}"
    modifiers = _list(node.get("modifierExtension"))
    if modifiers:
        url = modifiers[0].get("url") if isinstance(modifiers[0], Mapping) else None
        return f"modifierExtension {cut(str(url), 60)}"
    return next((m for key, value in node.items() if key != "contained"
                 if (m := _modifier(value, depth + 1))), None)


def withheld(node: Any) -> bool:
    """Whether a resource's (or the Bundle's) security labels or tags say data was withheld
    (``REDACTED``) or left out (``SUBSETTED``)."""
    meta = node.get("meta") if isinstance(node, Mapping) else None
    labels = [*_list(meta.get("security")), *_list(meta.get("tag"))] if isinstance(
        meta, Mapping) else []
    return any(isinstance(c, Mapping) and c.get("code") in ("REDACTED", "SUBSETTED")
               for c in labels)


def _is_temperature(concept: Any) -> bool:
    """Whether a CodeableConcept codes a body temperature, or names one in its text or a
    display without a code of a known system (``{"text": "Body temperature"}``)."""
    codings = _codings(concept)
    if any((system, _code_of(c)) in TEMPERATURE_CODES
           for c in codings for system in (LOINC, SNOMED) if _is(c, system)):
        return True
    if any(_is(c, LOINC) or _is(c, SNOMED) for c in codings if _code_of(c)):
        return False  # coded as something else
    texts = [concept.get("text") if isinstance(concept, Mapping) else None,
             *(c.get("display") for c in codings)]
    return any(isinstance(t, str) and _TEMPERATURE_WORD.search(t) for t in texts)


def _finding_concept(resource: Mapping[str, Any], known: Known) -> Any:
    """The CodeableConcept (``code``, else ``valueCodeableConcept``) of an Observation or of
    one of its components coding a condition, finding or procedure the ontology maps, in
    SNOMED CT or ICD-10-CM (erythema, joint effusion; a DVT recorded as an observation too),
    or ``None``."""
    for concept in (resource.get("code"), resource.get("valueCodeableConcept")):
        if _pairs(concept) & known:
            return concept
    return None


def _relevant_observation(resource: Mapping[str, Any], known: Known) -> bool:
    """Whether an Observation may make a finding (then it is checked); one whose code cannot
    be read at all is taken as relevant, so it is checked (and refused when invalid)."""
    code = resource.get("code")
    if not isinstance(code, Mapping) or not isinstance(code.get("coding", []), list):
        return True
    if _is_temperature(code) or _finding_concept(resource, known) is not None:
        return True
    return any(
        isinstance(component, Mapping) and (_is_temperature(component.get("code"))
                                             or _finding_concept(component, known) is not None)
        for component in _list(resource.get("component"))
    )


def _unit(quantity: Mapping[str, Any], value: float) -> str:
    """The UCUM unit of a temperature; an unknown one is read from the value's range."""
    code = quantity.get("code")
    if isinstance(code, str) and code in _FEVER_AT and _is(quantity, UCUM):
        return code
    for text in (code, quantity.get("unit")):
        if isinstance(text, str) and name_key(text) in _UNIT_ALIASES:
            return _UNIT_ALIASES[name_key(text)]
    return "Cel" if value < 50 else "[degF]" if value < 150 else "K"


#: Observation interpretations (HL7 v3) under which a temperature may be a fever.
_HIGH = frozenset({"H", "HH", "HU", "HX", ">", "A", "AA"})
_HIGH_TEXT = re.compile(r"high|abnormal|febrile|fever|pyrexi", re.IGNORECASE)

_TEMPERATURE_TEXT = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*(.*?)\s*")


def _febrile(part: Mapping[str, Any]) -> bool:
    """Whether an Observation (or a component) holds a temperature at the fever threshold, or
    one that may be (fail safe): above a bound (``> 37.9``), below a bound above it
    (``< 39``: 38.5 is below 39), a value no living patient has in its unit (38.5 °F), or a
    value that cannot be read (``"hot"``, a quantity without a number). A temperature with no
    value (a ``dataAbsentReason``) is no reading, unless it is interpreted as high or
    abnormal (``H``, ``HH``, ``HU``, ``HX``, ``>``, ``A``, ``AA`` in any case, or a text saying
    high, abnormal or fever), as any reading so interpreted is."""
    if not _is_temperature(part.get("code")):
        return False
    if _interpreted_high(part):
        return True
    quantity = part.get("valueQuantity")
    if isinstance(quantity, Mapping):
        value = _number(quantity.get("value"))
        comparator = quantity.get("comparator")
        if value is None or comparator in (">", ">="):
            return True
        found = _unit(quantity, value)
        if comparator == "<":
            return value > _FEVER_AT[found]
        return _may_be_fever(value, found)
    text = part.get("valueString")
    if isinstance(text, str):  # "38.5 C"
        match = _TEMPERATURE_TEXT.fullmatch(text)
        unit = match.group(2) if match else None
        if match is None or (unit and name_key(unit) not in _UNIT_ALIASES):
            return True
        value = float(match.group(1).replace(",", "."))
        return _may_be_fever(value, _unit({"code": unit} if unit else {}, value))
    return any(key.startswith("value") for key in part)  # another kind of value


def _interpreted_high(part: Mapping[str, Any]) -> bool:
    """Whether an Observation's (or a component's) interpretation says high or abnormal: a
    code of :data:`_HIGH` in any case, or a text or display saying so."""
    for concept in _list(part.get("interpretation")):
        codings = _codings(concept)
        if any((_code_of(c) or "").upper() in _HIGH for c in codings):
            return True
        texts = (concept.get("text") if isinstance(concept, Mapping) else None,
                 *(c.get("display") for c in codings))
        if any(isinstance(t, str) and _HIGH_TEXT.search(t) for t in texts):
            return True
    return False


def _may_be_fever(value: float, unit: str) -> bool:
    """A reading at the threshold, or one no living patient has in ``unit`` (a slip)."""
    low, high = _PLAUSIBLE[unit]
    return value >= _FEVER_AT[unit] or not low <= value <= high


def _effective(resource: Mapping[str, Any], at: datetime) -> tuple[str | None, bool]:
    """``(date, ongoing)``: an Observation's effective time in xsd form (date-time or instant;
    a period's end, else its start when it is still going on; else ``issued``)."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        found = _date(resource.get(key), at)
        if found is not None:
            return found, False
    period = resource.get("effectivePeriod")
    if isinstance(period, Mapping):
        end = _date(period.get("end"), at)
        if end is not None:
            return end, False
        start = _date(period.get("start"), at)
        if start is not None:
            return start, True
    return _date(resource.get("issued"), at), False


def _recent(when: str | None, ongoing: bool, at: datetime) -> bool:
    """Whether a reading counts at ``at``: no more than 72 h before it, or after it, or with no
    readable time (fail safe)."""
    if when is None or ongoing:
        return True
    parsed = parse_date(when)
    return parsed is None or parsed.instant >= at - FEVER_WINDOW


def _observation(resource: Mapping[str, Any], at: datetime, known: Known
                 ) -> list[dict[str, Any]]:
    """The findings of an Observation: a fever (a temperature part at the threshold, recent
    enough), else one finding per part (the Observation, each component) coded with what the
    ontology maps."""
    when, ongoing = _effective(resource, at)
    status = resource.get("status")
    items: list[dict[str, Any]] = []
    parts = [resource] + [c for c in _list(resource.get("component")) if isinstance(c, Mapping)]
    if any(_febrile(part) for part in parts):
        if _recent(when, ongoing, at):
            items.append({"type": "Fever"})
            if when is not None:
                items[-1]["recorded_at"] = when
    else:
        site = _site_and_side(resource.get("bodySite"))  # the Observation's, for every part
        for part in parts:
            concept = _finding_concept(part, known)
            if concept is None:
                continue
            item: dict[str, Any] = {"code": _record_codes(concept)}
            if when is not None:
                item["recorded_at"] = when
            if part.get("valueBoolean") is False:
                item["status"] = "refuted"
            item.update(site)
            items.append(item)
    if status in _NOT_DONE["Observation"]:
        for item in items:
            item["status"] = "entered-in-error"
    return items


def _order_texts(concept: Any) -> list[Any]:
    """The names a ServiceRequest's ``code`` gives: its text, then each coding's display."""
    texts = [concept["text"]] if isinstance(concept, Mapping) and _text(concept.get("text")) else []
    return texts + [c["display"] for c in _codings(concept) if _text(c.get("display"))]


def _plan_names(concept: Any) -> tuple[list[str], str | None, bool]:
    """The techniques a ServiceRequest code names, the name it gives (as written), and whether
    a text of it says more than those techniques (``"Effleurage followed by deep friction"``)."""
    texts = _order_texts(concept)
    techniques: list[str] = []
    more = False
    for text in texts:
        names, unread = _read_names(text, _technique)
        more = more or unread
        for technique in names:
            if technique not in techniques:
                techniques.append(technique)
    return techniques, (texts[0].strip() if texts else None), more


def _words(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.casefold())) + " "


@cache
def _massage_names() -> frozenset[str]:
    """The ontology's names of massage (``km:MassageTherapy``: label and synonyms), as words."""
    graph = ontology_graph()
    return frozenset(_words(str(name)) for p in (RDFS.label, SKOS.altLabel)
                     for name in graph.objects(km_term("MassageTherapy"), p))


def may_be_massage(resource: Mapping[str, Any]) -> bool:
    """Whether a planned ServiceRequest (draft, active, on-hold, unknown) is or may be a
    massage order: coded as massage (SNOMED CT 387854002, CPT 97124 or 97140), its ``code``
    naming a technique or massage, or given in free text only (no coding with a system and a
    code: ``"Cupping"``; ambiguous, so read as one). A coded order of something else (a lab
    test) is not."""
    return _may_be_massage(resource, _plan_names(resource.get("code"))[0])


def _cpt_massage(coding: Mapping[str, Any]) -> bool:
    """Whether a coding is CPT 97124 or 97140, with a modifier too (``97124-59``, ``97124 GP``)."""
    system, code = coding.get("system"), _code_of(coding)
    return (isinstance(system, str) and _CPT_SYSTEM.fullmatch(system.strip()) is not None
            and code is not None and re.split(r"[-\s]", code.strip(), maxsplit=1)[0]
            in MASSAGE_CPT_CODES)


def _may_be_massage(resource: Mapping[str, Any], techniques: list[str]) -> bool:
    """:func:`may_be_massage`, given the ``techniques`` its code names."""
    if resource.get("status") not in PLANNING:
        return False
    concept = resource.get("code")
    codings = _codings(concept)
    if not any(isinstance(c.get("system"), str) and c["system"] and _code_of(c)
               for c in codings):
        return True
    if techniques or any((_is(c, SNOMED) and _code_of(c) == MASSAGE_CODE) or _cpt_massage(c)
                         for c in codings):
        return True
    words = _words(" ".join(t for t in _order_texts(concept) if isinstance(t, str)))
    return any(name in words for name in _massage_names())


def _planned(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The planned items of a ServiceRequest that may be a massage (:func:`may_be_massage`):
    the techniques it names, and its name as written when it names none or says more (not one
    the vocabulary knows: every rule for an unknown technique applies), on each target of its
    ``bodySite`` (a body site's text as written too when it says more than the targets it
    names: an unknown target lies in every region). Its ``orderDetail`` (how to do it) is read
    as more of its name: the techniques it names count too, and any other word it holds
    (``"deep pressure"``) makes the order say more than its techniques."""
    techniques, given, more = _plan_names(resource.get("code"))
    if not _may_be_massage(resource, techniques):
        return []
    details = [t for c in _concepts(resource.get("orderDetail")) for t in _order_texts(c)]
    for text in details:
        names, unread = _read_names(text, _technique)
        more = more or unread
        techniques += [name for name in names if name not in techniques]
    if details and more:
        given = "; ".join(t.strip() for t in [given or "massage", *details])
    sites = [_BodySite(c, _structure) for c in _concepts(resource.get("bodySite"))]
    shared: set[str] = set().union(*(s.sides for s in sites if s.laterality_only))
    targets: list[tuple[str | None, set[str]]] = []
    for site in sites:
        if site.laterality_only:
            continue
        targets += [(name, site.sides | shared) for name in site.names]
        if site.unread or not site.names:
            targets.append((site.text, site.sides | shared))
    if not targets:
        targets = [(None, shared)]
    out: list[dict[str, Any]] = []
    named: list[str | None] = [*techniques, given] if more or not techniques else [*techniques]
    for technique in named:
        for target, sides in targets:
            item: dict[str, Any] = {}
            if technique is not None:
                item["technique"] = technique
            if target is not None:
                item["target"] = target
            side = _side(sides)
            if side is not None:
                item["side"] = side
            out.append(item)
    return out


# --- the Bundle -----------------------------------------------------------------------------

_READ = frozenset({"Patient", "Condition", "Procedure", "Observation", "ServiceRequest"})


def _kind(resource: Mapping[str, Any]) -> str | None:
    """The type a resource is read as when it is read (:func:`_readable` decides)."""
    kind = resource.get("resourceType")
    return str(kind) if kind in _READ else None


def _check_understood(bundle: Mapping[str, Any], found: Iterable[tuple[str, str, Any, Any]],
                      source: str) -> None:
    """Refuse a Bundle with data withheld (a REDACTED security label) or a resource kgmassage
    would read holding a modifier it does not understand (FHIR: a modifier extension may
    change what the rest means; such a resource must not be processed)."""
    if withheld(bundle):
        raise RecordError(source, "the Bundle's security labels or tags say data was "
                          "withheld or left out (REDACTED, SUBSETTED): give all of it",
                          field="meta.security")
    for place, _, one, _ in found:
        if not is_fhir(one) or (one["resourceType"] in _NOT_FACTS
                                and one["resourceType"] != "Patient"):
            continue
        if withheld(one):
            raise RecordError(source, "its security labels or tags say data was withheld or "
                              "left out (REDACTED, SUBSETTED): give all of it", field=place)
        modifier = _modifier(one)
        if modifier is not None:
            raise RecordError(source, f"holds a {modifier}, which may change what the "
                              "resource means and which kgmassage does not understand: it "
                              "cannot be read safely", field=place)


def _instant_text(at: datetime) -> str:
    text = at.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _readable(resource: Any, source: str, where: str, known: Known) -> str | None:
    """The type of a resource the mapping reads (checked: a RecordError if it is not valid),
    ``None`` for one it leaves; a RecordError for what cannot be left: no resourceType, an
    unknown type, a Bundle, an OperationOutcome with an error or saying the data is not
    whole."""
    if not is_fhir(resource):
        raise RecordError(source, "the resource has no resourceType", field=where)
    kind = resource["resourceType"]
    if kind == "Bundle":
        raise RecordError(source, "a Bundle inside the Bundle is not read: give one Bundle "
                          "per patient", field=where)
    if kind == "OperationOutcome" and (issues := outcome_issues(resource)):
        raise RecordError(source, "an OperationOutcome says the data has an error or is not "
                          f"whole ({'; '.join(issues)}): give all of it", field=where)
    if kind not in _READ and (why := unknown_type(kind)) is not None:
        raise RecordError(source, why, field=where)
    if kind not in _READ or (kind == "Observation"
                             and not _relevant_observation(resource, known)):
        return None
    _check_resource(kind, resource, source, where)
    return str(kind)


def _read_item(kind: str, resource: Mapping[str, Any], at: datetime, known: Known
               ) -> list[tuple[str, dict[str, Any]]]:
    """What a (checked) Condition, Procedure, Observation or ServiceRequest says: ``(list,
    item)`` pairs of the record."""
    if kind == "Condition":
        return [("conditions", _condition(resource, at))]
    if kind == "Procedure":
        # a complication (a DVT after a knee replacement) is a condition of the patient
        return [("procedures", _procedure(resource, at))] + [
            ("conditions", {"code": codes}) for concept in _list(resource.get("complication"))
            if (codes := _record_codes(concept)) is not None]
    if kind == "Observation":
        return [("findings", item) for item in _observation(resource, at, known)]
    return [("planned", item) for item in _planned(resource)]


def resource_name(resource: Mapping[str, Any]) -> str:
    """``Condition/abc`` (or ``Condition`` when it has no id)."""
    kind = str(resource.get("resourceType"))
    ident = resource.get("id")
    return f"{kind}/{ident}" if isinstance(ident, str) and ident else kind


def bundle_to_record(
    bundle: Mapping[str, Any], *, at: datetime | str, source: str = "<fhir>",
    sources: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Map a FHIR R4 Bundle (parsed JSON) holding one Patient to a record in the JSON form.

    Args:
        bundle: the Bundle.
        at: the assessment time (a datetime, naive meaning UTC; or an xsd date/date-time text):
            temperature readings more than 72 h before it make no Fever finding. It becomes the
            record's ``assessed_at``.
        source: the file name the Bundle came from, for error messages.
        sources: when given, filled with the resource each item of the record's lists comes
            from, by list and in order (``Condition/abc``; ``Encounter/e1 #dvt`` for a
            contained one; ``Procedure/p1 (complication)``).

    Returns:
        The record: ``id``, ``assessed_at``, ``birth_date`` and the lists ``conditions``,
        ``findings``, ``procedures``, ``planned`` (each only when it has something).

    Raises:
        RecordError: not a Bundle; the Bundle, or a resource it holds that the mapping reads,
            is not valid FHIR R4 (the field names the entry: ``entry[3] (Condition/abc)``); an
            entry's resource without a ``resourceType``; a Bundle inside the Bundle; no
            Patient, or more than one.
        ParameterError: ``at`` is a text that is not an xsd date or date-time.
    """
    if not isinstance(bundle, Mapping):
        raise RecordError(source, "a FHIR Bundle must be a JSON object")
    kind = bundle.get("resourceType")
    if kind != "Bundle":
        raise RecordError(
            source,
            f"a FHIR {cut(str(kind), 40)} resource is not a patient record: give a Bundle "
            "holding the Patient and its resources",
            field="resourceType",
        )
    when = resolve_at(at)
    entries = _check_bundle(bundle, source)
    partial = incomplete(bundle)
    if partial is not None:
        raise RecordError(source, partial, field="link" if "'next'" in partial else "total")
    read: list[tuple[str, Mapping[str, Any]]] = []
    patients: list[tuple[str, Mapping[str, Any]]] = []
    full_url: object = None
    lists: dict[str, list[dict[str, Any]]] = {
        "conditions": [], "findings": [], "procedures": [], "planned": []
    }
    found: list[tuple[str, str, Any, Mapping[str, Any]]] = []  # (place, entry's, resource, entry)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if resource is None:
            if isinstance(entry, Mapping) and "request" in entry and "response" not in entry:
                continue  # a transaction's or batch's instruction without data (a DELETE)
            raise RecordError(source, "an entry without its resource cannot be read (the "
                              "data may be incomplete: a response given with "
                              "return=minimal holds none)", field=f"entry[{index}]")
        where = _where(index, resource) if is_fhir(resource) else f"entry[{index}].resource"
        contained = resource.get("contained") if isinstance(resource, Mapping) else None
        found += [(where, where, resource, entry)] + [
            (f"{where}.contained[{number}]", where, one, entry)
            for number, one in enumerate(_list(contained))]
    _check_understood(bundle, found, source)
    # the Bundle's own Conditions, as a reference names them (a contained one: "#id")
    conditions = {text for place, where, one, entry in found if place == where
                  and is_fhir(one) and one["resourceType"] == "Condition"
                  for text in (resource_name(one), entry.get("fullUrl")) if isinstance(text, str)}
    known = _mapped(_candidates(
        ((place, _kind(one), one) for place, _, one, _ in found if is_fhir(one)), when, source),
        when)
    for place, where, one, entry in found:
        kind = _readable(one, source, place, known)
        if kind == "Patient":
            if place == where:  # a contained Patient is no patient of the Bundle
                patients.append((where, one))
                full_url = entry.get("fullUrl")
            continue
        name = resource_name(one)
        if place != where:
            name = f"{resource_name(entry['resource'])} #{one.get('id') or ''}"
        items = [] if kind is None else [(n, i, "") for n, i in _read_item(kind, one, when, known)]
        items += [("findings", item, f" ({key})")
                  for key, item in _swept(kind, one, known, when, source, place)]
        items += [("conditions", {}, f" ({key}: {cut(ref, 60)}, not in the data)")
                  for key, ref in _unsent(kind, one, when, conditions)]
        if kind is not None or items:
            read.append((place, one))
        for list_name, item, element in items:
            lists[list_name].append(item)
            if sources is not None:
                complication = list_name == "conditions" and kind == "Procedure"
                sources.setdefault(list_name, []).append(
                    name + (" (complication)" if complication else element))
    if not patients:

        raise RecordError(source, "the Bundle holds no Patient; one Patient per Bundle",
                          field="entry")
    if len(patients) > 1:
        raise RecordError(
            source,
            f"the Bundle holds {len(patients)} Patients ({', '.join(w for w, _ in patients[:3])}"
            f"{' …' if len(patients) > 3 else ''}); one Patient per Bundle",
            field=patients[1][0],
        )
    patient = patients[0][1]
    patient_id = _text(patient.get("id"))
    for where, resource in read:
        other = other_patient(resource, patient_id,
                              full_url if isinstance(full_url, str) else None)
        if other is not None:
            raise RecordError(source, f"refers to {cut(other, 60)!r}, not to the Bundle's "
                              "Patient: another patient's data must not count for this one",
                              field=where)
    record: dict[str, Any] = {}
    ident = patient_id or _text(bundle.get("id"))
    if ident is not None:
        record["id"] = ident
    record["assessed_at"] = _instant_text(when)
    birth = _date(patient.get("birthDate"), when)
    if birth is not None:
        record["birth_date"] = birth
    record.update({name: items for name, items in lists.items() if items})
    return record
