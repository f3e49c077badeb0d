"""The index: every file's facts assembled into channels, operations, registrations and calls.

This is the only module that imports networkx.  ``EventGraph`` finds the channels the code
creates and the puts and gets on them, keeps them with the call graph's registrations as
the nodes and edges of one graph (a ``networkx.MultiDiGraph`` when ``eventlint graph`` asks
for it), and answers neutral questions about them (what is put on a
channel, where it is consumed, what its consumers dispatch on, what returns it).  What a
name or expression holds is asked of ``eventlint.resolution``, whose questions the graph
also answers for the code that holds one (``resolve``, ``mro``...).  What counts for a
rule is decided in ``eventlint.checks``.  Node ids are ``"kind:qualified.name"``; edge keys
are ``"<relation>@path:line:col"`` so a rebuild from cached facts yields the same graph.
"""

from __future__ import annotations

import logging
import traceback
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, TypeVar

from .catalog import Catalog, ChannelApi
from .model import (Binding, BindingScope, CallFact, Dispatch, End, FileFacts, FunctionFact, Named, Payload,
                    PayloadShape, Ref, Span, TableKey, dotted)
from .payloads import PayloadFollower, PayloadSite
from .peers import accepted_ends, remote_ends
from .resolution import Resolver, Value, ValueKind

__all__ = ["Channel", "ChannelReturn", "Direction", "DispatchSite", "EventGraph", "Failure", "Operation", "PayloadSite",
           "Value", "ValueKind", "looks_like_exception"]

_log = logging.getLogger("eventlint.internal")
_MAX_FACTORY_DEPTH = 3  # factories calling factories, followed this deep
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Failure:
    """An unexpected error while analysing one module.  The module is reported as EVT000 and
    every other module is still analysed."""

    path: str
    module: str
    stage: str  # what was being done, e.g. "finding channels"
    error: str  # "RecursionError: maximum recursion depth exceeded"


