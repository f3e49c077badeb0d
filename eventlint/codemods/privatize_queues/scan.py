"""Reading one file for ``privatize-queues``: every ``x.<name>`` of interest with what it
refers to (by the facts pass's own name resolution), the put/get calls made on them, and
the nodes a rename or a new function must reach (class bodies, ``global`` statements,
imports, ``__all__`` entries)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import GlobalScope, MetadataWrapper, PositionProvider, ScopeProvider

from ... import facts as facts_module
from ...model import FileFacts, Ref, Span
from .._cst import span_of


@dataclass(frozen=True, slots=True)
class AttributeUse:
    node: cst.Attribute
    ref: Ref | None
    where: str  # qualname of the enclosing function, class or module


class Collector(facts_module._Extractor):
    """The facts pass's own name resolution, applied to every ``x.<name>`` of interest:
    what it refers to is then asked of the graph, exactly as the checks do."""

    def __init__(self, facts: FileFacts, catalog, tag_keys: frozenset[str], names: frozenset[str]):
        super().__init__(facts.module, facts.path.endswith("__init__.py"), catalog, tag_keys)
        self.names = names
        self.attributes: list[AttributeUse] = []
        self.method_calls: dict[int, tuple[cst.Call, str, bool]] = {}  # id(receiver) -> (call, method, awaited)
        self.called: dict[int, cst.Call] = {}  # id(func expression) -> the call

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in self.names:
            self.attributes.append(AttributeUse(node, self.ref(node), self.frame.qualname))

    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        self.called[id(node.func)] = node
        if m.matches(node.func, m.Attribute()):
            self.method_calls[id(node.func.value)] = (node, node.func.attr.value, id(node) in self.awaited)


@dataclass
class Scan:
    """One file as read for this run: its facts, text, tree and the uses collected in it."""

    facts: FileFacts
    text: str
    wrapper: MetadataWrapper
    collector: Collector
    _scopes: object = None

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def line(self, node: cst.CSTNode) -> int:
        return self.wrapper.resolve(PositionProvider)[node].start.line

    def span(self, node: cst.CSTNode) -> Span:
        """Where ``node`` is: the address an edit to it carries."""
        return span_of(self.wrapper.resolve(PositionProvider)[node])

    def where(self, node: cst.CSTNode) -> str:
        return f"{self.facts.path}:{self.line(node)}"

    def scopes(self):
        if self._scopes is None:
            self._scopes = self.wrapper.resolve(ScopeProvider)
        return self._scopes

    def global_scope(self) -> GlobalScope:
        return next(s for s in self.scopes().values() if isinstance(s, GlobalScope))

    def class_body_names(self, dotted: str, name: str) -> list[cst.Name]:
        """``name`` bound or read in the body of class ``dotted`` (not in its methods)."""
        found = []
        for node in class_defs(self.module, dotted):
            statements = node.body.body
            scope = self.scopes().get(statements[0]) if statements else None
            if scope is None:
                continue
            for assignment in scope.assignments[name]:
                if m.matches(assignment.node, m.Name()):
                    found.append(assignment.node)
                found += [r.node for r in assignment.references if m.matches(r.node, m.Name())]
        return found


def class_defs(module: cst.Module, dotted: str) -> list[cst.ClassDef]:
    found = []

    class Finder(cst.CSTVisitor):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.stack.append(node.name.value)
            if ".".join(self.stack) == dotted:
                found.append(node)

        def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
            self.stack.pop()

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.stack.append(node.name.value)

        def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
            self.stack.pop()

    module.visit(Finder())
    return found


def global_statement_names(module: cst.Module, name: str) -> list[cst.Name]:
    """``name`` in every ``global`` statement of the module."""
    return [item.name for statement in m.findall(module, m.Global()) for item in statement.names
            if item.name.value == name]


def import_froms(module: cst.Module) -> list[cst.ImportFrom]:
    return list(m.findall(module, m.ImportFrom()))


def all_entries(module: cst.Module, name: str) -> list[cst.CSTNode] | None:
    """The string elements naming ``name`` in ``__all__ = [...]`` / ``+= [...]``; None when
    ``__all__`` is built some other way."""
    found: list[cst.CSTNode] = []
    for statement in module.body:
        if not m.matches(statement, m.SimpleStatementLine()):
            continue
        for small in statement.body:
            targets, value = [], None
            if m.matches(small, m.Assign()):
                targets, value = [t.target for t in small.targets], small.value
            elif m.matches(small, m.AugAssign() | m.AnnAssign()):
                targets, value = [small.target], small.value
            if not any(m.matches(t, m.Name("__all__")) for t in targets):
                continue
            if not m.matches(value, m.List() | m.Tuple()):
                return None
            for element in value.elements:
                if m.matches(element.value, m.SimpleString()) and element.value.evaluated_value == name:
                    found.append(element)
    return found


def insertion_point(scan: Scan, span: Span) -> cst.BaseStatement | None:
    """The module-level statement after which new functions go: the end of the block of
    simple statements (no blank line between them) that holds the assignment at ``span``."""
    positions = scan.wrapper.resolve(PositionProvider)
    body = scan.module.body
    for index, statement in enumerate(body):
        where = positions[statement]
        if where.start.line <= span.line <= where.end.line:
            while index + 1 < len(body) and m.matches(body[index], m.SimpleStatementLine()) \
                    and m.matches(body[index + 1], m.SimpleStatementLine(leading_lines=[])):
                index += 1
            return body[index]
    return None
