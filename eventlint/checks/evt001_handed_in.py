"""EVT001's reading of a channel handed to a constructor: the object that keeps it owns it.

``self.conn = connection`` stores whatever the callers pass.  When the callers create the
channel themselves and hand it over (``a, b = Pipe()`` then ``Handler(b)``, or
``Base.__init__(self, b)`` in a subclass), nothing but the new object holds it: the object
is its owner, and a public attribute exposes it as surely as ``self.conn = Pipe()[0]``
would.  A channel the caller keeps in an attribute of its own stays the caller's (the
object only shares it: the caller's name is the one judged), and so may one whose value is
not known (``tx, rx = self.queues[qid]``): either keeps the attribute from being reported.
Other outside objects a caller passes (a socket, a ``multiprocessing.connection.Client``)
neither add nor remove evidence; a subclass forwarding ``*args`` passes none of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..graph import Channel, EventGraph, ValueKind
from ..model import Binding, BindingScope, Location


@dataclass(frozen=True, slots=True)
class HandedIn:
    """A public attribute bound to a constructor parameter its callers fill with channels
    they created for it."""

    binding: Binding
    path: str
    owner: str  # the class whose constructor stores it
    channels: tuple[Channel, ...]  # the channels the callers create and pass, in file order
    related: tuple[Location, ...]  # where each is created


def handed_in_channels(graph: EventGraph) -> Iterator[HandedIn]:
    for facts in graph.files:
        for binding in facts.bindings:
            value = binding.value
            if (binding.scope != BindingScope.INSTANCE or not binding.public or binding.container
                    or len(value) != 1 or not value[0].startswith("P:")):
                continue
            function, _, param = value[0][2:].rpartition(":")
            fn = graph.functions.get(function)
            if fn is None or fn.owner_class is None or not function.endswith(".__init__"):
                continue
            index = next((i for i, p in enumerate(fn.params) if p.name == param), None)
            if index is None:
                continue
            found: dict[str, Channel] = {}
            for given, passed in graph.resolver.argument_values(fn, index, param):
                if not given:
                    continue  # a subclass forwarding its own arguments (``*args``)
                if passed is None:
                    found = {}
                    break  # a value not known may be a channel its caller keeps
                if passed.kind != ValueKind.CHANNEL:
                    continue  # another outside object (a socket, a connection): no channel of the caller's
                channel = graph.channels.get(passed.name)
                if channel is None or channel.scope != BindingScope.LOCAL:
                    found = {}
                    break  # a channel its caller keeps: the caller's name is the one judged
                found.setdefault(channel.id, channel)
            if not found:
                continue
            channels = tuple(sorted(found.values(), key=lambda c: (c.path, c.span.line)))
            owner = fn.owner_class.rsplit(".", 1)[-1]
            related = tuple(Location(c.path, c.span, f"{graph.short_name(c.owner, c.path)} creates it and hands it to "
                                                     f"{owner}") for c in channels)
            yield HandedIn(binding, facts.path, fn.owner_class, channels, related)
