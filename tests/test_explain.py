"""The explanation graph of one decision: record item → rule → decision, plus the anatomy path
from the target to the knee joint; as DOT, GraphML and SVG, through the real command."""

from __future__ import annotations

import html
import re
import subprocess
from io import BytesIO
from pathlib import Path

import networkx

from kgmassage import assess
from kgmassage.explain import explanation, to_svg
from kgmassage.report import ink

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T10:00:00Z"
RECORD = {"id": "x", "conditions": [{"type": "DeepVeinThrombosis", "side": "left",
                                     "onset": "2026-11-19"}]}


def test_the_graph_links_item_rule_decision_and_anatomy() -> None:
    graph = explanation(assess(RECORD, at=AT), "FoamRolling", "TensorFasciaeLatae", "left")
    edges = {(s, t, d["relation"]) for s, t, d in graph.edges(data=True)}
    assert ("item conditions[0]", "rule DVT forbidden", "sets off") in edges
    assert ("rule DVT forbidden", "decision", "decides") in edges
    assert ("anatomy TensorFasciaeLatae", "anatomy IliotibialBand", "attachesTo") in edges
    assert ("anatomy IliotibialBand", "anatomy KneeJoint", "pullsOn") in edges
    assert graph.nodes["decision"]["status"] == "forbidden"


def test_the_command_writes_dot_graphml_and_svg(tmp_path: Path,
                                               kgmassage_command: list[str]) -> None:
    record = tmp_path / "r.json"
    record.write_text('{"id": "x", "assessed_at": "2026-11-20T10:00:00Z", "conditions": '
                      '[{"type": "DeepVeinThrombosis", "side": "left"}]}', encoding="utf-8")
    outputs = {}
    for fmt in ("dot", "graphml", "svg"):
        done = subprocess.run([*kgmassage_command, "explain", str(record), "--decision",
                               "foam rolling,TFL,left", "--format", fmt],
                              capture_output=True, text=True, check=True)
        outputs[fmt] = done.stdout
    assert '"rule DVT forbidden" -> "decision"' in outputs["dot"]
    graph = networkx.read_graphml(BytesIO(outputs["graphml"].encode()))
    assert "anatomy IliotibialBand" in graph
    assert outputs["svg"].startswith("<svg") and "FoamRolling on TensorFasciaeLatae" in outputs[
        "svg"]
    bad = subprocess.run([*kgmassage_command, "explain", str(record), "--decision", "oops"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "TECHNIQUE,TARGET,SIDE" in bad.stderr


def test_a_plan_without_a_target_can_be_explained(tmp_path: Path,
                                                  kgmassage_command: list[str]) -> None:
    record = tmp_path / "plan.json"
    record.write_text('{"id": "e", "assessed_at": "2026-11-20T10:00:00Z", "planned": '
                      '[{"technique": "Petrissage", "side": "left"}]}', encoding="utf-8")
    done = subprocess.run([*kgmassage_command, "explain", str(record), "--decision",
                           "Petrissage,,left", "--format", "dot"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert '"rule UNRECOGNIZED requires-clearance" -> "decision"' in done.stdout


def test_the_picture_shows_long_labels_whole_and_readable() -> None:
    technique = "a gentle stroking massage the clinic teaches under a long name of its own " * 2
    record = {"id": "x", "conditions": [
        {"type": "DeepVeinThrombosis", "side": "left", "onset": "2026-11-19"}],
        "planned": [{"technique": technique, "target": "Quadriceps", "side": "left"}]}
    graph = explanation(assess(record, at=AT), technique, "Quadriceps", "left")
    svg = to_svg(graph)
    assert any(len(data["label"]) > 3 * 42 for _, data in graph.nodes(data=True))
    drawn = " ".join(re.findall(r'<text x="[^"]+" y="[^"]+" fill="#[0-9a-f]+">([^<]*)</text>',
                                svg))
    for _, data in graph.nodes(data=True):  # every word of every label is drawn
        assert f"<title>{html.escape(data['label'])}</title>" in svg
        assert all(html.escape(word) in drawn for word in data["label"].split())
    boxes = re.findall(r'fill="(#[0-9a-f]{6})"/><text [^>]* fill="(#[0-9a-f]+)"', svg)
    assert len(boxes) == graph.number_of_nodes()
    assert all(ink(fill) == text for fill, text in boxes)
    assert ink("#f9a825") == "#000" and ink("#c62828") == "#fff"  # caution yellow, forbidden red
