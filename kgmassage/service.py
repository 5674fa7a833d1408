"""The HTTP service (``kgmassage serve``): CDS Hooks 2.0, assessment and validation of records,
and a read-only SPARQL 1.1 Protocol endpoint over the knowledge base.

:func:`create_app` builds the ASGI application (FastAPI); nothing is loaded at import time. On
start-up the decision engine is built once and a SPARQL worker process is started; requests
then run the library (:func:`kgmassage.assess`, :func:`kgmassage.validate`,
:func:`kgmassage.fhir.bundle_to_record`) one at a time under a lock.

Routes:

* ``GET /cds-services`` (discovery) and ``POST /cds-services/{id}`` for the services
  ``massage-safety-patient-view``, ``massage-safety-order-select`` and
  ``massage-safety-order-sign``; ``POST /cds-services/{id}/feedback``.
* ``POST /assess``, ``POST /validate``: a record (the JSON form or a FHIR R4 Bundle) in, the
  CLI's JSON out (``?at=`` optional).
* ``GET|POST /sparql``: SPARQL 1.1 queries over the knowledge base (read-only; limits below).
* ``GET /health``; OpenAPI at ``/openapi.json``, ``/docs``.

Every error is an RFC 9457 problem (``application/problem+json``: ``type``, ``title``,
``status``, ``detail``), never a traceback. Clinical safety first: a CDS request that cannot be
read, or that lacks the patient data the decision needs, is refused (4xx), never answered with
an empty card list that would read as "all clear"; a draft order that may be a massage but
names no known technique gets a warning card (a clinician must check it).
"""

from __future__ import annotations

import copy
import csv
import html
import io
import json
import logging
import multiprocessing
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from . import __version__
from .errors import (
    KgMassageError,
    NonConformingRecordError,
    ParameterError,
    QueryError,
    RecordError,
    cut,
    spelled,
    visible,
)
from .fhir import (
    bundle_to_record,
    incomplete,
    other_patient,
    outcome_issues,
    resource_name,
    unknown_type,
    withheld,
)
from .knowledge import federated, update_keyword
from .records import (
    MAX_DEPTH,
    DuplicateKeyError,
    NotJsonError,
    reject_constant,
    too_deep,
    unique_keys,
)
from .report import ARTICLE, form_page, own_plan, to_html
from .resources import knowledge_ntriples
from .timeline import parse_date

__all__ = [
    "MAX_BODY",
    "SPARQL_MAX_BODY",
    "SPARQL_TIMEOUT",
    "SPARQL_ROW_LIMIT",
    "SPARQL_QUEUE",
    "MAX_ENTRIES",
    "MAX_ORDERS",
    "SERVICES",
    "PREFETCH",
    "Problem",
    "create_app",
]

logger = logging.getLogger(__name__)

#: Largest request body of the record and CDS Hooks routes (bytes).
MAX_BODY = 16 * 1024 * 1024
#: Largest SPARQL request: the body of a POST, or the query text of a GET (bytes).
SPARQL_MAX_BODY = 64 * 1024
#: Longest a SPARQL query may run (seconds); the worker running it is then stopped.
SPARQL_TIMEOUT = 10.0
#: Entries (items of a record's lists and their codes, entries of a Bundle) one record or CDS
#: call may hold: a few seconds at most (FHIR resources are checked against the FHIR model,
#: about 2 ms each; the engine decides one request at a time).
MAX_ENTRIES = 2_000
#: Draft orders one CDS call may hold (each gets its cards checked against every decision).
MAX_ORDERS = 100
#: SPARQL queries that may wait for the query worker; past it, 503 (the service's threads stay
#: free for CDS calls).
SPARQL_QUEUE = 4
#: Most result rows (solutions or triples) a SPARQL query may return.
SPARQL_ROW_LIMIT = 10_000

PROBLEM_JSON = "application/problem+json"
_PROBLEM_TYPE = "urn:kgmassage:problem:"
_SOURCE_LABEL = "kgmassage knee-massage safety rules"
_SNOMED = "http://snomed.info/sct"
_LATERALITY = {"left": ("7771000", "Left"), "right": ("24028007", "Right"),
               "bilateral": ("51440002", "Right and left")}
_STATUSES = ("forbidden", "requires-clearance", "caution", "permitted")  # most severe first
_RANK = {status: len(_STATUSES) - i for i, status in enumerate(_STATUSES)}
_INDICATOR = {"forbidden": "critical", "requires-clearance": "warning", "caution": "info"}
_VERDICT = {"forbidden": "forbidden", "requires-clearance": "needs medical clearance",
            "caution": "caution"}


# --- problems -------------------------------------------------------------------------------


