"""Handlers, call edges and blocking calls: the part of the graph EVT003 asks about.

Built lazily from an ``EventGraph`` (only when a rule needs it) and kept free of networkx;
``EventGraph`` mirrors its registrations and call edges into the networkx graph.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalog import BlockingApi, ClientApi, ParamSpec
from .model import CallFact, FileFacts, Location, LoopFact, Span, dotted

_CALLED = re.compile(r"([A-Za-z_]\w*)\(\)")
_ITEM = re.compile(r"#(\d+)")


def _display(name: str) -> str:
    """How an API reads in a message: an instance as its class (``threading.Lock.acquire``),
    a function's result as a call (``socket.create_connection().recv``), an unpacked item
    by index (``asyncio.open_connection()[0].read``)."""
    shown = _CALLED.sub(lambda m: m.group(0) if m.group(1)[0].islower() else m.group(1), name)
    shown = _ITEM.sub(r"[\1]", shown)
    return shown[:-2] if shown.endswith("()") else shown

if TYPE_CHECKING:
    from .graph import EventGraph, Value


@dataclass(frozen=True, slots=True)
class Handler:
    """A function (or a consumer loop's per-item body) that runs when an event arrives."""

    id: str  # the function's qualname, or "<qualname>:loop@<line>" for a loop body
    function: str
    registration: Location
    via: str
    is_async: bool
    loop: LoopFact | None = None


@dataclass(frozen=True, slots=True)
class BlockingCall:
    call: CallFact
    path: str
    api: str  # display name, e.g. "requests.post"
    reason: str  # why it blocks, for the message
    fix: str  # "safe" | "unsafe" | "" (no timeout argument to add)
    fix_reason: str
    timeout: ParamSpec | None
    stalls_loop: bool = False  # a sync call that blocks an event loop
    # a client whose timeout is set where it is created (``redis.Redis(socket_timeout=)``):
    # the creating call, when it is in the same file, and where it takes the timeout
    constructor: CallFact | None = None
    constructor_timeout: ParamSpec | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    handler: Handler
    blocking: BlockingCall
    path: tuple[tuple[str, CallFact | None, str], ...]  # (function, call site into it, file)


class CallGraph:
    def __init__(self, graph: "EventGraph", max_default_timeout: float):
        self.graph = graph
        self.catalog = graph.catalog
        self.max_default = max_default_timeout
        self.call_path: dict[int, str] = {}
        self.calls_in: dict[str, list[CallFact]] = defaultdict(list)
        self.values: dict[int, "Value | None"] = {}
        for facts in graph.files:
            for call in facts.calls:
                self.call_path[id(call)] = facts.path
                self.calls_in[call.caller].append(call)
        self._loops_by_function: dict[str, list[tuple[LoopFact, set[str]]]] = defaultdict(list)
        self._timeout_receivers: set | None = None
        self._handlers: list[Handler] | None = None
        self._blocking: dict[int, BlockingCall | None] = {}
        self._catalogued: dict[int, bool] = {}

    # ---- resolution helpers ---------------------------------------------------------------

    def value(self, call: CallFact):
        key = id(call)
        if key not in self.values:
            self.values[key] = self.graph.resolve(call.callee)
        return self.values[key]

    @staticmethod
    def argument(call: CallFact, spec: ParamSpec | None):
        if spec is None:
            return None
        if spec.keyword is not None:
            for name, ref in call.keywords:
                if name == spec.keyword:
                    return ref
        if spec.position is not None and spec.position < len(call.args):
            return call.args[spec.position]
        return None

    @staticmethod
    def argument_text(call: CallFact, spec: ParamSpec | None) -> str | None:
        """The argument's summary text ("None", "5", "?"), or None when not passed."""
        if spec is None:
            return None
        if spec.keyword is not None:
            for name, text in call.keyword_texts:
                if name == spec.keyword:
                    return text
        if spec.position is not None and spec.position < len(call.arg_texts):
            return call.arg_texts[spec.position]
        return None

    def function_value(self, ref):
        value = self.graph.resolve(ref) if ref else None
        if value is None:
            return None
        if value.kind == "function":
            return value.name
        return None

    # ---- handlers --------------------------------------------------------------------------

    def handlers(self) -> list[Handler]:
        if self._handlers is None:
            found: dict[str, Handler] = {}
            for facts in self.graph.files:
                for handler in self.graph.isolated(facts, "finding handlers", self._handlers_in) or ():
                    found.setdefault(handler.id, handler)
            self._handlers = [found[key] for key in sorted(found)]
        return self._handlers

    def _handler(self, function: str, path: str, span: Span, via: str) -> Handler | None:
        fn = self.graph.functions.get(function)
        if fn is None:
            return None
        return Handler(function, function, Location(path, span, f"registered via {via}"), via, fn.is_async)

    def _handlers_in(self, facts: FileFacts) -> list[Handler]:
        return list(self._find_handlers(facts))

    def _find_handlers(self, facts: FileFacts):
        catalog = self.catalog
        callback_names = {e.name for e in catalog.subscriptions if e.callback}
        for call in facts.calls:
            value = self.value(call)
            entries = []
            if value is not None and value.kind in ("api", "class", "function"):
                # a project class or function counts by its qualified name too (the
                # standard library's own ``threading.Thread`` when it is analysed)
                name = value.name if value.kind == "api" else self.graph.import_name(value.name)
                entries = [e for e in catalog.subscriptions_for(name) if not e.override and not e.callback]
            last = call.callee[-1][1:] if call.callee[-1].startswith(".") else ""
            if last:
                entries += [e for e in catalog.subscriptions_by_name(last) if not e.callback]
            for entry in entries:
                ref = self.argument(call, entry.handler)
                if ref is None:
                    continue
                if entry.call_result:
                    if ref[-1] != "()":
                        continue
                    ref = ref[:-1]
                function = self.function_value(ref)
                if function is not None:
                    handler = self._handler(function, facts.path, call.span, entry.name.replace("**.", ""))
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
                if value is None or value.kind != "api":
                    continue
                for entry in catalog.subscriptions_for(value.name):
                    if entry.decorator:
                        yield Handler(fn.qualname, fn.qualname, Location(facts.path, fn.span, f"registered by @{value.name}"),
                                      f"@{entry.name.replace('**.', '')}", fn.is_async)
                        break
        for cls in facts.classes:
            for base in [*map(self.graph.import_name, self.graph.mro(cls.qualname)[1:]),
                         *self.graph.external_bases(cls.qualname)]:
                for entry in catalog.subscriptions_for(base):
                    if entry.override:
                        method = f"{cls.qualname}.{entry.override}"
                        fn = self.graph.functions.get(method)
                        if fn is not None:
                            yield Handler(method, method, Location(facts.path, fn.span, f"overrides {base}.{entry.override}"),
                                          f"{base}.{entry.override} override", fn.is_async)
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

    # ---- blocking calls ---------------------------------------------------------------------

    def own_receive(self, call: CallFact, channel: str) -> bool:
        """The consumer loop's own receive on its input channel is how it waits for work."""
        if not self._loops_by_function and self._handlers is None:
            self.handlers()
        for loop, channels in self._loops_by_function.get(call.caller, ()):
            if channel in channels and loop.span.line <= call.span.line <= loop.span.end_line:
                return True
        return False

    def timeout_receivers(self) -> set:
        if self._timeout_receivers is None:
            names = {c.timeout_method for c in self.catalog.clients if c.timeout_method} | {"setblocking"}
            found = set()
            for facts in self.graph.files:
                found.update(self.graph.isolated(facts, "finding timeout settings",
                                                 lambda facts: self._timeout_receivers_in(facts, names)) or ())
            self._timeout_receivers = found
        return self._timeout_receivers

    def _timeout_receivers_in(self, facts: FileFacts, names: set) -> set:
        found = set()
        for call in facts.calls:
            if call.callee[-1][1:] in names:
                receiver = self.graph.resolve(call.callee[:-1])
                if receiver is not None:
                    found.add((receiver.name, id(receiver.origin)))
        return found

    def blocking(self, call: CallFact, in_async: bool) -> BlockingCall | None:
        key = (id(call), in_async)
        if key not in self._blocking:
            self._blocking[key] = self._classify(call, in_async)
        return self._blocking[key]

    def catalogued(self, call: CallFact) -> bool:
        """The call is a catalogued blocking API or channel operation (the standard
        library's own ``Queue.get`` when it is part of the analysed code)."""
        key = id(call)
        known = self._catalogued.get(key)
        if known is None:
            known = False
            value = self.value(call)
            if value is not None and value.kind in ("function", "class"):
                fn = self.graph.functions.get(value.name)
                name = self.graph.import_name(value.name)
                if fn is not None and fn.owner_class is not None:
                    method = value.name.rsplit(".", 1)[-1]
                    owner = self.graph.import_name(fn.owner_class)
                    known = (self.catalog.blocking_api(f"{owner}().{method}") is not None
                             or self.catalog.blocking_api(f"{owner}.{method}") is not None)
                known = known or self.catalog.blocking_api(name) is not None
            if not known and call.callee[-1][1:] in self.catalog.channel_methods:
                known = self.graph.resolve_channel(call.callee[:-1]) is not None
            self._catalogued[key] = known
        return known

    def _timed_by_argument(self, call: CallFact, spec: ParamSpec | None) -> bool | None:
        """True when a timeout is passed, False when ``None`` is passed, None when absent."""
        if call.has_star:
            return True  # ``**kwargs`` may well carry it
        text = self.argument_text(call, spec)
        if text is None:
            return None
        return text != "None"

    @staticmethod
    def _nonblocking(call: CallFact, spec: ParamSpec | None) -> bool:
        """``q.get(False)``, ``q.get(block=False)``, ``lock.acquire(False)``."""
        for name, text in call.keyword_texts:
            if name in ("block", "blocking") and text == "False":
                return True
        if spec is not None and spec.position:
            flag = spec.position - 1
            if flag < len(call.arg_texts) and call.arg_texts[flag] == "False":
                return True
        return False

    def _classify(self, call: CallFact, in_async: bool) -> BlockingCall | None:
        path = self.call_path[id(call)]
        value = self.value(call)
        entry: BlockingApi | None = None
        name = value.name if value is not None and value.kind == "api" else dotted(call.callee)
        if name is not None:
            entry = self.catalog.blocking_api(name)
        if entry is None and value is not None and value.kind == "function":
            fn = self.graph.functions.get(value.name)
            if fn is not None and fn.owner_class is not None:
                name = f"{self.graph.import_name(fn.owner_class)}().{value.name.rsplit('.', 1)[-1]}"
            else:
                name = self.graph.import_name(value.name)
            entry = self.catalog.blocking_api(name)
        method = call.callee[-1][1:] if call.callee[-1].startswith(".") else ""
        channel = None
        if entry is None and method:
            receiver = self.graph.resolve_channel(call.callee[:-1])
            if receiver is not None:
                channel = self.graph.channels.get(receiver.name)
                if channel is not None:
                    entry = self.catalog.blocking_api(f"{channel.api.name}.{method}")
                    name = f"{channel.display}.{method}"
                    if entry is not None and entry.requires == "bounded" and not self.graph.is_bounded(channel):
                        return None
                    if entry is not None and self.own_receive(call, channel.id):
                        return None
            elif value is not None and value.kind == "api":
                client_value = self.graph.resolve(call.callee[:-1])
                if client_value is not None and client_value.kind == "api":
                    return self._classify_client(call, client_value, method, path, in_async)
        if entry is None:
            return None
        display = _display(name) if name else "call"
        awaited_kind = entry.context == "await"
        if awaited_kind:
            if not call.awaited:
                return None
            if call.timeout_scope:
                return None
            fix = entry.fix
            return BlockingCall(call, path, display, "waits forever (awaited, no deadline)", fix, entry.reason, None)
        if entry.context == "async":
            if not in_async or call.awaited:
                return None
            return BlockingCall(call, path, display, "stalls the event loop", "", entry.reason, None, True)
        if call.timeout_scope == "sync":
            return None
        if self._nonblocking(call, entry.timeout):
            return None
        given = self._timed_by_argument(call, entry.timeout)
        if given or (given is None and entry.default is not None and entry.default <= self.max_default):
            return None
        reason = "has timeout=None" if given is False else "has no timeout"
        if entry.timeout is None:
            reason = "waits with no way to pass a timeout"
        return BlockingCall(call, path, display, reason, entry.fix if entry.timeout else "", entry.reason, entry.timeout,
                            in_async and not call.awaited)

    def _classify_client(self, call: CallFact, client_value, method: str, path: str, in_async: bool) -> BlockingCall | None:
        base = client_value.name[:-2] if client_value.name.endswith("()") else None
        client: ClientApi | None = self.catalog.client(base) if base else None
        if client is None or method not in client.methods:
            return None
        display = _display(f"{client_value.name}.{method}")
        if client.context == "await":
            if not call.awaited or call.timeout_scope:
                return None
        elif call.timeout_scope == "sync":
            return None
        per_call = self._timed_by_argument(call, client.timeout) if client.timeout else None
        if per_call:
            return None
        origin = client_value.origin
        at_construction = self._timed_by_argument(origin, client.constructor_timeout) if origin and client.constructor_timeout else None
        if at_construction and per_call is None:
            return None
        if client.timeout_method and (client_value.name, id(origin)) in self.timeout_receivers():
            return None
        explicit_none = per_call is False or at_construction is False
        if not explicit_none and client.default is not None and client.default <= self.max_default:
            return None
        if explicit_none:
            reason = "has timeout=None"
        elif client.default is not None:
            reason = f"relies on the library's {client.default:g} s default (more than max-default-timeout)"
        else:
            reason = "has no timeout (the client sets none)"
        fix = client.fix if client.timeout else ""
        constructor = None
        if not client.timeout and client.constructor_timeout and origin is not None \
                and self.call_path.get(id(origin)) == path:
            constructor, fix = origin, client.fix
        return BlockingCall(call, path, display, reason, fix, client.reason, client.timeout, in_async and not call.awaited,
                            constructor, client.constructor_timeout if constructor is not None else None)

    # ---- reachability -------------------------------------------------------------------------

    def start_calls(self, handler: Handler) -> list[CallFact]:
        calls = self.calls_in.get(handler.function, [])
        if handler.loop is None:
            return calls
        span = handler.loop.span
        return [c for c in calls if span.line <= c.span.line <= span.end_line]

    def callees(self, call: CallFact) -> list[str]:
        value = self.value(call)
        if value is None:
            return []
        if value.kind == "function":
            return [value.name]
        if value.kind == "class":
            for cls in self.graph.mro(value.name):
                init = f"{cls}.__init__"
                if init in self.graph.functions:
                    return [init]
        return []

    def edge_timed(self, call: CallFact, callee: str) -> bool:
        if call.timeout_scope == "sync":
            return True
        fn = self.graph.functions.get(callee)
        # an async scope bounds an awaited coroutine, and everything it awaits
        return call.timeout_scope == "async" and call.awaited and fn is not None and fn.is_async

    def reach(self, handler: Handler) -> list[Reach]:
        """Blocking calls reachable from the handler along paths with no deadline, each
        with the shortest call path (breadth first)."""
        results = []
        parents: dict[str, tuple[str | None, CallFact | None]] = {handler.function: (None, None)}
        queue = deque()
        first = True
        queue.append(handler.function)
        while queue:
            function = queue.popleft()
            calls = self.start_calls(handler) if first else self.calls_in.get(function, [])
            first = False
            fn = self.graph.functions.get(function)
            in_async = bool(fn and fn.is_async)
            for call in calls:
                blocking = self.blocking(call, in_async)
                if blocking is not None:
                    results.append(Reach(handler, blocking, self._path(parents, function)))
                if self.catalogued(call):
                    continue  # a catalogued operation is judged by its entry, not by its implementation
                for callee in self.callees(call):
                    if callee in parents or self.edge_timed(call, callee):
                        continue
                    parents[callee] = (function, call)
                    queue.append(callee)
        return results

    def _path(self, parents, function: str) -> tuple:
        chain = []
        current = function
        while current is not None:
            parent, call = parents[current]
            chain.append((current, call, self.call_path[id(call)] if call is not None else ""))
            current = parent
        return tuple(reversed(chain))
