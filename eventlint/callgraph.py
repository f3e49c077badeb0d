"""Handlers and call edges: who runs when an event arrives, and what each function calls.

Neutral questions only (what is registered where, which function a call reaches, which
receive feeds a consumer loop); what blocks and what counts as a timeout is EVT003's to
decide (``checks/evt003_untimed_blocking_handler``).  Built once per ``EventGraph``, on
first use (``call_graph``), and kept free of networkx: the registrations are added to
the graph's edges through the graph object itself.
"""

from __future__ import annotations

import io
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalog import SubscriptionApi
from .model import CallFact, FileFacts, Location, LoopFact, Ref, Span
from .resolution import Value, ValueKind

_MISSING = object()

if TYPE_CHECKING:  # annotations only: the graph is handed in, never imported
    from .graph import EventGraph


@dataclass(frozen=True, slots=True)
class Handler:
    """A function (or a consumer loop's per-item body) that runs when an event arrives."""

    id: str  # the function's qualname, or "<qualname>:loop@<line>" for a loop body
    function: str
    registration: Location
    via: str
    is_async: bool
    loop: LoopFact | None = None
    own_flow: bool = False  # registered to run in a thread, task, process or green thread of its own


_BUILT: "weakref.WeakKeyDictionary[EventGraph, CallGraph]" = weakref.WeakKeyDictionary()


def call_graph(graph: "EventGraph") -> "CallGraph":
    """The call graph of ``graph``, built on first use and kept as long as the graph."""
    built = _BUILT.get(graph)
    if built is None:
        built = _BUILT[graph] = CallGraph(graph)
        for handler in built.handlers():
            where = handler.registration
            graph.add_edge(f"api:{handler.via}", graph.function_node(handler.function),
                                 key=f"registers@{where.path}:{where.span.line}:{where.span.column}", kind="registers")
    return built


