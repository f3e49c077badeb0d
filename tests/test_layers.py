"""The package's layering holds: ``cli → api → engine → checks → graph → resolution → facts → model``.
A module may import its own layer or lower ones, never a higher one; ``eventlint.bus``
stands alone, and only ``eventlint.graph`` imports networkx."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "eventlint"

LAYERS = [
    {"model", "catalog", "config"},
    {"facts", "source", "discovery", "paths", "syntax", "branching", "items", "alternatives", "loops", "passthrough", "guards",
     "readiness", "frames", "nested"},
    {"resolution", "peers", "values", "instances", "solver", "unions"},
    {"graph", "callgraph", "payloads", "graph_export"},
    {"checks"},
    {"engine", "baseline", "cache", "sharing"},
    {"report", "codemods", "fixer"},
    {"api"},
    {"cli", "__main__", "lsp"},
]


def _layer(top: str) -> int:
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"eventlint.{top} is in no layer: add it to LAYERS")


def _imports(path: Path):
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
                yield from names
            elif node.module:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "eventlint" and len(parts) > 1 else None


def test_no_module_imports_a_higher_layer():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _top(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if own in (None, "__init__", "bus"):
            continue
        for name in _imports(path):
            target = _top(name)
            if target is None or target in ("__init__", "__version__"):
                continue
            if target == "bus":
                problems.append(f"{path.name} imports eventlint.bus")
            elif _layer(target) > _layer(own):
                problems.append(f"eventlint.{own} ({path.relative_to(PACKAGE)}) imports higher layer eventlint.{target}")
    assert problems == []


def test_bus_stands_alone_and_only_graph_imports_networkx():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for name in _imports(path):
            if rel.startswith("bus/"):
                assert name.split(".")[0] != "eventlint" or name.startswith("eventlint.bus"), (rel, name)
                assert name.split(".")[0] not in {"libcst", "networkx", "click"}, (rel, name)
            if name.split(".")[0] == "networkx":
                assert rel == "graph.py", f"{rel} imports networkx"


def _module_of(name: str) -> str | None:
    """The eventlint module an imported name lives in (``eventlint.graph.Value`` →
    ``eventlint.graph``; ``eventlint.checks`` → the package's ``__init__``)."""
    parts = name.split(".")
    while parts and parts[0] == "eventlint":
        path = PACKAGE.parent.joinpath(*parts)
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def test_no_import_cycle_inside_the_package():
    """Every import counts, at module level or inside a function or ``TYPE_CHECKING``:
    a cycle hidden behind a late import is still two modules that need each other."""
    import networkx as nx

    imports = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        own = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for name in _imports(path):
            target = _module_of(name)
            if target is not None and target != own:
                imports.add_edge(own, target)
    cycles = sorted(sorted(component) for component in nx.strongly_connected_components(imports) if len(component) > 1)
    assert cycles == []
