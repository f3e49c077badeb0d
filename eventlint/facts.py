"""One libcst pass per file: turn a module into a frozen ``FileFacts`` record.

No graph code and no rule logic lives here.  Names are resolved only as far as one file
allows (imports, ``self``, parameters, locals); the graph finishes the job across files.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata.position_provider import PositionProvidingCodegenState

from .catalog import Catalog
from .model import (  # noqa: F401 - dotted and is_public_name are also this module's
    Binding,
    CallFact,
    ClassFact,
    Dispatch,
    DispatchKind,
    FileFacts,
    FunctionFact,
    LoopFact,
    Param,
    Payload,
    PayloadShape,
    Ref,
    ReturnFact,
    Span,
    Table,
    TableKey,
    Tag,
    dotted,
    is_public_name,
)

_BUILTINS = frozenset(dir(builtins))
_MAX_REF = 12
UNDECLARED = frozenset({"Any", "object", "typing.Any", "t.Any"})
PUT_METHODS = frozenset({"put", "put_nowait", "send", "send_nowait", "send_bytes", "publish", "publish_nowait", "emit",
                         "submit", "post", "enqueue"})
GET_METHODS = frozenset({"get", "get_nowait", "receive", "receive_nowait", "recv", "recv_bytes"})
_PASS_THROUGH_APIS = frozenset({"asyncio.wait_for", "asyncio.shield", "asyncio.tasks.wait_for", "asyncio.tasks.shield"})
_PASS_THROUGH = frozenset(api.rsplit(".", 1)[1] for api in _PASS_THROUGH_APIS)


@dataclass
class _Frame:
    kind: str  # "module" | "class" | "function"
    qualname: str
    public: bool
    names: dict[str, Ref] = field(default_factory=dict)
    # function frames only
    is_async: bool = False
    self_ref: Ref | None = None
    self_name: str | None = None
    params: dict[str, Ref | None] = field(default_factory=dict)  # name -> annotation
    received: dict[str, Ref] = field(default_factory=dict)  # item name -> channel ref
    tags: dict[str, Ref] = field(default_factory=dict)  # tag name (from unpacking) -> channel ref
    value_types: dict[str, Ref] = field(default_factory=dict)  # local -> class it holds
    caught: set[str] = field(default_factory=set)  # names bound by ``except ... as name``


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
_NEWLINES = re.compile(r"\r\n|\r|\n")
_KEYWORDS = {cst.Return: "return", cst.For: "for", cst.While: "while", cst.With: "with", cst.FunctionDef: "def",
             cst.ClassDef: "class"}


Range = tuple[tuple[int, int], tuple[int, int]]


def ast_ranges(text: str, lines: list[str] | None = None, tree: ast.Module | None = None) -> dict[type, list[Range]] | None:
    """Ranges ``((line, col0), (end_line, end_col0))`` of the nodes of each ``COUNTED``
    kind, in source order, columns in code points; None when ast rejects the text (syntax
    newer than this Python).  Parsing with ast costs a tenth of libcst.  ``lines``: the
    text's ``_source_lines``, when the caller has them; ``tree``: ``ast.parse(text)``,
    when the caller has parsed it already."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    found: dict[type, list] = {}
    kinds = _AST_KINDS
    node_type = ast.AST
    stack = [tree]
    push = stack.append
    while stack:  # ``ast.walk``, at about half its cost
        node = stack.pop()
        kind = kinds.get(type(node))
        if kind is not None:
            # source order: by start, an enclosing node before the nodes it contains
            found.setdefault(kind, []).append((node.lineno, node.col_offset, -node.end_lineno, -node.end_col_offset))
        for name in node._fields:
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
        lines = _source_lines(text)
    ranges = {}
    for kind, items in found.items():
        items.sort()
        if lines is None:
            ranges[kind] = [((line, column), (-end_line, -end_column)) for line, column, end_line, end_column in items]
        else:  # ast's columns count UTF-8 bytes
            ranges[kind] = [((line, _chars(lines[line - 1], column)), (-end_line, _chars(lines[-end_line - 1], -end_column)))
                            for line, column, end_line, end_column in items]
    return ranges


def _source_lines(text: str) -> list[str]:
    """The lines as Python counts them (``str.splitlines`` also breaks at form feeds and
    other characters that are not line ends in source code)."""
    return _NEWLINES.split(text) if "\r" in text else text.split("\n")


def _chars(line: str, offset: int) -> int:
    return offset if line.isascii() else len(line.encode("utf-8")[:offset].decode("utf-8", "replace"))


def _leading_text(node: cst.CSTNode) -> str:
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


def _keywords_width(node: cst.FunctionDef | cst.ClassDef) -> int:
    """From the start of a ``def``/``class`` statement to its name."""
    if isinstance(node, cst.FunctionDef):
        width = len("def") + len(node.whitespace_after_def.value)
        if node.asynchronous is not None:
            width += len("async") + len(node.asynchronous.whitespace_after.value)
        return width
    return len("class") + len(node.whitespace_after_class.value)


