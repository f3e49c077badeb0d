"""What ``eventlint graph`` draws of a run's index (``EventGraph``): the part worth a
picture, as plain node and edge lists (``eventlint.report.graph_picture`` renders them;
the whole graph as JSON is ``EventGraph.to_node_link``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the index is handed in
    from .graph import EventGraph


def _module_of(index: EventGraph, qualname: str) -> str:
    if qualname in index.modules:
        return index.modules[qualname].module
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in index.modules:
            return index.modules[head].module
    return parts[0]


def picture(index: EventGraph) -> tuple[list[dict], list[dict]]:
    """The part of the graph worth drawing, as plain lists: every channel, the nodes
    that touch one, and their neighbours; functions far from any channel are left out.

    A node is ``{"id", "kind", "name", "label", "module", "path", "line", "api"}``:
    ``kind`` is "channel", "function", "module" (module-level code) or the id's prefix
    for other nodes such as "api", whose ``module`` is ""; ``api`` is a channel's
    constructor.  An edge is ``{"source", "target", "relation", "path", "line",
    "column"}``, one per site (a put, a get, a registration)."""
    graph = index.graph
    channels = {node for node, kind in graph.nodes(data="kind") if kind == "channel"}
    core = set(channels)
    for node in channels:
        core.update(graph.predecessors(node))
        core.update(graph.successors(node))
    keep = set(core)
    for node in core - channels:
        keep.update(graph.predecessors(node))
        keep.update(graph.successors(node))
    nodes = []
    for node in sorted(keep):
        data = graph.nodes[node]
        kind, _, name = node.partition(":")
        if kind == "channel":
            channel = index.channels.get(name)
            module = channel.module if channel is not None else _module_of(index, name)
            label = channel.display if channel is not None else name
        elif kind != "function":
            module, label = "", name  # outside the project: an API, a pseudo-API such as "consumer loop"
        else:
            module = _module_of(index, name)
            label = name[len(module) + 1:] if name.startswith(module + ".") else name
            if name == module:
                kind, label = "module", "(module code)"
        path = data.get("path") or index.path_of.get(name) or index.path_of.get(module, "")
        nodes.append({"id": node, "kind": kind, "name": name, "label": label, "module": module, "path": path,
                      "line": data.get("line", 0), "api": data.get("api", "")})
    edges = []
    for source, target, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        if source not in keep or target not in keep:
            continue
        relation, _, where = key.partition("@")
        path, line, column = where.rsplit(":", 2) if where.count(":") >= 2 else (where, "0", "0")
        edges.append({"source": source, "target": target, "relation": data.get("kind", relation), "path": path,
                      "line": int(line), "column": int(column)})
    return nodes, edges