class ChannelName(NamedTuple):
    """A name a channel is bound to, and the end of the channel it holds."""

    name: str
    end: End
    binding: Binding


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel the analysed code creates (a queue, a pipe, a memory channel...)."""

    id: str  # the qualified name it is first bound to: ``app.hub.Hub.inbox``
    api: ChannelApi  # its catalogue entry
    path: str
    span: Span  # the statement creating it
    owner: str  # module, class or function qualname
    scope: BindingScope  # as ``Binding.scope``
    module: str
    element_type: tuple[str, ...] | None  # the declared item types; None when undeclared, ``Any`` or ``object``
    creation: CallFact | None  # the constructor call
    constructor: str = ""  # how the code named the constructor, e.g. "multiprocessing.get_context().Queue"
    names: tuple[ChannelName, ...] = ()  # each name bound to it

    @property
    def node(self) -> str:
        return f"channel:{self.id}"

    @property
    def display(self) -> str:
        return self.id[len(self.module) + 1:] if self.id.startswith(self.module + ".") else self.id


class Direction(Named):
    """Which way an operation moves items through a channel."""

    PUT = "put"  # one of the catalogue's put methods for the channel (``put``, ``send``...)
    GET = "get"  # one of its get methods (``get``, ``receive``...)


@dataclass(frozen=True, slots=True)
class Operation:
    """A put or get on a channel."""

    channel: str  # channel id
    direction: Direction
    method: str
    call: CallFact
    path: str
    function: str  # qualname of the enclosing function (or module/class)
    heuristic: bool = False  # the receiver was matched to the channel by its unique attribute or factory name
    through: bool = False  # a call of a project method that puts its argument (``Channel.send`` of ``self.writer``)
    union: bool = False  # through a name its callers fill with this and other channels (``self.conn``)


@dataclass(frozen=True, slots=True)
class DispatchSite:
    """A branch on an item received from a channel."""

    dispatch: Dispatch
    path: str


@dataclass(frozen=True, slots=True)
class ChannelReturn:
    """A ``return`` of a channel: ``return self._q`` in a method, ``return Q`` in a function."""

    function: FunctionFact
    channel: Channel
    name: str  # the returned name's last part: "_q" (or the container's: "_queues" in ``self._queues[k]``)
    span: Span  # the return statement
    module: str  # the module the function is in


def _opaque(value: Value) -> bool:
    """A value only known as the result of a call on an outside object's attribute
    (``twisted.web.http.Request().channel.factory.server.create_application()``)."""
    return value.kind == ValueKind.API and value.name.endswith("()") and "()." in value.name


class EventGraph(PayloadFollower):
    """The index of one run (see the module's docstring).  ``resolver`` answers what
    expressions hold; the graph's symbol tables are the resolver's."""

    def __init__(self, files: list[FileFacts], catalog: Catalog):
        self.catalog = catalog
        # the graph's nodes and edges (with their attributes) in the order met; the
        # networkx graph is made from them when asked for (``graph``): the checks ask
        # the index, and only ``eventlint graph`` reads the graph (importing networkx
        # alone takes 13 MiB and 65 ms)
        self._nodes: dict[str, dict] = {}
        self._edges: dict[tuple[str, str, str], dict] = {}  # (source, target, key) -> attributes
        self._networkx = None
        self.files = sorted(files, key=lambda f: f.path)
        self.resolver = Resolver(self.files, catalog)
        resolver = self.resolver
        self.modules = resolver.modules
        self.classes = resolver.classes
        self.functions = resolver.functions
        self.path_of = resolver.path_of
        self.module_bindings = resolver.module_bindings
        self.class_bindings = resolver.class_bindings
        self.local_bindings = resolver.local_bindings
        self.imports = resolver.imports
        self.channels: dict[str, Channel] = {}
        self.operations: list[Operation] = []
        self._channels_by_attr: dict[str, list[str]] | None = None
        self._factories_by_name: dict[str, str] | None = None  # function name -> the channel it returns
        self._dispatches: dict[str, list[DispatchSite]] | None = None
        self._tables: dict[tuple[str, str], tuple[TableKey, ...]] | None = None
        self._caller_paths: dict[str, str | None] | None = None  # see ``call_path``
        self._shared_caller_calls: dict[int, str] = {}
        self._shaped_returns: dict[str, list[Payload]] | None = None
        self._constants: dict[str, str] | None = None
        self._methods: dict[str, list[str]] | None = None
        self._by_class: dict[str, list[str]] | None = None
        self._calls_by_name: dict[str, list[CallFact]] | None = None  # see ``calls_named``
        self._own_puts: dict[str, list[Operation]] = defaultdict(list)
        self._forwarded: dict[tuple[str, PayloadShape, str, str], list[PayloadSite]] = {}
        self.failures: list[Failure] = []
        self.indexed: list[FileFacts] = []  # the files indexed, in order (the graph's JSON lists their functions)
        self._failed_modules: set[str] = set()
        for facts in self.files:
            self.isolated(facts, "indexing", self._index)
        self._subclasses: dict[str, list[str]] | None = None
        # the call results bound by each module whose callee is a project function: a factory, maybe
        self._factory_calls: dict[str, list[tuple[tuple, list[Binding]]]] = defaultdict(list)
        self._factories: dict[tuple[str, int], set[tuple[ChannelApi, CallFact | None, str]]] = {}
        for facts in self.files:
            self.isolated(facts, "finding channels", self._find_channels)
        resolver.forget()  # the answers a channel found since changes, and what asked for them
        if self._factory_calls:
            for facts in self.files:
                if facts.path in self._factory_calls:
                    self.isolated(facts, "finding channels made by factories", self._find_factory_channels)
            resolver.forget()
        made = [(channel.id, channel.api, channel.creation) for channel in self.channels.values()]
        if any(api.remote is not None or api.address is not None for _, api, _ in made):  # far ends
            for end in remote_ends(made, self.files, resolver):
                resolver.bind_remote_end(end.owner, end.name, end.channel, end.heuristic)
            for accepted in accepted_ends(made, self.files, resolver, catalog):
                resolver.bind_channel(accepted.binding, accepted.channel, End.NONE, (), accepted.heuristic)
            resolver.forget()
        resolver.settle()
        for facts in self.files:
            self.isolated(facts, "finding channel operations", self._find_operations)

    def isolated(self, facts: FileFacts, stage: str, action: Callable[[FileFacts], _T]) -> _T | None:
        """``action(facts)``, one module's part of a step.  An unexpected error becomes a
        ``Failure`` of that module (reported as EVT000; the traceback is logged on the
        ``eventlint.internal`` logger) and None, so the step goes on with the next module."""
        try:
            return action(facts)
        except Exception as error:  # noqa: BLE001 - one module's bug must not cost the others their findings
            _log.debug("internal error while %s in %s (%s)\n%s", stage, facts.path, facts.module, traceback.format_exc())
            if facts.module not in self._failed_modules:
                self._failed_modules.add(facts.module)
                message = " ".join(str(error).split())[:200]
                self.failures.append(Failure(facts.path, facts.module, stage,
                                             f"{type(error).__name__}: {message}" if message else type(error).__name__))
            return None

    def _index(self, facts: FileFacts) -> None:
        if facts.problem is not None:
            return
        self.resolver.add(facts)
        self.indexed.append(facts)

    def function_node(self, qualname: str) -> str:
        """The graph node of a function (or of module-level code), added on its first edge:
        most functions never get one, and a node costs about 500 bytes."""
        node = f"function:{qualname}"
        if node not in self._nodes:
            fn = self.functions.get(qualname)
            if fn is None:
                self.add_node(node)
            else:
                self.add_node(node, kind="function", path=self.path_of[qualname], line=fn.span.line)
        return node

    def add_node(self, node: str, **attributes) -> None:
        self._nodes.setdefault(node, {}).update(attributes)
        self._networkx = None

    def add_edge(self, source: str, target: str, key: str, **attributes) -> None:
        self._nodes.setdefault(source, {})
        self._nodes.setdefault(target, {})
        self._edges.setdefault((source, target, key), {}).update(attributes)
        self._networkx = None

    @property
    def graph(self):
        """The channels, the functions that put on and take from them and the handlers'
        registrations, as a ``networkx.MultiDiGraph`` (made on first use)."""
        if self._networkx is None:
            import networkx as nx

            graph = nx.MultiDiGraph()
            graph.add_nodes_from(self._nodes.items())
            graph.add_edges_from((source, target, key, data) for (source, target, key), data in self._edges.items())
            self._networkx = graph
        return self._networkx

    # ---- resolution, asked of the resolver (see ``eventlint.resolution.Resolver``) -------------

    def resolve(self, ref: Ref | None, depth: int = 0) -> Value | None:
        """What ``ref`` names (None when unknown); ``depth`` is ignored (older callers pass it)."""
        return self.resolver.resolve(ref)

    def resolve_global(self, name: str, depth: int = 0) -> Value | None:
        return self.resolver.resolve_global(name)

    def module_member(self, module: str, name: str, depth: int = 0) -> Value | None:
        return self.resolver.module_member(module, name)

    def step(self, value: Value, step: str, depth: int = 0) -> Value | None:
        return self.resolver.step(value, step)

    def attribute(self, cls: str, attr: str, depth: int = 0, heuristic: bool = False) -> Value | None:
        return self.resolver.attribute(cls, attr)

    def binding_value(self, binding: Binding, depth: int = 0) -> Value | None:
        return self.resolver.binding_value(binding)

    def resolve_param(self, spec: str, depth: int = 0) -> Value | None:
        return self.resolver.resolve_param(spec)

    def argument_value(self, fn: FunctionFact, index: int, name: str, depth: int = 0) -> Value | None:
        return self.resolver.argument_value(fn, index, name)  # the one value every known call passes

    def mro(self, qualname: str) -> list[str]:
        return self.resolver.mro(qualname)  # the class and its project base classes, breadth first, without repeats

    def external_bases(self, qualname: str) -> list[str]:
        """The outside (non-project) base classes anywhere in the class's hierarchy."""
        return self.resolver.external_bases(qualname)

    def import_name(self, qualname: str) -> str:
        """The shortest name a project class or function is importable by."""
        return self.resolver.import_name(qualname)

    def canonical_module(self, name: str) -> str:
        return self.resolver.canonical_module(name)

    def canonical(self, qualname: str) -> str:
        """Rewrite a qualname that starts with a module alias to the module's own name."""
        return self.resolver.canonical(qualname)

    # ---- channels and operations ----------------------------------------------------------

    def channel_api_of_class(self, qualname: str) -> ChannelApi | None:
        name = self.resolver.channel_class(qualname)
        return self.catalog.channel(name) if name else None

    def channel_api(self, callee: Ref) -> ChannelApi | None:
        name = dotted(callee)
        if name is not None:
            api = self.catalog.channel(name)
            if api is not None:
                return api
        value = self.resolve(callee)
        if value is None:
            return None
        if value.kind == ValueKind.API:
            return self.catalog.channel(value.name)
        if value.kind == ValueKind.CLASS:
            return self.channel_api_of_class(value.name)
        if value.kind == ValueKind.FUNCTION:
            # the project's own function or method under a catalogue name (execnet analysed
            # with its ``Gateway.remote_exec``): as it is importable, a method as ``Class().method``
            fn = self.functions.get(value.name)
            if fn is not None and fn.owner_class is not None:
                owner, method = self.import_name(fn.owner_class), value.name.rsplit(".", 1)[-1]
                return self.catalog.channel(f"{owner}().{method}") or self.catalog.channel(f"{owner}.{method}")
            return self.catalog.channel(self.import_name(value.name))
        return None

    def constructor_name(self, callee: Ref, api: ChannelApi) -> str:
        name = dotted(callee)
        if name is not None and self.catalog.channel(name) is not None:
            return name
        value = self.resolve(callee)
        if value is not None and value.kind == ValueKind.CLASS:
            return f"{value.name.rsplit('.', 1)[-1]} (a {api.name})"
        return value.name if value is not None and value.kind == ValueKind.API else api.name

    def short_name(self, qualname: str, path: str) -> str:
        """A qualname without its module prefix, for messages."""
        for facts in self.files:
            if facts.path == path and qualname.startswith(facts.module + "."):
                return qualname[len(facts.module) + 1:]
        return qualname

    @staticmethod
    def _creations(facts: FileFacts) -> dict[tuple, list[Binding]]:
        """The bindings of call results, grouped by statement and call (one group for
        each end of ``a, b = Pipe()``)."""
        groups: dict[tuple, list[Binding]] = {}
        for binding in facts.bindings:
            value = binding.value
            if value[-1].startswith("#"):
                value = value[:-1]
            if len(value) < 2 or value[-1] != "()":
                continue
            groups.setdefault((binding.span, value), []).append(binding)
        return groups

    def _find_channels(self, facts: FileFacts) -> None:
        for (span, value), bindings in self._creations(facts).items():
            api = self.channel_api(value[:-1])
            if api is not None:
                self._add_channel(facts, span, value, bindings, api, self.constructor_name(value[:-1], api),
                                  bindings[0].call)
                continue
            callee = self.resolve(value[:-1])
            if callee is not None and callee.kind == ValueKind.FUNCTION:
                self._factory_calls[facts.path].append(((span, value), bindings))

    def _find_factory_channels(self, facts: FileFacts) -> None:
        """The channels bound from a call of a project function or method that makes one
        (``self.queue = self.create_queue()``): found once every constructed channel is known."""
        for (span, value), bindings in self._factory_calls.get(facts.path, ()):
            made = self.factory_channels(value[:-1])
            if made:
                ordered = sorted(made, key=lambda m: (m[0].name, m[2], (m[1].span.line, m[1].span.column) if m[1] else ()))
                api, creation, factory = ordered[0]
                apis = sorted({api.name for api, _, _ in made})
                constructor = f"{' or '.join(apis)} (made by {factory.rsplit('.', 1)[-1]}())"
                self._add_channel(facts, span, value, bindings, api, constructor, creation)

    def factory_channels(self, callee: Ref, depth: int = 0) -> set[tuple[ChannelApi, CallFact | None, str]]:
        """(catalogue entry, constructor call, function) for each channel a call of
        ``callee`` can make, when it names a project function or method that returns a new
        channel: a constructor call (``return queue.Queue()``) or a channel it made locally.
        A method counts with its overrides in subclasses (a sync and an async variant)."""
        value = self.resolve(callee)
        if value is None or value.kind != ValueKind.FUNCTION:
            return set()
        # once per function: overrides calling ``super().method()`` would otherwise be
        # walked once per override at every level (hundreds of ``de_json`` overrides)
        known = self._factories.get((value.name, depth))
        if known is not None:
            return known
        made = self._factories[(value.name, depth)] = set()
        for qualname in self._overrides(value.name):
            for ret in self.resolver.returns_of.get(qualname, ()):
                if not ret.value:  # a returned tagged tuple or dict (``payload``)
                    continue
                api, creation = None, ret.call
                if ret.value[-1] == "()":
                    api = self.channel_api(ret.value[:-1])
                    if api is None and depth < _MAX_FACTORY_DEPTH:  # ``return make_queue()``: a factory's factory
                        made.update((api, creation, qualname)
                                    for api, creation, _ in self.factory_channels(ret.value[:-1], depth + 1))
                else:
                    returned = self.resolve(ret.value)
                    channel = self.channels.get(returned.name) if returned is not None and returned.kind == ValueKind.CHANNEL else None
                    if channel is not None and channel.scope == "local" and channel.owner == qualname:
                        api, creation = channel.api, channel.creation
                if api is not None:
                    made.add((api, creation, qualname))
        return made

    def _overrides(self, qualname: str) -> list[str]:
        """The method and the methods of the same name in its class's subclasses."""
        fn = self.functions.get(qualname)
        if fn is None or fn.owner_class is None:
            return [qualname]
        if self._subclasses is None:
            self._subclasses = defaultdict(list)
            for cls in sorted(self.classes):
                for base in self.mro(cls)[1:]:
                    self._subclasses[base].append(cls)
        name = qualname.rsplit(".", 1)[-1]
        found = [qualname]
        for cls in self._subclasses.get(fn.owner_class, ()):
            if f"{cls}.{name}" in self.functions:
                found.append(f"{cls}.{name}")
        return found

    def _add_channel(self, facts: FileFacts, span: Span, value: Ref, bindings: list[Binding], api: ChannelApi,
                     constructor: str, creation: CallFact | None) -> None:
        first = bindings[0]
        unpacked = first.value[-1].startswith("#")
        if unpacked and not api.ends:
            return  # ``a, b = Queue()`` is not a channel binding we understand
        owner = self.canonical(first.owner)
        channel_id = f"{owner}.{first.name}"
        names = []
        for binding in bindings:
            end = End.NONE
            if unpacked:
                position = int(binding.value[-1][1:])
                end = api.ends[position] if position < len(api.ends) else End.NONE
            elif api.ends:
                continue  # the tuple itself bound to one name: no end to speak of
            names.append(ChannelName(binding.name, end, binding))
            self.resolver.bind_channel(binding, channel_id, end, api.get)
        if not names:
            return
        element_type = first.element_type
        if element_type is None and first.scope in ("class", "instance"):
            element_type = self.declared_type(owner, first.name)
        channel = Channel(channel_id, api, facts.path, span, owner, first.scope, facts.module, element_type,
                          creation, constructor, tuple(names))
        self.channels.setdefault(channel.id, channel)
        self.add_node(channel.node, kind="channel", path=facts.path, line=span.line, api=api.name)

    def resolve_channel(self, ref: Ref) -> Value | None:
        """The channel ``ref`` names; as a last resort, the one channel whose attribute
        has that name (marked heuristic, and the finding says so)."""
        value = self.resolve(ref)
        if value is not None:
            if value.kind == ValueKind.CHANNEL:
                return value
            return self._made_by_factory(ref) if _opaque(value) else None
        if len(ref) < 2 or not ref[-1].startswith("."):
            return None
        if self._channels_by_attr is None:
            by_attr: dict[str, list[str]] = defaultdict(list)
            for channel in self.channels.values():
                if channel.scope in ("class", "instance"):
                    for name, _, _ in channel.names:
                        by_attr[name].append(channel.id)
            self._channels_by_attr = by_attr
        attr = ref[-1][1:]
        if attr.startswith("_"):
            return None  # a private name used from elsewhere is too weak a clue
        candidates = self._channels_by_attr.get(attr, [])
        if len(candidates) == 1:
            channel = self.channels[candidates[0]]
            end = next((e for n, e, _ in channel.names if n == ref[-1][1:]), End.NONE)
            return Value(ValueKind.CHANNEL, channel.id, end, heuristic=True)
        return self._made_by_factory(ref)

    def _made_by_factory(self, ref: Ref) -> Value | None:
        """``self.queue`` bound to ``x.create_queue(...)`` where ``x`` can't be resolved
        (``self.server = self.channel.factory.server``): the channel that the one project
        function of that name returns (marked heuristic)."""
        if len(ref) != 2 or not ref[0].startswith(("I:", "C:")):
            return None
        if self._factories_by_name is None:
            named: dict[str, int] = defaultdict(int)
            for qualname in self.functions:
                named[qualname.rpartition(".")[2]] += 1
            returned: dict[str, set[str]] = defaultdict(set)
            for ret in self.channel_returns():
                returned[ret.function.qualname.rpartition(".")[2]].add(ret.channel.id)
            self._factories_by_name = {name: next(iter(ids)) for name, ids in returned.items()
                                       if len(ids) == 1 and named[name] == 1}
        for owner in self.mro(ref[0][2:]):
            for binding in self.class_bindings.get((owner, ref[1][1:]), ()):
                value = binding.value
                if len(value) < 3 or value[-1] != "()" or not value[-2].startswith("."):
                    continue
                channel_id = self._factories_by_name.get(value[-2][1:])
                if channel_id is None:
                    continue
                made = self.resolve(value)
                if made is None or _opaque(made):
                    return Value(ValueKind.CHANNEL, channel_id, heuristic=True)
        return None

    def _find_operations(self, facts: FileFacts) -> None:
        methods = self.catalog.channel_methods
        for call in (*facts.calls, *facts.handoffs):
            callee = call.callee
            if len(callee) < 2 or not callee[-1].startswith(".") or callee[-1][1:] not in methods:
                continue
            method = callee[-1][1:]
            receiver = self.resolve_channel(callee[:-1])
            if receiver is not None:
                self._add_operation(facts, call, method, receiver.name, receiver.heuristic)
                continue
            for channel_id in self.puts_through_method(call):  # ``self.pool_channel.send(task)`` of ``Channel.send``
                self._add_operation(facts, call, method, channel_id, False, through=True)
            # ``self.conn`` given several channels (by id: a set's order changes from run to run)
            for value in sorted(self.resolver.channel_union(callee[:-1]), key=lambda value: value.name):
                if value.kind == ValueKind.CHANNEL:
                    self._add_operation(facts, call, method, value.name, False, union=True)
            # ``self.put(event)`` in a method of a project subclass of a channel class puts
            # on every channel made from that class: the class's own puts, kept apart from
            # the uses of the channel (they are the channel's own code)
            for channel_id in self._channels_of_self(callee[:-1]):
                channel = self.channels[channel_id]
                if method in channel.api.put:
                    self._own_puts[channel_id].append(
                        Operation(channel_id, Direction.PUT, method, call, facts.path, call.caller))

    def _add_operation(self, facts: FileFacts, call: CallFact, method: str, channel_id: str, heuristic: bool,
                       through: bool = False, union: bool = False) -> None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return
        if method in channel.api.put:
            direction = Direction.PUT
        elif method in channel.api.get:
            direction = Direction.GET
        else:
            return
        operation = Operation(channel.id, direction, method, call, facts.path, call.caller, heuristic, through, union)
        self.operations.append(operation)
        function_node = self.function_node(call.caller)
        where = f"{facts.path}:{call.span.line}:{call.span.column}"
        if direction == Direction.PUT:
            self.add_edge(function_node, channel.node, key=f"publishes@{where}", kind="publishes")
        else:
            self.add_edge(channel.node, function_node, key=f"consumes@{where}", kind="consumes")

    def _channels_of_self(self, ref: Ref) -> list[str]:
        """The channels made from the project class ``ref`` is the ``self`` of (or from a
        subclass of it): ``self`` inside ``class EventQueue(queue.Queue)``."""
        if len(ref) != 1 or not ref[0].startswith("I:"):
            return []
        return self._channels_by_class().get(self.canonical(ref[0][2:]), [])

    def _channels_by_class(self) -> dict[str, list[str]]:
        """Channel ids by each project class in the hierarchy of the class that made them."""
        if self._by_class is None:
            by_class: dict[str, list[str]] = defaultdict(list)
            for channel in self.channels.values():
                made = self.resolve(channel.creation.callee) if channel.creation is not None else None
                if made is not None and made.kind == ValueKind.CLASS:
                    for cls in self.mro(made.name):
                        by_class[cls].append(channel.id)
            self._by_class = by_class
        return self._by_class

    def _channel_method_calls(self, fn: FunctionFact, channel_id: str) -> list[CallFact]:
        """Calls of ``fn``, a method of a project channel class, on the channel itself:
        ``self.events.put_event(...)`` where ``self.events = EventQueue()``."""
        if fn.owner_class is None or channel_id not in self._channels_by_class().get(fn.owner_class, ()):
            return []
        name = fn.qualname.rsplit(".", 1)[-1]
        found = []
        for call in self.calls_named(name):
            if call.callee[-1] != "." + name or len(call.callee) < 2:
                continue  # a function of that name, not a method called on a receiver
            receiver = self.resolve_channel(call.callee[:-1])
            if receiver is not None and receiver.name == channel_id:
                found.append(call)
        return found

    def calls_named(self, name: str) -> list[CallFact]:
        """Every call whose callee's last name is ``name`` (``q.put(...)``, ``put(...)``,
        ``mod.put(...)``), in file order."""
        if self._calls_by_name is None:
            by_name: dict[str, list[CallFact]] = {}
            for facts in self.files:
                for call in facts.calls:
                    last = call.callee[-1]
                    key = last[1:] if last.startswith(".") else last.rpartition(":")[2].rpartition(".")[2]
                    by_name.setdefault(key, []).append(call)
            self._calls_by_name = by_name
        return self._calls_by_name.get(name, [])

    # ---- questions the checks ask -------------------------------------------------------------

    def all_channels(self) -> Iterator[Channel]:
        """Every channel, by id."""
        for channel_id in sorted(self.channels):
            yield self.channels[channel_id]

    def operations_on(self, channel_id: str) -> list[Operation]:
        """The puts and gets on the channel, in file order."""
        return [op for op in self.operations if op.channel == channel_id]

    def publishers_of(self, channel_id: str) -> list[Operation]:
        return [op for op in self.operations_on(channel_id) if op.direction == Direction.PUT]

    def consumers_of(self, channel_id: str) -> list[Operation]:
        return [op for op in self.operations_on(channel_id) if op.direction == Direction.GET]

    def is_inside_owner(self, channel: Channel, function: str, path: str) -> bool:
        """Code in the channel's owner (or the owner's subclasses, or its module for globals)."""
        if channel.scope == "module":
            return path == channel.path
        if channel.scope == "local":
            return function == channel.owner or function.startswith(channel.owner + ".")
        owner_class = self.enclosing_class(function)
        if owner_class is None:
            return False
        return channel.owner in self.mro(owner_class)

    def enclosing_class(self, qualname: str) -> str | None:
        """The class a function, method or nested function is defined in (None at module level)."""
        while qualname:
            fn = self.functions.get(qualname)
            if fn is not None and fn.owner_class is not None:
                return fn.owner_class
            if qualname in self.classes:
                return qualname
            qualname = qualname.rpartition(".")[0]
        return None

    def channel_returns(self) -> Iterator[ChannelReturn]:
        """Every ``return`` of a name that holds a channel, in a function of the project."""
        for facts in self.files:
            for ret in facts.returns:
                fn = self.functions.get(ret.function)
                if fn is None or not ret.value or ret.position >= 0:
                    continue
                held = ret.value[:-1]  # ``return self._queues[name]``: one of the channels a container holds
                container = self.resolve(held) if ret.value[-1] == "[]" else None
                if container is not None and container.kind == ValueKind.CHANNELS:
                    value, returned = container, held
                else:
                    value, returned = self.resolve(ret.value), ret.value
                    if value is None or value.kind != ValueKind.CHANNEL:
                        continue
                channel = self.channels.get(value.name)
                if channel is not None:
                    name = returned[-1].lstrip(".").rpartition(".")[2]
                    yield ChannelReturn(fn, channel, name, ret.span, facts.module)

    def module_all(self, module: str) -> tuple[str, ...] | None:
        """The module's ``__all__`` (None when it has none)."""
        facts = self.modules.get(module)
        return facts.all_names if facts is not None else None

    def to_node_link(self) -> dict:
        """The whole graph as node-link JSON data: keys ``nodes`` and ``edges``."""
        import networkx as nx

        # every function, edges or not, first and in file order (as the index met them)
        whole = nx.MultiDiGraph()
        for facts in self.indexed:
            for fn in facts.functions:
                whole.add_node(f"function:{fn.qualname}", kind="function", path=facts.path, line=fn.span.line)
        for node, data in self._nodes.items():
            whole.add_node(node, **data)
        for (source, target, key), data in self._edges.items():
            whole.add_edge(source, target, key=key, **data)
        return nx.node_link_data(whole, edges="edges")

    def is_bounded(self, channel: Channel) -> bool:
        spec = channel.api.maxsize
        if spec is None or channel.creation is None:
            return False
        return not _is_unbounded_text(spec.argument_text(channel.creation))

    def declared_type(self, owner: str, name: str) -> tuple[str, ...] | None:
        for current in self.mro(owner):
            for binding in self.class_bindings.get((current, name), ()):
                if binding.element_type is not None:
                    return binding.element_type
        return None

    # ---- what is put on a channel, and what its consumers dispatch on ---------------------------

    def is_exception_class(self, qualname: str) -> bool:
        """The class, or an outside class it derives from, is named like an exception."""
        return any(looks_like_exception(name) for name in [qualname, *self.external_bases(qualname)])

    def payloads_put(self, channel_id: str) -> list[PayloadSite]:
        """What is put on the channel: the payload of each put, and for a put of a parameter
        (``def publish(self, event): self._q.put(event)``) what the callers pass instead."""
        sites = []
        for op in [*self.publishers_of(channel_id), *self._own_puts.get(channel_id, ())]:
            if op.call.payload is not None:
                sites.append(PayloadSite(op.call.payload, op.call, op.path))
            sites.extend(self.forwarded_payloads(op))
        return sites

    def shadowed_channels(self, channel_id: str) -> list[str]:
        """The channels a base class binds to the attribute that this channel, bound by a
        subclass, replaces (``ThreadPool._setup_queues`` rebinding ``self._outqueue`` of
        ``Pool``): the base class's code then uses the subclass's channel."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.scope not in ("class", "instance"):
            return []
        names = {name.name for name in channel.names}
        return [other for base in self.mro(channel.owner)[1:] for name in sorted(names)
                if (other := f"{base}.{name}") in self.channels and self.channels[other].scope == channel.scope]

    def returned_classes(self, function: str) -> list[str]:
        """The project classes whose instances the function's ``return``s construct
        (``return JobHold()``, ``return JobTask(task)``), in source order."""
        found = []
        for ret in self.resolver.returns_of.get(function, ()):
            if ret.value and ret.value[-1] == "()":
                value = self.resolve(ret.value[:-1])
                if value is not None and value.kind == ValueKind.CLASS and value.name not in found:
                    found.append(value.name)
        return found

    def dispatches_on(self, channel_id: str) -> list[DispatchSite]:
        """The branches on items received from the channel, in file order."""
        if self._dispatches is None:
            index: dict[str, list[DispatchSite]] = defaultdict(list)
            for facts in self.files:
                for channel, dispatch in self.isolated(facts, "finding dispatches", self._dispatches_in) or ():
                    index[channel].append(DispatchSite(dispatch, facts.path))
            self._dispatches = index
        return self._dispatches.get(channel_id, [])

    def method_names(self, ref: Ref, prefix: str) -> list[str]:
        """The names of the methods spelled ``prefix`` + something of the project class (or
        instance) ``ref`` names, its bases' included; [] when it is not one."""
        value = self.resolve(ref)
        if value is None or value.kind not in (ValueKind.INSTANCE, ValueKind.CLASS):
            return []
        if self._methods is None:
            methods: dict[str, list[str]] = defaultdict(list)
            for fn in self.functions.values():
                if fn.owner_class is not None and fn.qualname == f"{fn.owner_class}.{fn.qualname.rsplit('.', 1)[-1]}":
                    methods[fn.owner_class].append(fn.qualname.rsplit(".", 1)[-1])
            self._methods = methods
        names = set()
        for cls in self.mro(value.name):
            names.update(name for name in self._methods.get(cls, ()) if name.startswith(prefix) and name != prefix)
        return sorted(names)

    def table_keys(self, ref: Ref) -> tuple[TableKey, ...]:
        """The keys of the handler table ``ref`` names (a module global, or a class or
        instance attribute of the class or its bases); () when it is not one."""
        if self._tables is None:
            self._tables = {}
            for facts in self.files:
                for table in facts.tables:
                    self._tables[(self.canonical(table.owner), table.name)] = table.keys
        if len(ref) == 1 and ref[0].startswith("G:"):
            owner, _, name = ref[0][2:].rpartition(".")
            return self._tables.get((self.canonical(owner), name), ())
        if len(ref) == 2 and ref[0][:2] in ("I:", "C:") and ref[1].startswith("."):
            for cls in self.mro(self.canonical(ref[0][2:])):
                keys = self._tables.get((cls, ref[1][1:]))
                if keys:
                    return keys
        return ()


_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Failure")
_EXCEPTION_NAMES = ("BaseException", "StopIteration", "StopAsyncIteration", "CancelledError")


def looks_like_exception(name: str) -> bool:
    """The dotted name's last part is named like an exception class."""
    last = name.rsplit(".", 1)[-1]
    return last.endswith(_EXCEPTION_SUFFIXES) or last in _EXCEPTION_NAMES


def _is_unbounded_text(text: str | None) -> bool:
    if text is None:
        return True
    try:
        return float(text) <= 0
    except ValueError:
        return False  # a variable or expression: assume the author meant a bound
