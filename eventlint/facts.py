"""One libcst pass per file: turn a module into a frozen ``FileFacts`` record.

No graph code and no rule logic lives here.  Names are resolved only as far as one file
allows (imports, ``self``, parameters, locals); ``eventlint.resolution`` finishes the job
across files.  How nodes are positioned and read is ``eventlint.syntax``'s part.
"""

from __future__ import annotations

import ast
import builtins

import libcst as cst

from .catalog import Catalog
from .model import (  # noqa: F401 - dotted and is_public_name are also this module's
    Binding, BindingScope, CallFact, ClassFact, Dispatch, FileFacts, FunctionFact, LoopFact, Param, ParamKind,
    PayloadShape, Ref, ReturnFact, ScopeKind, Span, Table, TableKey, dotted, is_public_name,
)
from .alternatives import AlternativesReader, container_element
from .frames import Frame as _Frame
from .guards import GuardReader
from .nested import NestedReader
from .loops import GET_METHODS, LoopReader
from .items import PUT_METHODS, ItemReader
from .passthrough import PassThroughReader
from .readiness import ReadinessReader
from .syntax import (COUNTED, POSITIONED, Range, ast_ranges, attr_text, has_deadline, keyword_value, keywords_width,
                     leading_text, params_of, positions, source_lines, string_list, string_value, summary, traverse,
                     type_names, type_parts)

_BUILTINS = frozenset(dir(builtins))
_MAX_REF = 12
_CLASS_FACTORIES = frozenset({"collections.namedtuple", "typing.NamedTuple", "dataclasses.make_dataclass"})
UNDECLARED = frozenset({"Any", "object", "typing.Any", "t.Any"})
_ADDERS = frozenset({"append", "appendleft", "add", "insert", "setdefault"})


