"""What blocks, and what bounds the wait: EVT003's policy.

A call blocks when the catalogue says so (a blocking API, a client's method, a channel
operation) and nothing bounds it: no timeout argument (``None`` is none), no library
default at most ``max-default-timeout``, no timeout scope around it, no non-blocking flag,
no timeout set on the client after it was created, no ``connection_lost`` that ends it.  An ``await``-only API blocks only when
awaited without a deadline; an async-context API only stalls a running event loop.  The
wait that gates a consumer loop's next unit of work is the loop's input, not a hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...callgraph import CallGraph
from ...catalog import BlockingApi, ClientApi, ParamSpec, WaitRole
from ...model import CallFact, FileFacts, Safety, ScopeKind, Span, dotted

_CALLED = re.compile(r"([A-Za-z_]\w*)\(\)")
_ITEM = re.compile(r"#(\d+)")


def _display(name: str) -> str:
    """How an API reads in a message: an instance as its class (``threading.Lock.acquire``),
    a function's result as a call (``socket.create_connection().recv``), an unpacked item
    by index (``asyncio.open_connection()[0].read``)."""
    shown = _CALLED.sub(lambda m: m.group(0) if m.group(1)[0].islower() else m.group(1), name)
    shown = _ITEM.sub(r"[\1]", shown)
    return shown[:-2] if shown.endswith("()") else shown


# asyncio's protocol callback for the end of a connection (``asyncio.BaseProtocol``): the
# transport calls it whether the peer closed, the connection broke or the server closed it
_CONNECTION_LOST = "connection_lost"


def _arms_timer(call: CallFact) -> bool:
    """``loop.call_later(delay, callback)`` or ``loop.call_at(when, callback)``."""
    return len(call.callee) > 1 and call.callee[-1] in (".call_later", ".call_at") and len(call.args) >= 2


@dataclass(frozen=True, slots=True)
class BlockingCall:
    call: CallFact
    path: str
    api: str  # display name, e.g. "requests.post"
    reason: str  # why it blocks, for the message
    fix: Safety | None  # None: no timeout argument to add
    fix_reason: str
    timeout: ParamSpec | None
    stalls_loop: bool = False  # a sync call that blocks an event loop
    # a client whose timeout is set where it is created (``redis.Redis(socket_timeout=)``):
    # the creating call, when it is in the same file, and where it takes the timeout
    constructor: CallFact | None = None
    constructor_timeout: ParamSpec | None = None
    role: WaitRole = WaitRole.WAIT  # what it waits for (the catalogue's ``role``)


class Classifier:
    """Decides, call by call, whether a call blocks with no timeout (memoised per call and
    per sync/async context)."""

    def __init__(self, calls: CallGraph, max_default_timeout: float):
        self.calls = calls
        self.graph = calls.graph
        self.catalog = calls.graph.catalog
        self.max_default = max_default_timeout
        self._timeout_receivers: set | None = None
        self._blocking: dict[tuple[int, bool], BlockingCall | None] = {}
        self._catalogued: dict[int, bool] = {}
        self._scopes: dict[int, ScopeKind] = {}
        self._calls_at: dict[str, dict[Span, CallFact]] = {}  # path -> its calls by span, built on demand
        self._watchdogs: dict[str, bool] = {}
        self._lost_sets: set | None = None

    def scope(self, call: CallFact) -> ScopeKind:
        """What the timeout scopes around ``call`` bound: the ones the facts named, or
        a ``with`` item whose callee resolves to a catalogued scope given a deadline
        (``asyncio_timeout(5)`` re-exported by a project module from ``asyncio.timeout``)."""
        if not call.scope_candidates or call.timeout_scope == ScopeKind.SYNC:
            return call.timeout_scope
        key = id(call)
        if key not in self._scopes:
            path = self.calls.call_path(call)
            calls_at = self._calls_at.get(path)
            if calls_at is None:
                calls_at = self._calls_at[path] = {c.span: c for facts in self.graph.files if facts.path == path
                                                   for c in facts.calls}
            kinds = {call.timeout_scope}
            for span in call.scope_candidates:
                item = calls_at.get(span)
                value = self.calls.value(item) if item is not None and item is not call else None
                entry = self.catalog.timeout_scope(value.name) if value is not None and value.kind == "api" else None
                if entry is not None and (entry.deadline is None or item.has_star
                                          or entry.deadline.argument_text(item) not in (None, "None")):
                    kinds.add(entry.kind)
            self._scopes[key] = (ScopeKind.SYNC if ScopeKind.SYNC in kinds
                                 else ScopeKind.ASYNC if ScopeKind.ASYNC in kinds else ScopeKind.NONE)
        return self._scopes[key]

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
        """Clients given a timeout after their creation: ``sock.settimeout(5)``, or a call
        through one of the client's attributes that names its timeout setting
        (``r.connection_pool.connection_kwargs.update(socket_timeout=5)``)."""
        found = set()
        settings = self._setting_names()
        for call in facts.calls:
            if call.callee[-1][1:] in names:
                receiver = self.graph.resolve(call.callee[:-1])
                if receiver is not None:
                    found.add((receiver.name, id(receiver.origin)))
            elif len(call.callee) > 2 and any(setting in text for setting in settings
                                              for text in (*call.arg_texts, *(k for k, _ in call.keyword_texts))):
                for end in range(len(call.callee) - 2, 0, -1):
                    receiver = self.graph.resolve(call.callee[:end])
                    if receiver is not None and receiver.kind == "api" and receiver.name.endswith("()") \
                            and self.catalog.client(receiver.name[:-2]) is not None:
                        found.add((receiver.name, id(receiver.origin)))
                        break
        return found

    def _setting_names(self) -> set[str]:
        return {c.constructor_timeout.keyword for c in self.catalog.clients
                if c.constructor_timeout is not None and c.constructor_timeout.keyword and c.timeout is None}

    def _creates(self, call: CallFact) -> bool:
        """``call`` is a catalogued client's own constructor (``redis.Redis(...)``) or a
        client's method that makes a new one (``sock.accept()``), not a project function
        that hands a client along."""
        value = self.calls.value(call)
        if value is None or value.kind != "api":
            return False
        if self.catalog.client(value.name) is not None:
            return True
        maker, _, method = value.name.rpartition(".")  # ``sock.accept()``: a client a client makes
        client = self._client_of(maker) if maker.endswith("()") else None
        return client is not None and any(name == method for name, _ in client.makes)

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
            value = self.calls.value(call)
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
        text = spec.argument_text(call) if spec is not None else None
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
        path = self.calls.call_path(call)
        value = self.calls.value(call)
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
                    if entry is not None and self.calls.own_receive(call, channel.id):
                        return None
            elif value is not None and value.kind == "api":
                client_value = self.graph.resolve(call.callee[:-1])
                if client_value is not None and client_value.kind == "api":
                    return self._classify_client(call, client_value, method, path, in_async)
        if entry is None and method and channel is None:
            entry = self.catalog.blocking_by_name(method)  # a distinctive name, whatever the receiver
            name = entry.name if entry is not None else name
        if entry is None or entry.role == WaitRole.LOCK:
            return None  # a lock guards memory: not a wait for the outside world
        if entry.role == WaitRole.INPUT and self.calls.loop_input(call):
            return None  # how a loop takes its next unit of work, not a hang while handling one
        display = _display(name) if name else "call"
        awaited_kind = entry.context == "await"
        if awaited_kind:
            if not call.awaited:
                return None
            if self.scope(call) or self.keeps_watchdog(call.caller) or self.ends_with_connection(call):
                return None
            fix = entry.fix
            return BlockingCall(call, path, display, "waits forever (awaited, no deadline)", fix, entry.reason, None,
                                role=entry.role)
        if entry.context == "async":
            if not in_async or call.awaited:
                return None
            return BlockingCall(call, path, display, "stalls the event loop", None, entry.reason, None, True,
                                role=entry.role)
        if self.scope(call) == ScopeKind.SYNC:
            return None
        if self._nonblocking(call, entry.timeout):
            return None
        given = self._timed_by_argument(call, entry.timeout)
        if given or (given is None and entry.default is not None and entry.default <= self.max_default):
            return None
        reason = "has timeout=None" if given is False else "has no timeout"
        if entry.timeout is None:
            reason = "waits with no way to pass a timeout"
        return BlockingCall(call, path, display, reason, entry.fix if entry.timeout else None, entry.reason, entry.timeout,
                            in_async and not call.awaited, role=entry.role)

    def keeps_watchdog(self, function: str) -> bool:
        """The coroutine arms an event-loop timer itself, or through a project function it
        calls (``self._timeout = loop.call_later(server_timeout, self._on_timeout)`` after
        each line read): an idle-connection watchdog that bounds its awaits."""
        known = self._watchdogs.get(function)
        if known is None:
            fn = self.graph.functions.get(function)
            known = False
            if fn is not None and fn.is_async:
                for call in self.calls.calls_in.get(function, ()):
                    if _arms_timer(call) or any(_arms_timer(inner) for callee in self.calls.callees(call)
                                                for inner in self.calls.calls_in.get(callee, ())):
                        known = True
                        break
            self._watchdogs[function] = known
        return known

    def ends_with_connection(self, call: CallFact) -> bool:
        """``await self.handshake_done.wait()`` on an event that the protocol's
        ``connection_lost`` sets too: the wait ends when the connection does, so it lasts no
        longer than the connection, which the server's own timeouts bound (idle, ping,
        handshake); a wait that outlived them would be theirs to report, not the handler's."""
        if len(call.callee) < 2 or call.callee[-1] != ".wait":
            return False
        if self._lost_sets is None:
            found = set()
            for function, calls in self.calls.calls_in.items():
                if function.rpartition(".")[2] != _CONNECTION_LOST:
                    continue
                for inner in calls:
                    if len(inner.callee) > 1 and inner.callee[-1] == ".set":
                        event = self.graph.resolve(inner.callee[:-1])
                        if event is not None and event.origin is not None:
                            found.add((event.name, id(event.origin)))
            self._lost_sets = found
        if not self._lost_sets:
            return False
        event = self.graph.resolve(call.callee[:-1])
        return event is not None and event.origin is not None and (event.name, id(event.origin)) in self._lost_sets

    def _client_of(self, name: str) -> ClientApi | None:
        """The catalogued client a value named ``name`` is: one a constructor made
        (``socket.socket()``), or one a method of such a client returned (``conn`` of
        ``conn, _ = sock.accept()``, named ``socket.socket().accept()#0``)."""
        if name.endswith("()"):
            return self.catalog.client(name[:-2])
        made, _, position = name.rpartition("()#")
        maker, _, method = made.rpartition(".")
        if not position.isdigit() or not maker.endswith("()"):
            return None
        client = self._client_of(maker)
        return client if client is not None and (method, int(position)) in client.makes else None

    def _waits_not(self, client: ClientApi, method: str, origin: CallFact) -> bool:
        """The client's constructor call made ``method`` one that returns at once
        (``socket.socket(AF_INET, SOCK_DGRAM)`` and ``connect``: ``no-wait-when``)."""
        rule = client.no_wait_when
        if rule is None or method not in rule.methods:
            return False
        value = self.graph.resolve(rule.argument.argument(origin))
        if value is None or value.kind != "api":
            return False
        return value.name in rule.values or self.catalog.replaced(value.name) in rule.values

    def _classify_client(self, call: CallFact, client_value, method: str, path: str, in_async: bool) -> BlockingCall | None:
        client = self._client_of(client_value.name)
        if client is None or method not in client.methods:
            return None
        if self.calls.loop_input(call) and any(name == method for name, _ in client.makes):
            return None  # a server loop waiting for its next connection: how it takes work
        display = _display(f"{client_value.name}.{method}")
        if client.context == "await":
            if not call.awaited or self.scope(call) or self.keeps_watchdog(call.caller):
                return None
        elif self.scope(call) == ScopeKind.SYNC:
            return None
        per_call = self._timed_by_argument(call, client.timeout) if client.timeout else None
        if per_call:
            return None
        own = client.method_timeout(method)
        if own is not None and self._timed_by_argument(call, own) and own.argument_text(call) not in ("0", "None"):
            return None  # ``blpop(keys, 5)``: the command's own timeout bounds its wait
        origin = client_value.origin
        if (client_value.name, id(origin)) in self.timeout_receivers():
            return None  # given a timeout after its creation (``settimeout``, its pool's settings)
        if origin is not None and not self._creates(origin):
            origin = None  # made by a project function (``self._set_connection(conn)``): its creation is not seen
        if origin is None and (client.constructor_timeout or client.timeout_method):
            return None  # typed by an annotation or passed in: its timeout is unknown, not none
        if origin is not None and any(name in client.configured_by for name, _ in origin.keywords):
            return None  # its settings come from another object (``connection_pool=``)
        if origin is not None and self._waits_not(client, method, origin):
            return None  # ``connect`` of a datagram socket
        at_construction = self._timed_by_argument(origin, client.constructor_timeout) if origin and client.constructor_timeout else None
        if at_construction and per_call is None:
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
        fix = client.fix if client.timeout else None
        constructor = None
        if not client.timeout and client.constructor_timeout and origin is not None \
                and self.calls.call_path(origin) == path:
            constructor, fix = origin, client.fix
        return BlockingCall(call, path, display, reason, fix, client.reason, client.timeout, in_async and not call.awaited,
                            constructor, client.constructor_timeout if constructor is not None else None)
