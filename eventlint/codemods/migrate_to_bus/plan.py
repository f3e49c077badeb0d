"""What is migrated: the channel, what its creation says, and the records the other steps
of one channel's migration hand each other.

``target`` decides whether a channel can be moved at all (its constructor, scope, name,
creation line and size); everything after it works from the frozen ``Target`` it returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from ...graph import Channel, EventGraph, ValueKind
from .source import Skip, Source

if TYPE_CHECKING:
    from .workspace import PlannedEdits, Workspace


class Flavour(enum.Enum):
    """Which bus a channel moves to: threads or asyncio."""

    THREAD = "thread"
    ASYNC = "async"

    @property
    def bus_class(self) -> str:
        return "EventBus" if self is Flavour.THREAD else "AsyncEventBus"


CONSTRUCTORS = {
    "queue.Queue": Flavour.THREAD,
    "queue.SimpleQueue": Flavour.THREAD,
    "asyncio.Queue": Flavour.ASYNC,
    "asyncio.queues.Queue": Flavour.ASYNC,
}
_ORDERED_ELSEWHERE = ("LifoQueue", "PriorityQueue")
_LITERAL_SIZE = m.Integer() | m.UnaryOperation(operator=m.Minus(), expression=m.Integer())


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """A channel that may be migrated: its one name, its creation and its bound."""

    channel: Channel
    flavour: Flavour
    name: str  # the global or attribute it is bound to
    home: Source  # the file that creates it
    creation: cst.Assign | cst.AnnAssign
    creation_call: cst.Call
    maxsize: int  # 0 for an unbounded queue

    @property
    def bus_class(self) -> str:
        return self.flavour.bus_class


@dataclass(frozen=True, slots=True, eq=False)
class ChannelPlan:
    """The edits one channel's migration makes, and what the result tells the user."""

    edits: PlannedEdits
    notes: tuple[str, ...]


def target(work: Workspace, channel: Channel) -> Target:
    """The channel as a ``Target``, or ``Skip`` when nothing about it can be moved."""
    flavour = _flavour(channel)
    if channel.scope not in ("module", "instance"):
        raise Skip(f"a {channel.scope} channel; only module globals and instance attributes are migrated")
    if len(channel.names) != 1:
        raise Skip("it is bound to several names")
    home = work.source(channel.path)
    creation, call = _creation(home, channel)
    maxsize = _bound(home, call)
    if flavour is Flavour.ASYNC and maxsize:
        raise Skip("a bounded asyncio.Queue makes `await put()` wait for room; AsyncEventBus.publish can't wait "
                   "(overflow=\"block\" is thread-only), so the bound would turn into drops")
    if flavour is Flavour.ASYNC and channel.scope == "module":
        raise Skip("a module-level asyncio channel: AsyncEventBus.subscribe needs a running event loop, so "
                   "nothing could subscribe at import time, before the first publish")
    name = channel.names[0][0]
    check_outside_mentions(work, channel, name, channel.names[0][2].public, "channel")
    return Target(channel, flavour, name, home, creation, call, maxsize)


def _flavour(channel: Channel) -> Flavour:
    constructor = channel.constructor
    flavour = CONSTRUCTORS.get(constructor)
    if flavour is not None:
        return flavour
    if constructor.endswith(_ORDERED_ELSEWHERE):
        raise Skip(f"a {constructor} hands items out in another order than they were put; the bus keeps "
                   f"publish order")
    raise Skip(f"a {constructor or channel.api.name}: only queue.Queue, queue.SimpleQueue and asyncio.Queue "
               f"have a bus to move to")


def _creation(home: Source, channel: Channel) -> tuple[cst.Assign | cst.AnnAssign, cst.Call]:
    for node in home.positions:
        if isinstance(node, (cst.Assign, cst.AnnAssign)) and home.span(node) == channel.span:
            if isinstance(node.value, cst.Call) and (isinstance(node, cst.AnnAssign) or len(node.targets) == 1) \
                    and home.line_of(node) is not None:
                return node, node.value
            break
    raise Skip("its creation is not a plain `name = Queue()` line (or the file changed since it was checked)")


def _bound(home: Source, call: cst.Call) -> int:
    """0 for an unbounded queue, else its maxsize."""
    if not call.args:
        return 0
    arg = call.args[0]
    if len(call.args) == 1 and not arg.star and (arg.keyword is None or arg.keyword.value == "maxsize") \
            and m.matches(arg.value, _LITERAL_SIZE):
        value = arg.value
        return max(int(value.value, 0), 0) if isinstance(value, cst.Integer) else 0
    raise Skip(f"its size is not a literal number ({home.quote(call)})")


def check_outside_mentions(work: Workspace, channel: Channel, name: str, public: bool, what: str) -> None:
    """A public name may be used by project files that were not analysed."""
    if not public:
        return
    if channel.scope == "module" and what == "channel":
        listed = work.graph.module_all(channel.module)
        if listed is not None and name not in listed:
            return
    elsewhere = work.unanalysed_mentions(name)
    if elsewhere is not None:
        raise Skip(f"the public name `{name}` of its {what} is mentioned in {elsewhere}, which was not analysed")


def qualify(graph: EventGraph, source: Source, dotted_name: str) -> str:
    """A dotted name as written in ``source`` → the qualified name it imports."""
    head, _, rest = dotted_name.partition(".")
    resolved = graph.imports.get((source.facts.module, head), head)
    return f"{resolved}.{rest}" if rest else resolved


def check_constructions(work: Workspace, plan: Target) -> None:
    """AsyncEventBus.subscribe needs a running loop: the owner must only be made inside coroutines."""
    graph, owner = work.graph, plan.channel.owner
    found = 0
    for facts in graph.files:
        for call in facts.calls:
            value = graph.resolve(call.callee)
            if value is None or value.kind != ValueKind.CLASS or owner not in graph.mro(value.name):
                continue
            found += 1
            fn = graph.functions.get(call.caller)
            if fn is None or not fn.is_async:
                raise Skip(f"{value.name.rsplit('.', 1)[-1]}() is made outside a coroutine at "
                           f"{facts.path}:{call.span.line}; AsyncEventBus.subscribe needs a running loop")
    if not found:
        raise Skip(f"{owner} is never made in the analysed code, so it can't be shown that its subscriptions "
                   f"would be made inside a running loop")
