"""Serialisers of assessments: JSON objects, RDF (Turtle) for researchers (for people:
:mod:`kgmassage.report`)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

import orjson
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD

from .assessment import Assessment, side_names, status_names
from .namespaces import KM, KM_IRI, km_term

__all__ = ["to_json", "to_json_line", "to_graph"]

# orjson writes what json.dumps(ensure_ascii=False) writes (compact, or indented by two
# spaces), five times faster: a cohort's output is about 30 kB of JSON per patient.


def to_json_line(assessment: Assessment) -> str:
    """One assessment as a single JSON line (NDJSON)."""
    return orjson.dumps(assessment.to_dict(share_reasons=True)).decode("utf-8")


def to_json(assessments: list[Assessment]) -> str:
    """One object for one assessment, else an array; indented."""
    data = [a.to_dict(share_reasons=True) for a in assessments]
    return orjson.dumps(data[0] if len(data) == 1 else data,
                        option=orjson.OPT_INDENT_2).decode("utf-8")


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

