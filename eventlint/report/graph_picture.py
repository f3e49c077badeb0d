"""``eventlint graph``: the publisher/subscriber graph as Graphviz DOT, a mermaid flowchart
or node-link JSON.

The pictures take the plain node and edge lists of ``eventlint.graph_export.picture()``
(channels, the functions that touch them, and their neighbours): one box per module,
channels as cylinders, functions as ellipses, outside APIs (what registers a handler) as
plain boxes outside the modules, and every node that carries a finding in red.
Several operations between the same function and channel are drawn as one arrow with a
count, so a function that puts in five places doesn't draw five arrows.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from types import MappingProxyType
from typing import Callable, Mapping

from ..model import Finding

_VERB = {"publishes": "put", "consumes": "get"}
_FLAG = "#c62828"
_EDGE_STYLE = {"put": ("#1565c0", "solid"), "get": ("#2e7d32", "solid")}


def with_display_paths(nodes: list[dict], edges: list[dict],
                       rewrite: Callable[[str], str]) -> tuple[list[dict], list[dict]]:
    return ([{**n, "path": rewrite(n["path"]) if n["path"] else ""} for n in nodes],
            [{**e, "path": rewrite(e["path"]) if e["path"] else ""} for e in edges])


def flagged_nodes(nodes: list[dict], findings: list[Finding]) -> dict[str, tuple[str, ...]]:
    """Node id -> the codes of the findings at its location (same path and line) or about
    it (the finding's enclosing symbol is the node's name).  Paths must be comparable:
    both the report's display paths."""
    codes: dict[str, set[str]] = defaultdict(set)
    for node in nodes:
        for finding in findings:
            if (finding.path, finding.span.line) == (node["path"], node["line"]) or finding.symbol == node["name"]:
                codes[node["id"]].add(finding.code)
    return {node: tuple(sorted(found)) for node, found in codes.items()}


def _arrows(edges: list[dict]) -> list[tuple[str, str, str, int]]:
    """(source, target, verb, how many operation sites) in a stable order."""
    counts = Counter((e["source"], e["target"], _VERB.get(e["relation"], e["relation"])) for e in edges)
    return [(source, target, verb, count) for (source, target, verb), count in sorted(counts.items())]


def _by_module(nodes: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for node in nodes:
        groups[node["module"]].append(node)
    return dict(sorted(groups.items()))


def _short_ids(nodes: list[dict]) -> dict[str, str]:
    return {node["id"]: f"n{number}" for number, node in enumerate(nodes)}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(nodes: list[dict], edges: list[dict],
               flagged: Mapping[str, tuple[str, ...]] = MappingProxyType({})) -> str:
    ids = _short_ids(nodes)
    out = [
        "digraph eventlint {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.35, ranksep=1.1, '
        'labeljust=l, newrank=true, pad=0.3];',
        '  node [fontname="Helvetica", fontsize=11, style=filled, fillcolor="#ffffff", color="#555555"];',
        '  edge [fontname="Helvetica", fontsize=10, color="#555555", arrowsize=0.8];',
    ]
    if not nodes:
        out.append('  empty [shape=plaintext, label="no channels found"];')
    for number, (module, members) in enumerate(_by_module(nodes).items()):
        if not module:
            out.extend(f"  {ids[node['id']]} [{_dot_node(node, flagged.get(node['id'], ()))}];" for node in members)
            continue
        path = members[0]["path"]
        title = f"{module}  ({path})" if path else module
        out.append(f"  subgraph cluster_{number} {{")
        out.append(f'    label={_dot_string(title)}; style="rounded,filled"; fillcolor="#f4f6f8"; '
                   'color="#b0bec5"; fontcolor="#37474f";')
        for node in members:
            out.append(f"    {ids[node['id']]} [{_dot_node(node, flagged.get(node['id'], ()))}];")
        out.append("  }")
    for source, target, verb, count in _arrows(edges):
        label = verb if count == 1 else f"{verb} ×{count}"
        color, style = _EDGE_STYLE.get(verb, ("#757575", "dashed"))
        out.append(f'  {ids[source]} -> {ids[target]} [label={_dot_string(label)}, color="{color}", '
                   f'fontcolor="{color}", style={style}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_node(node: dict, codes: tuple[str, ...]) -> str:
    if node["kind"] == "channel":
        label = f"{node['label']}\n{node['api']}" if node["api"] else node["label"]
        attributes = ['shape=cylinder', 'fillcolor="#e3f2fd"', 'margin="0.15,0.08"']
    elif node["kind"] == "module":
        label = node["label"]
        attributes = ['shape=note', 'fillcolor="#fffde7"']
    elif node["kind"] != "function":
        label = node["label"]
        attributes = ['shape=box', 'style="rounded,filled,dashed"', 'fillcolor="#fafafa"', 'color="#757575"',
                      'fontcolor="#424242"']
    else:
        label = node["label"]
        attributes = ['shape=ellipse']
    if codes:
        label += "\n⚠ " + " ".join(codes)
        attributes = [a for a in attributes if not a.startswith("fillcolor")]
        attributes += [f'color="{_FLAG}"', f'fontcolor="{_FLAG}"', 'fillcolor="#ffebee"', "penwidth=2.2"]
    tooltip = f"{node['name']} ({node['path']}:{node['line']})" if node["path"] else node["name"]
    return ", ".join([f"label={_dot_string(label)}", *attributes, f"tooltip={_dot_string(tooltip)}"])


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def render_mermaid(nodes: list[dict], edges: list[dict],
                   flagged: Mapping[str, tuple[str, ...]] = MappingProxyType({})) -> str:
    ids = _short_ids(nodes)
    out = ["flowchart LR"]
    for number, (module, members) in enumerate(_by_module(nodes).items()):
        if module:
            out.append(f"  subgraph m{number}[{_mermaid_text(module)}]")
        indent = "    " if module else "  "
        for node in members:
            codes = flagged.get(node["id"], ())
            text = _mermaid_text(node["label"] + (f"\n{node['api']}" if node["api"] else "")
                                 + ("\n⚠ " + " ".join(codes) if codes else ""))
            if node["kind"] == "channel":
                shape = f"[({text})]"
            elif node["kind"] == "module":
                shape = f"[/{text}/]"
            elif node["kind"] != "function":
                shape = f"[[{text}]]"
            else:
                shape = f"([{text}])"
            out.append(f"{indent}{ids[node['id']]}{shape}")
        if module:
            out.append("  end")
    for source, target, verb, count in _arrows(edges):
        label = verb if count == 1 else f"{verb} ×{count}"
        arrow = "-->" if verb in _EDGE_STYLE else "-.->"
        out.append(f"  {ids[source]} {arrow}|{label}| {ids[target]}")
    marked = [ids[node["id"]] for node in nodes if node["id"] in flagged]
    if marked:
        out.append(f"  classDef flagged fill:#ffebee,stroke:{_FLAG},stroke-width:2px,color:{_FLAG}")
        out.append(f"  class {','.join(marked)} flagged")
    return "\n".join(out) + "\n"


def render_json(data: dict, rewrite: Callable[[str], str]) -> str:
    """Node-link data (``EventGraph.to_node_link()``) with node paths as the report shows them."""
    nodes = [{**n, "path": rewrite(n["path"])} if n.get("path") else n for n in data.get("nodes", [])]
    return json.dumps({**data, "nodes": nodes}, indent=2, default=str) + "\n"
