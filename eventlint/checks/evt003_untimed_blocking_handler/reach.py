"""The call paths from a handler to the blocking calls it reaches with no deadline on the
way: breadth first, so each blocking call comes with its shortest path."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ...callgraph import CallGraph, Handler
from ...catalog import WaitRole
from ...model import GUARD_FALSE as FALSE, GUARD_NONE as NONE, GUARD_SET as SET, GUARD_TRUE as TRUE
from ...model import CallFact, ParamKind, dotted
from .blocking import BlockingCall, Classifier
from .roles import ProcessRoles

# what an argument's literal text says of its value: None, falsy (not None) or truthy
_LITERALS = {"None": NONE, "False": FALSE, "True": TRUE, "0": FALSE, "0.0": FALSE, "''": FALSE, '""': FALSE}
# the values a guard's state allows (a value not known allows every state)
_ALLOWS = {NONE: (NONE,), SET: (FALSE, TRUE), TRUE: (TRUE,), FALSE: (NONE, FALSE)}
# a function's state on a path: the known values of the parameters its calls are guarded by
Context = tuple[tuple[str, str], ...]


def _literal(text: str | None) -> str | None:
    if text is None or text == "?":
        return None
    if text in _LITERALS:
        return _LITERALS[text]
    return TRUE  # a non-empty string or a non-zero number


def _is_timeout(param: str) -> bool:
    return "timeout" in param.lower()


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
        self._guarded_params: dict[str, frozenset[str]] = {}
        self.roles = ProcessRoles(calls)

    def edge_timed(self, call: CallFact, callee: str) -> bool:
        scope = self.classifier.scope(call)
        if scope == "sync":
            return True
        fn = self.graph.functions.get(callee)
        # an async scope bounds an awaited coroutine, and everything it awaits
        return scope == "async" and call.awaited and fn is not None and fn.is_async

    def reach(self, handler: Handler) -> list[Reach]:
        """Blocking calls reachable from the handler along paths with no deadline, each
        with the shortest call path (breadth first).  A function is visited once per set
        of known values of the parameters its calls are guarded by (``if try_hard:``), so
        a call its callers' arguments rule out is not reached through them."""
        results = []
        start = (handler.function, ())
        parents: dict[tuple[str, Context], tuple[tuple[str, Context] | None, CallFact | None]] = {start: (None, None)}
        # functions reached through a loop's input call (``item = self.jobs.get()`` on a
        # project's own queue class): the waits for input inside them are the loop's input
        taking: set[tuple[str, Context]] = set()
        queue = deque()
        first = True
        queue.append(start)
        while queue:
            state = queue.popleft()
            function, context = state
            calls = self.calls.start_calls(handler) if first else self.calls.calls_in.get(function, [])
            first = False
            fn = self.graph.functions.get(function)
            in_async = bool(fn and fn.is_async)
            known = dict(context)
            for call in calls:
                if call.guards and not self._runs(call, known, handler):
                    continue  # the enclosing test rules it out for these arguments
                blocking = self.classifier.blocking(call, in_async)
                if blocking is not None and not (state in taking and blocking.role == WaitRole.INPUT):
                    results.append(Reach(handler, blocking, self._path(parents, state)))
                if self.classifier.catalogued(call):
                    continue  # a catalogued operation is judged by its entry, not by its implementation
                input_edge = state in taking or self.calls.loop_input(call)
                for callee in self.calls.callees(call):
                    if self.edge_timed(call, callee):
                        continue
                    entered = (callee, self._arguments(call, callee))
                    if entered in parents:
                        continue
                    parents[entered] = (state, call)
                    if input_edge:
                        taking.add(entered)
                    queue.append(entered)
        return results

    def _runs(self, call: CallFact, known: dict[str, str], handler) -> bool:
        """Whether the call's guards allow the known values of its function's parameters.
        A timeout parameter left to the caller (its value not known here) is the caller's
        choice: the branch that waits when it is None is that API's untimed mode, which the
        caller asked for, not a wait the function adds (``get(timeout=None)``).  A guard
        asking that an attribute of ``self`` be set (``if self._final_q:``) rules the call
        out when only child processes ever set it and the handler runs in the parent."""
        for param, state in call.guards:
            if "." in param:
                if state in (TRUE, SET) and self._set_only_elsewhere(call.caller, param, handler):
                    return False
                continue
            value = known.get(param)
            if not value:
                if state == NONE and _is_timeout(param):
                    return False
                continue
            if value not in _ALLOWS[state]:
                return False
        return True

    def _set_only_elsewhere(self, function: str, subject: str, handler) -> bool:
        owner, _, attr = subject.partition(".")
        fn = self.graph.functions.get(function)
        if fn is None or fn.owner_class is None or not fn.params or fn.params[0].name != owner or "." in attr:
            return False
        if any((dotted(d) or "").rpartition(".")[2] in ("staticmethod", "classmethod") for d in fn.decorators):
            return False
        return self.roles.unset_in_parent(function, attr) and self.roles.runs_in_parent(handler)

    def _guarded(self, function: str) -> frozenset[str]:
        found = self._guarded_params.get(function)
        if found is None:
            found = self._guarded_params[function] = frozenset(
                param for call in self.calls.calls_in.get(function, ()) for param, _ in call.guards)
        return found

    def _arguments(self, call: CallFact, callee: str) -> Context:
        """The values the call gives the callee's guarded parameters: a literal argument,
        or the default of one it leaves out; ``("p", "")`` for a value not known."""
        guarded = self._guarded(callee)
        fn = self.graph.functions.get(callee) if guarded else None
        if fn is None:
            return ()
        method = fn.owner_class is not None and not any(
            (dotted(d) or "").rpartition(".")[2] == "staticmethod" for d in fn.decorators)
        positional = [p for p in fn.params if p.kind == ParamKind.POSITIONAL][1 if method else 0:]
        given = dict(zip((p.name for p in positional), call.arg_texts))
        given.update(call.keyword_texts)
        values = []
        for param in fn.params:
            if param.name not in guarded:
                continue
            if param.name in given:
                value = _literal(given[param.name])
            elif call.has_star or param.kind not in (ParamKind.POSITIONAL, ParamKind.KEYWORD):
                value = None
            else:
                value = _literal(param.default)
            values.append((param.name, value or ""))
        return tuple(values)

    def _path(self, parents, state) -> tuple:
        chain = []
        current = state
        while current is not None:
            parent, call = parents[current]
            chain.append((current[0], call, self.calls.call_path(call) if call is not None else ""))
            current = parent
        return tuple(reversed(chain))
