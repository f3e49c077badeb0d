"""The call paths from a handler to the blocking calls it reaches with no deadline on the
way: breadth first, so each blocking call comes with its shortest path."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ...callgraph import CallGraph, Handler
from ...catalog import WaitRole
from ...model import CallFact
from .blocking import BlockingCall, Classifier


@dataclass(frozen=True, slots=True)
class Reach:
    handler: Handler
    blocking: BlockingCall
    path: tuple[tuple[str, CallFact | None, str], ...]  # (function, call site into it, file)


class Paths:
    """Reachability under EVT003's view of deadlines: a timeout scope bounds the calls
    made inside it; a catalogued operation is judged by its catalogue entry, not by its
    implementation (the standard library's own ``Queue.get`` when it is analysed)."""

    def __init__(self, calls: CallGraph, classifier: Classifier):
        self.calls = calls
        self.graph = calls.graph
        self.classifier = classifier

    def edge_timed(self, call: CallFact, callee: str) -> bool:
        scope = self.classifier.scope(call)
        if scope == "sync":
            return True
        fn = self.graph.functions.get(callee)
        # an async scope bounds an awaited coroutine, and everything it awaits
        return scope == "async" and call.awaited and fn is not None and fn.is_async

    def reach(self, handler: Handler) -> list[Reach]:
        """Blocking calls reachable from the handler along paths with no deadline, each
        with the shortest call path (breadth first)."""
        results = []
        parents: dict[str, tuple[str | None, CallFact | None]] = {handler.function: (None, None)}
        # functions reached through a loop's input call (``item = self.jobs.get()`` on a
        # project's own queue class): the waits for input inside them are the loop's input
        taking: set[str] = set()
        queue = deque()
        first = True
        queue.append(handler.function)
        while queue:
            function = queue.popleft()
            calls = self.calls.start_calls(handler) if first else self.calls.calls_in.get(function, [])
            first = False
            fn = self.graph.functions.get(function)
            in_async = bool(fn and fn.is_async)
            for call in calls:
                blocking = self.classifier.blocking(call, in_async)
                if blocking is not None and not (function in taking and blocking.role == WaitRole.INPUT):
                    results.append(Reach(handler, blocking, self._path(parents, function)))
                if self.classifier.catalogued(call):
                    continue  # a catalogued operation is judged by its entry, not by its implementation
                input_edge = function in taking or self.calls.loop_input(call)
                for callee in self.calls.callees(call):
                    if callee in parents or self.edge_timed(call, callee):
                        continue
                    parents[callee] = (function, call)
                    if input_edge:
                        taking.add(callee)
                    queue.append(callee)
        return results

    def _path(self, parents, function: str) -> tuple:
        chain = []
        current = function
        while current is not None:
            parent, call = parents[current]
            chain.append((current, call, self.calls.call_path[id(call)] if call is not None else ""))
            current = parent
        return tuple(reversed(chain))
