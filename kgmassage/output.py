"""Serialisers of assessments: JSON objects, text for clinicians, RDF (Turtle) for researchers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD

from .assessment import Assessment, Decision, status_order
from .namespaces import KM, KM_IRI

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


def to_text(assessment: Assessment) -> str:
    """A readable report: validation problems, then decisions grouped by status, most severe
    first, each with its reasons and their source."""
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
    for status in reversed(status_order()):
        group = [d for d in a.decisions if d.status == status]
        if not group:
            continue
        lines.append("")
        lines.append(f"{_HEADINGS.get(status, status.upper())} ({len(group)})")
        for d in group:
            lines.append(f"  - {_intervention(d)}")
            for r in d.reasons:
                lifted = (f" - lifted by {', '.join(r.lifted_by) or 'a clearance'}"
                          if r.lifted else "")
                item = f" [{r.item}]" if r.item else ""
                lines.append(f"      {r.rule} ({r.status}{lifted}): {r.message}"
                             f"{item}  (source: {r.source})")
            if d.alternatives:
                lines.append(f"      Instead work: {', '.join(d.alternatives)}")
    summary = ", ".join(f"{k} {v}" for k, v in reversed(list(a.summary.items())))
    lines += ["", f"Summary: {summary}"]
    return "\n".join(lines) + "\n"


def _term(name: str) -> URIRef:
    return URIRef(name if ":" in name else KM_IRI + quote(name, safe=""))


_SIDE = {"left": KM.Left, "right": KM.Right}
_STATUS = {
    "permitted": KM.Permitted,
    "caution": KM.Caution,
    "requires-clearance": KM.RequiresClearance,
    "forbidden": KM.Forbidden,
}


def to_graph(assessments: Iterable[Assessment]) -> Graph:
    """Assessments as RDF in the ``km:`` vocabulary, with provenance (rule, time, version)."""
    g = Graph()
    g.bind("km", KM_IRI)
    g.bind("prov", PROV)
    g.bind("dcterms", DCTERMS)
    for a in assessments:
        stamp = a.assessed_at.isoformat().replace("+00:00", "Z")
        who = quote(a.patient or a.patient_iri, safe="")
        node = URIRef(f"urn:kgmassage:assessment:{who}:{stamp}")
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
            g.add((dn, KM.technique, _term(d.technique)))
            g.add((dn, KM.target, _term(d.target)))
            g.add((dn, KM.side, _SIDE[d.side]))
            g.add((dn, KM.status, _STATUS[d.status]))
            g.add((dn, KM.planned, Literal(d.planned)))
            for r in d.reasons:
                rn = BNode()
                g.add((dn, KM.hasReason, rn))
                g.add((rn, RDF.type, KM.Reason))
                rule = URIRef(r.rule_iri)
                g.add((rn, KM.rule, rule))
                g.add((rule, RDF.type, KM.Rule))
                g.add((rule, KM.ruleId, Literal(r.rule)))
                g.add((rn, KM.status, _STATUS[r.status]))
                g.add((rn, KM.lifted, Literal(r.lifted)))
                g.add((rn, KM.message, Literal(r.message)))
                g.add((rn, DCTERMS.source, Literal(r.source)))
                if r.item_iri and ":" in r.item_iri:
                    g.add((rn, KM.matchedItem, URIRef(r.item_iri)))
                for alt in r.alternatives:
                    g.add((rn, KM.alternative, _term(alt)))
    return g