class CallGraph:
    def __init__(self, graph: "EventGraph"):
        self.graph = graph
        self.catalog = graph.catalog
        self.call_path = graph.call_path  # each call's file
        self.calls_in: dict[str, list[CallFact]] = graph.resolver.calls_by_caller()
        self.values: dict[tuple, "Value | None"] = {}  # callee -> what it resolves to
        self._loops_by_function: dict[str, list[tuple[LoopFact, set[str]]]] = defaultdict(list)
        self._loop_inputs: set[tuple[str, str, int, int]] = {
            (facts.path, loop.function, span.line, span.column)
            for facts in graph.files for loop in facts.loops for span in loop.inputs}
        self._handlers: list[Handler] | None = None
        self._by_method: dict[str, list[str]] | None = None
        self._in_project: dict[str, list[SubscriptionApi]] | None = None
        self._entries: dict[tuple[str, str], list[SubscriptionApi]] = {}  # a project callee's entries

    # ---- resolution helpers ---------------------------------------------------------------

    def value(self, call: CallFact):
        key = call.callee  # one answer per callee, however often it is called
        value = self.values.get(key, _MISSING)
        if value is _MISSING:
            value = self.values[key] = self.graph.resolve(key)
        return value

    def function_value(self, ref):
        value = self.graph.resolve(ref) if ref else None
        if value is None:
            return None
        if value.kind == "function":
            return value.name
        return None

    # ---- which catalogue entries a resolved callee is ------------------------------------------

    def _project_entries(self) -> dict[str, list[SubscriptionApi]]:
        """The subscription entries whose name resolves to a project function or class,
        by that function's or class's qualname: a framework analysed together with its
        plugins (``celery.Celery().task`` is ``celery.app.base.Celery.task``), or a
        project's own bus named in the user's catalogue by its public, re-exported name."""
        if self._in_project is None:
            self._in_project = defaultdict(list)
            for entry in self.catalog.subscriptions:
                if entry.by_name or entry.callback or "*" in entry.name or "#" in entry.name:
                    continue
                value = self.graph.resolve(_reference(entry.name))
                if value is not None and value.kind in ("function", "class"):
                    self._in_project[value.name].append(entry)
        return self._in_project

    def subscription_entries(self, value) -> list[SubscriptionApi]:
        """The subscription entries a resolved callee, decorator or base class matches: an
        outside API by its dotted name; a project function or class by the qualified names
        it is importable by (a method also as ``Class().method`` and ``Class.method``, the
        catalogue's spellings of methods) and by the catalogue names that resolve to it."""
        if value is None:
            return []
        if value.kind == "api":
            return self.catalog.subscriptions_for(value.name)
        if value.kind not in ("function", "class"):
            return []
        key = (value.kind, value.name)
        found = self._entries.get(key)
        if found is None:
            found = self._entries[key] = self._project_subscription_entries(value)
        return found

    def _project_subscription_entries(self, value) -> list[SubscriptionApi]:
        names = [self.graph.import_name(value.name)]
        fn = self.graph.functions.get(value.name) if value.kind == "function" else None
        if fn is not None and fn.owner_class is not None:
            owner, method = self.graph.import_name(fn.owner_class), value.name.rsplit(".", 1)[-1]
            names += [f"{owner}().{method}", f"{owner}.{method}"]
        found: list[SubscriptionApi] = []
        for name in names:
            found += [e for e in self.catalog.subscriptions_for(name) if e not in found]
        found += [e for e in self._project_entries().get(value.name, ()) if e not in found]
        return found

    # ---- handlers --------------------------------------------------------------------------

    def handlers(self) -> list[Handler]:
        if self._handlers is None:
            found: dict[str, Handler] = {}
            for facts in self.graph.files:
                for handler in self.graph.isolated(facts, "finding handlers", self._handlers_in) or ():
                    found.setdefault(handler.id, handler)
            self._handlers = [found[key] for key in sorted(found)]
        return self._handlers

    def _handler(self, function: str, path: str, span: Span, via: str, own_flow: bool = False) -> Handler | None:
        fn = self.graph.functions.get(function)
        if fn is None:
            return None
        return Handler(function, function, Location(path, span, f"registered via {via}"), via, fn.is_async,
                       own_flow=own_flow)

    def _handlers_in(self, facts: FileFacts) -> list[Handler]:
        return list(self._find_handlers(facts))

    def _find_handlers(self, facts: FileFacts):
        catalog = self.catalog
        callback_names = {e.name for e in catalog.subscriptions if e.callback}
        for call in facts.calls:
            value = self.value(call)
            # a project class or function counts by its qualified names too (the standard
            # library's own ``threading.Thread`` when it is analysed, a project's own bus)
            entries = [e for e in self.subscription_entries(value) if not e.override and not e.callback]
            last = call.callee[-1][1:] if call.callee[-1].startswith(".") else ""
            if last:
                entries += [e for e in catalog.subscriptions_by_name(last) if not e.callback]
            for entry in entries:
                ref = entry.handler.argument(call) if entry.handler is not None else None
                if ref is None:
                    continue
                if ref[-1] == "<element>":
                    ref = ref[:-1]  # ``Consumer(callbacks=[fn])``
                if entry.call_result:
                    if ref[-1] != "()":
                        continue
                    ref = ref[:-1]
                function = self.function_value(ref)
                if function is not None:
                    handler = self._handler(function, facts.path, call.span, entry.name.replace("**.", ""),
                                            entry.own_flow)
                    if handler is not None:
                        yield handler
            for name, ref in call.keywords:
                if name in callback_names and ref is not None:
                    function = self.function_value(ref)
                    if function is not None:
                        handler = self._handler(function, facts.path, call.span, f"{name}=")
                        if handler is not None:
                            yield handler
        for binding in facts.bindings:
            if binding.scope == "callback" and binding.name in callback_names:
                function = self.function_value(binding.value)
                if function is not None:
                    handler = self._handler(function, facts.path, binding.span, f".{binding.name} =")
                    if handler is not None:
                        yield handler
        for fn in facts.functions:
            for decorator in fn.decorators:
                ref = decorator[:-1] if decorator[-1] == "()" else decorator
                value = self.graph.resolve(ref)
                for entry in self.subscription_entries(value):
                    if entry.decorator:
                        shown = value.name if value.kind == "api" else self.graph.import_name(value.name)
                        yield Handler(fn.qualname, fn.qualname, Location(facts.path, fn.span, f"registered by @{shown}"),
                                      f"@{entry.name.replace('**.', '')}", fn.is_async, own_flow=entry.own_flow)
                        break
        for cls in facts.classes:
            bases = [(self.graph.import_name(base), self.subscription_entries(Value(ValueKind.CLASS, base)))
                     for base in self.graph.mro(cls.qualname)[1:]]
            bases += [(base, catalog.subscriptions_for(base)) for base in self.graph.external_bases(cls.qualname)]
            for base, base_entries in bases:
                for entry in base_entries:
                    if entry.override:
                        method = f"{cls.qualname}.{entry.override}"
                        fn = self.graph.functions.get(method)
                        if fn is not None:
                            yield Handler(method, method, Location(facts.path, fn.span, f"overrides {base}.{entry.override}"),
                                          f"{base}.{entry.override} override", fn.is_async, own_flow=entry.own_flow)
        for loop in facts.loops:
            channels = self.loop_channels(loop)
            if channels:
                self._loops_by_function[loop.function].append((loop, channels))
                fn = self.graph.functions.get(loop.function)
                yield Handler(f"{loop.function}:loop@{loop.span.line}", loop.function,
                              Location(facts.path, loop.span, "consumer loop"), "consumer loop",
                              bool(fn and fn.is_async), loop)

    def loop_channels(self, loop: LoopFact) -> set[str]:
        channels = set()
        for source in (*loop.sources, *((loop.iterates,) if loop.iterates else ())):
            value = self.graph.resolve_channel(source)
            if value is not None:
                channels.add(value.name)
        if loop.iterates and not channels:
            value = self.graph.resolve(loop.iterates)
            if (value is not None and value.kind == "api" and value.name.endswith("()")
                    and self.catalog.consumer(value.name[:-2]) is not None):
                channels.add(f"consumer:{value.name[:-2]}")
        return channels

    # ---- consumer loops ----------------------------------------------------------------------

    def own_receive(self, call: CallFact, channel: str) -> bool:
        """The consumer loop's own receive on its input channel is how it waits for work."""
        if not self._loops_by_function and self._handlers is None:
            self.handlers()
        for loop, channels in self._loops_by_function.get(call.caller, ()):
            if channel in channels and loop.span.line <= call.span.line <= loop.span.end_line:
                return True
        return False

    def loop_input(self, call: CallFact) -> bool:
        """The call is what a ``while`` loop does first in each turn (``while True:
        item = q.get()``, ``while await ev.wait():``): how the loop takes its next unit of work."""
        return (self.call_path(call), call.caller, call.span.line, call.span.column) in self._loop_inputs

    # ---- call edges ---------------------------------------------------------------------------

    def start_calls(self, handler: Handler) -> list[CallFact]:
        calls = self.calls_in.get(handler.function, [])
        if handler.loop is None:
            return calls
        span = handler.loop.span
        return [c for c in calls if span.line <= c.span.line <= span.end_line]

    def callees(self, call: CallFact) -> list[str]:
        value = self.value(call)
        if value is None:
            return self._methods_named(call)
        if value.kind == "function":
            return [value.name]
        if value.kind == "class":
            call_method = self._metaclass_call(value.name)
            if call_method is not None:
                return [call_method]
            for cls in self.graph.mro(value.name):
                init = f"{cls}.__init__"
                if init in self.graph.functions:
                    return [init]
        return []

    def _metaclass_call(self, cls: str) -> str | None:
        """The ``__call__`` of a project metaclass of ``cls``: calling the class runs it, and
        it decides whether ``__init__`` runs at all (a singleton returns the instance it made)."""
        for current in self.graph.mro(cls):
            fact = self.graph.classes.get(current)
            meta = self.graph.resolve(fact.metaclass) if fact is not None and fact.metaclass else None
            if meta is not None and meta.kind == "class":
                for owner in self.graph.mro(meta.name):
                    if f"{owner}.__call__" in self.graph.functions:
                        return f"{owner}.__call__"
        return None

    def _methods_named(self, call: CallFact) -> list[str]:
        """A method called on a receiver whose value is unknown (an attribute a framework
        injects, ``self._bot.repo_manager.install_repo(url)``, where ``self._bot`` is passed
        in by code that loads classes by name): the project's methods of that name, when
        they all belong to one class hierarchy (the root's and its overrides), as a reader
        would follow it.  Names of the built-in containers, strings and files are ambiguous
        (a dict's ``get``, a file's ``read``), and so are private and special names."""
        callee = call.callee
        if len(callee) < 2 or not callee[-1].startswith("."):
            return []
        method = callee[-1][1:]
        if method.startswith("_") or method in _BUILTIN_METHODS:
            return []
        candidates = self._methods_by_name().get(method)
        if not candidates or self.graph.resolve(callee[:-1]) is not None:
            return []
        owners = {self.graph.functions[name].owner_class: name for name in candidates}
        roots = [owner for owner in owners
                 if not any(other != owner and other in self.graph.mro(owner) for other in owners)]
        if len(roots) != 1 or not all(roots[0] in self.graph.mro(owner) for owner in owners):
            return []
        return sorted(candidates)

    def _methods_by_name(self) -> dict[str, list[str]]:
        if self._by_method is None:
            by_method: dict[str, list[str]] = defaultdict(list)
            for name, fn in self.graph.functions.items():
                if fn.owner_class is not None and name == f"{fn.owner_class}.{name.rsplit('.', 1)[-1]}":
                    by_method[name.rsplit(".", 1)[-1]].append(name)
            self._by_method = by_method
        return self._by_method


# methods of the built-in types a receiver of unknown value may well be
_BUILTIN_METHODS = frozenset(name for kind in (dict, list, set, frozenset, str, bytes, bytearray, tuple, int, float,
                                               object, io.IOBase, io.TextIOWrapper, io.BufferedReader, io.BufferedWriter)
                             for name in dir(kind))


def _reference(name: str) -> Ref:
    """A catalogue name as a reference rooted at a global: ``corp.Bus().subscribe`` is
    ``("G:corp.Bus", "()", ".subscribe")`` (resolution reads the global module by module)."""
    head: list[str] = []
    steps: list[str] = []
    for part in name.split("."):
        bare = part.rstrip("()")
        if steps:
            steps.append("." + bare)
        else:
            head.append(bare)
        steps += ["()"] * ((len(part) - len(bare)) // 2)
    return ("G:" + ".".join(head), *steps)
