"""Which process a function can run in: EVT003's reading of a guard on instance state set
only in child processes.

``if self._final_q: return current_worker.worker_queue.get()`` runs only once something
has set ``_final_q``.  A child process (a ``multiprocessing.Process`` target or ``run``
override) has its own copy of every object: what it assigns never reaches the parent.  So
when every assignment of a value to the attribute (other than ``None``) is made by code that
runs only in child processes (each of its chains of callers starts at a process entry), and
the handler runs in the parent (neither it nor the code registering it is reachable from a
process entry), the guarded call never runs on the handler's path.

Calls the analysis does not resolve are counted against this: a call of a method of the
same name whose receiver is not known may be a call of the assigning method, and an
assignment to the attribute through another object (``display._final_q = q``) may be on
any path.
"""

from __future__ import annotations

import bisect
from collections import deque

from ...callgraph import CallGraph, Handler
from ...model import BindingScope, Location

_NONE = ("G:builtins.None",)
_MAX_CALLERS = 2000  # functions visited walking callers up; beyond it the answer is "not known"


class ProcessRoles:
    def __init__(self, calls: CallGraph):
        self.calls = calls
        self.graph = calls.graph
        self._entries: set[str] | None = None
        self._in_children: set[str] | None = None
        self._child_only: dict[str, bool] = {}
        self._unset: dict[tuple[str, str], bool] = {}
        self._bindings: dict[str, list] | None = None
        self._handlers: set[str] | None = None
        self._defs: dict[str, list[tuple[int, str]]] | None = None

    def entries(self) -> set[str]:
        """The functions run as a child process's body."""
        if self._entries is None:
            self._entries = {h.function for h in self.calls.handlers()
                             if h.own_flow and h.loop is None and "Process" in h.via}
        return self._entries

    def in_children(self) -> set[str]:
        """Every function reachable from a process entry through resolved calls."""
        if self._in_children is None:
            seen = set(self.entries())
            todo = deque(seen)
            while todo:
                function = todo.popleft()
                for call in self.calls.calls_in.get(function, ()):
                    for callee in self.calls.callees(call):
                        if callee not in seen:
                            seen.add(callee)
                            todo.append(callee)
            self._in_children = seen
        return self._in_children

    def runs_in_parent(self, handler: Handler) -> bool:
        """The handler, and the code registering it, is reachable from no process entry."""
        children = self.in_children()
        if handler.function in children:
            return False
        registering = self._enclosing(handler.registration)
        return registering is not None and registering not in children

    def unset_in_parent(self, method: str, attr: str) -> bool:
        """Every assignment of a value to ``attr`` on instances of ``method``'s class is made
        by code that runs only in child processes."""
        fn = self.graph.functions.get(method)
        if fn is None or fn.owner_class is None:
            return False
        key = (fn.owner_class, attr)
        known = self._unset.get(key)
        if known is None:
            known = self._unset[key] = self._assigned_only_in_children(fn.owner_class, attr)
        return known

    def _assigned_only_in_children(self, cls: str, attr: str) -> bool:
        if self._bindings is None:
            self._bindings = {}
            for facts in self.graph.files:
                for binding in facts.bindings:
                    self._bindings.setdefault(binding.name, []).append((facts.path, binding))
        related = set(self.graph.mro(cls))
        for path, binding in self._bindings.get(attr, ()):
            if binding.scope == BindingScope.CALLBACK:
                return False  # ``obj.attr = value`` on an object not known
            if binding.scope not in (BindingScope.INSTANCE, BindingScope.CLASS):
                continue
            if binding.owner not in related and cls not in self.graph.mro(binding.owner):
                continue
            if binding.value == _NONE:
                continue
            if binding.scope == BindingScope.CLASS:
                return False
            assigning = self._enclosing(Location(path, binding.span, ""))
            if assigning is None or not self._only_in_children(assigning):
                return False
        return True

    def _only_in_children(self, function: str) -> bool:
        """Every chain of callers of ``function`` starts at a process entry."""
        known = self._child_only.get(function)
        if known is not None:
            return known
        entries = self.entries()
        answer = True
        seen = {function}
        todo = deque([function])
        while todo and answer:
            current = todo.popleft()
            if current in entries:
                continue
            callers = self._callers(current)
            if callers is None or not callers or len(seen) > _MAX_CALLERS:
                answer = False  # called from where the analysis can't see, or from nowhere it knows
                break
            for caller in callers:
                if caller not in seen:
                    seen.add(caller)
                    todo.append(caller)
        self._child_only[function] = answer
        return answer

    def _callers(self, function: str) -> list[str] | None:
        """The functions calling ``function``; None when a call of a function of that name
        is not resolved (it may be this one), or the function is also a handler."""
        if self._handlers is None:
            self._handlers = {h.function for h in self.calls.handlers()}
        if function in self._handlers:
            return None
        name = function.rsplit(".", 1)[-1]
        found = []
        for call in self.graph.calls_named(name):
            callees = self.calls.callees(call)
            if not callees and len(call.callee) > 1:
                return None
            if function in callees:
                found.append(call.caller)
        return found

    def _enclosing(self, where: Location) -> str | None:
        """The innermost function of the file defined above ``where`` (by its ``def`` line):
        the function a statement of a method belongs to, when the methods are laid out in
        order and the statement is not at class level."""
        if self._defs is None:
            self._defs = {}
            for fn in self.graph.functions.values():
                self._defs.setdefault(self.graph.path_of.get(fn.qualname, ""), []).append((fn.span.line, fn.qualname))
            for defs in self._defs.values():
                defs.sort()
        defs = self._defs.get(where.path, [])
        at = bisect.bisect_right(defs, (where.span.line, "\uffff"))
        return defs[at - 1][1] if at else None
