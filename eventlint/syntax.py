"""What libcst nodes say, read cheaply: the positions of nodes, a read-only traversal in
source order, and the literal values and dotted names of expressions.

The helpers of the facts pass (``eventlint.facts``), kept apart from what it records.
Nothing here knows of channels, handlers or rules.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass

import libcst as cst
from libcst.metadata.position_provider import PositionProvidingCodegenState

from .model import ParamKind


class _PositionTable:
    __slots__ = ("_computed", "kinds")

    def __init__(self, kinds: frozenset[type] | None):
        self._computed: dict[cst.CSTNode, tuple[tuple[int, int], tuple[int, int]]] = {}
        self.kinds = kinds


def _subclasses(*bases: type) -> set[type]:
    found, stack = set(), list(bases)
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


# The nodes whose positions the facts pass reads, plus every node libcst itself reads
# back as a ``start_node``/``end_node`` of a syntactic range (statements, suites, else and
# finally clauses, match cases): recording only these halves the bookkeeping.
POSITIONED = frozenset({
    cst.Module, cst.Call, cst.Comparison, cst.Subscript, cst.Attribute, cst.Name, cst.MatchCase,
    *_subclasses(cst.BaseStatement, cst.BaseSmallStatement, cst.BaseSuite),
    cst.Else, cst.Finally, cst.ExceptHandler, cst.ExceptStarHandler, cst.NamedExpr,
} - {cst.Name, cst.Attribute})


class _SyntacticRange:
    """What ``record_syntactic_position`` returns: a plain context manager (libcst's own
    is a generator-based one, which costs more than the rest of the bookkeeping)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state, node, start_node, end_node):
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc) -> bool:
        state = self.state
        computed = state.provider._computed
        start = self.start
        if self.start_node is not None:
            start = computed.get(self.start_node, (start,))[0]
        end = (state.line, state.column)
        if self.end_node is not None:
            # an unrecorded end node (a closing paren) ends where the node's output ends
            end = computed.get(self.end_node, (None, end))[1]
        kinds = state.provider.kinds
        if kinds is None or type(self.node) in kinds:
            computed[self.node] = (start, end)
        return False


