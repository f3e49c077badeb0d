"""EVT001's reading of ``collections.deque``: a public deque is a raw queue only when it is
the hand-off between two flows of control.

A deque is a container; appending and popping it from code that runs in one thread or task
is ordinary bookkeeping (a rolling window, an undo stack).  It becomes a queue in all but
name when one function appends to it and *another* function takes from it (``popleft`` or
``pop``), and one of the two runs as a handler, thread or task (``Thread(target=...)``, a
``run`` override, a task, a green thread): items then cross from one flow of control
to another through the public name, exactly as with ``queue.Queue`` — without its locking.

Only a registration that starts a flow of control of its own counts (the catalogue's
``own-flow``: a thread, task, process or green thread).  A registered callback runs in whichever
flow dispatches its events: a callback the event loop runs (``call_soon``, ``call_later``, a
future's done callback) runs to its end in the loop's own thread, between the steps of the code
that appends; a message callback (``consumer.register_callback(self._receive)``) runs in the
thread that drains the consumer, which may well be the taker itself (``get()`` drains the
connection until the callback has filled the buffer).  Which flow dispatches is not seen, so a
callback on one side is no evidence that the items cross to another thread or task.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

from ..callgraph import call_graph
from ..graph import EventGraph, ValueKind
from ..model import Binding, BindingScope, Location

_DEQUE = "collections.deque()"
_ADD = frozenset({"append", "appendleft", "extend", "extendleft"})
_TAKE = frozenset({"popleft", "pop"})
_SCOPES = (BindingScope.MODULE, BindingScope.CLASS, BindingScope.INSTANCE)


@dataclass(frozen=True, slots=True)
class Handoff:
    """A public deque that one function fills and another empties, one of them run as a
    thread or task of its own."""

    binding: Binding
    path: str
    adder: str  # qualname of a function that appends to it
    taker: str  # qualname of a function that takes from it
    handler: str  # which of the two runs as a thread or task of its own
    via: str  # how it is run ("threading.Thread target"...)
    related: tuple[Location, ...]  # the appends and takes


def _public_deques(graph: EventGraph) -> dict[int, tuple[Binding, str]]:
    """id(creating call) -> (binding, path) for each public global or attribute bound to a
    new deque."""
    found = {}
    for facts in graph.files:
        for binding in facts.bindings:
            value = binding.value
            if (binding.scope not in _SCOPES or not binding.public or binding.call is None or binding.container
                    or value[-1] != "()" or not value[-2].endswith("deque")):
                continue
            resolved = graph.binding_value(binding)
            if resolved is not None and resolved.kind == ValueKind.API and resolved.name == _DEQUE:
                found[id(binding.call)] = (binding, facts.path)
    return found


def deque_handoffs(graph: EventGraph) -> Iterator[Handoff]:
    deques = _public_deques(graph)
    if not deques:
        return
    names = {binding.name for binding, _ in deques.values()}
    adds: dict[int, list[tuple[str, Location]]] = defaultdict(list)
    takes: dict[int, list[tuple[str, Location]]] = defaultdict(list)
    for facts in graph.files:
        for call in facts.calls:
            callee = call.callee
            method = callee[-1][1:] if len(callee) > 1 and callee[-1].startswith(".") else ""
            if method not in _ADD and method not in _TAKE:
                continue
            receiver = callee[:-1]
            if receiver[-1].lstrip(".").rpartition(".")[2].rpartition(":")[2] not in names:
                continue
            value = graph.resolve(receiver)
            if value is None or value.kind != ValueKind.API or value.origin is None or id(value.origin) not in deques:
                continue
            where = graph.short_name(call.caller, facts.path)
            verb = "appends to" if method in _ADD else "takes from"
            site = (call.caller, Location(facts.path, call.span, f"{where} {verb} it (.{method}())"))
            (adds if method in _ADD else takes)[id(value.origin)].append(site)
    handlers = {}
    for handler in call_graph(graph).handlers():
        if handler.own_flow:
            handlers.setdefault(handler.function, handler.via)
    for key, (binding, path) in deques.items():
        pair = next(((adder, taker, run) for adder, _ in adds.get(key, ()) for taker, _ in takes.get(key, ())
                     if adder != taker for run in (taker, adder) if run in handlers), None)
        if pair is None:
            continue
        adder, taker, run = pair
        related = tuple(location for _, location in sorted(adds[key] + takes[key],
                                                           key=lambda s: (s[1].path, s[1].span.line)))
        yield Handoff(binding, path, adder, taker, run, handlers[run], related)