class _Extractor(cst.CSTVisitor):

    def __init__(self, module: str, is_package: bool, catalog: Catalog, tag_keys: frozenset[str]):
        super().__init__()
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.catalog = catalog
        self.tag_keys = tag_keys
        self.frames: list[_Frame] = [_Frame("module", module, True)]
        self.scope_stack: list[str] = []  # timeout scopes: "sync" | "async"
        self.scoped_calls: list[cst.Call] = []
        self.awaited: set[int] = set()
        self.loop_stack: list[tuple[cst.CSTNode, list[Ref], Ref | None]] = []
        self.constants: dict[str, str] = {}  # module-level NAME = "literal"
        self.all_names: list[str] | None = None
        self.imports: list[tuple[str, str]] = []
        self.tables: list[Table] = []
        self.classes: list[ClassFact] = []
        self.functions: list[FunctionFact] = []
        self.bindings: list[Binding] = []
        self.returns: list[ReturnFact] = []
        self.calls: list[CallFact] = []
        self.dispatches: list[Dispatch] = []
        self.loops: list[LoopFact] = []
        self._call_cache: dict[int, CallFact] = {}
        self._saved_scopes: list[list[str]] = []
        self._with_pushed: list[int] = []
        self.module_node: cst.Module | None = None
        self._result_names: dict[int, tuple[str, ...]] = {}
        # spans are handed out empty and filled in after the walk (``resolve_spans``)
        self.requests: list[tuple[cst.CSTNode, Span, bool]] = []
        self.ordinals: dict[int, int] = {}  # id(node) -> its number among the nodes of its kind, in source order
        self.counts: dict[type, int] = {}

    def visit_Module(self, node: cst.Module) -> None:
        self.module_node = node

    # ---- helpers ---------------------------------------------------------------

    def span(self, node: cst.CSTNode) -> Span:
        """The node's span, filled in once the walk is over (``resolve_spans``)."""
        span = Span(0, 0, 0, 0)
        self.requests.append((node, span, False))
        return span

    def name_span(self, node: cst.FunctionDef | cst.ClassDef) -> Span:
        """The name of a ``def`` or ``class`` (found from the statement's position: names
        are too many to locate them all)."""
        span = Span(0, 0, 0, 0)
        self.requests.append((node, span, True))
        return span

    def resolve_spans(self, text: str | None, ast_tree: ast.Module | None = None) -> None:
        """Fill in every span handed out: from the stdlib ``ast``'s positions when they
        can be trusted for this file, else from libcst's own bookkeeping (the same
        ranges, at about three times the cost)."""
        if not self.requests:
            return
        found = self._ranges_from_ast(text, ast_tree) if text is not None else None
        if found is None:
            table = positions(self.module_node, POSITIONED)
            if any(node not in table for node, _, _ in self.requests):  # a kind the fast table leaves out
                table = positions(self.module_node)
            found = [table[node] for node, _, _ in self.requests]
        for (node, span, name_only), ((line, column), (end_line, end_column)) in zip(self.requests, found):
            if name_only:
                column += _keywords_width(node)
                end_line, end_column = line, column + len(node.name.value)
            # the span was created empty by ``span`` and no one has seen it yet
            object.__setattr__(span, "line", line)
            object.__setattr__(span, "column", column + 1)
            object.__setattr__(span, "end_line", end_line)
            object.__setattr__(span, "end_column", end_column + 1)

    def _ranges_from_ast(self, text: str, tree: ast.Module | None = None) -> list[Range] | None:
        """The requested nodes' ranges from ``ast``: the n-th node of a kind in libcst's
        source order is the n-th in ast's.  None unless every kind has as many nodes in
        both trees, every requested node is of a kind ast positions, and each range starts
        with the text the node starts with."""
        if "\f" in text:
            # libcst counts a line that starts with a form feed one column short; the
            # codemods find nodes by libcst's positions, so facts keep to them
            return None
        lines = _source_lines(text)
        ranges = ast_ranges(text, lines, tree)
        if ranges is None:
            return None
        for kind in COUNTED:
            if len(ranges.get(kind, ())) != self.counts.get(kind, 0):
                return None
        found = []
        ordinals = self.ordinals
        for node, _, _ in self.requests:
            ordinal = ordinals.get(id(node))
            if ordinal is None:
                return None
            where = ranges[type(node)][ordinal]
            (line, column), _ = where
            if not lines[line - 1].startswith(_leading_text(node), column):
                return None
            found.append(where)
        return found

    @property
    def frame(self) -> _Frame:
        return self.frames[-1]

    def function_frame(self) -> _Frame | None:
        for frame in reversed(self.frames):
            if frame.kind == "function":
                return frame
            if frame.kind == "class":
                return None
        return None

    def chain_public(self) -> bool:
        return all(f.public for f in self.frames)

    def qualify(self, name: str) -> str:
        return f"{self.frame.qualname}.{name}"

    def lookup(self, name: str) -> Ref:
        innermost = True
        for frame in reversed(self.frames):
            if frame.kind == "class" and not innermost:
                continue  # class bodies are not enclosing scopes for their methods
            innermost = False
            if frame.kind == "function":
                if name in frame.names:
                    return frame.names[name]
                if name in frame.params:
                    if frame.self_name == name and frame.self_ref is not None:
                        return frame.self_ref
                    return (f"P:{frame.qualname}:{name}",)
            elif frame.kind == "class":
                if name in frame.names:
                    return frame.names[name]
            else:
                if name in frame.names:
                    return frame.names[name]
        if name in _BUILTINS:
            return (f"G:builtins.{name}",)
        return (f"G:{self.module}.{name}",)

    def ref(self, node: cst.BaseExpression | None) -> Ref | None:
        steps: list[str] = []
        while node is not None and len(steps) < _MAX_REF:
            if isinstance(node, cst.Name):
                root = self.lookup(node.value)
                return root + tuple(reversed(steps))
            if isinstance(node, cst.Attribute):
                steps.append("." + node.attr.value)
                node = node.value
            elif isinstance(node, cst.Call):
                inner = self.unwrap(node)
                if inner is node:
                    steps.append("()")
                    node = node.func
                else:
                    node = inner
            elif isinstance(node, cst.Subscript):
                steps.append("[]")
                node = node.value
            elif isinstance(node, cst.Await):
                node = node.expression
            else:
                return None
        return None

    def unwrap(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """``asyncio.wait_for(aw, timeout)`` and ``asyncio.shield(aw)`` → ``aw``: awaited,
        they give ``aw``'s result (``reader, writer = await wait_for(open_connection(...), 5)``)."""
        while isinstance(node, cst.Call) and node.args and node.args[0].keyword is None and not node.args[0].star:
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            if name not in _PASS_THROUGH or dotted(self.ref(func)) not in _PASS_THROUGH_APIS:
                break
            node = node.args[0].value
        return node

    def resolve_relative(self, node: cst.ImportFrom) -> str | None:
        base = _attr_text(node.module) if node.module is not None else ""
        if not node.relative:
            return base
        package = self.package
        for _ in range(len(node.relative) - 1):
            package = package.rpartition(".")[0]
        if not package:
            return base or None
        return f"{package}.{base}" if base else package

    # ---- imports -----------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = _attr_text(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.import_name(alias.asname.name.value, full)
            else:
                top = full.split(".")[0]
                self.import_name(top, top)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = self.resolve_relative(node)
        if base is None:
            return
        for alias in node.names:
            name = _attr_text(alias.name)
            local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
            self.import_name(local, f"{base}.{name}")

    def import_name(self, local: str, target: str) -> None:
        self.frame.names[local] = (f"G:{target}",)
        if self.frame.kind == "module" and local != target:
            self.imports.append((local, target))

    # ---- definitions -------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = node.name.value
        qualname = self.qualify(name)
        public = self.chain_public() and is_public_name(name)
        bases = tuple(r for r in (self.ref(arg.value) for arg in node.bases if arg.keyword is None) if r)
        self.classes.append(ClassFact(qualname, bases, self.name_span(node), public))
        self.frame.names[name] = (f"G:{qualname}",) if self.frame.kind == "module" else (f"L:{qualname}",)
        self.frames.append(_Frame("class", qualname, is_public_name(name)))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        parent = self.frame
        qualname = self.qualify(name)
        public = self.chain_public() and is_public_name(name)
        decorators = tuple(r for r in (self.ref(d.decorator) for d in node.decorators) if r)
        decorator_names = {_attr_text(d.decorator) for d in node.decorators if isinstance(d.decorator, (cst.Name, cst.Attribute))}
        params = _params(node.params)
        frame = _Frame("function", qualname, is_public_name(name), is_async=node.asynchronous is not None)
        owner = parent.qualname if parent.kind == "class" else None
        if owner is not None and params and "staticmethod" not in decorator_names:
            first = params[0].name
            frame.self_name = first
            frame.self_ref = (f"C:{owner}",) if "classmethod" in decorator_names else (f"I:{owner}",)
        annotations = {}
        for param in params:
            annotations[param.name] = self.annotation_ref(param.annotation)
        frame.params = annotations
        param_facts = tuple(Param(p.name, annotations[p.name], p.kind) for p in params)
        returns = self.annotation_ref(node.returns.annotation) if node.returns is not None else None
        is_property = bool(decorator_names & {"property", "functools.cached_property", "cached_property"})
        self.functions.append(FunctionFact(
            qualname, owner, frame.is_async, public, param_facts, returns, decorators, self.name_span(node), is_property,
        ))
        if parent.kind == "module":
            parent.names[name] = (f"G:{qualname}",)
        elif parent.kind == "function":
            parent.names[name] = (f"G:{qualname}",)
        # a timeout scope around a ``def`` does not bound the calls inside it
        self._saved_scopes.append(self.scope_stack)
        self.scope_stack = []
        self.frames.append(frame)
        for param in params:
            if param.annotation is not None:
                ann = annotations[param.name]
                if ann is not None:
                    frame.value_types[param.name] = ann

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()
        self.scope_stack = self._saved_scopes.pop()

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return True

    def annotation_ref(self, node: cst.BaseExpression | None) -> Ref | None:
        if node is None:
            return None
        if isinstance(node, cst.SimpleString):
            inner = string_value(node)
            if inner is None:
                return None
            try:
                node = cst.parse_expression(inner)
            except cst.ParserSyntaxError:
                return None
        if isinstance(node, cst.Subscript):
            node = node.value
        if isinstance(node, cst.BinaryOperation):  # X | None: keep the first class
            node = node.left
        return self.ref(node)

    def element_type(self, annotation: cst.BaseExpression | None) -> tuple[str, ...] | None:
        """The declared item types of ``Queue[...]`` (None when undeclared)."""
        if annotation is None:
            return None
        if isinstance(annotation, cst.SimpleString):
            inner = string_value(annotation)
            try:
                annotation = cst.parse_expression(inner) if inner else None
            except cst.ParserSyntaxError:
                return None
        if not isinstance(annotation, cst.Subscript) or not annotation.slice:
            return None
        first = annotation.slice[0].slice
        if not isinstance(first, cst.Index):
            return None
        names = _type_names(first.value)
        if not names or any(n in UNDECLARED for n in names):
            return None
        return tuple(names)

    # ---- module-level facts ------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if self.frame.kind == "module":
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    name = target.target.value
                    if name == "__all__":
                        self.all_names = _string_list(value) or []
                    elif isinstance(value, cst.SimpleString):
                        literal = string_value(value)
                        if literal is not None:
                            self.constants[name] = literal
        for target in node.targets:
            self.bind(target.target, value, node, None)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is None:
            # ``inbox: Queue[Event]`` in a class body declares the type of an attribute
            # assigned elsewhere (usually in ``__init__``)
            declared = self.element_type(node.annotation.annotation)
            if declared is not None and self.frame.kind == "class" and isinstance(node.target, cst.Name):
                self.bindings.append(Binding("class", self.frame.qualname, node.target.value, ("T:declared",),
                                             self.span(node), False, None, declared))
            return
        self.bind(node.target, node.value, node, node.annotation.annotation)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if (self.frame.kind == "module" and isinstance(node.target, cst.Name) and node.target.value == "__all__"
                and isinstance(node.operator, cst.AddAssign)):
            self.all_names = (self.all_names or []) + (_string_list(node.value) or [])

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.bind(node.target, node.value, node, None)

    def bind(self, target: cst.BaseExpression, value: cst.BaseExpression, stmt: cst.CSTNode,
             annotation: cst.BaseExpression | None) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = [e.value for e in target.elements if isinstance(e, cst.Element)]
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
                for element, item in zip(elements, value.elements):
                    self.bind(element, item.value, stmt, None)
                return
            self.bind_unpacked(elements, value, stmt)
            return
        if isinstance(value, cst.Dict) and value.elements:
            self.note_table(target, value)
        value_ref, call, element_type = self.value_of(value, annotation)
        self.bind_one(target, value_ref, call, element_type, stmt, value)

    def note_table(self, target: cst.BaseExpression, value: cst.Dict) -> None:
        """``HANDLERS = {"user": on_user, Payment: on_payment}``: a dispatch table."""
        keys = []
        for element in value.elements:
            if not isinstance(element, cst.DictElement):
                return
            tag = string_value(element.key)
            if tag is not None:
                keys.append(TableKey(tag=Tag(tag)))
                continue
            ref = self.ref(element.key) if isinstance(element.key, (cst.Name, cst.Attribute)) else None
            if ref is None:
                return
            keys.append(TableKey(ref=ref))
        if isinstance(target, cst.Name) and self.frame.kind in ("module", "class"):
            owner = self.module if self.frame.kind == "module" else self.frame.qualname
            self.tables.append(Table(owner, target.value, tuple(keys)))
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            root = self.lookup(target.value.value)
            if len(root) == 1 and root[0].startswith("I:"):
                self.tables.append(Table(root[0][2:], target.attr.value, tuple(keys)))

    def value_of(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None):
        inner = value.expression if isinstance(value, cst.Await) else value
        if inner is not value:
            self.awaited.add(id(inner))  # visit_Await has not run yet for this statement
        call = None
        element_type = self.element_type(annotation)
        if isinstance(inner, cst.Call):
            factory = _keyword(inner, "default_factory") or _keyword(inner, "factory")
            if factory is not None and isinstance(factory, (cst.Name, cst.Attribute)):
                # ``field(default_factory=Queue)`` binds what the factory returns
                ref = self.ref(factory)
                return (ref + ("()",) if ref else None), None, element_type
            call = self.call_fact(inner)
            if element_type is None and isinstance(inner.func, cst.Subscript):
                element_type = self.element_type(inner.func)
        return self.ref(value), call, element_type

    def bind_unpacked(self, elements: list[cst.BaseExpression], value: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        value_ref, call, _ = self.value_of(value, None)
        fn = self.function_frame()
        received_from = self.receive_source(value)
        for index, element in enumerate(elements):
            if fn is not None and received_from is not None and isinstance(element, cst.Name):
                # ``kind, data = q.get()``: the first element is the item's tag
                (fn.tags if index == 0 else fn.received)[element.value] = received_from
            item_ref = value_ref + (f"#{index}",) if value_ref else None
            self.bind_one(element, item_ref, call, None, stmt, value)
        if fn is not None and isinstance(value, cst.Name) and value.value in fn.received and elements:
            first = elements[0]
            if isinstance(first, cst.Name):
                fn.tags[first.value] = fn.received[value.value]

    def bind_one(self, target: cst.BaseExpression, value_ref: Ref | None, call: CallFact | None,
                 element_type: tuple[str, ...] | None, stmt: cst.CSTNode, value: cst.BaseExpression) -> None:
        frame = self.frame
        fn = self.function_frame()
        if isinstance(target, cst.Name):
            name = target.value
            if frame.kind == "function":
                source = self.receive_source(value)
                if source is not None:
                    frame.received[name] = source
                else:
                    frame.received.pop(name, None)
                if value_ref is not None and (value_ref[-1] == "()" or value_ref[-1].startswith("#")):
                    self.bindings.append(Binding("local", frame.qualname, name, value_ref, self.span(stmt), False,
                                                 call, element_type))
                    if value_ref[-1] == "()":
                        frame.value_types[name] = value_ref[:-1]
                    frame.names[name] = (f"L:{frame.qualname}:{name}",)
                elif value_ref is not None:
                    frame.names[name] = value_ref
                else:
                    frame.names[name] = (f"L:{frame.qualname}:{name}",)
                return
            if value_ref is None:
                if frame.kind == "module":
                    frame.names.setdefault(name, (f"G:{self.module}.{name}",))
                return
            scope = "module" if frame.kind == "module" else "class"
            public = self.chain_public() and is_public_name(name)
            self.bindings.append(Binding(scope, frame.qualname, name, value_ref, self.span(stmt), public, call, element_type))
            if frame.kind == "module":
                frame.names[name] = (f"G:{self.module}.{name}",)
            return
        if isinstance(target, cst.Attribute) and target.attr.value.startswith("on_") and value_ref is not None:
            root = self.ref(target.value)
            if root is not None and not (len(root) == 1 and root[0][:2] in ("I:", "C:")):
                # ``client.on_message = handle``: a callback attribute, registered later by the client
                self.bindings.append(Binding("callback", self.frame.qualname, target.attr.value, value_ref,
                                             self.span(stmt), False))
                return
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and value_ref is not None and fn is not None:
            root = self.lookup(target.value.value)
            if len(root) == 1 and root[0][:2] in ("I:", "C:"):
                owner = root[0][2:]
                name = target.attr.value
                public = self.chain_public() and is_public_name(name)
                scope = "instance" if root[0][0] == "I" else "class"
                self.bindings.append(Binding(scope, owner, name, value_ref, self.span(stmt), public, call, element_type))

    def receive_source(self, value: cst.BaseExpression) -> Ref | None:
        """The channel ref when ``value`` is ``ch.get()`` / ``await ch.get()`` and the like."""
        inner = self.unwrap(value.expression if isinstance(value, cst.Await) else value)
        if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value in GET_METHODS:
            return self.ref(inner.func.value)
        return None

    # ---- returns, calls, scopes -----------------------------------------------------

    def visit_Return(self, node: cst.Return) -> None:
        fn = self.function_frame()
        if fn is None or node.value is None:
            return
        ref = self.ref(node.value)
        if ref is not None and "()" not in ref:
            self.returns.append(ReturnFact(fn.qualname, ref, self.span(node)))

    def visit_Await(self, node: cst.Await) -> None:
        self.awaited.add(id(node.expression))
        self.awaited.add(id(self.unwrap(node.expression)))  # ``await asyncio.shield(aw)`` awaits ``aw``

    def caller(self) -> str:
        return self.frame.qualname

    def call_fact(self, node: cst.Call) -> CallFact | None:
        cached = self._call_cache.get(id(node))
        if cached is not None:
            return cached
        callee = self.ref(node.func)
        if callee is None:
            return None
        args: list[Ref | None] = []
        arg_texts: list[str] = []
        keywords: list[tuple[str, Ref | None]] = []
        keyword_texts: list[tuple[str, str]] = []
        has_star = False
        for arg in node.args:
            if arg.star:
                has_star = True
                continue
            if arg.keyword is not None:
                keywords.append((arg.keyword.value, self.arg_ref(arg.value)))
                keyword_texts.append((arg.keyword.value, _summary(arg.value)))
            else:
                args.append(self.arg_ref(arg.value))
                arg_texts.append(_summary(arg.value))
        payload = None
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in PUT_METHODS and node.args:
            payload = self.payload(node.args[0].value)
        fact = CallFact(
            caller=self.caller(), callee=callee, span=self.span(node), args=tuple(args), keywords=tuple(keywords),
            arg_texts=tuple(arg_texts), keyword_texts=tuple(keyword_texts), has_star=has_star,
            awaited=id(node) in self.awaited, timeout_scope=self.scope_stack[-1] if self.scope_stack else "",
            payload=payload,
        )
        self._call_cache[id(node)] = fact
        return fact

    def arg_ref(self, value: cst.BaseExpression) -> Ref | None:
        if isinstance(value, cst.Name):
            fn = self.function_frame()
            if fn is not None and value.value in fn.received:
                return fn.received[value.value] + ("<item>",)
        if isinstance(value, cst.Lambda):
            # ``lambda: fn(...)`` registers fn
            body = value.body
            if isinstance(body, cst.Call):
                return self.ref(body.func)
            return None
        if isinstance(value, cst.Call):
            callee = dotted(self.ref(value.func))
            if callee in ("functools.partial", "asyncio.to_thread") and value.args:
                return self.ref(value.args[0].value)
        return self.ref(value)

    def visit_Call(self, node: cst.Call) -> None:
        fact = self.call_fact(node)
        if fact is not None:
            self.calls.append(fact)
            name = dotted(fact.callee)
            if name is not None:
                scope = self.catalog.timeout_scope(name)
                if scope is not None and _has_deadline(node, scope.deadline):
                    # ``asyncio.wait_for(coro(), 5)`` bounds the calls in its arguments,
                    # and awaits the coroutine it is given
                    self.scope_stack.append(scope.kind)
                    self.scoped_calls.append(node)
                    if node.args and isinstance(node.args[0].value, cst.Call):
                        self.awaited.add(id(node.args[0].value))
        self.note_dispatch_call(node)
        if self.loop_stack and fact is not None and fact.callee[-1][1:] in GET_METHODS and len(fact.callee) > 1:
            # ``q.get()``, or ``get = q.get`` … ``get()``: the receiver is what precedes ``.get``
            self.loop_stack[-1][1].append(fact.callee[:-1])

    def leave_Call(self, original_node: cst.Call) -> None:
        if self.scoped_calls and self.scoped_calls[-1] is original_node:
            self.scoped_calls.pop()
            self.scope_stack.pop()

    def visit_With(self, node: cst.With) -> None:
        kinds = []
        for item in node.items:
            if node.asynchronous is not None:
                self.awaited.add(id(item.item))  # ``async with session.get(...)`` awaits its __aenter__
            if isinstance(item.item, cst.Call):
                name = dotted(self.ref(item.item.func))
                scope = self.catalog.timeout_scope(name) if name else None
                if scope is not None and _has_deadline(item.item, scope.deadline):
                    kinds.append(scope.kind)
            if item.asname is not None:
                self.bind(item.asname.name, item.item, node, None)
        self._with_pushed.append(len(kinds))
        if kinds:
            self.scope_stack.append("sync" if "sync" in kinds else "async")

    def leave_With(self, original_node: cst.With) -> None:
        if self._with_pushed.pop():
            self.scope_stack.pop()

    # ---- loops (consumer candidates) ----------------------------------------------------

    def visit_For(self, node: cst.For) -> None:
        fn = self.function_frame()
        iterates = None
        sources: list[Ref] = []
        it = node.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "iter" and it.args:
            getter = it.args[0].value
            if isinstance(getter, cst.Attribute) and getter.attr.value in GET_METHODS:
                receiver = self.ref(getter.value)
                if receiver is not None:
                    sources.append(receiver)
        else:
            iterates = self.ref(it)
        if fn is not None:
            source = sources[0] if sources else iterates
            if source is not None and isinstance(node.target, cst.Name):
                fn.received[node.target.value] = source
            if isinstance(node.target, cst.Name):
                fn.names.pop(node.target.value, None)
        self.loop_stack.append((node, sources, iterates if node.asynchronous is not None or iterates else None))

    def leave_For(self, original_node: cst.For) -> None:
        self.close_loop()

    def visit_While(self, node: cst.While) -> None:
        self.loop_stack.append((node, [], None))

    def leave_While(self, original_node: cst.While) -> None:
        self.close_loop()

    def close_loop(self) -> None:
        node, sources, iterates = self.loop_stack.pop()
        fn = self.function_frame()
        if fn is None or (not sources and iterates is None):
            return
        # the loop's input is its first receive; later receives in the body are work it does
        self.loops.append(LoopFact(fn.qualname, self.span(node), tuple(sources[:1]), iterates))

    # ---- payloads and dispatch ---------------------------------------------------------------

    def payload(self, value: cst.BaseExpression) -> Payload:
        """The shape of what a put-like call sends (see ``PayloadShape``)."""
        if isinstance(value, cst.Name):
            if value.value in ("None", "Ellipsis"):
                return _NONE
            fn = self.function_frame()
            if fn is not None:
                if value.value in fn.caught:
                    return _CAUGHT
                known = fn.value_types.get(value.value)
                if known is not None:
                    return Payload(PayloadShape.CALL, known)
                if value.value in fn.params and value.value not in fn.names and value.value != fn.self_name:
                    # the caller decides: ``def publish(self, event): self._q.put(event)``
                    return Payload(PayloadShape.PARAM, param=value.value)
                if value.value in fn.names or value.value in fn.params:
                    return _OTHER
            return Payload(PayloadShape.NAME, self.lookup(value.value))
        if isinstance(value, cst.Ellipsis):
            return _NONE
        if isinstance(value, cst.Call):
            callee = self.ref(value.func)
            return Payload(PayloadShape.CALL, callee) if callee else _OTHER
        if isinstance(value, cst.Tuple) and value.elements:
            tag = self.tag_value(value.elements[0].value)
            return Payload(PayloadShape.TAGGED, tag=tag) if tag is not None else _OTHER
        if isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) in self.tag_keys:
                    tag = self.tag_value(element.value)
                    if tag is not None:
                        return Payload(PayloadShape.TAGGED, tag=tag)
            return _OTHER
        return _OTHER

    def tag_value(self, node: cst.BaseExpression) -> Tag | None:
        """A string literal, a module constant bound to one, or a dotted constant such as an
        Enum member (``Kind.USER``), by its qualified name."""
        literal = string_value(node)
        if literal is not None:
            return Tag(literal)
        if isinstance(node, cst.Name) and node.value in self.constants:
            return Tag(self.constants[node.value])
        if isinstance(node, cst.Attribute):  # Enum members and module constants: Kind.USER, kinds.USER
            name = dotted(self.ref(node))  # None for ``self.expected.name``: a value, not a tag
            return Tag(name, named=True) if name else None
        return None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        fn = self.function_frame()
        if fn is not None and node.name is not None and isinstance(node.name.name, cst.Name):
            fn.caught.add(node.name.name.value)

    def item_source(self, node: cst.BaseExpression) -> tuple[Ref, str] | None:
        """(channel, how) when ``node`` is a received item or its tag: ``item``,
        ``item[0]``, ``item["type"]``, ``item.get("type")``, ``type(item)``, ``kind``."""
        fn = self.function_frame()
        if fn is None:
            return None
        if isinstance(node, cst.Name):
            if node.value in fn.tags:
                return fn.tags[node.value], "tag"
            item = self.item_ref(fn, node.value)
            return (item, "item") if item is not None else None
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
            item = self.item_ref(fn, node.value.value)
            return (item, "tag") if item is not None else None
        if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "get"
                and isinstance(node.func.value, cst.Name)):
            item = self.item_ref(fn, node.func.value.value)
            return (item, "tag") if item is not None else None
        if (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "type" and node.args
                and isinstance(node.args[0].value, cst.Name)):
            item = self.item_ref(fn, node.args[0].value.value)
            return (item, "type") if item is not None else None
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            item = self.item_ref(fn, node.value.value)  # item.kind == "user"
            return (item, "tag") if item is not None else None
        return None

    @staticmethod
    def item_ref(fn: _Frame, name: str) -> Ref | None:
        """What ``name`` holds when it may be a received item: the receiving channel's
        ref, or the parameter (the graph follows the arguments of its callers)."""
        if name in fn.received:
            return fn.received[name]
        if name in fn.params and name != fn.self_name:
            return (f"P:{fn.qualname}:{name}",)
        return None

    def add_dispatch(self, source: Ref, kind: DispatchKind, node: cst.CSTNode, ref: Ref = (),
                     tag: Tag | None = None) -> None:
        fn = self.function_frame()
        if fn is not None:
            self.dispatches.append(Dispatch(fn.qualname, source, kind, self.span(node), ref, tag))

    def note_dispatch_call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Name) or node.func.value != "isinstance" or len(node.args) != 2:
            return
        found = self.item_source(node.args[0].value)
        if found is None or found[1] != "item":
            return
        for cls in _class_operands(node.args[1].value):
            ref = self.ref(cls)
            if ref is not None:
                self.add_dispatch(found[0], DispatchKind.CLASS, node, ref=ref)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        found = self.item_source(node.left)
        if found is None or len(node.comparisons) != 1:
            return
        target = node.comparisons[0]
        if not isinstance(target.operator, (cst.Equal, cst.Is, cst.In)):
            return
        source, how = found
        operands = (_class_operands(target.comparator) if isinstance(target.operator, cst.In)
                    else [target.comparator])
        for operand in operands:
            if how == "type":
                ref = self.ref(operand)
                if ref is not None:
                    self.add_dispatch(source, DispatchKind.CLASS, node, ref=ref)
            elif how == "tag":
                tag = self.tag_value(operand)
                if tag is not None:
                    self.add_dispatch(source, DispatchKind.TAG, node, tag=tag)

    def visit_Match(self, node: cst.Match) -> None:
        found = self.item_source(node.subject)
        if found is None:
            return
        source, how = found
        for case in node.cases:
            for pattern in _alternatives(case.pattern):
                if isinstance(pattern, cst.MatchClass) and how == "item":
                    ref = self.ref(pattern.cls)
                    if ref is not None:
                        self.add_dispatch(source, DispatchKind.CLASS, case, ref=ref)
                elif isinstance(pattern, cst.MatchSequence) and how == "item" and pattern.patterns:
                    first = pattern.patterns[0]
                    value = getattr(first, "value", None)
                    if isinstance(value, cst.MatchValue) or isinstance(first, cst.MatchSequenceElement):
                        value = first.value.value if isinstance(first.value, cst.MatchValue) else None
                    tag = string_value(value) if value is not None else None
                    if tag is not None:
                        self.add_dispatch(source, DispatchKind.TAG, case, tag=Tag(tag))
                elif isinstance(pattern, cst.MatchMapping) and how == "item":
                    for element in pattern.elements:
                        if string_value(element.key) in self.tag_keys and isinstance(element.pattern, cst.MatchValue):
                            tag = string_value(element.pattern.value)
                            if tag is not None:
                                self.add_dispatch(source, DispatchKind.TAG, case, tag=Tag(tag))
                elif isinstance(pattern, cst.MatchValue) and how == "tag":
                    tag = self.tag_value(pattern.value)
                    if tag is not None:
                        self.add_dispatch(source, DispatchKind.TAG, case, tag=tag)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # ``HANDLERS[type(item)](item)`` / ``handlers[item["type"]]``: a dict-of-handlers lookup
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        found = self.item_source(node.slice[0].slice.value)
        if found is None or found[1] == "item":
            return
        table = self.ref(node.value)
        if table is not None:
            self.add_dispatch(found[0], DispatchKind.TABLE, node, ref=table)