class _PositionState(PositionProvidingCodegenState):
    """libcst's ``PositionProvider`` bookkeeping with tuples instead of objects and a fast
    path for tokens without newlines: the same positions (a test compares them) at about
    a quarter of the cost — the provider cost 2.5x the parse itself on the stdlib."""

    def _update_position(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            PositionProvidingCodegenState._update_position(self, value)
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        table = self.provider
        if table.kinds is not None and type(node) not in table.kinds:
            return
        if node not in table._computed:
            table._computed[node] = (start, (self.line, self.column))

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _SyntacticRange(self, node, start_node, end_node)


def positions(module: cst.Module, kinds: frozenset[type] | None = None) -> dict:
    """Syntactic ranges ``((line, col0), (end_line, end_col0))`` of every node (or of
    the nodes of ``kinds``)."""
    table = _PositionTable(kinds)
    state = _PositionState(default_indent=module.default_indent, default_newline=module.default_newline, provider=table)
    module._codegen(state)
    return table._computed


# The kinds of node whose spans facts carry, and the stdlib ``ast`` nodes with the same
# range: libcst's syntactic ranges leave out a node's own parentheses, as ast's do, and a
# compound statement ends where its last statement ends in both.  (A ``case`` has no
# position in ast: files whose facts need one take libcst's bookkeeping.)
_AST_KINDS: dict[type, type] = {
    ast.Call: cst.Call, ast.Compare: cst.Comparison, ast.Subscript: cst.Subscript, ast.NamedExpr: cst.NamedExpr,
    ast.Assign: cst.Assign, ast.AnnAssign: cst.AnnAssign, ast.AugAssign: cst.AugAssign, ast.Return: cst.Return,
    ast.For: cst.For, ast.AsyncFor: cst.For, ast.While: cst.While, ast.With: cst.With, ast.AsyncWith: cst.With,
    ast.FunctionDef: cst.FunctionDef, ast.AsyncFunctionDef: cst.FunctionDef, ast.ClassDef: cst.ClassDef,
}
COUNTED = frozenset(_AST_KINDS.values())
# fields that never hold a node of a ``COUNTED`` kind: names, flags, operators, the
# load/store context, ``import`` aliases; per ast class, the fields left to walk
_LEAF_FIELDS = frozenset({"arg", "asname", "attr", "conversion", "ctx", "id", "is_async", "kind", "kwd_attrs", "level",
                          "lineno", "module", "n", "name", "names", "op", "ops", "s", "simple", "tag", "type_comment",
                          "type_ignores"})
_AST_FIELDS: dict[type, tuple[str, ...]] = {}
_NEWLINES = re.compile(r"\r\n|\r|\n")
_KEYWORDS = {cst.Return: "return", cst.For: "for", cst.While: "while", cst.With: "with", cst.FunctionDef: "def",
             cst.ClassDef: "class"}


Range = tuple[tuple[int, int], tuple[int, int]]


def ast_ranges(text: str, lines: list[str] | None = None, tree: ast.Module | None = None) -> dict[type, list[Range]] | None:
    """Ranges ``((line, col0), (end_line, end_col0))`` of the nodes of each ``COUNTED``
    kind, in source order, columns in code points; None when ast rejects the text (syntax
    newer than this Python).  Parsing with ast costs a tenth of libcst.  ``lines``: the
    text's ``source_lines``, when the caller has them; ``tree``: ``ast.parse(text)``,
    when the caller has parsed it already."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    found: dict[type, list] = {}
    kinds = _AST_KINDS
    fields_of = _AST_FIELDS
    node_type = ast.AST
    stack = [tree]
    push = stack.append
    while stack:  # ``ast.walk``, at about half its cost
        node = stack.pop()
        cls = type(node)
        kind = kinds.get(cls)
        if kind is not None:
            # source order: by start, an enclosing node before the nodes it contains
            found.setdefault(kind, []).append((node.lineno, node.col_offset, -node.end_lineno, -node.end_col_offset))
        names = fields_of.get(cls)
        if names is None:
            names = fields_of[cls] = () if cls is ast.Constant else tuple(
                name for name in cls._fields if name not in _LEAF_FIELDS)
        for name in names:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)
    if text.isascii():
        lines = None
    elif lines is None:
        lines = source_lines(text)
    ranges = {}
    for kind, items in found.items():
        items.sort()
        if lines is None:
            ranges[kind] = [((line, column), (-end_line, -end_column)) for line, column, end_line, end_column in items]
        else:  # ast's columns count UTF-8 bytes
            ranges[kind] = [((line, _chars(lines[line - 1], column)), (-end_line, _chars(lines[-end_line - 1], -end_column)))
                            for line, column, end_line, end_column in items]
    return ranges


def source_lines(text: str) -> list[str]:
    """The lines as Python counts them (``str.splitlines`` also breaks at form feeds and
    other characters that are not line ends in source code)."""
    return _NEWLINES.split(text) if "\r" in text else text.split("\n")


def _chars(line: str, offset: int) -> int:
    return offset if line.isascii() else len(line.encode("utf-8")[:offset].decode("utf-8", "replace"))


def leading_text(node: cst.CSTNode) -> str:
    """What the source at the start of ``node``'s range reads ("" when there is nothing
    cheap to say).  A node's range leaves out its own parentheses, not its first part's."""
    outermost = True
    while True:
        if not outermost and getattr(node, "lpar", None):
            return "("
        outermost = False
        kind = type(node)
        if kind is cst.Name:
            return node.value
        if kind is cst.Attribute or kind is cst.Subscript:
            node = node.value
        elif kind is cst.Call:
            node = node.func
        elif kind is cst.Comparison:
            node = node.left
        elif kind is cst.NamedExpr or kind is cst.AnnAssign or kind is cst.AugAssign:
            node = node.target
        elif kind is cst.Assign:
            node = node.targets[0].target
        elif kind in _KEYWORDS:
            return "async" if getattr(node, "asynchronous", None) is not None else _KEYWORDS[kind]
        else:
            return ""


def keywords_width(node: cst.FunctionDef | cst.ClassDef) -> int:
    """From the start of a ``def``/``class`` statement to its name."""
    if isinstance(node, cst.FunctionDef):
        width = len("def") + len(node.whitespace_after_def.value)
        if node.asynchronous is not None:
            width += len("async") + len(node.asynchronous.whitespace_after.value)
        return width
    return len("class") + len(node.whitespace_after_class.value)


def has_deadline(call: cst.Call, deadline) -> bool:
    if deadline is None:
        return True
    for index, arg in enumerate(a for a in call.args if a.keyword is None and not a.star):
        if deadline.position is not None and index == deadline.position:
            return not is_none(arg.value)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == deadline.keyword:
            return not is_none(arg.value)
        if arg.star:
            return True
    return False


def is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def alternatives(pattern: cst.MatchPattern) -> list[cst.MatchPattern]:
    if isinstance(pattern, cst.MatchOr):
        return [p.pattern for p in pattern.patterns]
    if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None:
        return alternatives(pattern.pattern)
    return [pattern]


def class_operands(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in node.elements if isinstance(e, cst.Element)]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return class_operands(node.left) + class_operands(node.right)
    return [node]


def type_names(node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return type_names(node.left) + type_names(node.right)
    if isinstance(node, cst.Subscript):
        head = attr_text(node.value)
        if head.rsplit(".", 1)[-1] in ("Union", "Optional"):
            names: list[str] = []
            for element in node.slice:
                if isinstance(element.slice, cst.Index):
                    names += type_names(element.slice.value)
            return names
        return [head]
    if isinstance(node, cst.SimpleString):
        inner = string_value(node)
        try:
            return type_names(cst.parse_expression(inner)) if inner else []
        except cst.ParserSyntaxError:
            return []
    if isinstance(node, cst.Name) and node.value == "None":
        return []
    text = attr_text(node)
    return [text] if text else ["?"]


def type_parts(node: cst.BaseExpression) -> list[str]:
    """Every type an annotation names, its parameters' included, once each in the order
    written: ``tuple[str, dict[str, Any]]`` names tuple, str, dict and Any; ``Literal``
    stands for its values."""
    found: list[str] = []

    def walk(part: cst.BaseExpression) -> None:
        if isinstance(part, cst.BinaryOperation) and isinstance(part.operator, cst.BitOr):
            walk(part.left)
            walk(part.right)
            return
        if isinstance(part, cst.SimpleString):
            inner = string_value(part)
            try:
                expression = cst.parse_expression(inner) if inner else None
            except cst.ParserSyntaxError:
                expression = None
            if expression is not None:
                walk(expression)
            return
        if isinstance(part, (cst.List, cst.Tuple)):
            for element in part.elements:
                walk(element.value)
            return
        if isinstance(part, cst.Name) and part.value == "None":
            return
        head = attr_text(part.value if isinstance(part, cst.Subscript) else part) or "?"
        if head.rsplit(".", 1)[-1] not in ("Union", "Optional") and head not in found:
            found.append(head)
        if isinstance(part, cst.Subscript) and head.rsplit(".", 1)[-1] != "Literal":
            for element in part.slice:
                if isinstance(element.slice, cst.Index):
                    walk(element.slice.value)

    walk(node)
    return found


def attr_text(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = attr_text(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def string_value(node) -> str | None:
    if isinstance(node, cst.SimpleString):
        text = node.value
        quote = text[-1:]
        if text[:1] == quote and "\\" not in text and "\r" not in text:
            # no prefix and no escapes: the text between the quotes (libcst's evaluation
            # parses the literal again, a twentieth of the facts pass)
            width = 3 if text[:3] == quote * 3 and len(text) >= 6 else 1
            return text[width:-width]
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - a malformed literal is simply not a tag
            return None
        return value if isinstance(value, str) else None
    return None


def string_list(node: cst.BaseExpression) -> list[str] | None:
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        values = [string_value(e.value) for e in node.elements if isinstance(e, cst.Element)]
        return [v for v in values if v is not None]
    return None


def keyword_value(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def summary(node: cst.BaseExpression) -> str:
    """A cheap text for an argument: the literal for None/True/False/numbers/strings,
    "?" for anything else (enough to tell ``timeout=None`` from a real timeout)."""
    kind = type(node)  # concrete node classes: ``is`` is isinstance at a fraction of its cost
    if kind is cst.Name and node.value in ("None", "True", "False"):
        return node.value
    if kind is cst.Integer or kind is cst.Float or kind is cst.SimpleString:
        return node.value
    if kind is cst.UnaryOperation and type(node.expression) in (cst.Integer, cst.Float):
        return "-" + node.expression.value if type(node.operator) is cst.Minus else node.expression.value
    return "?"


@dataclass(frozen=True)
class ParamInfo:
    name: str
    annotation: cst.BaseExpression | None
    kind: ParamKind
    default: str | None = None  # ``summary`` of the default value, None when it has none


def params_of(params: cst.Parameters) -> list[ParamInfo]:
    out = []
    for p in (*params.posonly_params, *params.params):
        out.append(ParamInfo(p.name.value, p.annotation.annotation if p.annotation else None, ParamKind.POSITIONAL,
                             summary(p.default) if p.default is not None else None))
    if isinstance(params.star_arg, cst.Param):
        p = params.star_arg
        out.append(ParamInfo(p.name.value, None, ParamKind.STAR))
    for p in params.kwonly_params:
        out.append(ParamInfo(p.name.value, p.annotation.annotation if p.annotation else None, ParamKind.KEYWORD,
                             summary(p.default) if p.default is not None else None))
    if params.star_kwarg is not None:
        out.append(ParamInfo(params.star_kwarg.name.value, None, ParamKind.STARSTAR))
    return out


_TRIVIA_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "trailing_whitespace", "comma",
    "semicolon", "equal", "dot", "colon", "lbracket", "rbracket", "lbrace", "rbrace", "indent", "encoding",
    "default_indent", "default_newline", "has_trailing_newline", "asynchronous", "star", "operator", "newline",
    "start", "end", "prefix", "quote", "value_raw",
})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# the nodes whose fields are not declared in the order their parts appear in the source
_SOURCE_ORDER: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Arg: ("keyword", "value"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
}


def _child_fields(kind: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(kind)
                      if f.name not in _TRIVIA_FIELDS and not f.name.startswith("whitespace"))
        first = _SOURCE_ORDER.get(kind)
        if first is not None:
            names = (*(n for n in first if n in names), *(n for n in names if n not in first))
        _CHILD_FIELDS[kind] = names
    return names


_NODE_KINDS = frozenset(kind for kind in _subclasses(cst.CSTNode) if not getattr(kind, "__abstractmethods__", None))
_HANDLED: dict[type, frozenset[type]] = {}


_WITH_FIELDS = frozenset(kind for kind in _NODE_KINDS if _child_fields(kind))


def _handler(visitor_class: type, name: str) -> bool:
    """Whether the visitor class defines the method ``name`` itself (libcst's visitor
    base classes define a no-op ``visit_``/``leave_`` method for every kind)."""
    return any(name in vars(cls) for cls in visitor_class.__mro__ if not cls.__module__.startswith("libcst"))


def _handled_kinds(visitor_class: type) -> frozenset[type]:
    """The node kinds a visitor class has a ``visit_``/``leave_`` method of its own for."""
    found = _HANDLED.get(visitor_class)
    if found is None:
        found = _HANDLED[visitor_class] = frozenset(
            kind for kind in _NODE_KINDS
            if _handler(visitor_class, f"visit_{kind.__name__}") or _handler(visitor_class, f"leave_{kind.__name__}"))
    return found


def traverse(root: cst.CSTNode, visitor: cst.CSTVisitor, ordinals: dict[int, int] | None = None,
          counts: dict[type, int] | None = None) -> None:
    """A read-only traversal in source order that calls ``visit_<Type>``/``leave_<Type>``
    like libcst's, without rebuilding every node on the way back up and without
    descending into whitespace and punctuation (libcst's own traversal cost about as much
    as the parse).  With ``ordinals``, each node of a ``COUNTED`` kind gets its number
    among the nodes of its kind (``counts`` keeps the totals)."""
    counted = COUNTED if ordinals is not None else frozenset()
    handled = _handled_kinds(type(visitor))
    # the kinds worth a call: those with fields to descend into, a handler, or a count
    # (punctuation and operators have none); a set of types, as ``isinstance`` against
    # libcst's abstract node class goes through the ``abc`` machinery at every child
    walked = _WITH_FIELDS | handled | counted
    plans: dict[type, tuple] = {}

    def plan(kind: type) -> tuple:
        visit = leave = None
        if kind in handled:
            name = kind.__name__
            if _handler(type(visitor), f"visit_{name}"):
                visit = getattr(visitor, f"visit_{name}")
            if _handler(type(visitor), f"leave_{name}"):
                leave = getattr(visitor, f"leave_{name}")
        entry = plans[kind] = (visit, leave, _CHILD_FIELDS.get(kind) or _child_fields(kind), kind in counted)
        return entry

    # ``walk`` gets itself as an argument: a function that called itself through its
    # closure would form a cycle keeping the visitor, and with it the tree, alive
    def walk(node: cst.CSTNode, walk) -> None:
        kind = type(node)
        visit, leave, fields, count = plans.get(kind) or plan(kind)
        if count:
            number = counts.get(kind, 0)
            ordinals[id(node)] = number
            counts[kind] = number + 1
        if visit is None or visit(node) is not False:
            for name in fields:
                child = getattr(node, name)
                child_kind = type(child)
                if child_kind in walked:
                    walk(child, walk)
                elif child_kind is tuple or child_kind is list:
                    for item in child:
                        if type(item) in walked:
                            walk(item, walk)
        if leave is not None:
            leave(node)

    walk(root, walk)
