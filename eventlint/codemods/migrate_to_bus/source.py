"""One parsed file of a migration, and the syntax questions every part of it asks.

``Source`` is read-only: the rewrite never changes its tree, it records edits keyed by the
original nodes (``workspace.Edits``) and applies them once every channel is planned.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ScopeProvider

from ...facts import string_value
from ...model import FileFacts, Span
from .. import _cst

BUILTINS = frozenset(dir(builtins))

string = string_value

DOCSTRING = m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])
IMPORT_LINE = m.SimpleStatementLine(body=[m.ZeroOrMore(m.Import() | m.ImportFrom())])
TRUE = m.Name("True") | m.Integer("1")


class Skip(Exception):
    """This channel can't be migrated safely; the message says why."""


class Source:
    """One file's syntax tree with positions, parents and (on demand) scopes."""

    def __init__(self, rel: str, text: str, facts: FileFacts):
        self.rel = rel
        self.facts = facts
        try:
            self.wrapper = MetadataWrapper(_cst.parse_module(text))
        except cst.ParserSyntaxError as error:
            raise Skip(f"{rel} no longer parses ({error.message})") from None
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self._scopes = None  # ScopeProvider costs several parses: only files that need it pay

    @property
    def scopes(self):
        if self._scopes is None:
            self._scopes = self.wrapper.resolve(ScopeProvider)
        return self._scopes

    def in_order(self, accesses) -> list[cst.CSTNode]:
        """The nodes of libcst ``Access`` records in source order.  libcst keeps accesses
        in sets hashed by object id, so their own order changes from run to run; the
        first of several reasons to skip a channel must not."""
        nodes = [access.node for access in accesses]
        return sorted(nodes, key=lambda node: (self.positions[node].start.line, self.positions[node].start.column))

    def span(self, node: cst.CSTNode) -> Span:
        return _cst.span_of(self.positions[node])

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def where(self, node: cst.CSTNode) -> str:
        return f"{self.rel}:{self.line(node)}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def quote(self, node: cst.CSTNode) -> str:
        text = " ".join(self.code(node).strip().split())
        return f"`{text[:60]}{'…' if len(text) > 60 else ''}`"

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        node = self.parents.get(node)
        while node is not None:
            yield node
            node = self.parents.get(node)

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return next((a for a in self.ancestors(node) if isinstance(a, cst.FunctionDef)), None)

    def qualname(self, node: cst.FunctionDef | cst.ClassDef) -> str:
        parts = [node.name.value]
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
                parts.append(ancestor.name.value)
        return ".".join([self.facts.module, *reversed(parts)])

    def class_of(self, fn: cst.FunctionDef) -> cst.ClassDef | None:
        block = self.parent(fn)
        owner = self.parent(block) if block is not None else None
        return owner if isinstance(owner, cst.ClassDef) else None

    def self_class(self, node: cst.Attribute) -> str | None:
        """The class whose method reads ``self.<attr>``, when the receiver is that method's ``self``."""
        fn = self.function_of(node)
        if fn is None or not isinstance(node.value, cst.Name):
            return None
        cls = self.class_of(fn)
        params = fn.params.params
        if cls is None or not params or params[0].name.value != node.value.value \
                or any(m.matches(d.decorator, m.Name("staticmethod")) for d in fn.decorators):
            return None
        return self.qualname(cls)

    def line_of(self, small: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The line holding the small statement ``small`` when it is alone on it."""
        line = self.parent(small)
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
            return line
        return None

    def expression_line(self, expression: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The line when ``expression`` (or ``await expression``) is its whole statement."""
        parent = self.parent(expression)
        if isinstance(parent, cst.Await) and parent.expression is expression:
            return self.expression_line(parent)
        if isinstance(parent, cst.Expr) and parent.value is expression:
            return self.line_of(parent)
        return None

    def is_global(self, name: cst.Name) -> bool:
        """Does ``name`` refer to a module-level binding (or a builtin)?"""
        scope = self.scopes.get(name)
        if scope is None:
            return False
        referents = [a for access in scope.accesses[name] if access.node is name for a in access.referents]
        if not referents:
            return name.value in BUILTINS
        return all(getattr(a, "scope", None) is self.scopes[self.module] for a in referents)

    def top_statement(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        chain = [node, *self.ancestors(node)]
        return chain[-2] if len(chain) >= 2 and isinstance(chain[-1], cst.Module) else None

    def in_loop(self, node: cst.CSTNode) -> bool:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.For, cst.While)):
                return True
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return False
        return False

    def inside(self, node: cst.CSTNode, kinds: tuple[type, ...], top: cst.CSTNode) -> bool:
        """Is ``node`` inside a node of one of ``kinds`` that is itself inside ``top``?
        (A ``return`` in a function nested in a branch, a ``break`` in a loop of its own.)"""
        for ancestor in self.ancestors(node):
            if ancestor is top:
                return False
            if isinstance(ancestor, kinds):
                return True
        return False

    def import_base(self, node: cst.ImportFrom) -> str:
        """The absolute module a ``from ... import`` statement imports from."""
        base = dotted(node.module) if node.module is not None else ""
        if not node.relative:
            return base
        module = self.facts.module
        package = module if self.rel.endswith("__init__.py") else module.rpartition(".")[0]
        for _ in range(len(node.relative) - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{base}" if base else package


def dotted(node: cst.CSTNode | None) -> str:
    """``a.b.c`` for a dotted name, ``""`` for any other expression (``f().b`` included)."""
    head = node
    while isinstance(head, cst.Attribute):
        head = head.value
    return get_full_name_for_node(node) or "" if isinstance(head, cst.Name) else ""


def small(statement: cst.CSTNode) -> cst.BaseSmallStatement | None:
    """The small statement of a line that holds just one."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def statements(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    return [cst.SimpleStatementLine(body=[s]) for s in block.body]


def exits(body: list[cst.BaseStatement]) -> bool:
    """Does the block end by leaving the loop (``break``, a bare ``return``)?"""
    last = small(body[-1]) if body else None
    return m.matches(last, m.Break() | m.Return(value=None))


def is_docstring(statement: cst.CSTNode) -> bool:
    return m.matches(statement, DOCSTRING)


def is_import_line(statement: cst.CSTNode) -> bool:
    return m.matches(statement, IMPORT_LINE)


def is_public(name: str) -> bool:
    return not name.startswith("_")


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under ``node`` (itself included), in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))
