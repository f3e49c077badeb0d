"""Calls whose result is another expression's, as the facts pass reads them: awaited
``asyncio.wait_for(aw, timeout)`` gives ``aw``'s result, ``maybeDeferred(f, *args)`` and
``to_thread(f, *args)`` give ``f``'s (a mixin of the facts pass's extractor, which
provides ``ref``).
"""

from __future__ import annotations

import libcst as cst

from .model import Ref, dotted

# calls that give what their first argument gives: awaited, the first four; the last two
# are what they wrap (``Queue = staticmethod(multiprocessing.Queue)`` … ``self.Queue()``)
_PASS_THROUGH_APIS = frozenset({"asyncio.wait_for", "asyncio.shield", "asyncio.tasks.wait_for", "asyncio.tasks.shield",
                                "builtins.staticmethod", "builtins.classmethod"})
_PASS_THROUGH = frozenset(api.rsplit(".", 1)[1] for api in _PASS_THROUGH_APIS)
# calls that run the function they are given with the other arguments and give (a Deferred
# or an awaitable of) its result: ``yield maybeDeferred(f, a)``, ``await to_thread(f, a)``
_RUNS_APIS = frozenset({
    "twisted.internet.defer.maybeDeferred", "twisted.internet.threads.deferToThread",
    "asyncio.to_thread", "asyncio.threads.to_thread", "anyio.to_thread.run_sync", "trio.to_thread.run_sync",
})
_RUNS = frozenset(api.rsplit(".", 1)[1] for api in _RUNS_APIS)


class PassThroughReader:
    def ref(self, node: cst.BaseExpression | None) -> Ref | None:
        raise NotImplementedError

    def run_function(self, call: cst.Call) -> cst.BaseExpression | None:
        """The function ``call`` runs when it is ``maybeDeferred(f, ...)``, ``to_thread(f, ...)``
        and the like (its result is ``f``'s), else None."""
        func = call.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if name not in _RUNS or not call.args or call.args[0].keyword is not None or call.args[0].star:
            return None
        if dotted(self.ref(func)) not in _RUNS_APIS:
            return None
        return call.args[0].value

    def unwrap(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """``asyncio.wait_for(aw, timeout)`` and ``asyncio.shield(aw)`` → ``aw``: awaited,
        they give ``aw``'s result (``reader, writer = await wait_for(open_connection(...), 5)``)."""
        while isinstance(node, cst.Call) and node.args and node.args[0].keyword is None and not node.args[0].star:
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            if name not in _PASS_THROUGH or dotted(self.ref(func)) not in _PASS_THROUGH_APIS:
                break
            node = node.args[0].value
        return node
