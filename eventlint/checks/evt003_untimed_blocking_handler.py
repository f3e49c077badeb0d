"""EVT003: a handler reaches, through any chain of calls, a blocking call with no timeout."""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding, Fix, Location
from . import Rule

CODE = "EVT003"
NAME = "untimed-blocking-handler"


def _short(graph: EventGraph, qualname: str) -> str:
    return graph.short_name(qualname, graph.path_of.get(qualname, ""))


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    best: dict[tuple[str, int, int], tuple] = {}
    for handler in graph.handlers(config.max_default_timeout):
        for reach in graph.call_paths(handler, config.max_default_timeout):
            call = reach.blocking.call
            key = (reach.blocking.path, call.span.line, call.span.column)
            rank = (len(reach.path), handler.id)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, reach)
    for key in sorted(best):
        _, reach = best[key]
        blocking, handler = reach.blocking, reach.handler
        name = _short(graph, handler.function)
        if handler.loop is not None:
            name = f"the consumer loop in {name}"
        chain = " → ".join(_short(graph, function) for function, _, _ in reach.path)
        what = f"`{blocking.api}()` {blocking.reason}"
        if blocking.stalls_loop and "stalls" not in blocking.reason:
            what += " and stalls the event loop"
        message = f"{what}; it runs in handler {name} ({handler.via})"
        if len(reach.path) > 1:
            message += f" via {chain}"
        related = [Location(handler.registration.path, handler.registration.span,
                            f"{name} registered here ({handler.via})")]
        for function, call, path in reach.path[1:]:
            related.append(Location(path, call.span, f"calls {_short(graph, function)}"))
        fix = None
        if blocking.fix:
            timeout = config.default_timeout
            if blocking.constructor_timeout is not None:
                description = (f"pass {blocking.constructor_timeout.keyword or 'timeout'}={timeout:g} where the client "
                               f"is created (line {blocking.constructor.span.line})")
            elif blocking.timeout is None:
                description = f"wrap in asyncio.wait_for(..., timeout={timeout:g})"
            else:
                description = f"pass {blocking.timeout.keyword or 'timeout'}={timeout:g}"
            fix = Fix(blocking.fix, description + (f" ({blocking.fix_reason})" if blocking.fix_reason else ""))
        caller = reach.path[-1][0]
        yield Finding(CODE, NAME, message, blocking.path, blocking.call.span, symbol=caller, related=tuple(related), fix=fix)


RULE = Rule(CODE, NAME, "A handler performs, directly or through the functions it calls, a blocking call with no timeout.",
            "sometimes", check)