_NONE = Payload(PayloadShape.NONE)
_CAUGHT = Payload(PayloadShape.CAUGHT)
_OTHER = Payload(PayloadShape.OTHER)


def _has_deadline(call: cst.Call, deadline) -> bool:
    if deadline is None:
        return True
    for index, arg in enumerate(a for a in call.args if a.keyword is None and not a.star):
        if deadline.position is not None and index == deadline.position:
            return not _is_none(arg.value)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == deadline.keyword:
            return not _is_none(arg.value)
        if arg.star:
            return True
    return False


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _alternatives(pattern: cst.MatchPattern) -> list[cst.MatchPattern]:
    if isinstance(pattern, cst.MatchOr):
        return [p.pattern for p in pattern.patterns]
    if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None:
        return _alternatives(pattern.pattern)
    return [pattern]


def _class_operands(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in node.elements if isinstance(e, cst.Element)]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _class_operands(node.left) + _class_operands(node.right)
    return [node]


def _type_names(node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _type_names(node.left) + _type_names(node.right)
    if isinstance(node, cst.Subscript):
        head = _attr_text(node.value)
        if head.rsplit(".", 1)[-1] in ("Union", "Optional"):
            names: list[str] = []
            for element in node.slice:
                if isinstance(element.slice, cst.Index):
                    names += _type_names(element.slice.value)
            return names
        return [head]
    if isinstance(node, cst.SimpleString):
        inner = string_value(node)
        try:
            return _type_names(cst.parse_expression(inner)) if inner else []
        except cst.ParserSyntaxError:
            return []
    if isinstance(node, cst.Name) and node.value == "None":
        return []
    text = _attr_text(node)
    return [text] if text else ["?"]


def _attr_text(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _attr_text(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def string_value(node) -> str | None:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - a malformed literal is simply not a tag
            return None
        return value if isinstance(value, str) else None
    return None


def _string_list(node: cst.BaseExpression) -> list[str] | None:
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        values = [string_value(e.value) for e in node.elements if isinstance(e, cst.Element)]
        return [v for v in values if v is not None]
    return None


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


_NUMBER = re.compile(r"[0-9_.eE+-]+\Z")


def _summary(node: cst.BaseExpression) -> str:
    """A cheap text for an argument: the literal for None/True/False/numbers/strings,
    "?" for anything else (enough to tell ``timeout=None`` from a real timeout)."""
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return node.value
    if isinstance(node, (cst.Integer, cst.Float)):
        return node.value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.expression, (cst.Integer, cst.Float)):
        return "-" + node.expression.value if isinstance(node.operator, cst.Minus) else node.expression.value
    if isinstance(node, cst.SimpleString):
        return node.value
    return "?"


@dataclass(frozen=True)
class _ParamInfo:
    name: str
    annotation: cst.BaseExpression | None
    kind: str


def _params(params: cst.Parameters) -> list[_ParamInfo]:
    out = []
    for p in (*params.posonly_params, *params.params):
        out.append(_ParamInfo(p.name.value, p.annotation.annotation if p.annotation else None, "positional"))
    if isinstance(params.star_arg, cst.Param):
        p = params.star_arg
        out.append(_ParamInfo(p.name.value, None, "star"))
    for p in params.kwonly_params:
        out.append(_ParamInfo(p.name.value, p.annotation.annotation if p.annotation else None, "keyword"))
    if params.star_kwarg is not None:
        out.append(_ParamInfo(params.star_kwarg.name.value, None, "starstar"))
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


def _walk(root: cst.CSTNode, visitor: cst.CSTVisitor, ordinals: dict[int, int] | None = None,
          counts: dict[type, int] | None = None) -> None:
    """A read-only traversal in source order that calls ``visit_<Type>``/``leave_<Type>``
    like libcst's, without rebuilding every node on the way back up and without
    descending into whitespace and punctuation (libcst's own traversal cost about as much
    as the parse).  With ``ordinals``, each node of a ``COUNTED`` kind gets its number
    among the nodes of its kind (``counts`` keeps the totals)."""
    visits: dict[type, object] = {}
    leaves: dict[type, object] = {}
    counted = COUNTED if ordinals is not None else frozenset()

    def handlers(kind: type):
        visit = getattr(visitor, f"visit_{kind.__name__}", None)
        leave = getattr(visitor, f"leave_{kind.__name__}", None)
        visits[kind], leaves[kind] = visit, leave
        return visit, leave

    # ``walk`` gets itself as an argument: a function that called itself through its
    # closure would form a cycle keeping the visitor, and with it the tree, alive
    def walk(node: cst.CSTNode, walk) -> None:
        kind = type(node)
        if kind in counted:
            number = counts.get(kind, 0)
            ordinals[id(node)] = number
            counts[kind] = number + 1
        if kind in visits:
            visit, leave = visits[kind], leaves[kind]
        else:
            visit, leave = handlers(kind)
        if visit is None or visit(node) is not False:
            for name in _CHILD_FIELDS.get(kind) or _child_fields(kind):
                child = getattr(node, name)
                if child is None or isinstance(child, str):
                    continue
                if isinstance(child, (list, tuple)):
                    for item in child:
                        if isinstance(item, cst.CSTNode):
                            walk(item, walk)
                elif isinstance(child, cst.CSTNode):
                    walk(child, walk)
        if leave is not None:
            leave(node)

    walk(root, walk)


def extract(module_node: cst.Module, *, path: str, module: str, aliases: tuple[str, ...], is_package: bool,
            catalog: Catalog, tag_keys: frozenset[str], text: str | None = None,
            ast_tree: ast.Module | None = None) -> FileFacts:
    """Run the single visitor pass over a parsed module (``text``, its source, lets the
    spans come from the stdlib ``ast``: see ``resolve_spans``; ``ast_tree`` is
    ``ast.parse(text)`` when the caller has it)."""
    extractor = _Extractor(module, is_package, catalog, tag_keys)
    _walk(module_node, extractor, extractor.ordinals, extractor.counts)
    extractor.resolve_spans(text, ast_tree)
    return FileFacts(
        path=path,
        module=module,
        aliases=aliases,
        all_names=tuple(extractor.all_names) if extractor.all_names is not None else None,
        imports=tuple(extractor.imports),
        classes=tuple(extractor.classes),
        functions=tuple(extractor.functions),
        bindings=tuple(extractor.bindings),
        returns=tuple(extractor.returns),
        calls=tuple(extractor.calls),
        dispatches=tuple(extractor.dispatches),
        loops=tuple(extractor.loops),
        tables=tuple(extractor.tables),
    )
