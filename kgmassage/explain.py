"""The explanation of one decision as a graph: record item → rule → decision, and the anatomy
path from the target to the knee joint where one matters (TFL → IT band → knee joint).

Built on networkx (the anatomy from :meth:`kgmassage.knowledge.KnowledgeBase.to_networkx`);
written as Graphviz DOT, GraphML, or a self-contained SVG laid out in columns (items, rules,
the decision, the anatomy path).

>>> from kgmassage import assess
>>> a = assess({"id": "x", "conditions": [{"type": "DeepVeinThrombosis", "side": "left"}]},
...            at="2026-11-20")
>>> g = explanation(a, "MyofascialRelease", "VastusLateralis", "left")
>>> sorted(d["kind"] for _, d in g.nodes(data=True))
['anatomy', 'anatomy', 'decision', 'item', 'rule']
"""

from __future__ import annotations

import html
import textwrap
from io import BytesIO
from typing import TYPE_CHECKING, TypeAlias

import networkx

from .assessment import Assessment, Side
from .errors import UnknownTermError, visible
from .knowledge import KnowledgeBase
from .report import COLOURS, ink, item_text

__all__ = ["explanation", "to_dot", "to_graphml", "to_svg"]

if TYPE_CHECKING:
    Graph: TypeAlias = networkx.MultiDiGraph[str]
else:
    Graph = networkx.MultiDiGraph

_COLUMNS = {"item": 0, "rule": 1, "decision": 2, "anatomy": 3}


def explanation(assessment: Assessment, technique: str | None, target: str | None, side: Side
                ) -> Graph:
    """The graph that explains the decision on ``technique``, ``target``, ``side`` (``None``:
    a plan that gives none).

    Raises:
        UnknownDecisionError: the assessment holds no such decision.
    """
    decision = assessment.decision(technique, target, side)
    graph: Graph = networkx.MultiDiGraph()
    top = "decision"
    graph.add_node(top, kind="decision", status=decision.status,
                   label=f"{decision.technique} on {decision.target}, {decision.side}: "
                         f"{decision.status}")
    for reason in decision.reasons:
        rule = f"rule {reason.rule} {reason.status}"
        graph.add_node(rule, kind="rule", status=reason.status,
                       label=f"{reason.rule}: {reason.status}"
                             + (" (lifted)" if reason.lifted else ""),
                       message=reason.message, source=reason.source)
        graph.add_edge(rule, top, key="decides", relation="lifted" if reason.lifted
                       else "decides")
        if reason.item is not None:
            item = f"item {reason.item}"
            graph.add_node(item, kind="item", label=item_text(reason))
            graph.add_edge(item, rule, key="sets off", relation="sets off")
    if decision.target is not None and decision.target != "KneeJoint":
        try:
            path = KnowledgeBase.load().explain_path(decision.target, "KneeJoint")
        except UnknownTermError:
            path = []
        for subject, relation, obj in path:
            for node in (subject, obj):
                graph.add_node(f"anatomy {node}", kind="anatomy", label=node)
            graph.add_edge(f"anatomy {subject}", f"anatomy {obj}", key=relation,
                           relation=relation)
    return graph


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text of an explanation."""
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph explanation {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for node, data in graph.nodes(data=True):
        colour = COLOURS.get(data.get("status", ""), "#444444")
        lines.append(f"  {quoted(node)} [label={quoted(data['label'])}, color={quoted(colour)}];")
    for source, target, data in graph.edges(data=True):
        lines.append(f"  {quoted(source)} -> {quoted(target)} "
                     f"[label={quoted(data['relation'])}];")
    return visible("\n".join([*lines, "}"]) + "\n")


def to_graphml(graph: Graph) -> str:
    """GraphML of an explanation."""
    out = BytesIO()
    networkx.write_graphml(graph, out)
    return out.getvalue().decode("utf-8")


def to_svg(graph: Graph) -> str:
    """A self-contained SVG of an explanation, in columns: items, rules, the decision, the
    anatomy path. Each box is as tall as its label, wrapped at whole words (a date or a
    status cut in two reads as another), and carries the label whole as its title."""
    width, gap, line_h = 260, 22, 13
    lines = {node: textwrap.wrap(data["label"], 42) or [""]
             for node, data in graph.nodes(data=True)}
    heights = {node: max(46, 20 + len(wrapped) * line_h) for node, wrapped in lines.items()}
    bottoms: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for node, data in graph.nodes(data=True):
        column = _COLUMNS[data["kind"]]
        top = bottoms.get(column, 20)
        bottoms[column] = top + heights[node] + gap
        place[node] = (20 + column * (width + 60), top)
    total_h = 20 + max(bottoms.values(), default=20 + 46 + gap)
    total_w = 40 + (max(_COLUMNS[d["kind"]] for _, d in graph.nodes(data=True)) + 1) * (
        width + 60)
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
             f'font-family="sans-serif" font-size="11">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/>'
             "</marker></defs>"]
    for source, target, data in graph.edges(data=True):
        (x1, y1), (x2, y2) = place[source], place[target]
        start: tuple[float, float]
        end: tuple[float, float]
        if x1 == x2:  # the anatomy path: down the column
            start, end = (x1 + width / 2, y1 + heights[source]), (x2 + width / 2, y2)
        else:
            start, end = (x1 + width, y1 + heights[source] / 2), (x2, y2 + heights[target] / 2)
        parts.append(f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" '
                     f'stroke="#555" marker-end="url(#arrow)"/>')
        parts.append(f'<text x="{(start[0] + end[0]) / 2}" y="{(start[1] + end[1]) / 2 - 3}" '
                     f'text-anchor="middle" fill="#555">{esc(data["relation"])}</text>')
    for node, data in graph.nodes(data=True):
        x, y = place[node]
        colour = COLOURS.get(data.get("status", ""), "#455a64")
        parts.append(f'<g><title>{esc(data["label"])}</title><rect x="{x}" y="{y}" '
                     f'width="{width}" height="{heights[node]}" rx="8" fill="{colour}"/>')
        for index, line in enumerate(lines[node]):
            parts.append(f'<text x="{x + 8}" y="{y + 16 + index * line_h}" '
                         f'fill="{ink(colour)}">{esc(line)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return visible("".join(parts) + "\n")
