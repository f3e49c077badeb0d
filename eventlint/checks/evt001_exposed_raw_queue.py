"""EVT001: a raw channel reachable from outside its owner through a public name."""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import Channel, Direction, EventGraph
from ..model import (Finding, Fix, FunctionFact, Location, MigrateChannel, NotFixable, PrivatizeChannel, ReplaceAccessor,
                     Safety, Span,
                     is_public_name)
from . import Fixable, Rule
from .evt001_deque_handoff import deque_handoffs
from .evt001_handed_in import handed_in_channels

CODE = "EVT001"
NAME = "exposed-raw-queue"
FIX = Fix(Safety.UNSAFE, "privatize-queues: rename to a private name and add methods")


def _owner_name(graph: EventGraph, channel: Channel) -> str:
    return channel.owner[len(channel.module) + 1:] if channel.owner.startswith(channel.module + ".") else channel.owner


def outside_uses(graph: EventGraph, channel: Channel) -> list[Location]:
    """The puts and gets on the channel from outside its owner (another class or module).
    A method of one of the owner's base classes is inside: ``self.x`` there is the same
    attribute of the same object."""
    uses = []
    bases = graph.mro(channel.owner) if channel.scope in ("class", "instance") else ()
    for op in graph.operations_on(channel.id):
        if op.through:
            continue  # a call of the owner's own method (``buffer.put(fut)``), not a direct use
        if not graph.is_inside_owner(channel, op.function, op.path) and graph.enclosing_class(op.function) not in bases:
            verb = "puts to" if op.direction == Direction.PUT else "gets from"
            where = graph.short_name(op.function, op.path) if op.function in graph.functions else "module code"
            uses.append(Location(op.path, op.call.span, f"{where} {verb} it directly (.{op.method}())"))
    return uses


def _uses_text(uses: tuple[Location, ...], outside: str) -> str:
    """What the message says of the outside uses: how many, and where the first one is."""
    first = uses[0]
    if len(uses) == 1:
        return f"1 place {outside} puts to or gets from it directly ({first.path}:{first.span.line})"
    return f"{len(uses)} places {outside} put to or get from it directly (first at {first.path}:{first.span.line})"


def _is_container(channel: Channel) -> bool:
    return any(binding.container for _, _, binding in channel.names)