class Problem(Exception):
    """An HTTP error answered as an RFC 9457 problem document.

    Args:
        status: the HTTP status.
        title: a short, fixed summary of the kind of problem.
        detail: what is wrong with this request, for a person.
        kind: the problem type's last part (``record-error`` → ``urn:kgmassage:problem:…``);
            ``None`` for ``about:blank`` (the status says it all).
        extra: further members of the problem document (``field``, ``missing``, …).
    """

    def __init__(self, status: int, title: str, detail: str, *, kind: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """The problem as JSON."""
        doc: dict[str, Any] = {
            "type": _PROBLEM_TYPE + self.kind if self.kind else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


def _problem_response(problem: Problem, request: Request | None = None,
                      headers: Mapping[str, str] | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(problem.document(instance), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=dict(headers or {}))


def _library_problem(exc: KgMassageError) -> Problem:
    """A library error as the problem a client gets."""
    if isinstance(exc, RecordError):
        return Problem(422, "Record cannot be read", exc.detail, kind="record-error",
                       source=exc.source, line=exc.line, field=exc.field)
    if isinstance(exc, NonConformingRecordError):
        return Problem(422, "Record does not conform", str(exc), kind="non-conforming-record")
    if isinstance(exc, ParameterError):
        return Problem(400, "Invalid parameter", str(exc), kind="parameter-error")
    if isinstance(exc, QueryError):
        return Problem(400, "Invalid query", str(exc), kind="query-error")
    return Problem(400, "Request cannot be processed", str(exc), kind="kgmassage-error")


# --- reading requests -----------------------------------------------------------------------


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes without reading further; a body
    sent compressed is refused (415, RFC 9110: an unsupported content coding), and one the
    client stopped sending is a 400, not a server error."""
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        raise Problem(415, "Unsupported content encoding",
                      f"the body is sent with Content-Encoding {cut(coding, 40)}: send it "
                      "uncompressed")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Request too large",
                      f"the body has {int(declared):,} bytes; the limit is {limit:,}")
    size = 0
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, "Request too large", f"the body exceeds {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "Request incomplete", "the client closed the connection before "
                      "sending the whole body") from None
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _require_json(request: Request) -> None:
    kind = _media_type(request)
    if kind != "application/json" and not (kind.startswith("application/")
                                           and kind.endswith("+json")):
        raise Problem(415, "Unsupported media type",
                      f"send JSON (Content-Type: application/json or application/fhir+json), "
                      f"not {cut(kind, 60) or 'a body without Content-Type'}")


def parse_json(body: bytes, what: str = "the body") -> Any:
    """Parse a JSON body strictly: a key given twice (a reader would keep only one of its
    values, which may hide data) and NaN/Infinity are refused.

    >>> parse_json(b'{"a": 1}')
    {'a': 1}
    >>> parse_json(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    kgmassage.service.Problem: the body gives the key 'a' twice; give each key once
    """
    if not body.strip():
        raise Problem(400, "Malformed request", f"{what} is empty: send a JSON document",
                      kind="malformed-json")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Malformed request", f"{what} is not UTF-8: {exc.reason}",
                      kind="malformed-json") from None
    try:
        value = json.loads(text, object_pairs_hook=unique_keys, parse_constant=reject_constant)
        if too_deep(value):  # FHIR validation would recurse past Python's limit (a 500)
            raise RecursionError
        return value
    except DuplicateKeyError as exc:
        raise Problem(422, "Duplicate key",
                      f"{what} gives the key {cut(exc.key, 60)!r} twice; give each key once",
                      kind="duplicate-key") from None
    except json.JSONDecodeError as exc:
        raise Problem(400, "Malformed request",
                      f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                      kind="malformed-json") from None
    except NotJsonError as exc:
        raise Problem(400, "Malformed request", f"{what} is not acceptable JSON: {exc} is not "
                      "JSON", kind="malformed-json") from None
    except (ValueError, RecursionError) as exc:
        # Python reads integers of at most 4,300 digits (its message names its own setting)
        detail = (f"nested more than {MAX_DEPTH} levels deep" if isinstance(exc, RecursionError)
                  else "a number of more than 4,300 digits" if "digits" in str(exc)
                  else str(exc))
        raise Problem(400, "Malformed request", f"{what} is not acceptable JSON: {detail}",
                      kind="malformed-json") from None


def _resolve_at(at: str | None) -> datetime:
    from .timeline import resolve_at

    return resolve_at(at)  # a ParameterError (400) when it does not parse


# --- CDS Hooks: services and requests -------------------------------------------------------


@dataclass(frozen=True)
class CdsService:
    """One CDS service of the discovery document."""

    id: str
    hook: str
    title: str
    description: str

    def discovery(self) -> dict[str, Any]:
        """The service as the discovery endpoint lists it."""
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(PREFETCH),
            "usageRequirements": (
                "Send the prefetch keys conditions, procedures and observations (null when "
                "there is nothing): this service does not query the FHIR server, and refuses "
                "a request without them (412)."
            ),
        }


#: Prefetch templates of every service: the data the decision needs.
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
}
#: Prefetch keys a request must carry (a missing Patient is made from ``context.patientId``).
_REQUIRED_PREFETCH = ("conditions", "procedures", "observations")
_PREFETCH_TYPES = {"conditions": "Condition", "procedures": "Procedure",
                   "observations": "Observation"}

SERVICES = (
    CdsService(
        "massage-safety-patient-view", "patient-view", "Knee massage safety",
        "Which massage interventions for knee pain are forbidden, need medical clearance or "
        "need caution for this patient, per leg, with the rule, the record item and the "
        "source section behind each.",
    ),
    CdsService(
        "massage-safety-order-select", "order-select", "Knee massage order check (select)",
        "Checks each selected massage ServiceRequest (technique, target, side) against the "
        "patient's conditions, procedures and findings; one card per planned intervention "
        "that is not permitted, with alternatives where the rule names them, and a warning "
        "card for an order that may be a massage but names no known technique.",
    ),
    CdsService(
        "massage-safety-order-sign", "order-sign", "Knee massage order check (sign)",
        "Checks every draft massage ServiceRequest before signing; one card per planned "
        "intervention that is not permitted, with alternatives where the rule names them, and "
        "a warning card for an order that may be a massage but names no known technique.",
    ),
)
_BY_ID = {s.id: s for s in SERVICES}


def _bad_request(detail: str, field_name: str | None = None) -> Problem:
    return Problem(400, "Invalid CDS Hooks request", detail, kind="invalid-hook-request",
                   field=field_name)


@dataclass
class HookCall:
    """A CDS Hooks request, checked."""

    hook: str
    hook_instance: str
    patient_id: str
    context: dict[str, Any]
    prefetch: dict[str, Any]


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(f"{where}{key} is required: a non-empty string", where + key)
    return value


#: A FHIR resource id (R4 ``id`` datatype): what ``context.patientId`` holds.
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def read_hook_call(body: Any, service: CdsService) -> HookCall:
    """Check a CDS Hooks 2.0 request for ``service`` (400 when it does not follow the
    specification: ``hook``, ``hookInstance``, ``context`` with ``userId`` and
    ``patientId``, and the hook's own context fields)."""
    if not isinstance(body, dict):
        raise _bad_request("a CDS Hooks request is a JSON object")
    hook = _string(body, "hook", "")
    if hook != service.hook:
        raise _bad_request(f"the service {service.id} answers the hook {service.hook!r}, "
                           f"not {cut(hook, 40)!r}", "hook")
    instance = _string(body, "hookInstance", "")
    context = body.get("context")
    if not isinstance(context, dict):
        raise _bad_request("context is required: an object", "context")
    _string(context, "userId", "context.")
    patient = _string(context, "patientId", "context.")
    if not _FHIR_ID.fullmatch(patient):
        raise _bad_request(f"context.patientId {cut(patient, 40)!r} is not a FHIR id (1 to 64 "
                           "letters, digits, '-' and '.')", "context.patientId")
    if body.get("fhirAuthorization") is not None and body.get("fhirServer") is None:
        raise _bad_request("fhirServer is required when fhirAuthorization is given",
                           "fhirServer")
    prefetch = body.get("prefetch", {})
    if not isinstance(prefetch, dict):
        raise _bad_request("prefetch must be an object", "prefetch")
    if hook in ("order-select", "order-sign"):
        orders = context.get("draftOrders")
        if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
            raise _bad_request("context.draftOrders is required: a FHIR Bundle",
                               "context.draftOrders")
        if not isinstance(orders.get("entry", []), list):
            raise _bad_request("context.draftOrders.entry must be an array",
                               "context.draftOrders.entry")
    if hook == "order-select":
        selections = context.get("selections")
        if (not isinstance(selections, list) or not selections
                or not all(isinstance(s, str) and s for s in selections)):
            raise _bad_request("context.selections is required: an array of references "
                               "such as ServiceRequest/123", "context.selections")
    return HookCall(hook, instance, patient, context, prefetch)


# --- CDS Hooks: prefetch → one Bundle -------------------------------------------------------

def _subject_check(resource: Mapping[str, Any], patient_id: str, where: str) -> None:
    """Refuse (422) a resource whose subject is another patient: its data must not be used
    for this one."""
    other = other_patient(resource, patient_id)
    if other is not None:
        raise Problem(
            422, "Data of another patient",
            f"{where} refers to {cut(other, 60)!r}, not to the patient in context "
            f"(Patient/{cut(patient_id, 40)})", kind="patient-mismatch", field=where)


def _failed(key: str, detail: str) -> Problem:
    return Problem(412, "Prefetch data unusable",
                   f"prefetch {key}: {detail}; the decision cannot be made without it "
                   "(this service does not query the FHIR server)",
                   kind="prefetch-unusable", missing=[key])


@dataclass
class PatientData:
    """The prefetch as one FHIR Bundle, and where each of its entries came from."""

    patient: dict[str, Any]
    resources: list[dict[str, Any]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def bundle(self, extra: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """The Bundle :func:`kgmassage.fhir.bundle_to_record` reads: the Patient first."""
        entries = [{"resource": r} for r in (self.patient, *self.resources, *extra)]
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _entries(key: str, value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(where, resource) of a prefetch value: a searchset Bundle, or one resource."""
    kind = value.get("resourceType")
    if kind == "OperationOutcome":
        issues = outcome_issues(value, ("fatal", "error", "warning", "information"))
        raise _failed(key, "it holds an OperationOutcome instead of the resource ("
                      + ("; ".join(issues) or "no issue given") + ")")
    if kind != "Bundle":
        return [(f"prefetch.{key}", value)]
    partial = incomplete(value)
    if partial is not None:
        raise _failed(key, f"{partial} in the prefetch")
    if withheld(value):  # its resources are what it says; what it leaves out is not
        raise _failed(key, "the search result's security labels or tags say data was "
                      "withheld or left out (REDACTED, SUBSETTED)")
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        raise _bad_request(f"prefetch.{key}.entry must be an array", f"prefetch.{key}.entry")
    found = []
    for index, entry in enumerate(entries):
        where = f"prefetch.{key}.entry[{index}]"
        if not isinstance(entry, Mapping):
            raise _bad_request(f"{where} must be an object", where)
        resource = entry.get("resource")
        if resource is None:
            raise _failed(key, f"{where} has no resource (a search result that is not whole)")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise _bad_request(f"{where}.resource must be a FHIR resource (with resourceType)",
                               where + ".resource")
        if resource["resourceType"] == "OperationOutcome":
            issues = outcome_issues(resource)
            if issues:  # other warnings and information beside the matches are no failure
                raise _failed(key, "the search result holds an OperationOutcome with an error "
                              "or saying it is not whole (" + "; ".join(issues) + ")")
            continue
        found.append((f"{where} ({cut(resource_name(resource), 60)})", resource))
    return found


def read_prefetch(call: HookCall) -> PatientData:
    """The patient's data from the prefetch, as one Bundle's resources.

    Raises:
        Problem: 412 when a required key is missing, the data is paginated, incomplete or an
            OperationOutcome; 422 when a resource belongs to another patient; 400 when the
            prefetch is not made of FHIR resources.
    """
    missing = [key for key in _REQUIRED_PREFETCH if key not in call.prefetch]
    if missing:
        raise Problem(
            412, "Prefetch data missing",
            f"the request lacks the prefetch {', '.join(missing)}: this service does not "
            "query the FHIR server, so the patient's conditions, procedures and observations "
            "must come in the prefetch (null when there are none)",
            kind="prefetch-missing", missing=missing)
    patient = _patient(call)
    data = PatientData(patient)
    seen: set[str] = set()
    # keys this service did not ask for are read too (an "encounters" key, a misspelt
    # "Conditions"): what they hold may count, never skipped
    extra = [key for key in call.prefetch if key not in (*_REQUIRED_PREFETCH, "patient")]
    for key in (*_REQUIRED_PREFETCH, *extra):
        value = call.prefetch.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise _bad_request(f"prefetch.{key} must be a FHIR Bundle (searchset) or null",
                               f"prefetch.{key}")
        for where, resource in _entries(key, value):
            kind = resource["resourceType"]
            if kind == "Patient":
                if resource.get("id") not in (None, call.patient_id):
                    raise Problem(422, "Data of another patient",
                                  f"{where} is another patient than Patient/"
                                  f"{cut(call.patient_id, 40)}", kind="patient-mismatch",
                                  field=where)
                continue
            if kind == "Bundle":
                raise Problem(422, "FHIR data cannot be read", f"{where} is a Bundle inside "
                              "the search result: send the search result itself",
                              kind="fhir-error", field=where)
            if kind not in _PREFETCH_TYPES.values():
                why = unknown_type(kind)
                if why is not None:  # a misspelt "condition" may be the DVT: never skipped
                    raise Problem(422, "FHIR data cannot be read", f"{where}: {why}",
                                  kind="fhir-error", field=where)
                # an included resource counts too: what it contains (a DVT contained in an
                # Encounter) and the mapped codes it states (an Encounter's reason)
            _subject_check(resource, call.patient_id, where)
            # the same resource under two prefetch keys counts once; two different resources
            # with one id (from two servers) both count
            same = json.dumps(resource, sort_keys=True, ensure_ascii=False)
            if same in seen:
                continue
            seen.add(same)
            data.resources.append(resource)
            data.origins.append(where)
    return data


def _patient(call: HookCall) -> dict[str, Any]:
    value = call.prefetch.get("patient")
    if value is None:
        return {"resourceType": "Patient", "id": call.patient_id}
    if isinstance(value, dict) and value.get("resourceType") in ("Bundle", "OperationOutcome"):
        # a search result, or the outcome of a failed fetch (a 412, as for the other keys)
        patients = [r for _, r in _entries("patient", value)
                    if r.get("resourceType") == "Patient"]
        if len(patients) != 1:
            raise _bad_request("prefetch.patient must hold exactly one Patient",
                               "prefetch.patient")
        value = patients[0]
    if not isinstance(value, dict) or value.get("resourceType") != "Patient":
        raise _bad_request("prefetch.patient must be a FHIR Patient or null", "prefetch.patient")
    if value.get("id") not in (None, call.patient_id):
        raise Problem(422, "Data of another patient",
                      f"prefetch.patient is Patient/{cut(str(value.get('id')), 40)}, not the "
                      f"patient in context (Patient/{cut(call.patient_id, 40)})",
                      kind="patient-mismatch", field="prefetch.patient")
    return value if value.get("id") else {**value, "id": call.patient_id}


_ENTRY = re.compile(r"^entry\[([0-9]+)\]")


def _fhir_problem(exc: RecordError, origins: Sequence[str]) -> Problem:
    """A RecordError of the assembled Bundle, naming the place in the request instead."""
    where = exc.field
    match = _ENTRY.match(where or "")
    if match:
        index = int(match.group(1)) - 1  # entry 0 is the Patient
        where = origins[index] if 0 <= index < len(origins) else "prefetch.patient"
    return Problem(422, "FHIR data cannot be read",
                   f"{where}: {exc.detail}" if where else exc.detail,
                   kind="fhir-error", field=where)


# --- CDS Hooks: orders ----------------------------------------------------------------------


@dataclass
class Order:
    """A draft order (a ServiceRequest, or a resource that contains one) and the planned items
    it maps to."""

    ref: str
    where: str
    resource: dict[str, Any]
    plans: list[dict[str, Any]] = field(default_factory=list)
    first: int = 0  # index of its first plan in the record's ``planned``


#: The resources CDS Hooks (R4) puts in ``draftOrders``.
_DRAFT_ORDER_TYPES = frozenset({"ServiceRequest", "MedicationRequest", "DeviceRequest",
                                "NutritionOrder", "VisionPrescription"})


def read_orders(call: HookCall) -> list[Order]:
    """The draft orders to check: the selected ones (order-select) or every one (order-sign)
    of ``context.draftOrders``, whatever their type (a massage ServiceRequest may be contained
    in a RequestGroup)."""
    entries = call.context["draftOrders"].get("entry", [])
    if isinstance(entries, list) and len(entries) > MAX_ORDERS:
        raise Problem(413, "Too many orders",
                      f"context.draftOrders holds {len(entries):,} orders; this service takes "
                      f"at most {MAX_ORDERS}", kind="too-many-entries")
    found: list[Order] = []
    names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"context.draftOrders.entry[{index}]"
        if not isinstance(entry, Mapping):
            raise _bad_request(f"{where} must be an object", where)
        resource = entry.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise _bad_request(f"{where}.resource must be a FHIR resource", where + ".resource")
        kind = resource["resourceType"]
        why = ("a Bundle inside draftOrders is not read: give its orders as entries"
               if kind == "Bundle" else unknown_type(kind))
        if why is not None:  # never skipped: it may hold the massage order to check
            raise Problem(422, "FHIR data cannot be read", f"{where}.resource: {why}",
                          kind="fhir-error", field=where + ".resource")
        name = resource_name(resource)
        if "/" in name:
            names[name] = index
        # every draft order is checked: a RequestGroup, CarePlan or Task may hold the massage
        # order (contained); those that plan no massage make no card
        _subject_check(resource, call.patient_id, where)
        found.append(Order(name if "/" in name else f"{kind} at {where}", where, resource))
    if call.hook != "order-select":
        return found
    unknown = [s for s in call.context["selections"] if s not in names]
    if unknown:
        raise _bad_request(f"context.selections names {', '.join(cut(u, 60) for u in unknown)}"
                           ", not in context.draftOrders", "context.selections")
    chosen = set(call.context["selections"])
    return [order for order in found if order.ref in chosen]


def _order_record(where: str, resource: dict[str, Any], patient: dict[str, Any], at: datetime,
                  sources: dict[str, list[str]]) -> dict[str, Any]:
    """What one draft order says, as a record: its planned items, and the conditions,
    procedures and findings of the resources it contains (a DVT contained in it counts)."""
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient}, {"resource": resource}]}
    try:
        return bundle_to_record(bundle, at=at, source="draftOrders", sources=sources)
    except RecordError as exc:
        if exc.field and not _ENTRY.match(exc.field):
            where = f"{where}.resource.{exc.field}"
        raise Problem(422, "FHIR data cannot be read", f"{where}: {exc.detail}",
                      kind="fhir-error", field=where) from None


# --- cards ----------------------------------------------------------------------------------


@cache
def _labels() -> dict[str, str]:
    """km: local name → its English label."""
    from rdflib import Literal
    from rdflib.namespace import RDFS

    from .namespaces import KM_IRI
    from .resources import ontology_graph

    out: dict[str, str] = {}
    for term, label in ontology_graph().subject_objects(RDFS.label):
        if (str(term).startswith(KM_IRI) and isinstance(label, Literal)
                and label.language in (None, "en")):
            out.setdefault(str(term)[len(KM_IRI):], str(label))
    return out


def _term(name: str | None, known: bool, missing: str = "a target not named") -> str:
    """A technique or target for people: its label, the unknown name as given, or
    ``missing``."""
    if name is None:
        return missing
    if known:
        return _labels().get(name, name)
    return f"“{cut(spelled(name), 40)}” (not recognised)"


_NO_TECHNIQUE = "massage (technique not named)"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(text: str) -> str:
    """Text from a record, safe inside markdown (no markup, no HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _code(text: str) -> str:
    """Text from a record as a markdown code span (which takes no escapes)."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def _short(text: str, limit: int = 139) -> str:
    text = visible(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _legs(sides: Iterable[str]) -> str:
    found = set(sides)
    if found >= {"left", "right"}:
        return "both legs"
    return f"{next(iter(found))} leg" if found else "no leg"


def _since(text: str | None) -> str | None:
    if not text:
        return None
    if "T" not in text:
        return text
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return text


def _codes_text(code: Any) -> list[str]:
    codes = code if isinstance(code, list) else [code] if isinstance(code, Mapping) else []
    out = []
    for c in codes:
        if isinstance(c, Mapping):
            shown = c.get("display") or f"{c.get('system', '?')}|{c.get('code', '?')}"
            out.append(str(shown))
    return out


_ITEM = re.compile(r"^(?P<list>[a-z]+)\[(?P<index>[0-9]+)\]")


@dataclass
class _Context:
    """What card texts need besides the assessment."""

    record: dict[str, Any]
    refs: dict[str, list[str]]

    def origin(self, path: str) -> str:
        """`` (Condition/abc)``: the FHIR resource of the record item a path starts with."""
        match = _ITEM.match(path)
        if match is None:
            return ""
        refs, index = self.refs.get(match.group("list"), []), int(match.group("index"))
        return f" ({_md(refs[index])})" if index < len(refs) and refs[index] else ""

    def item(self, path: str | None, label: str | None = None) -> str:
        """The record item behind a reason, for people (markdown): what the engine read it as
        (``label``: "deep vein thrombosis, right leg"), else what the record says."""
        if not path:
            return "every patient (the rule always applies)"
        match = _ITEM.match(path)
        if path == "record":
            return "the record itself (content the rules cannot read)"
        if not match:
            return _code(path)
        name, index = match.group("list"), int(match.group("index"))
        items = self.record.get(name)
        item = items[index] if isinstance(items, list) and index < len(items) else None
        refs = self.refs.get(name, [])
        ref = f" ({_md(refs[index])})" if index < len(refs) and refs[index] else ""
        if not isinstance(item, Mapping):
            return f"{_code(path)}{ref}"
        what = _codes_text(item.get("code")) or [str(item.get("type") or "")]
        if name == "planned":
            what = [f"{item.get('technique', '(no technique)')} on "
                    f"{item.get('target', '(no target)')}"]
        parts = [", ".join(w for w in what if w) or "unrecognised item"]
        for key in ("site", "side"):
            if isinstance(item.get(key), str):
                parts.append(item[key])
        if isinstance(item.get("status"), str) and item["status"] != "active":
            parts.append(item["status"])
        if label and name != "planned":  # the engine's reading first, the record's after it
            parts = [label, f"as recorded: {'; '.join(parts)}"]
        return f"{_code(path)}{ref}: {_md('; '.join(parts))}"


def _reason_lines(reasons: Iterable[Any], ctx: _Context) -> list[str]:
    """One bullet per reason: rule, status, message; the record item; the source section."""
    lines = []
    seen: set[tuple[str, str | None, str, bool]] = set()
    for r in sorted(reasons, key=lambda r: (-_RANK[r.status], r.lifted, r.rule, r.item or "")):
        key = (r.rule, r.item, r.status, r.lifted)
        if key in seen:
            continue
        seen.add(key)
        lifted = f", lifted by {', '.join(r.lifted_by) or 'a clearance'}" if r.lifted else ""
        since = _since(r.since)
        lines += [
            f"- **{r.rule}** ({r.status}{lifted}): {_md(r.message)}",
            f"  - Record item: {ctx.item(r.item, r.item_label)}"
            + (f", since {since}" if since else ""),
            f"  - Source: *{ARTICLE}*, section “{_md(r.source)}”",
        ]
    return lines


def _standing(decisions: Iterable[Any], status: str) -> list[Any]:
    return [r for d in decisions for r in d.reasons if not r.lifted and r.status == status]


def _card(status: str, summary: str, detail: str, **more: Any) -> dict[str, Any]:
    card = {
        "uuid": str(uuid.uuid4()),
        "summary": _short(visible(summary)),
        "detail": visible(detail),
        "indicator": _INDICATOR[status],
        "source": {"label": _SOURCE_LABEL},
    }
    card.update({k: v for k, v in more.items() if v})
    return card


def _by_technique(decisions: Iterable[Any]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for d in decisions:
        technique = _term(d.technique, d.technique_iri is not None, _NO_TECHNIQUE)
        target = _term(d.target, d.target_iri is not None)
        if target not in groups.setdefault(technique, []):
            groups[technique].append(target)
    return [f"- {_md(t)}: {_md(', '.join(targets))}" for t, targets in groups.items()]


def patient_cards(assessment: Any, ctx: _Context) -> list[dict[str, Any]]:
    """patient-view: one card per leg and status that is not permitted (a leg's cards merge
    into one for both legs when they say the same), most severe first; and one card when the
    record does not conform."""
    # a catalogue intervention already ordered is a catalogue decision too (it once dropped
    # out of the cards: a forbidden foam rolling ordered on a DVT's leg made "18 of 19")
    catalogue = [d for d in assessment.decisions if not own_plan(d)]
    plans = [d for d in assessment.decisions if own_plan(d)]
    total = len({(d.technique, d.target) for d in catalogue})
    floor = {side: min((_RANK[d.status] for d in catalogue if d.side == side), default=0)
             for side in ("left", "right")}
    cards = []
    for status in _STATUSES[:3]:
        by_side = {side: [d for d in catalogue if d.side == side and d.status == status]
                   for side in ("left", "right")}

        def shape(ds: list[Any], status: str = status) -> tuple[Any, ...]:
            return (frozenset((d.technique, d.target) for d in ds),
                    frozenset(r.rule for r in _standing(ds, status)))

        if by_side["left"] and shape(by_side["left"]) == shape(by_side["right"]):
            groups = [("both legs", by_side["left"] + by_side["right"])]
        else:
            groups = [(f"{side} leg", ds) for side, ds in by_side.items() if ds]
        for legs, ds in groups:
            cards.append(_headline_card(status, legs, ds, total, ctx))
        cards += _plan_cards([d for d in plans if d.status == status], status, ctx)
        cards += _probe_cards(assessment, status, floor, ctx)
    if not assessment.conforms:
        cards.append(_data_card(assessment, ctx))
    return cards


def _plan_cards(decisions: list[Any], status: str, ctx: _Context) -> list[dict[str, Any]]:
    """patient-view: a card per leg for the ordered interventions outside the catalogue that
    get ``status`` (deep pressure on the kneecap, already ordered): no leg card names them."""
    cards = []
    for side in ("left", "right"):
        ds = [d for d in decisions if d.side == side]
        if not ds:
            continue
        rules = sorted({r.rule for r in _standing(ds, status)})
        lines = [f"**{side.capitalize()} leg: {_VERDICT[status]}** for massage already "
                 "ordered, outside the catalogue.", "", "**Why**", "",
                 *_reason_lines(_standing(ds, status), ctx), "", "**Interventions**", "",
                 *_by_technique(ds)]
        cards.append(_card(status, f"{side.capitalize()} leg: ordered massage "
                           f"{_VERDICT[status]} — {', '.join(rules)}", "\n".join(lines)))
    return cards


def _probe_cards(assessment: Any, status: str, floor: Mapping[str, int], ctx: _Context
                 ) -> list[dict[str, Any]]:
    """A card for the structures outside the catalogue (the kneecap, the knee joint) where the
    patient's items give even light massage ``status`` (a wound at the knee forbids it there):
    no catalogue decision says so; ``floor``, the rank of each leg's mildest catalogue status.
    Both legs on one card when they say the same."""
    # only where the knee is worse off than the whole leg (a leg card covers the rest)
    found = {side: [p for p in assessment.probes if p.side == side and p.status == status
                    and _RANK[status] > floor[side]]
             for side in ("left", "right")}
    rules = {side: sorted({r.rule for r in _standing(ps, status)}) for side, ps in found.items()}
    if found["left"] and rules["left"] == rules["right"]:
        groups = [("both legs", found["left"] + found["right"], rules["left"])]
    else:
        groups = [(f"{side} leg", ps, rules[side]) for side, ps in found.items() if ps]
    cards = []
    for legs, probes, names in groups:
        targets = ", ".join(sorted({_term(p.target, True) for p in probes}))
        summary = (f"{legs.capitalize()}, {targets}: any massage {_VERDICT[status]}, even light "
                   f"— {', '.join(names)}")
        lines = [f"**{legs.capitalize()}, {_md(targets)}: {_VERDICT[status]}** for any massage, "
                 "even light (these structures are not in the catalogue; deep pressure on them "
                 "is forbidden for everyone).", "", "**Why**", "",
                 *_reason_lines(_standing(probes, status), ctx)]
        cards.append(_card(status, summary, "\n".join(lines)))
    return cards


def _headline_card(status: str, legs: str, decisions: list[Any], total: int,
                   ctx: _Context) -> dict[str, Any]:
    count = len({(d.technique, d.target) for d in decisions})
    rules = sorted({r.rule for r in _standing(decisions, status)})
    scope = f"all {total}" if count == total else f"{count} of {total}"
    summary = (f"{legs.capitalize()}: massage {_VERDICT[status]} "
               f"({scope} interventions) — {', '.join(rules)}")
    others = sorted({(r.rule, r.status) for d in decisions for r in d.reasons
                     if not r.lifted and r.status != status}, key=lambda x: (-_RANK[x[1]], x))
    lines = [
        f"**{legs.capitalize()}: {_VERDICT[status]}** for {scope} massage interventions of the "
        "catalogue.",
        "",
        "**Why**",
        "",
        *_reason_lines(_standing(decisions, status), ctx),
        "",
        "**Interventions**",
        "",
        *_by_technique(decisions),
    ]
    if others:
        lines += ["", "Also applies: " + ", ".join(f"{rule} ({s})" for rule, s in others) + "."]
    return _card(status, summary, "\n".join(lines))


def _data_card(assessment: Any, ctx: _Context) -> dict[str, Any]:
    violations = [r for r in assessment.validation if r.severity == "Violation"]
    lines = [
        f"The patient's data has {len(violations)} problem(s). The decisions above treat unclear "
        "data as the worst plausible case (fail safe); correct the record to get exact advice.",
        "",
        *(f"- {_code(r.field or r.path or r.focus)}{ctx.origin(r.field or '')}: "
          f"{_md(cut(r.message, 300))}" for r in violations[:20]),
    ]
    if len(violations) > 20:
        lines.append(f"- … and {len(violations) - 20} more")
    return _card("requires-clearance",
                 f"Patient data has {len(violations)} problem(s); massage advice errs on the "
                 "safe side", "\n".join(lines))


def order_cards(assessment: Any, ctx: _Context, orders: Sequence[Order],
                alternatives: Any) -> list[dict[str, Any]]:
    """order-select/order-sign: one card per planned intervention (technique, target) of an
    order that is not permitted, its sides together when they share a status; most severe
    first. ``alternatives(order, technique, alternative, side)`` gives the status of working
    ``alternative`` instead (only alternatives less severe than the card's are offered)."""
    from .records import unskolemized

    patient = assessment.patient_iri
    cards: list[tuple[int, int, dict[str, Any]]] = []
    for number, order in enumerate(orders):
        nodes = {f"{patient}/planned/{order.first + i}" for i in range(len(order.plans))}
        groups: dict[tuple[Any, Any, str], list[Any]] = {}
        for d in assessment.decisions:
            if d.status != "permitted" and nodes & {unskolemized(p) for p in d.plans}:
                groups.setdefault((d.technique, d.target, d.status), []).append(d)
        for (_, _, status), ds in groups.items():
            cards.append((-_RANK[status], number, _order_card(order, status, ds, ctx,
                                                              alternatives)))
    cards.sort(key=lambda c: (c[0], c[1]))
    return [card for _, _, card in cards]


def _order_card(order: Order, status: str, decisions: list[Any], ctx: _Context,
                alternatives: Any) -> dict[str, Any]:
    first = decisions[0]
    technique = _term(first.technique, first.technique_iri is not None, _NO_TECHNIQUE)
    target = _term(first.target, first.target_iri is not None)
    sides = sorted({d.side for d in decisions})
    legs = _legs(sides)
    rules = sorted({r.rule for r in _standing(decisions, status)})
    verdict = {"forbidden": "Do not perform", "requires-clearance": "Get medical clearance for",
               "caution": "Caution:"}[status]
    summary = f"{verdict} {technique} on {target}, {legs} — {', '.join(rules)}"
    lower = [r for d in decisions for r in d.reasons if not r.lifted and r.status != status]
    lines = [
        f"**{_md(technique.capitalize())} on {_md(target)}, {legs}: {_VERDICT[status]}.**",
        "",
        f"Order: {_code(order.ref)} ({_code(order.where)}).",
        "",
        "**Why**",
        "",
        *_reason_lines(_standing(decisions, status), ctx),
    ]
    if lower:
        lines += ["", "Also applies:", "", *_reason_lines(lower, ctx)]
    suggestions, notes = _suggestions(order, status, decisions, alternatives)
    if notes:
        lines += ["", "**Instead**", "", *notes]
    more: dict[str, Any] = {}
    if suggestions:
        more = {"selectionBehavior": "at-most-one", "suggestions": suggestions}
    return _card(status, summary, "\n".join(lines), **more)


def _suggestions(order: Order, status: str, decisions: list[Any], alternatives: Any
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """Suggestions to work the rule's alternatives instead (an update of the order when it
    plans one intervention), and a line on each alternative for the detail."""
    first = decisions[0]
    named = sorted({a for d in decisions for a in d.alternatives})
    if not named or first.technique_iri is None:
        return [], []
    technique = _term(first.technique, True, _NO_TECHNIQUE)
    # every side the order covers, not only the card's: the changed order covers them all (a
    # bilateral order on a card for the right leg must not be moved onto a forbidden left)
    sides = sorted({d.side for d in decisions} | {
        side for plan in order.plans
        for side in ([plan["side"]] if plan.get("side") in ("left", "right")
                     else ["left", "right"])})
    suggestions, notes = [], []
    for alternative in named:
        found = [alternatives(first.technique, alternative, side) for side in sides]
        worst = max(found, key=_RANK.__getitem__)
        label = _term(alternative, True)
        if _RANK[worst] >= _RANK[status]:
            notes.append(f"- {_md(label)}: not offered, {worst} for this patient too.")
            continue
        notes.append(f"- {_md(label)}: {worst} for this patient.")
        suggestion: dict[str, Any] = {
            "label": _short(f"Order {technique} on {label} instead ({worst})", 80),
            "uuid": str(uuid.uuid4()),
        }
        if worst == "permitted":
            suggestion["isRecommended"] = True
        if (len(order.plans) == 1 and "/" in order.ref
                and order.resource.get("resourceType") == "ServiceRequest"):
            suggestion["actions"] = [{
                "type": "update",
                "description": f"Change the target of {order.ref} to {label}",
                "resource": _retargeted(order, label),
            }]
        suggestions.append(suggestion)
    if sum(1 for s in suggestions if s.get("isRecommended")) > 1:
        for s in suggestions:  # at most one may be chosen: recommend none above the others
            s.pop("isRecommended", None)
    return suggestions, notes


def _retargeted(order: Order, label: str) -> dict[str, Any]:
    """The order's ServiceRequest with its body site replaced by ``label`` (same side)."""
    resource = copy.deepcopy(order.resource)
    site: dict[str, Any] = {"text": label}
    side = order.plans[0].get("side")
    if side in _LATERALITY:
        code, display = _LATERALITY[side]
        site["coding"] = [{"system": _SNOMED, "code": code, "display": display}]
    resource["bodySite"] = [site]
    return resource


# --- CDS Hooks: a call ----------------------------------------------------------------------


def run_hook(service: CdsService, body: Any, at: datetime) -> dict[str, Any]:
    """Answer one CDS Hooks call: ``{"cards": [...]}``.

    Raises:
        Problem: the request does not follow the specification (400), lacks the prefetch
            (412), or holds data that cannot be read or belongs to another patient (422).
    """
    from .assessment import assess, decide
    from .records import load_record

    call = read_hook_call(body, service)
    data = read_prefetch(call)
    sources: dict[str, list[str]] = {}  # the resource behind each item, by list
    try:
        record = bundle_to_record(data.bundle(), at=at, source="prefetch", sources=sources)
    except RecordError as exc:
        raise _fhir_problem(exc, data.origins) from None
    orders: list[Order] = []
    if service.hook != "patient-view":
        planned: list[dict[str, Any]] = []
        checked = {order.where: order for order in read_orders(call)}
        for index, entry in enumerate(call.context["draftOrders"].get("entry", [])):
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, dict):
                continue
            where = f"context.draftOrders.entry[{index}]"
            found: dict[str, list[str]] = {}
            mapped = _order_record(where, resource, data.patient, at, found)
            # what any draft order contains or states counts (a DVT behind an anticoagulant
            # order: contained, or its reason)
            for name in ("conditions", "procedures", "findings"):
                record.setdefault(name, []).extend(mapped.get(name, []))
                sources.setdefault(name, []).extend(found.get(name, []))
            kind = resource.get("resourceType")
            if kind not in _DRAFT_ORDER_TYPES and not mapped.get("planned"):
                # a CarePlan, RequestGroup or Task may order massage in its activities or
                # actions, which are not read: no card would read as "all clear"
                raise Problem(422, "FHIR data cannot be read",
                              f"{where}.resource: a {cut(str(kind), 40)} is not a draft order "
                              "CDS Hooks defines (ServiceRequest, MedicationRequest, "
                              "DeviceRequest, NutritionOrder, VisionPrescription), and it "
                              "contains no ServiceRequest: what it orders cannot be checked. "
                              "Give its massage orders as ServiceRequests",
                              kind="fhir-error", field=where + ".resource")
            order = checked.get(where)
            if order is None:
                continue
            # an order that may be a massage of a technique the vocabulary does not know
            # ("Deep tissue massage", "Cupping") is decided as one (UNRECOGNIZED, deep
            # pressure: every other rule applies too), never left unchecked
            order.plans = list(mapped.get("planned", []))
            order.first = len(planned)
            planned += order.plans
            if order.plans:
                orders.append(order)
        if planned:
            record["planned"] = planned
    check_entries(record, "the prefetch")
    loaded = load_record(record, name="request", at=at)
    assessment = assess(loaded, at=at)
    ctx = _Context(record, {**sources, "planned": [o.ref for o in orders for _ in o.plans]})
    if service.hook == "patient-view":
        cards = patient_cards(assessment, ctx)
    else:
        known: dict[tuple[str | None, str | None, str], str] = {
            (d.technique, d.target, d.side): d.status for d in assessment.decisions}

        def alternative(technique: str, target: str, side: str) -> str:
            if (technique, target, side) not in known:
                known[(technique, target, side)] = decide(
                    loaded, technique, target, "left" if side == "left" else "right",
                    at=at).status
            return known[(technique, target, side)]

        cards = order_cards(assessment, ctx, orders, alternative)
    # hookInstance as a literal (repr): a newline in it cannot forge a log line
    logger.info("%s %r: %d card(s)", service.id, cut(call.hook_instance, 64), len(cards))
    return {"cards": cards}


def check_feedback(body: Any) -> int:
    """Check a feedback document; the number of feedback items (400 when malformed)."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise _bad_request("feedback is required: an array", "feedback")
    for index, item in enumerate(body["feedback"]):
        where = f"feedback[{index}]"
        if not isinstance(item, dict):
            raise _bad_request(f"{where} must be an object", where)
        _string(item, "card", where + ".")
        if item.get("outcome") not in ("accepted", "overridden"):
            raise _bad_request(f"{where}.outcome must be 'accepted' or 'overridden'",
                               where + ".outcome")
        stamp = _string(item, "outcomeTimestamp", where + ".")
        parsed = parse_date(stamp)
        if parsed is None or not parsed.timed:
            raise _bad_request(f"{where}.outcomeTimestamp {cut(stamp, 40)!r} is not an instant "
                               "(e.g. 2026-11-20T10:00:00Z)", where + ".outcomeTimestamp")
        accepted = item.get("acceptedSuggestions")
        if item["outcome"] == "accepted":
            if not isinstance(accepted, list) or not accepted or not all(
                    isinstance(a, dict) and isinstance(a.get("id"), str) and a["id"]
                    for a in accepted):
                raise _bad_request(f"{where}.acceptedSuggestions is required when accepted: "
                                   "objects with the id of each suggestion",
                                   where + ".acceptedSuggestions")
        elif accepted is not None:
            raise _bad_request(f"{where}.acceptedSuggestions goes with an accepted outcome, "
                               "not an overridden one", where + ".acceptedSuggestions")
    return len(body["feedback"])


# --- SPARQL ---------------------------------------------------------------------------------

#: Result media types offered, in the order preferred when the client accepts several.
_SOLUTION_TYPES = ("application/sparql-results+json", "application/json", "text/csv",
                   "text/tab-separated-values", "application/sparql-results+xml",
                   "application/xml")
_GRAPH_TYPES = ("text/turtle", "application/n-triples", "text/plain")


def _only_params(request: Request, *names: str) -> None:
    """Refuse (400) a query parameter the route does not take: a misspelt ``Strict=true``
    would otherwise be ignored, and the caller get what it did not ask for."""
    unknown = sorted({key for key in request.query_params if key not in names})
    if unknown:
        taken = ", ".join(names) if names else "none"
        raise Problem(400, "Invalid parameter",
                      f"unknown query parameter {', '.join(cut(u, 40) for u in unknown)} "
                      f"(this route takes: {taken})", kind="parameter-error")


def check_query(query: str) -> None:
    """Refuse (403) an update and a federated query (``SERVICE``: the endpoint fetches
    nothing from elsewhere), before the query runs.

    >>> check_query("PREFIX x: <urn:x#> INSERT DATA { x:a x:b x:c }")
    Traceback (most recent call last):
    ...
    kgmassage.service.Problem: this endpoint is read-only: SPARQL updates (INSERT) are refused
    """
    word = update_keyword(query)
    if word:
        raise Problem(403, "Updates refused", "this endpoint is read-only: SPARQL updates "
                      f"({word}) are refused", kind="update-refused")
    if federated(query):
        raise Problem(403, "Federated query refused", "SERVICE is refused: the endpoint "
                      "queries the knowledge base only", kind="service-refused")


def negotiate(accept: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type the Accept header prefers (``None`` when none is acceptable).

    >>> negotiate("text/csv;q=0.5, application/sparql-results+json", _SOLUTION_TYPES)
    'application/sparql-results+json'
    >>> negotiate(None, _GRAPH_TYPES), negotiate("image/png", _GRAPH_TYPES)
    ('text/turtle', None)
    """
    if not accept or not accept.strip():
        return offered[0]
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((pieces[0].lower(), q))
    best, best_q = None, 0.0
    for media in offered:
        kind = media.split("/")[0]
        quality, specificity = 0.0, -1
        for pattern, q in ranges:
            level = (2 if pattern == media else 1 if pattern == f"{kind}/*"
                     else 0 if pattern == "*/*" else -1)
            if level > specificity:
                quality, specificity = q, level
        if quality > best_q:
            best, best_q = media, quality
    return best


def _json_term(term: Any) -> dict[str, Any]:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        out["datatype"] = term.datatype.value
    return out


def _csv_value(term: Any) -> str:
    import pyoxigraph as ox

    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Triple):
        return str(term)
    value: str = term.value
    return value


def _xml_term(term: Any) -> str:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return f"<uri>{xml_escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{xml_escape(term.value)}</bnode>"
    if isinstance(term, ox.Triple):
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>"
                f"{_xml_term(term.predicate)}</predicate><object>{_xml_term(term.object)}"
                "</object></triple>")
    if term.language:
        return f'<literal xml:lang="{xml_escape(term.language)}">{xml_escape(term.value)}</literal>'
    return (f'<literal datatype="{xml_escape(term.datatype.value)}">'
            f"{xml_escape(term.value)}</literal>")


_XML_HEAD = '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'


def _solutions(variables: list[str], rows: list[list[Any]], media: str) -> bytes:
    if media in ("application/sparql-results+json", "application/json"):
        bindings = [{v: _json_term(t) for v, t in zip(variables, row, strict=True)
                     if t is not None} for row in rows]
        return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                          ensure_ascii=False).encode("utf-8")
    if media == "text/csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(variables)
        writer.writerows([_csv_value(t) for t in row] for row in rows)
        return out.getvalue().encode("utf-8")
    if media == "text/tab-separated-values":
        lines = ["\t".join(f"?{v}" for v in variables)]
        lines += ["\t".join("" if t is None else str(t) for t in row) for row in rows]
        return ("\n".join(lines) + "\n").encode("utf-8")
    head = "".join(f'<variable name="{xml_escape(v)}"/>' for v in variables)
    body = "".join(
        "<result>" + "".join(f'<binding name="{xml_escape(v)}">{_xml_term(t)}</binding>'
                             for v, t in zip(variables, row, strict=True) if t is not None)
        + "</result>" for row in rows)
    return (f"{_XML_HEAD}<head>{head}</head><results>{body}</results></sparql>\n"
            ).encode()


#: Result media types of an ASK query (the SPARQL CSV and TSV formats have no boolean form).
_BOOLEAN_TYPES = ("application/sparql-results+json", "application/json",
                  "application/sparql-results+xml", "application/xml")


def _boolean(value: bool, media: str) -> bytes:
    if media in ("application/sparql-results+json", "application/json"):
        return json.dumps({"head": {}, "boolean": value}).encode("utf-8")
    return f"{_XML_HEAD}<head/><boolean>{str(value).lower()}</boolean></sparql>\n".encode()


def _too_many(limit: int, what: str) -> tuple[Any, ...]:
    return ("problem", 422, "Result too large",
            f"the query returns more than {limit:,} {what}; narrow it or page with LIMIT and "
            "OFFSET", "row-limit")


def answer_query(store: Any, query: str, accept: str | None, limit: int,
                 prefixes: Mapping[str, str]) -> tuple[Any, ...]:
    """Run ``query`` on ``store`` (pyoxigraph): ``("ok", media type, body)`` or
    ``("problem", status, title, detail, kind)``."""
    import pyoxigraph as ox

    try:
        answer = store.query(query, prefixes=dict(prefixes))
        if isinstance(answer, ox.QueryBoolean):
            media = negotiate(accept, _BOOLEAN_TYPES)
            if media is None:
                return _not_acceptable(_BOOLEAN_TYPES)
            return ("ok", media, _boolean(bool(answer), media))
        if isinstance(answer, ox.QuerySolutions):
            media = negotiate(accept, _SOLUTION_TYPES)
            if media is None:
                return _not_acceptable(_SOLUTION_TYPES)
            variables = [v.value for v in answer.variables]
            rows: list[list[Any]] = []
            for solution in answer:
                if len(rows) == limit:
                    return _too_many(limit, "rows")
                rows.append([solution[v] for v in variables])
            return ("ok", media, _solutions(variables, rows, media))
        media = negotiate(accept, _GRAPH_TYPES)
        if media is None:
            return _not_acceptable(_GRAPH_TYPES)
        lines: list[str] = []
        for triple in answer:
            if len(lines) == limit:
                return _too_many(limit, "triples")
            lines.append(f"{triple.subject} {triple.predicate} {triple.object} .\n")
        return ("ok", media, "".join(lines).encode("utf-8"))
    except SyntaxError as exc:
        return ("problem", 400, "Invalid query", f"SPARQL syntax error: {exc}", "query-error")
    except Exception as exc:  # pyoxigraph raises OSError, ValueError… for failed evaluation
        return ("problem", 400, "Query failed", f"{type(exc).__name__}: {exc}", "query-error")


def _not_acceptable(offered: Sequence[str]) -> tuple[Any, ...]:
    return ("problem", 406, "Not acceptable",
            f"this result can be given as {', '.join(offered)}", None)


def _sparql_worker(conn: Any, knowledge: bytes, prefixes: dict[str, str]) -> None:
    """The SPARQL worker process: the knowledge base in a store of its own, read-only; one
    query at a time from ``conn``, answered on it."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(knowledge, format=ox.RdfFormat.N_TRIPLES)
    conn.send(("ready", len(store)))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        query, accept, limit = job
        conn.send(answer_query(store, query, accept, limit, prefixes))


def _default_prefixes() -> dict[str, str]:
    from .knowledge import TABLE_PREFIXES

    return dict(TABLE_PREFIXES)


class SparqlRunner:
    """Runs queries in a worker process holding the knowledge base, one at a time; a query
    past the time limit has its worker stopped (and a new one started for the next)."""

    def __init__(self, timeout: float = SPARQL_TIMEOUT, row_limit: int = SPARQL_ROW_LIMIT
                 ) -> None:
        self.timeout = timeout
        self.row_limit = row_limit
        self._lock = threading.Lock()
        self._places = threading.BoundedSemaphore(SPARQL_QUEUE)  # running or waiting
        self._process: Any = None
        self._conn: Any = None
        self._ready = False

    def start(self) -> None:
        """Start the worker (it loads the knowledge base in the background)."""
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_sparql_worker, name="kgmassage-sparql",
                                  args=(child, knowledge_ntriples(), _default_prefixes()),
                                  daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self._ready = False

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if not self._conn.poll(120):
            self._stop()
            raise Problem(503, "SPARQL endpoint unavailable", "the query worker did not start")
        self._conn.recv()
        self._ready = True

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
            conn.close()
        if process is not None:
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    def close(self) -> None:
        """Stop the worker."""
        with self._lock:
            self._stop()

    def run(self, query: str, accept: str | None) -> tuple[str, bytes]:
        """``(media type, body)`` of the answer; a :class:`Problem` when it fails (503 when
        :data:`SPARQL_QUEUE` queries are already running or waiting)."""
        if not self._places.acquire(blocking=False):
            raise Problem(503, "SPARQL endpoint busy",
                          f"{SPARQL_QUEUE} queries are running or waiting; try again shortly",
                          kind="query-busy")
        try:
            return self._run(query, accept)
        finally:
            self._places.release()

    def _run(self, query: str, accept: str | None) -> tuple[str, bytes]:
        with self._lock:
            self._spawn()
            try:
                self._wait_ready()
                self._conn.send((query, accept, self.row_limit))
                started = time.monotonic()
                if not self._conn.poll(self.timeout):
                    logger.warning("SPARQL query stopped after %.1f s", time.monotonic() - started)
                    self._stop()
                    raise Problem(503, "Query timed out",
                                  f"the query ran longer than {self.timeout:g} s and was "
                                  "stopped; narrow it", kind="query-timeout")
                answer = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._stop()
                raise Problem(503, "SPARQL endpoint unavailable",
                              "the query worker ended; try again") from None
        if answer[0] == "ok":
            return answer[1], answer[2]
        _, status, title, detail, kind = answer
        raise Problem(status, title, detail, kind=kind)


def _sparql_params(pairs: Sequence[tuple[str, str]]) -> str:
    """The one ``query`` of the protocol parameters (an update, or a dataset, refused)."""
    names = [name for name, _ in pairs]
    if "update" in names:
        raise Problem(403, "Updates refused", "this endpoint is read-only: SPARQL updates are "
                      "refused", kind="update-refused")
    for name in ("default-graph-uri", "named-graph-uri", "using-graph-uri",
                 "using-named-graph-uri"):
        if name in names:
            raise Problem(400, "Dataset not supported", f"{name} is not supported: the "
                          "knowledge base is the default graph", kind="query-error")
    unknown = sorted({name for name in names if name != "query"})
    if unknown:
        raise Problem(400, "Invalid parameter", "unknown parameter "
                      f"{', '.join(cut(u, 40) for u in unknown)} (the protocol's query only)",
                      kind="parameter-error")
    queries = [value for name, value in pairs if name == "query"]
    if len(queries) != 1:
        raise Problem(400, "Missing query", "give exactly one query parameter (or POST the "
                      "query as application/sparql-query)", kind="query-error")
    return queries[0]


# --- the app --------------------------------------------------------------------------------

_JSON_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/fhir+json": {"schema": {"type": "object"}},
    },
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {"schema": {"type": "object"}}}}
    for status, text in ((400, "Malformed request"), (412, "Prefetch data missing"),
                         (413, "Request too large"), (415, "Not JSON"),
                         (422, "Data cannot be read"))
}


def create_app(*, warm: bool = True, sparql_timeout: float = SPARQL_TIMEOUT,
               sparql_row_limit: int = SPARQL_ROW_LIMIT, max_body: int = MAX_BODY,
               sparql_max_body: int = SPARQL_MAX_BODY) -> FastAPI:
    """The ASGI application.

    Args:
        warm: on start-up, build the decision engine and start the SPARQL worker (else on
            first use).
        sparql_timeout: seconds a SPARQL query may run.
        sparql_row_limit: most rows a SPARQL result may have.
        max_body: largest body of the record and CDS Hooks routes (bytes).
        sparql_max_body: largest SPARQL request (bytes).
    """
    sparql = SparqlRunner(sparql_timeout, sparql_row_limit)
    engine_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            sparql.start()
            await run_in_threadpool(_warm, engine_lock)
        try:
            yield
        finally:
            await run_in_threadpool(sparql.close)

    app = FastAPI(
        title="kgmassage",
        version=__version__,
        summary="Knee-massage clinical decision support: CDS Hooks 2.0, record assessment, "
        "a read-only SPARQL endpoint over the knowledge base.",
        lifespan=lifespan,
        # no redirect to the same path with(out) a trailing slash: Starlette answers it with an
        # absolute http:// URL, which sends a client behind a TLS gateway, and its patient
        # data, over plain HTTP
        redirect_slashes=False,
    )
    app.state.sparql = sparql
    # CDS Hooks 2.0: browser-based CDS clients need CORS. Any origin, no cookies (the service
    # authenticates nobody: see the README)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "Accept"],
                       max_age=600)

    @app.middleware("http")
    async def _single_parameters(request: Request, call_next: Any) -> Any:
        """A query parameter given twice is a 400: one reader keeps the first, another the
        last (``?at=…&at=…`` would assess at a time the client did not mean)."""
        names = [name for name, _ in request.query_params.multi_items()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            return _problem_response(Problem(
                400, "Invalid parameter",
                f"the query parameter(s) {', '.join(repr(cut(n, 40)) for n in twice)} are "
                "given more than once; give each once", kind="parameter-error"), request)
        return await call_next(request)

    def locked(function: Any, *args: Any, **kwargs: Any) -> Any:
        with engine_lock:
            return function(*args, **kwargs)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem_response(exc, request)

    @app.exception_handler(KgMassageError)
    async def _library(request: Request, exc: KgMassageError) -> JSONResponse:
        return _problem_response(_library_problem(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return _problem_response(Problem(exc.status_code, _reason(exc.status_code), detail),
                                 request, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = ["/".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg"))
                 for e in exc.errors()[:3]]
        return _problem_response(Problem(400, "Invalid parameter", "; ".join(parts),
                                         kind="parameter-error"), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected error on %r", request.url.path, exc_info=exc)
        return _problem_response(Problem(500, "Internal error", "the request failed; the "
                                         "server log has the details"), request)

    # --- service ---

    @app.get("/health", tags=["service"], summary="Liveness and versions")
    async def health(request: Request) -> dict[str, Any]:
        _only_params(request)
        return {"status": "ok", "version": __version__}

    # --- CDS Hooks ---

    @app.get("/cds-services", tags=["CDS Hooks"], summary="CDS Hooks discovery")
    async def discovery(request: Request) -> dict[str, Any]:
        _only_params(request)
        return {"services": [s.discovery() for s in SERVICES]}

    @app.post("/cds-services/{service_id}", tags=["CDS Hooks"], summary="Call a CDS service",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}}}}},
              responses=_PROBLEMS)
    async def call_service(
        request: Request, service_id: str,
        at: str | None = Query(None, description="Assessment time (xsd date or date-time; "
                               "default now, UTC). Not part of CDS Hooks: for replay and "
                               "tests."),
    ) -> JSONResponse:
        _only_params(request, "at")
        service = _BY_ID.get(service_id)
        if service is None:
            raise Problem(404, "Not found", f"no CDS service {cut(service_id, 60)!r}; see "
                          "GET /cds-services")
        _require_json(request)
        body = parse_json(await _read_body(request, max_body), "the CDS Hooks request")
        when = _resolve_at(at)
        return JSONResponse(await run_in_threadpool(locked, run_hook, service, body, when))

    @app.post("/cds-services/{service_id}/feedback", tags=["CDS Hooks"],
              summary="Feedback on cards", responses=_PROBLEMS,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}}}}})
    async def feedback(request: Request, service_id: str) -> Response:
        _only_params(request)
        if service_id not in _BY_ID:
            raise Problem(404, "Not found", f"no CDS service {cut(service_id, 60)!r}")
        _require_json(request)
        count = check_feedback(parse_json(await _read_body(request, max_body), "the feedback"))
        logger.info("feedback for %s: %d item(s)", service_id, count)
        return Response(status_code=200)

    # --- the page for people ---

    @app.get("/", tags=["pages"], summary="The form: paste or upload a record",
             response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        _only_params(request)
        return HTMLResponse(form_page())

    # HEAD as GET without the body (health checkers, proxies), out of the OpenAPI document
    for path, page in (("/health", health), ("/cds-services", discovery), ("/", home)):
        app.add_api_route(path, page, methods=["HEAD"], include_in_schema=False)

    @app.post("/", tags=["pages"], summary="The report of the record sent by the form",
              response_class=HTMLResponse)
    async def home_report(request: Request) -> HTMLResponse:
        return await run_in_threadpool(
            locked, _report_page, await _read_body(request, max_body),
            request.headers.get("content-type", ""))

    # --- records ---

    @app.post("/assess", tags=["records"], summary="Assess one record (JSON or FHIR Bundle)",
              openapi_extra={"requestBody": _JSON_BODY}, responses=_PROBLEMS)
    async def assess_route(
        request: Request,
        at: str | None = Query(None, description="Assessment time (xsd date or date-time); "
                               "default the record's assessed_at, else now (UTC)."),
        strict: bool = Query(False, description="Refuse (422) a record that does not conform."),
    ) -> JSONResponse:
        _only_params(request, "at", "strict")
        record = await _record_body(request, max_body)
        result = await run_in_threadpool(locked, _assess, record, at, strict)
        return JSONResponse(result)

    @app.post("/validate", tags=["records"], summary="Validate one record",
              openapi_extra={"requestBody": _JSON_BODY}, responses=_PROBLEMS)
    async def validate_route(
        request: Request,
        at: str | None = Query(None, description="Assessment time dates are checked against."),
    ) -> JSONResponse:
        _only_params(request, "at")
        record = await _record_body(request, max_body)
        return JSONResponse(await run_in_threadpool(locked, _validate, record, at))

    # --- SPARQL ---

    @app.get("/sparql", tags=["SPARQL"], summary="SPARQL 1.1 query (GET)",
             responses={**_PROBLEMS, 403: {"description": "Update or SERVICE refused"},
                        503: {"description": "Query timed out"}})
    async def sparql_get(
        request: Request,
        query: str | None = Query(None, description="The SPARQL 1.1 query."),
    ) -> Response:
        if len(request.url.query.encode()) > sparql_max_body:
            raise Problem(413, "Request too large",
                          f"the query string exceeds {sparql_max_body:,} bytes")
        text = _sparql_params(request.query_params.multi_items())
        return await _sparql(request, text)

    @app.post("/sparql", tags=["SPARQL"], summary="SPARQL 1.1 query (POST)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/sparql-query": {"schema": {"type": "string"}},
                  "application/x-www-form-urlencoded": {"schema": {
                      "type": "object", "properties": {"query": {"type": "string"}}}}}}},
              responses={**_PROBLEMS, 403: {"description": "Update or SERVICE refused"},
                         503: {"description": "Query timed out"}})
    async def sparql_post(request: Request) -> Response:
        from urllib.parse import parse_qsl

        body = await _read_body(request, sparql_max_body)
        kind = _media_type(request)
        params = request.query_params.multi_items()
        if kind == "application/sparql-update":
            raise Problem(403, "Updates refused", "this endpoint is read-only: SPARQL updates "
                          "are refused", kind="update-refused")
        if kind == "application/sparql-query":
            _sparql_params([*params, ("query", "")])  # dataset parameters are refused
            text = _decoded(body)
        elif kind == "application/x-www-form-urlencoded":
            try:
                pairs = parse_qsl(_decoded(body), keep_blank_values=True, strict_parsing=False)
            except ValueError as exc:
                raise Problem(400, "Malformed request", str(exc), kind="query-error") from None
            text = _sparql_params([*params, *pairs])
        else:
            raise Problem(415, "Unsupported media type", "POST the query as "
                          "application/sparql-query, or as the query parameter of "
                          "application/x-www-form-urlencoded")
        return await _sparql(request, text)

    async def _sparql(request: Request, text: str) -> Response:
        if not text.strip():
            raise Problem(400, "Missing query", "the query is empty", kind="query-error")
        check_query(text)
        accept = request.headers.get("accept")
        if (negotiate(accept, _SOLUTION_TYPES) is None
                and negotiate(accept, _GRAPH_TYPES) is None):
            raise Problem(406, "Not acceptable", "results are given as "
                          f"{', '.join(_SOLUTION_TYPES + _GRAPH_TYPES)}")
        media, content = await run_in_threadpool(sparql.run, text, accept)
        charset = "; charset=utf-8" if media.startswith("text/") else ""
        return Response(content, media_type=media + charset)

    return app


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Malformed request", f"the body is not UTF-8: {exc.reason}",
                      kind="query-error") from None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _record_body(request: Request, limit: int) -> dict[str, Any]:
    _require_json(request)
    record = parse_json(await _read_body(request, limit), "the record")
    if not isinstance(record, dict):
        raise Problem(422, "Record cannot be read", "send one record: a JSON object (the "
                      "record form, or a FHIR R4 Bundle)", kind="record-error")
    check_entries(record)
    return record


def check_entries(record: Mapping[str, Any], what: str = "the record") -> None:
    """A 413 Problem when ``record`` (the record form, or a Bundle) holds more than
    :data:`MAX_ENTRIES` entries: requests are decided one at a time, and one that keeps the
    engine for long would hold up every CDS call behind it."""
    lists = [value for value in record.values() if isinstance(value, list)]
    count = sum(len(value) for value in lists) + sum(  # and the codes of each item
        len(item["code"]) for value in lists for item in value
        if isinstance(item, Mapping) and isinstance(item.get("code"), list))
    if count > MAX_ENTRIES:
        raise Problem(413, "Record too large",
                      f"{what} holds {count:,} entries; this service takes at most "
                      f"{MAX_ENTRIES:,} (assess larger records with the command line or the "
                      "library)", kind="too-many-entries")


def _assess(record: dict[str, Any], at: str | None, strict: bool) -> dict[str, Any]:
    from .assessment import assess
    from .records import load_record

    when = None if at is None else _resolve_at(at)
    loaded = load_record(record, name="request", at=when)
    return assess(loaded, at=when, strict=strict).to_dict()


_NO_MULTIPART = (
    "multipart/form-data uploads (curl -F) are not supported: paste the record into the form, "
    "or send it as application/x-www-form-urlencoded in the field 'record' (curl "
    "--data-urlencode record@file.json)")


def _report_page(body: bytes, content_type: str) -> HTMLResponse:
    """The HTML report of the record of a form post, or the form again saying what is wrong
    (400) with the text kept."""
    from urllib.parse import parse_qs

    from .assessment import assess
    from .records import load_record

    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return HTMLResponse(form_page(message=_NO_MULTIPART), status_code=415)
    if kind != "application/x-www-form-urlencoded":
        return HTMLResponse(form_page(message="send the form as "
                                      "application/x-www-form-urlencoded, the record in the "
                                      "field 'record'"), status_code=415)
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    text = fields.get("record", [""])[0]
    at = fields.get("at", [""])[0].strip() or None
    try:
        record = parse_json(text.encode("utf-8"), "the record")
        if not isinstance(record, dict):
            raise Problem(422, "Record cannot be read", "the record must be one JSON object "
                          "(the record form, or a FHIR R4 Bundle)")
        check_entries(record)
        when = None if at is None else _resolve_at(at)
        assessment = assess(load_record(record, name="the pasted record", at=when), at=when)
    except Problem as exc:
        return HTMLResponse(form_page(message=exc.detail, record=text, at=at or ""),
                            status_code=400)
    except KgMassageError as exc:
        return HTMLResponse(form_page(message=str(exc), record=text, at=at or ""),
                            status_code=400)
    return HTMLResponse(to_html([assessment], back="/"))


def _validate(record: dict[str, Any], at: str | None) -> dict[str, Any]:
    from .records import load_record
    from .validation import validate

    when = None if at is None else _resolve_at(at)
    return validate(load_record(record, name="request", at=when), at=when).to_dict()


def _warm(lock: threading.Lock) -> None:
    """Build the decision engine and the FHIR tables once, before the first request."""
    from .assessment import assess

    with lock:
        started = time.monotonic()
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": {"resourceType": "Patient", "id": "warm-up"}}]}
        assess(bundle_to_record(bundle, at="2026-01-01T00:00:00Z"))
        _labels()
        logger.info("decision engine ready in %.1f s", time.monotonic() - started)
