"""Goals about the instances of project classes (a mixin of ``eventlint.resolution.Resolver``):
what an attribute a constructor binds from its parameter holds for the instances of one
class of a hierarchy, whose constructions fill it differently from its base class's."""

from __future__ import annotations

from collections import defaultdict

from .model import CallFact, FunctionFact, ReturnFact
from .values import Value, ValueKind


class InstanceGoals:
    """Evaluators of the resolver's goals about instances; ``Resolver`` provides
    ``files``, ``functions``, ``class_bindings``, ``returns_of``, ``returned_elements``, ``_follow``, ``_argument_ref``
    and ``_argument_value``."""

    _calls_by_caller: dict[str, list[CallFact]] | None = None

    def calls_by_caller(self) -> dict[str, list[CallFact]]:
        """The calls made in the body of each function, by the function's qualname."""
        if self._calls_by_caller is None:
            self._calls_by_caller = defaultdict(list)
            for facts in self.files:
                for call in facts.calls:
                    self._calls_by_caller[call.caller].append(call)
        return self._calls_by_caller

    def calls_in(self, function: str) -> list[CallFact]:
        """The calls made in the body of ``function``."""
        return self.calls_by_caller().get(function, [])

    def element_call(self, ret: ReturnFact) -> CallFact | None:
        """The call that makes an element of a returned tuple (``return (Channel(r, w), ...)``)."""
        span = ret.span
        calls = [call for call in self.calls_in(ret.function) if call.callee == ret.value[:-1]
                 and (span.line, span.column) <= (call.span.line, call.span.column)
                 and (call.span.end_line, call.span.end_column) <= (span.end_line, span.end_column)]
        # the n-th element built by this callee in the statement is its n-th call there
        alike = [position for position in range(ret.position)
                 if any(other.span == span and other.value == ret.value
                        for other in self.returned_elements.get((ret.function, position), ()))]
        calls.sort(key=lambda call: (call.span.line, call.span.column))
        return calls[len(alike)] if len(alike) < len(calls) else None

    def _eval_made(self, goal):
        """The attribute of the instances of a class (and of its subclasses) that a constructor
        in its hierarchy binds from a parameter (``self.writer = writer``), as the
        constructions of that class fill it: ``WorkerChannel(read0, write1)`` passing its ends
        on through ``super().__init__(reader, writer)``, while ``Channel(read1, write0)`` fills
        the base class's instances with other ends."""
        _, cls, attr = goal
        found = yield from self._constructor_param(cls, attr)
        if found is None:
            return None
        fn, index, name = found
        return (yield from self._argument_value(fn, index, name, within=cls))

    def _constructs(self, call: CallFact, fn: FunctionFact, within: str):
        """``call`` (of the constructor ``fn``) makes an instance of ``within`` or of one of its
        subclasses: ``Sub(...)``, or ``super().__init__(...)`` in such a class's methods."""
        callee = yield ("ref", call.callee)
        if callee is not None and callee.kind == ValueKind.CLASS:
            return within in (yield ("mro", callee.name))
        caller = self.functions.get(call.caller)
        return caller is not None and caller.owner_class is not None and within in (yield ("mro", caller.owner_class))


    def _constructor_param(self, cls: str, attr: str):
        """(constructor, parameter index, parameter name) of the first class in ``cls``'s
        hierarchy whose constructor binds ``self.attr`` from its parameter."""
        for current in (yield ("mro", cls)):
            fn = self.functions.get(f"{current}.__init__")
            for binding in self.class_bindings.get((current, attr), ()) if fn is not None else ():
                name = binding.value[0].rpartition(":")[2] if len(binding.value) == 1 else ""
                index = next((i for i, param in enumerate(fn.params) if param.name == name), None)
                if binding.value[0] == f"P:{fn.qualname}:{name}" and index is not None:
                    return fn, index, name
        return None

    def _eval_made_by(self, goal):
        """The attribute of the one instance a constructor call made (``Channel(read1,
        write0)``) that its constructor binds from a parameter: what that call passes, also
        through the class's own constructor handing its parameter on to its base class's
        (``super().__init__(reader, writer)``)."""
        _, cls, attr, origin = goal
        made = yield ("ref", origin.callee)
        found = (yield from self._constructor_param(cls, attr)) if made is not None and made.kind == ValueKind.CLASS else None
        if found is None:
            return None
        fn, index, name = found
        own = next((c for c in (yield ("mro", made.name)) if f"{c}.__init__" in self.functions), None)
        if own is None or f"{own}.__init__" == fn.qualname:
            return (yield from self._argument_value(fn, index, name, only=origin))
        own_fn = self.functions[f"{own}.__init__"]
        for call in (*((yield ("calls-to", fn.owner_class)) or ()), *((yield ("calls-to", fn.qualname)) or ())):
            if call.caller != own_fn.qualname:
                continue
            arg = yield from self._argument_ref(fn, index, name, call)
            handed = arg[0].rpartition(":")[2] if arg and len(arg) == 1 and arg[0] == f"P:{own_fn.qualname}:{arg[0].rpartition(':')[2]}" else ""
            at = next((i for i, param in enumerate(own_fn.params) if param.name == handed), None)
            if at is not None:
                return (yield from self._argument_value(own_fn, at, handed, only=origin))
        return None

    def _eval_returned_by(self, goal):
        """What a method returns when called on the instance one constructor call made: its
        ``return``s of ``self.…`` read on that instance (``return self.reader.recv()``), when
        they give one item or channel."""
        _, function, origin = goal
        fn = self.functions.get(function)
        made = yield ("ref", origin.callee)
        if fn is None or fn.owner_class is None or made is None or made.kind != ValueKind.CLASS:
            return None
        this, head, found = Value(ValueKind.INSTANCE, made.name, origin=origin), f"I:{fn.owner_class}", set()
        for ret in self.returns_of.get(function, ()):
            if ret.value and ret.value[0] == head:
                value = yield from self._follow(this, ret.value[1:])
                if value is not None and value.kind in (ValueKind.ITEM, ValueKind.CHANNEL, ValueKind.CHANNELS):
                    found.add(value)
        return found.pop() if len(found) == 1 else None