def returned_channels(graph: EventGraph) -> Iterator[tuple[FunctionFact, Channel, str, Span]]:
    """(function, channel, returned name, return span) for the returns that can hand a
    channel to outside code: methods returning a channel, and module-level functions
    returning a channel global of their own module.  A nested function is reachable by no
    name from outside, and a function returning another module's channel or a local one
    exposes nothing that is not exposed already."""
    for returned in graph.channel_returns():
        fn, channel = returned.function, returned.channel
        if fn.owner_class is None:
            if fn.qualname.rpartition(".")[0] != returned.module:
                continue
            if channel.scope != "module" or channel.module != returned.module:
                continue
        yield fn, channel, returned.name, returned.span


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    for channel in graph.all_channels():
        if channel.scope == "local":
            continue
        related = tuple(outside_uses(graph, channel))
        for name, end, binding in channel.names:
            if not binding.public:
                continue
            what = f"{channel.constructor}" + (f" ({end} end)" if end and end != "both" else "")
            what = (f"holds raw {what} channels (a dict, list or set of them)" if binding.container
                    else f"is a raw {what}")
            it = "them" if binding.container else "it"
            if channel.scope == "module":
                listed = graph.module_all(channel.module)
                if listed is not None and name not in listed:
                    continue
                if related:
                    message = (f"module global `{name}` {what}; {_uses_text(related, 'in other modules')} — "
                               f"keep it private and expose functions instead")
                else:
                    message = (f"module global `{name}` {what}: the public name lets any importer put to or get "
                               f"from {it} directly; keep it private and expose functions instead")
                symbol = f"{channel.module}.{name}"
            else:
                owner = _owner_name(graph, channel)
                if related:
                    message = (f"public attribute `{owner}.{name}` {what}; {_uses_text(related, f'outside {owner}')} "
                               f"— make it private and expose methods instead")
                else:
                    message = (f"public attribute `{owner}.{name}` {what}: the public name lets any caller put to or "
                               f"get from {it} without going through {owner} — make it private and expose methods "
                               f"instead")
                symbol = f"{channel.owner}.{name}"
            yield Finding(CODE, NAME, message, channel.path, binding.span, symbol=symbol, related=related, fix=FIX)
    for handoff in deque_handoffs(graph):
        binding = handoff.binding
        adder, taker = (graph.short_name(fn, graph.path_of.get(fn, handoff.path)) for fn in (handoff.adder, handoff.taker))
        adder += f", run by {handoff.via}," if handoff.handler == handoff.adder else ""
        taker += f", run by {handoff.via}," if handoff.handler == handoff.taker else ""
        what = f"is a collections.deque used as a queue between threads or tasks ({adder} appends to it; {taker} takes from it)"
        if binding.scope == "module":
            listed = graph.module_all(binding.owner)
            if listed is not None and binding.name not in listed:
                continue
            message = (f"module global `{binding.name}` {what}: the public name lets any importer put to or take "
                       f"from it directly; keep it private and expose functions instead")
            symbol = f"{binding.owner}.{binding.name}"
        else:
            owner = binding.owner.rsplit(".", 1)[-1]
            message = (f"public attribute `{owner}.{binding.name}` {what}: the public name lets any caller put to "
                       f"or take from it without going through {owner} — make it private and expose methods instead")
            symbol = f"{graph.canonical(binding.owner)}.{binding.name}"
        yield Finding(CODE, NAME, message, handoff.path, binding.span, symbol=symbol, related=handoff.related)
    for handed in handed_in_channels(graph):
        owner = handed.owner.rsplit(".", 1)[-1]
        kinds = " or ".join(sorted({channel.constructor + (" end" if channel.api.ends else "")
                                    for channel in handed.channels}))
        first = handed.related[0]
        message = (f"public attribute `{owner}.{handed.binding.name}` holds the raw {kinds} its callers create and hand "
                   f"to the constructor (first at {first.path}:{first.span.line}): the public name lets any caller put "
                   f"to or get from it without going through {owner} — make it private and expose methods instead")
        yield Finding(CODE, NAME, message, handed.path, handed.binding.span,
                      symbol=f"{graph.canonical(handed.owner)}.{handed.binding.name}", related=handed.related)
    for method, channel, attr, span in returned_channels(graph):
        if not method.public or is_public_name(attr) or channel.scope == "local":
            continue
        short = method.qualname.rsplit(".", 1)[-1]
        related = tuple(outside_uses(graph, channel))
        handed = (f"one of the private raw {channel.constructor} channels kept in `{attr}`" if _is_container(channel)
                  else f"the private raw {channel.constructor} `{attr}`")
        if method.owner_class is None:  # a module function handing out a private global
            listed = graph.module_all(channel.module)
            if listed is not None and short not in listed:
                continue
            message = f"public function `{short}` returns {handed}, handing callers the channel itself"
            if related:
                message += f"; {_uses_text(related, 'in other modules')}"
        else:
            owner = method.owner_class.rsplit(".", 1)[-1]
            kind = "property" if method.is_property else "method"
            message = f"public {kind} `{owner}.{short}` returns {handed}, handing callers the channel itself"
            if related:
                message += f"; {_uses_text(related, f'outside {owner}')}"
        yield Finding(CODE, NAME, message, graph.path_of[method.qualname], span, symbol=method.qualname,
                      related=related, fix=FIX)


def fix_plan(graph: EventGraph, finding: Finding) -> PrivatizeChannel | ReplaceAccessor | NotFixable:
    """What ``privatize-queues`` does for one of this rule's findings: the channel and the
    public name (an attribute or global, or the accessor handing it out) it reported."""
    for channel in graph.all_channels():
        if channel.path != finding.path:
            continue
        for name, _end, binding in channel.names:
            if binding.span == finding.span and finding.symbol.endswith("." + name):
                if _is_container(channel):
                    return NotFixable("the channels are kept in a dict, list or set: rename the container by hand")
                return PrivatizeChannel(channel.id, name, binding.span)
    for method, channel, attr, span in returned_channels(graph):
        if method.qualname == finding.symbol and span == finding.span:
            if _is_container(channel):
                return NotFixable("the accessor hands out one of the channels kept in a dict, list or set: "
                                  "replace it by hand")
            return ReplaceAccessor(channel.id, method.qualname, attr)
    return NotFixable("the channel was not found in the analysis")


def migration_plan(graph: EventGraph, finding: Finding) -> MigrateChannel | NotFixable:
    """What ``migrate-to-bus`` does for one of this rule's findings: the channel it is about
    (named by the finding's symbol, handed out by the accessor it names, or bound on its line)."""
    channel = graph.channels.get(finding.symbol)
    if channel is None:
        channel = {found.function.qualname: found.channel for found in graph.channel_returns()}.get(finding.symbol)
    if channel is None:
        channel = next((c for c in graph.channels.values() if c.path == finding.path and any(
            b.span.line == finding.span.line for _, _, b in c.names)), None)
    if channel is not None and _is_container(channel):
        return NotFixable("the channels are kept in a dict, list or set: one bus topic per channel is a design choice")
    return MigrateChannel(channel.id) if channel is not None else NotFixable("no channel found for this finding")


RULE = Rule(CODE, NAME, "A raw queue or channel is reachable from outside its owner through a public name.",
            Fixable.UNSAFE, check)
