"""Serialisers of assessments: JSON objects, text for clinicians, RDF (Turtle) for researchers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD

from .assessment import Assessment, Decision, Reason, side_names, status_names, status_order
from .namespaces import KM, KM_IRI, km_term

__all__ = ["to_json", "to_json_line", "to_text", "to_graph"]

_HEADINGS = {
    "forbidden": "FORBIDDEN - do not perform",
    "requires-clearance": "REQUIRES MEDICAL CLEARANCE",
    "caution": "CAUTION",
    "permitted": "PERMITTED",
}


def to_json_line(assessment: Assessment) -> str:
    """One assessment as a single JSON line (NDJSON)."""
    return json.dumps(assessment.to_dict(), ensure_ascii=False, separators=(",", ":"))


def to_json(assessments: list[Assessment]) -> str:
    """One object for one assessment, else an array; indented."""
    data = [a.to_dict() for a in assessments]
    return json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2)


def _intervention(d: Decision) -> str:
    planned = " (planned)" if d.planned else ""
    return f"{d.technique} on {d.target}, {d.side}{planned}"


def _when(instant: str) -> str:
    """A trigger time for people: a date alone (stored as the end of its day) shows as the date."""
    stamp = datetime.fromisoformat(instant)
    if (stamp.hour, stamp.minute, stamp.second, stamp.microsecond) == (23, 59, 59, 999999):
        return stamp.date().isoformat()
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _reason_label(r: Reason) -> str:
    lifted = f", lifted by {', '.join(r.lifted_by) or 'a clearance'}" if r.lifted else ""
    item = f" [{r.item}]" if r.item else ""
    return f"{r.rule} ({r.status}{lifted}){item}"


def to_text(assessment: Assessment) -> str:
    """A readable report: validation problems; the rules that apply, each once with its message
    and source; then the decisions grouped by status, most severe first, one line each with the
    rules behind it."""
    a = assessment
    lines = [
        f"Patient {a.patient or '(no id)'}  -  assessed at {a.assessed_at.isoformat()}"
        f"  -  knowledge base {a.knowledge_version}",
        f"Source: {a.source}    Input: {a.input_digest}",
    ]
    violations = [r for r in a.validation if r.severity == "Violation"]
    if a.validation:
        state = "does NOT conform" if violations else "conforms"
        lines.append(f"Record {state}: {len(violations)} violation(s), "
                     f"{len(a.validation) - len(violations)} warning(s)/note(s)")
        for r in a.validation:
            where = f" [{r.field}]" if r.field else ""
            lines.append(f"  {r.severity}{where}: {r.message}")
        if violations:
            lines.append("  Decisions below treat the unclear data fail-safe.")
    else:
        lines.append("Record conforms.")
    reached: dict[Reason, int] = {}
    for d in a.decisions:
        for r in d.reasons:
            reached[r] = reached.get(r, 0) + 1
    if reached:
        lines += ["", "Rules that apply"]
        rank = {name: i for i, name in enumerate(status_order())}
        for r, count in sorted(reached.items(),
                               key=lambda rc: (-rank[rc[0].status], rc[0].rule, rc[0].item or "")):
            since = f" since {_when(r.since)}" if r.since else ""
            lines.append(f"  {_reason_label(r)}{since} - {count} intervention(s): {r.message}"
                         f" (source: {r.source})")
    for status in reversed(status_order()):
        group = [d for d in a.decisions if d.status == status]
        if not group:
            continue
        lines += ["", f"{_HEADINGS.get(status, status.upper())} ({len(group)})"]
        for d in group:
            why = "; ".join(_reason_label(r) for r in d.reasons)
            instead = f"; instead work: {', '.join(d.alternatives)}" if d.alternatives else ""
            lines.append(f"  - {_intervention(d)}" + (f"  <- {why}" if why else "") + instead)
    summary = ", ".join(f"{k} {v}" for k, v in reversed(list(a.summary.items())))
    lines += ["", f"Summary: {summary}"]
    return "\n".join(lines) + "\n"


def _by_notation(names: dict[str, str]) -> dict[str, URIRef]:
    """IRI → JSON name (from the ontology's skos:notation) turned round."""
    return {name: URIRef(iri) for iri, name in names.items()}


def to_graph(assessments: Iterable[Assessment]) -> Graph:
    """Assessments as RDF in the ``km:`` vocabulary, with provenance (rule, time, version)."""
    sides, statuses = _by_notation(side_names()), _by_notation(status_names())
    g = Graph()
    g.bind("km", KM_IRI)
    g.bind("prov", PROV)
    g.bind("dcterms", DCTERMS)
    for a in assessments:
        stamp = a.assessed_at.isoformat().replace("+00:00", "Z")
        who = quote(a.patient or a.patient_iri, safe="")
        digest = a.input_digest.rpartition(":")[2][:16]
        node = URIRef(f"urn:kgmassage:assessment:{who}:{stamp}:{digest}")
        patient = URIRef(a.patient_iri)
        g.add((node, RDF.type, KM.Assessment))
        g.add((node, RDF.type, PROV.Activity))
        g.add((node, KM.patient, patient))
        g.add((node, KM.assessedAt, Literal(stamp, datatype=XSD.dateTime)))
        g.add((node, PROV.endedAtTime, Literal(stamp, datatype=XSD.dateTime)))
        g.add((node, KM.knowledgeVersion, Literal(a.knowledge_version)))
        g.add((node, KM.inputDigest, Literal(a.input_digest)))
        if a.patient is not None:
            g.add((patient, KM.identifier, Literal(a.patient)))
        for d in a.decisions:
            dn = BNode()
            g.add((node, KM.hasDecision, dn))
            g.add((dn, RDF.type, KM.Decision))
            g.add((dn, PROV.wasGeneratedBy, node))
            for prop, iri, name in ((KM.technique, d.technique_iri, d.technique),
                                    (KM.target, d.target_iri, d.target)):
                if iri is not None:
                    g.add((dn, prop, URIRef(iri)))
                elif name is not None:  # a name the ontology does not know, as given
                    g.add((dn, prop, Literal(name)))
            g.add((dn, KM.side, sides[d.side]))
            g.add((dn, KM.status, statuses[d.status]))
            g.add((dn, KM.planned, Literal(d.planned)))
            for r in d.reasons:
                rn = BNode()
                g.add((dn, KM.hasReason, rn))
                g.add((rn, RDF.type, KM.Reason))
                rule = URIRef(r.rule_iri)
                g.add((rn, KM.rule, rule))
                g.add((rule, RDF.type, KM.Rule))
                g.add((rule, KM.ruleId, Literal(r.rule)))
                g.add((rn, KM.status, statuses[r.status]))
                g.add((rn, KM.lifted, Literal(r.lifted)))
                g.add((rn, KM.message, Literal(r.message)))
                g.add((rn, DCTERMS.source, Literal(r.source)))
                if r.item_iri and ":" in r.item_iri:
                    g.add((rn, KM.matchedItem, URIRef(r.item_iri)))
                for alt in r.alternatives:
                    g.add((rn, KM.alternative, km_term(alt)))
    return g

