"""Python view of the contraindication rules stated in shapes/contraindications.shapes.ttl.

Nothing here decides anything: it reads the rule statements to compute time-window cutoffs
and to describe the rules to people (the README's rule table, ``kgmassage rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS
from rdflib.term import Node

from .namespaces import KM
from .resources import rules_graph

__all__ = ["RuleInfo", "windows_in", "rule_infos", "rule_table"]


def windows_in(graph: Graph) -> dict[URIRef, timedelta]:
    """Every ``km:TimeWindow`` in ``graph`` with its length (``km:hours`` / ``km:days``)."""
    windows: dict[URIRef, timedelta] = {}
    for window in graph.subjects(RDF.type, KM.TimeWindow):
        hours = graph.value(window, KM.hours)
        days = graph.value(window, KM.days)
        windows[URIRef(str(window))] = timedelta(
            hours=float(str(hours or 0)), days=float(str(days or 0)))
    return windows


@dataclass(frozen=True)
class RuleInfo:
    """A rule as people read it: id, name, source, what triggers it and what it does."""

    rule_id: str
    iri: str
    label: str
    source: str
    effects: tuple[str, ...]
    fail_safe: str
    evidence: str
    version: str
    validation: str


def _label(graph: Graph, node: Node | None) -> str:
    if node is None:
        return ""
    label = graph.value(node, RDFS.label)
    return str(label) if label is not None else str(node).rsplit("#", 1)[-1]


_SIDES: dict[Node | None, str] = {
    KM.SameSide: "on the item's side", KM.OtherSide: "on the other side",
    KM.AnySide: "on both sides"}
_GUARDS: dict[Node, str] = {
    KM.WithinWindow: "within the {w}", KM.BeyondWindow: "after the {w}",
    KM.WoundNotHealed: "while the wound is not healed (wound state unknown: during the {w})",
    KM.WoundHealed: "once the wound is healed"}


def _effect_text(graph: Graph, effect: Node) -> str:
    triggers = sorted(_label(graph, t) for t in graph.objects(effect, KM.trigger))
    triggers += sorted(f"{_label(graph, t)} of unknown kind"
                       for t in graph.objects(effect, KM.exactTrigger))
    when = " or ".join(triggers) if triggers else "always"
    scope = []
    if graph.value(effect, KM.plannedOnly) is not None:
        scope.append("that planned intervention")
    else:
        target = graph.value(effect, KM.onTarget)
        deep = graph.value(effect, KM.deepPressureOnly) is not None
        what = "deep-pressure techniques" if deep else "every technique"
        scope.append(f"{what} on the {_label(graph, target)}" if target is not None else what)
    region = graph.value(effect, KM.regionScope)
    default = graph.value(effect, KM.defaultRegion)
    if region == KM.SameRegion:
        scope.append("in the item's region")
    elif region == KM.AdjacentRegion:
        scope.append("in regions adjacent to the item's")
    elif region == KM.OtherRegion:
        scope.append("outside the item's region")
    if default is not None:
        scope.append(f"(no site: {_label(graph, default)})")
    scope.append(_SIDES.get(graph.value(effect, KM.sideScope), ""))
    guard = graph.value(effect, KM.guard)
    if guard is not None:
        scope.append(_GUARDS[guard].format(w=_label(graph, graph.value(effect, KM.window))))
    status = str(graph.value(graph.value(effect, KM.effectStatus), SKOS.notation))
    return f"{when}: {' '.join(s for s in scope if s)} → **{status}**"


@cache
def rule_infos() -> tuple[RuleInfo, ...]:
    """Every rule, sorted by id, described from its RDF statement."""
    graph = rules_graph()
    infos = []
    for rule in graph.subjects(RDF.type, KM.Rule):
        effects = sorted(_effect_text(graph, e) for e in graph.objects(rule, KM.effect))
        infos.append(RuleInfo(
            rule_id=str(graph.value(rule, KM.ruleId)),
            iri=str(rule),
            label=_label(graph, rule),
            source=str(graph.value(rule, DCTERMS.source)),
            effects=tuple(effects),
            fail_safe=str(graph.value(rule, KM.failSafeNote) or ""),
            evidence=str(graph.value(rule, KM.evidence) or ""),
            version=str(graph.value(rule, KM.ruleVersion) or ""),
            validation=str(graph.value(rule, KM.validationStatus) or ""),
        ))
    return tuple(sorted(infos, key=lambda i: i.rule_id))


def rule_table() -> str:
    """The rules as a Markdown table (generated from the shapes; the README embeds it)."""
    lines = [
        "| Rule | What it is | When it applies → status | Source section "
        "| Choices made to fail safe |",
        "|---|---|---|---|---|",
    ]
    for info in rule_infos():
        effects = "<br>".join(info.effects)
        lines.append(f"| `{info.rule_id}` | {info.label} | {effects} | {info.source} | "
                     f"{info.fail_safe} |")
    return "\n".join(lines) + "\n"
