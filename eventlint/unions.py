"""Goals about names that hold one of several channels (a mixin of
``eventlint.resolution.Resolver``).

Resolution answers with one value: a parameter that callers fill with two different
channels (a pipe's end here, a ``Client`` connection there) resolves to none of them.  For
code that runs on whichever instance it is given (``self.conn.recv()`` in a method of a
class its callers hand several channels to), the sound answer is each of them: an operation
through that name is an operation on every channel the callers pass.  These goals answer
that set, only where the one-value answer is unknown; a receiver whose construction is
known keeps the one channel its construction gives (``eventlint.instances``).
"""

from __future__ import annotations

from .model import CallFact, FunctionFact, ParamKind, Ref
from .values import CHANNEL_KINDS, Value

# parameters handed on (``Sub(conn)`` -> ``Base.__init__(self, *args)`` -> ...) followed from a name
_MAX_HANDED = 4


class UnionGoals:
    """Evaluators of the resolver's goal ``("union", ref)``; ``Resolver`` provides
    ``functions``, ``canonical``, ``_follow``, ``_callers``, ``_constructs``,
    ``_constructor_param``, ``_argument_position``, ``_argument_ref`` and ``_argument_value``."""

    def channel_union(self, ref: Ref) -> frozenset[Value]:
        """The channels ``ref`` may hold when its callers fill it with more than one (each
        followed by the rest of ``ref``: ``self.conn.recv()`` gives an item of each); empty
        when it holds one or none.  Ask only where ``resolve`` knows no value."""
        if not ref:
            return frozenset()
        return self._solve(("union", ref))

    def _eval_union(self, goal):
        ref = goal[1]
        tag, _, spec = ref[0].partition(":")
        within = None
        if tag == "I" and len(ref) > 1 and ref[1][:1] == ".":
            # ``self.conn`` bound by a constructor in the class's hierarchy from its parameter
            within = self.canonical(spec)
            found = yield from self._constructor_param(within, ref[1][1:])
            rest = ref[2:]
        elif tag == "P":
            function, _, name = spec.rpartition(":")
            fn = self.functions.get(function)
            index = next((i for i, param in enumerate(fn.params) if param.name == name), None) if fn else None
            found = (fn, index, name) if index is not None else None
            rest = ref[1:]
        else:
            return frozenset()
        if found is None:
            return frozenset()
        values = set()
        for option in (yield from self._passed_channels(*found, within, 0)):
            value = yield from self._follow(option, rest)
            if value is not None:
                values.add(value)
        return frozenset(values) if len({value.name for value in values}) > 1 else frozenset()

    def _passed_channels(self, fn: FunctionFact, index: int, name: str, within: str | None, depth: int):
        """The channels the project's callers pass for ``fn``'s parameter (with ``within``,
        the callers constructing that class or a subclass), also through parameters the
        callers have themselves, named or ``*args``."""
        channels: set[Value] = set()
        for call in (yield from self._callers(fn)) or ():
            if within is not None and not (yield from self._constructs(call, fn, within)):
                continue
            arg = yield from self._argument_ref(fn, index, name, call)
            if arg:
                value = yield ("ref", arg)
                if value is not None and value.kind in CHANNEL_KINDS:
                    channels.add(Value(value.kind, value.name, value.end))
                elif value is None:
                    channels.update((yield ("union", arg)))
                continue
            handed = yield from self._handed_on(fn, index, call)
            if handed is not None and depth < _MAX_HANDED:
                # ``RemoteEventHandler.__init__(self, *args, **kwds)`` in a subclass's constructor:
                # what the subclass's callers pass at that position of its ``*args``
                channels.update((yield from self._passed_channels(*handed, None, depth + 1)))
        return channels

    def _eval_handed(self, goal):
        """The one value the callers of the function ``goal[1]`` pass at the position of its
        parameter ``goal[2]`` (an element of its ``*args``, handed on)."""
        fn = self.functions[goal[1]]
        return (yield from self._argument_value(fn, goal[2], ""))

    def _handed_on(self, fn: FunctionFact, index: int, call: CallFact):
        """When ``call`` passes the caller's own ``*args`` on to ``fn`` and ``fn``'s parameter
        ``index`` falls inside them: (the caller, the index of the caller's parameter its
        callers fill at that position, a name for it); else None."""
        caller = self.functions.get(call.caller)
        if caller is None or not call.star_args:
            return None
        position, varargs = call.star_args[0]
        own = next((i for i, param in enumerate(caller.params) if param.name == varargs and param.kind == ParamKind.STAR),
                   None)
        if own is None:
            return None
        offset = (yield from self._argument_position(fn, index, call)) - position
        if offset < 0:
            return None
        # ``def __init__(self, conn, *args)`` called as ``Sub(a, b, c)``: ``args[0]`` is ``c``,
        # the argument its callers pass where the parameter after ``conn`` would be
        return caller, own + offset, f"*{varargs}[{offset}]"
