"""EVT002: one untyped channel carries two or more distinct event kinds."""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding, Fix
from . import Rule

CODE = "EVT002"
NAME = "mixed-type-channel"
_MAX_RELATED = 12
FIX = Fix("unsafe", "migrate-to-bus: move the channel to eventlint.bus with one typed subscription per kind")


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    for channel in graph.all_channels():
        if channel.element_type is not None:
            continue
        evidence = graph.payload_kinds(channel.id) + graph.dispatch_kinds(channel.id)
        kinds = sorted({kind for kind, _ in evidence})
        if len(kinds) < 2:
            continue
        related, seen = [], set()
        for kind, location in sorted(evidence, key=lambda e: (e[1].path, e[1].span.line, e[1].span.column)):
            key = (kind, location.path, location.span.line)
            if key not in seen and len(related) < _MAX_RELATED:
                seen.add(key)
                related.append(location)
        heuristic = any(op.heuristic for op in graph.operations_on(channel.id))
        message = (f"channel {channel.display} carries {len(kinds)} event kinds: {', '.join(kinds)}; "
                   f"declare its element type or give each kind its own typed channel")
        if heuristic:
            message += " (some uses were matched to this channel by its unique attribute name)"
        yield Finding(CODE, NAME, message, channel.path, channel.span, symbol=channel.id, related=tuple(related),
                      fix=FIX)


RULE = Rule(CODE, NAME, "One untyped channel carries unrelated event kinds and consumers dispatch on type or tag.",
            "unsafe", check)