class _Extractor(ItemReader, GuardReader, ReadinessReader, AlternativesReader, LoopReader, PassThroughReader, NestedReader,
                 cst.CSTVisitor):
    def __init__(self, module: str, is_package: bool, catalog: Catalog, tag_keys: frozenset[str]):
        super().__init__()
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.catalog = catalog
        self.tag_keys = tag_keys
        self.callback_methods = catalog.channel_callbacks
        self.frames: list[_Frame] = [_Frame("module", module, True)]
        self.scope_stack: list[str] = []  # timeout scopes: "sync" | "async"
        self.scope_candidates: list[Span] = []  # with-item calls not named as timeout scopes
        self.scoped_calls: list[cst.Call] = []
        self.awaited: set[int] = set()
        self.loop_stack: list[tuple[cst.CSTNode, list[Ref], Ref | None]] = []
        self.constants: dict[str, str] = {}  # module-level NAME = "literal"
        self.numbers: set[str] = set()  # module-level NAME = 0
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
        self.loop_inputs: dict[int, tuple[Span, ...]] = {}
        self.loop_gates: dict[int, set[int]] = {}
        self.handoffs: list[CallFact] = []
        self._call_cache: dict[int, CallFact] = {}
        self.first_bases: dict[str, Ref | None] = {}  # class -> its first base (what ``super()`` reaches first)
        self._saved_scopes: list[tuple[list[str], list[Span]]] = []
        self._with_pushed: list[tuple[int, int]] = []
        self.module_node: cst.Module | None = None
        self._result_names: dict[int, tuple[str, ...]] = {}
        # spans are handed out empty and filled in after the walk (``resolve_spans``)
        self.requests: list[tuple[cst.CSTNode, Span, bool]] = []
        self.ordinals: dict[int, int] = {}  # id(node) -> its number among the nodes of its kind, in source order
        self.counts: dict[type, int] = {}
        self.start_alternatives()
        self.start_guards()
        self.start_readiness()

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
                column += keywords_width(node)
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
        lines = source_lines(text)
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
            if not lines[line - 1].startswith(leading_text(node), column):
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
                if name in frame.globals:
                    return (f"G:{self.module}.{name}",)
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
            kind = type(node)  # concrete node classes: ``is`` is isinstance at a fraction of its cost
            if kind is cst.Name:
                root = self.lookup(node.value)
                return root + tuple(reversed(steps))
            if kind is cst.Attribute:
                steps.append("." + node.attr.value)
                node = node.value
            elif kind is cst.Call:
                if type(node.func) is cst.Name and node.func.value == "super" and steps:
                    base = self.super_ref(node)  # ``super().__init__(...)``: the base class's method
                    return base + tuple(reversed(steps)) if base else None
                inner = self.unwrap(node)
                if inner is not node:
                    node = inner
                    continue
                steps.append("()")
                node = self.run_function(node) or node.func
            elif kind is cst.Subscript:
                steps.append(self.subscript_step(node))
                node = node.value
            elif kind is cst.Await:
                node = node.expression
            elif kind is cst.Yield and type(node.value) is cst.Call and self.run_function(node.value):
                node = node.value  # ``x = yield maybeDeferred(f)``: inlineCallbacks sends f's result back
            else:
                return None
        return None

    def super_ref(self, node: cst.Call) -> Ref | None:
        """``super()`` or ``super(Cls, self)`` in a method of ``Cls``: an instance of its first base."""
        fn = self.function_frame()
        owner = fn.self_ref[0][2:] if fn is not None and fn.self_ref else None
        if owner is None or (node.args and self.ref(node.args[0].value) not in ((f"G:{owner}",), (f"L:{owner}",))):
            return None
        base = self.first_bases.get(owner)
        return base + ("()",) if base else None

    def resolve_relative(self, node: cst.ImportFrom) -> str | None:
        base = attr_text(node.module) if node.module is not None else ""
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
            full = attr_text(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.import_name(alias.asname.name.value, full)
            else:
                top = full.split(".")[0]
                self.import_name(top, top)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = self.resolve_relative(node)
        if base is None:
            return
        if isinstance(node.names, cst.ImportStar):
            if self.frame.kind == "module":
                self.imports.append(("*", base))  # names the module leaves undefined may come from base
            return
        for alias in node.names:
            name = attr_text(alias.name)
            local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
            self.import_name(local, f"{base}.{name}")

    def import_name(self, local: str, target: str) -> None:
        if self.replaces_as_alternative(local):
            return
        self.frame.names[local] = (f"G:{target}",)
        if self.frame.kind == "module" and local != target:
            self.imports.append((local, target))

    def visit_Global(self, node: cst.Global) -> None:
        fn = self.function_frame()
        if fn is not None:
            fn.globals.update(item.name.value for item in node.names)

    # ---- definitions -------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = node.name.value
        qualname = self.qualify(name)
        public = self.chain_public() and is_public_name(name)
        bases = tuple(r for r in (self.ref(arg.value) for arg in node.bases if arg.keyword is None) if r)
        meta = next((self.ref(a.value) for a in node.keywords if a.keyword and a.keyword.value == "metaclass"), None)
        self.classes.append(ClassFact(qualname, bases, self.name_span(node), public, meta))
        self.first_bases[qualname] = bases[0] if bases else None
        self.frame.names[name] = (f"G:{qualname}",) if self.frame.kind == "module" else (f"L:{qualname}",)
        self.frames.append(_Frame("class", qualname, is_public_name(name)))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        parent = self.frame
        decorators = tuple(r for r in (self.ref(d.decorator) for d in node.decorators) if r)
        decorator_names = {attr_text(d.decorator) for d in node.decorators if isinstance(d.decorator, (cst.Name, cst.Attribute))}
        # a property's setter and deleter run on assignment and ``del``, never when the
        # property is read or its value called: they are functions of their own
        accessor = next((d.rpartition(".")[2] for d in decorator_names if d in (f"{name}.setter", f"{name}.deleter")), "")
        qualname = self.qualify(name) + (f".{accessor}" if accessor else "")
        public = self.chain_public() and is_public_name(name)
        params = params_of(node.params)
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
        frame.star_kwargs = next((p.name for p in params if p.kind == ParamKind.STARSTAR), "")
        param_facts = tuple(Param(p.name, annotations[p.name], p.kind, p.default) for p in params)
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
        self._saved_scopes.append((self.scope_stack, self.scope_candidates))
        self.scope_stack, self.scope_candidates = [], []
        self.frames.append(frame)
        for param in params:
            if param.annotation is not None:
                ann = annotations[param.name]
                if ann is not None:
                    frame.value_types[param.name] = ann

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()
        self.scope_stack, self.scope_candidates = self._saved_scopes.pop()

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
        names = type_names(first.value)
        if not names or any(n in UNDECLARED for n in names):
            return None
        return tuple(type_parts(first.value))

    # ---- module-level facts ------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if self.frame.kind == "module":
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    name = target.target.value
                    if name == "__all__":
                        self.all_names = string_list(value) or []
                    elif isinstance(value, cst.Call) and dotted(self.ref(value.func)) in _CLASS_FACTORIES:
                        # ``ButtonEvent = namedtuple("ButtonEvent", [...])`` defines a class
                        self.classes.append(ClassFact(f"{self.module}.{name}", (), self.span(node), is_public_name(name)))
        for target in node.targets:
            self.note_assigned(target.target, value)
            if not self.note_key_stored(target.target):
                self.bind(target.target, value, node, None)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is None:
            # ``inbox: Queue[Event]`` in a class body declares the type of an attribute
            # assigned elsewhere (usually in ``__init__``)
            declared = self.element_type(node.annotation.annotation)
            if declared is not None and self.frame.kind == "class" and isinstance(node.target, cst.Name):
                self.bindings.append(Binding(BindingScope.CLASS, self.frame.qualname, node.target.value, ("T:declared",),
                                             self.span(node), False, None, declared))
            return
        self.note_assigned(node.target, node.value)
        self.bind(node.target, node.value, node, node.annotation.annotation)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if (self.frame.kind == "module" and isinstance(node.target, cst.Name) and node.target.value == "__all__"
                and isinstance(node.operator, cst.AddAssign)):
            self.all_names = (self.all_names or []) + (string_list(node.value) or [])

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.bind(node.target, node.value, node, None)

    def bind(self, target: cst.BaseExpression, value: cst.BaseExpression, stmt: cst.CSTNode,
             annotation: cst.BaseExpression | None) -> None:
        if isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or):
            # ``self._ctx = context or get_context()``: each operand is a value it may hold,
            # but a parameter's is the caller's: the default the code makes is what is seen
            fn = self.function_frame()
            for operand in (value.left, value.right):
                if not (fn is not None and isinstance(operand, cst.Name) and operand.value in fn.params):
                    self.bind(target, operand, stmt, annotation)
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = [e.value for e in target.elements if isinstance(e, cst.Element)]
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
                for element, item in zip(elements, value.elements):
                    self.bind(element, item.value, stmt, None)
                return
            self.bind_unpacked(elements, value, stmt)
            return
        fn = self.function_frame()
        if fn is not None and isinstance(target, cst.Name):
            fn.tuples[target.value] = value  # ``args = (q, n)`` … ``Process(target=work, args=args)``
        if isinstance(value, cst.Dict) and value.elements:
            self.note_table(target, value)
            self.bind_tuple_table(target, value, stmt)
        value_ref, call, element_type = self.value_of(value, annotation)
        element = container_element(value)
        if element is not None:
            self.bind_element(target, element, stmt)
        elif isinstance(target, cst.Subscript) and isinstance(value, cst.Call):  # ``self.queues[name] = Queue()``
            self.bind_element(target.value, value, stmt)
        self.bind_one(target, value_ref, call, element_type, stmt, value)

    def bind_element(self, container: cst.BaseExpression, element: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        """``container`` (a global or attribute) holds values made by ``element`` (a call,
        or a factory whose call makes each one): recorded as a binding with ``container``
        set.  Locals are left out."""
        if isinstance(element, cst.Call):
            value_ref, call = self.ref(element), self.call_fact(element)
        else:
            factory = self.ref(element)
            value_ref, call = (factory + ("()",) if factory else None), None
        if value_ref is None or value_ref[-1] != "()":
            return
        frame = self.frame
        if isinstance(container, cst.Name):
            name = container.value
            fn = self.function_frame()
            if fn is not None and name not in fn.globals:
                return
            if frame.kind == "class":
                scope, owner = BindingScope.CLASS, frame.qualname
            else:
                scope, owner = BindingScope.MODULE, self.module
            public = is_public_name(name) and (scope == BindingScope.MODULE or self.chain_public())
            self.bindings.append(Binding(scope, owner, name, value_ref, self.span(stmt), public, call, None, True))
        elif isinstance(container, cst.Attribute) and isinstance(container.value, cst.Name):
            root = self.lookup(container.value.value)
            if len(root) == 1 and root[0][:2] in ("I:", "C:") and self.function_frame() is not None:
                name = container.attr.value
                scope = BindingScope.INSTANCE if root[0][0] == "I" else BindingScope.CLASS
                self.bindings.append(Binding(scope, root[0][2:], name, value_ref, self.span(stmt),
                                             self.chain_public() and is_public_name(name), call, None, True))

    def note_table(self, target: cst.BaseExpression, value: cst.Dict) -> None:
        """``HANDLERS = {"user": on_user, Payment: on_payment}``: a dispatch table."""
        keys = []
        for element in value.elements:
            if not isinstance(element, cst.DictElement):
                return
            tag = self.table_tag(element.key)
            if tag is not None:
                keys.append(TableKey(tag=tag))
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
            factory = keyword_value(inner, "default_factory") or keyword_value(inner, "factory")
            if factory is not None and isinstance(factory, (cst.Name, cst.Attribute)):
                # ``field(default_factory=Queue)`` binds what the factory returns
                ref = self.ref(factory)
                return (ref + ("()",) if ref else None), None, element_type
            call = self.call_fact(inner)
            if element_type is None and isinstance(inner.func, cst.Subscript):
                element_type = self.element_type(inner.func)
        return self.ref(value), call, element_type

    def bind_unpacked(self, elements: list[cst.BaseExpression], value: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        value_ref, call, element_type = self.value_of(value, None)  # ``open_memory_channel[T](n)``: both ends
        fn = self.function_frame()
        received_from = self.receive_source(value)
        for index, element in enumerate(elements):
            if fn is not None and received_from is not None and isinstance(element, cst.Name):
                # ``kind, data = q.get()``: the first element is the item's tag
                (fn.tags if index == 0 else fn.received)[element.value] = received_from
            item_ref = value_ref + (f"#{index}",) if value_ref else None
            self.bind_one(element, item_ref, call, element_type, stmt, value)
        source = self.item_ref(fn, value.value) if fn is not None and isinstance(value, cst.Name) else None
        if source is not None and elements:
            # ``kind, data = item`` of a received item, or of a parameter (an item when the
            # callers pass one: ``def on_item(self, item)`` handed to ``setcallback``)
            first = elements[0]
            if isinstance(first, cst.Name):
                fn.tags[first.value] = source

    def bind_one(self, target: cst.BaseExpression, value_ref: Ref | None, call: CallFact | None,
                 element_type: tuple[str, ...] | None, stmt: cst.CSTNode, value: cst.BaseExpression) -> None:
        frame = self.frame
        fn = self.function_frame()
        if isinstance(target, cst.Name):
            name = target.value
            if self.replaces_as_alternative(name):
                return
            if frame.kind == "function" and name in frame.globals:
                # ``global EVENTS`` … ``EVENTS = Queue()``: the module's global
                if value_ref is not None:
                    self.bindings.append(Binding(BindingScope.MODULE, self.module, name, value_ref, self.span(stmt),
                                                 is_public_name(name), call, element_type))
                return
            if frame.kind == "function":
                shaped = self.payload(value) if isinstance(value, (cst.Dict, cst.Tuple)) else None
                if shaped is not None and shaped.shape in (PayloadShape.TAGGED, PayloadShape.TAG_PARAM, PayloadShape.KEYS):
                    frame.shaped[name] = shaped  # ``payload = {"type": "http.request", ...}``
                else:
                    frame.shaped.pop(name, None)
                source = self.note_received(frame, name, value)
                if source is None and value_ref is not None and value_ref[-1] == "()":
                    frame.results[name] = value_ref  # ``task = self.comms.get_task(i)``: maybe a helper's get
                else:
                    frame.results.pop(name, None)
                if value_ref is not None and (value_ref[-1] == "()" or value_ref[-1].startswith("#")):
                    self.bindings.append(Binding(BindingScope.LOCAL, frame.qualname, name, value_ref, self.span(stmt), False,
                                                 call, element_type))
                    if value_ref[-1] == "()":
                        frame.value_types[name] = value_ref[:-1]
                        frame.made.setdefault(name, []).append(value_ref[:-1])
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
            scope = BindingScope.MODULE if frame.kind == "module" else BindingScope.CLASS
            public = self.chain_public() and is_public_name(name) and not self.script
            self.bindings.append(Binding(scope, frame.qualname, name, value_ref, self.span(stmt), public, call, element_type))
            if frame.kind == "module":
                frame.names[name] = (f"G:{self.module}.{name}",)
            return
        if isinstance(target, cst.Attribute) and target.attr.value.startswith("on_") and value_ref is not None:
            root = self.ref(target.value)
            if root is not None and not (len(root) == 1 and root[0][:2] in ("I:", "C:")):
                # ``client.on_message = handle``: a callback attribute, registered later by the client
                self.bindings.append(Binding(BindingScope.CALLBACK, self.frame.qualname, target.attr.value, value_ref,
                                             self.span(stmt), False))
                return
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and value_ref is not None and fn is not None:
            root = self.lookup(target.value.value)
            if len(root) == 1 and root[0][:2] in ("I:", "C:"):
                owner = root[0][2:]
                name = target.attr.value
                public = self.chain_public() and is_public_name(name)
                scope = BindingScope.INSTANCE if root[0][0] == "I" else BindingScope.CLASS
                self.bindings.append(Binding(scope, owner, name, value_ref, self.span(stmt), public, call, element_type))
        self.bind_nested_attribute(target, value_ref, call, element_type, stmt)

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
        if isinstance(node.value, (cst.Tuple, cst.Dict)):
            shaped = self.payload(node.value)
            if shaped.shape in (PayloadShape.TAGGED, PayloadShape.TAG_PARAM):
                self.returns.append(ReturnFact(fn.qualname, (), self.span(node), payload=shaped))
            elif isinstance(node.value, cst.Tuple):  # ``return inq, outq, None``: what each element holds
                for position, element in enumerate(node.value.elements):
                    if not isinstance(element, cst.Element):
                        break  # after ``*rest`` the positions are unknown
                    ref = self.ref(element.value)
                    if ref is not None and ref != ("G:builtins.None",):
                        self.returns.append(ReturnFact(fn.qualname, ref, self.span(node), position=position))
            return
        # ``return unix_send if os.name != "nt" else windows_send``: either branch is returned
        for value in (node.value.body, node.value.orelse) if isinstance(node.value, cst.IfExp) else (node.value,):
            if (ref := self.ref(value)) is not None:
                call = self.call_fact(value) if ref[-1] == "()" and isinstance(value, cst.Call) else None
                self.returns.append(ReturnFact(fn.qualname, ref, self.span(node), call))

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
        stars: list[tuple[int, str]] = []
        packed: list[tuple[str, tuple[Ref | None, ...]]] = []
        for arg in node.args:
            if arg.star:  # ``*args`` handed on: where, and its name when a plain one
                if arg.star == "*":
                    stars.append((len(args), arg.value.value if isinstance(arg.value, cst.Name) else ""))
                continue
            elements = self.packed_elements(arg.value)
            if elements is not None:
                packed.append((arg.keyword.value if arg.keyword is not None else str(len(args)), elements))
            if arg.keyword is not None:
                keywords.append((arg.keyword.value, self.arg_ref(arg.value)))
                keyword_texts.append((arg.keyword.value, summary(arg.value)))
            else:
                args.append(self.arg_ref(arg.value))
                arg_texts.append(summary(arg.value))
        payload = None
        if node.args and callee[-1][:1] == "." and callee[-1][1:] in PUT_METHODS:  # ``q.put(x)``, ``put = q.put``
            payload = self.payload(node.args[0].value)
        fact = CallFact(
            caller=self.caller(), callee=callee, span=self.span(node), args=tuple(args), keywords=tuple(keywords),
            has_star=any(arg.star for arg in node.args),
            arg_texts=tuple(arg_texts), keyword_texts=tuple(keyword_texts), star_args=tuple(stars),
            awaited=id(node) in self.awaited, timeout_scope=ScopeKind.SYNC if id(node) in self.ready_reads  # ``select``
            else self.scope_stack[-1] if self.scope_stack else ScopeKind.NONE,
            payload=payload, passed=self.passed(node) if node.args else (), scope_candidates=tuple(self.scope_candidates),
            guards=self.current_guards(), packed=tuple(packed),
        )
        self._call_cache[id(node)] = fact
        return fact

    def packed_elements(self, value: cst.BaseExpression) -> tuple[Ref | None, ...] | None:
        """The names in a tuple or list literal of two or more plain elements (``(pub,
        sub)``), each as a reference; None for anything else."""
        if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) < 2:
            return None
        if any(not isinstance(element, cst.Element) for element in value.elements):
            return None  # ``(*ends, extra)``: the positions are unknown
        return tuple(self.ref(element.value) if isinstance(element.value, (cst.Name, cst.Attribute)) else None
                     for element in value.elements)

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
        if isinstance(value, (cst.List, cst.Tuple)) and len(value.elements) == 1:
            # ``callbacks=[fn]``: the one element of a list or tuple literal
            element = value.elements[0]
            if isinstance(element, cst.Element):
                inner = self.ref(element.value)
                return inner + ("<element>",) if inner else None
        return self.ref(value)

    def visit_Call(self, node: cst.Call) -> None:
        fact = self.call_fact(node)
        if fact is not None:
            self.calls.append(fact)
            self.note_handoff(node)
            name = dotted(fact.callee)
            if name is not None:
                scope = self.catalog.timeout_scope(name)
                if scope is not None and has_deadline(node, scope.deadline):
                    # ``asyncio.wait_for(coro(), 5)`` bounds the calls in its arguments,
                    # and awaits the coroutine it is given
                    self.scope_stack.append(scope.kind)
                    self.scoped_calls.append(node)
                    if node.args and isinstance(node.args[0].value, cst.Call):
                        self.awaited.add(id(node.args[0].value))
        self.note_dispatch_call(node)
        if (fact is not None and isinstance(node.func, cst.Attribute) and node.func.attr.value in _ADDERS and node.args
                and isinstance(node.args[-1].value, cst.Call)):
            # ``self.queues.append(Queue())``: the container holds what the call makes
            self.bind_element(node.func.value, node.args[-1].value, node)
        gate = self.loop_gates.get(id(self.loop_stack[-1][0])) if self.loop_stack else None
        if (self.loop_stack and fact is not None and fact.callee[-1][1:] in GET_METHODS and len(fact.callee) > 1
                and (gate is None or id(node) in gate)):
            # ``q.get()``, or ``get = q.get`` … ``get()``: the receiver is what precedes ``.get``
            self.loop_stack[-1][1].append(fact.callee[:-1])

    def leave_Call(self, original_node: cst.Call) -> None:
        if self.scoped_calls and self.scoped_calls[-1] is original_node:
            self.scoped_calls.pop()
            self.scope_stack.pop()

    def visit_With(self, node: cst.With) -> None:
        kinds, candidates = [], []
        for item in node.items:
            if node.asynchronous is not None:
                self.awaited.add(id(item.item))  # ``async with session.get(...)`` awaits its __aenter__
            if isinstance(item.item, cst.Call):
                name = dotted(self.ref(item.item.func))
                scope = self.catalog.timeout_scope(name) if name else None
                if scope is not None and has_deadline(item.item, scope.deadline):
                    kinds.append(scope.kind)
                elif scope is None and name and not name.startswith("builtins."):
                    candidates.append(self.span(item.item))
            if item.asname is not None:
                self.bind(item.asname.name, item.item, node, None)
        self._with_pushed.append((len(kinds), len(candidates)))
        self.scope_candidates.extend(candidates)
        if kinds:
            self.scope_stack.append(ScopeKind.SYNC if ScopeKind.SYNC in kinds else ScopeKind.ASYNC)

    def leave_With(self, original_node: cst.With) -> None:
        kinds, candidates = self._with_pushed.pop()
        if kinds:
            self.scope_stack.pop()
        del self.scope_candidates[len(self.scope_candidates) - candidates:]


def extract(module_node: cst.Module, *, path: str, module: str, aliases: tuple[str, ...], is_package: bool,
            catalog: Catalog, tag_keys: frozenset[str], text: str | None = None,
            ast_tree: ast.Module | None = None) -> FileFacts:
    """Run the single visitor pass over a parsed module (``text``, its source, lets the
    spans come from the stdlib ``ast``: see ``resolve_spans``; ``ast_tree`` is
    ``ast.parse(text)`` when the caller has it)."""
    extractor = _Extractor(module, is_package, catalog, tag_keys)
    traverse(module_node, extractor, extractor.ordinals, extractor.counts)
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
        loops=tuple(extractor.loops), tables=tuple(extractor.tables),
        handoffs=tuple(extractor.handoffs),
        constants=tuple(extractor.constants.items()), numbers=tuple(sorted(extractor.numbers)),
    )
