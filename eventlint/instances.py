"""Goals about the instances of project classes (a mixin of ``eventlint.resolution.Resolver``):
what an attribute a constructor binds from its parameter holds for the instances of one
class of a hierarchy, whose constructions fill it differently from its base class's."""

from __future__ import annotations

from .model import CallFact, FunctionFact
from .values import ValueKind


class InstanceGoals:
    """Evaluators of the resolver's goals about instances; ``Resolver`` provides
    ``functions``, ``class_bindings`` and ``_argument_value``."""

    def _eval_made(self, goal):
        """The attribute of the instances of a class (and of its subclasses) that a constructor
        in its hierarchy binds from a parameter (``self.writer = writer``), as the
        constructions of that class fill it: ``WorkerChannel(read0, write1)`` passing its ends
        on through ``super().__init__(reader, writer)``, while ``Channel(read1, write0)`` fills
        the base class's instances with other ends."""
        _, cls, attr = goal
        for current in (yield ("mro", cls)):
            fn = self.functions.get(f"{current}.__init__")
            for binding in self.class_bindings.get((current, attr), ()) if fn is not None else ():
                name = binding.value[0].rpartition(":")[2] if len(binding.value) == 1 else ""
                index = next((i for i, param in enumerate(fn.params) if param.name == name), None)
                if binding.value[0] == f"P:{fn.qualname}:{name}" and index is not None:
                    return (yield from self._argument_value(fn, index, name, within=cls))
        return None

    def _constructs(self, call: CallFact, fn: FunctionFact, within: str):
        """``call`` (of the constructor ``fn``) makes an instance of ``within`` or of one of its
        subclasses: ``Sub(...)``, or ``super().__init__(...)`` in such a class's methods."""
        callee = yield ("ref", call.callee)
        if callee is not None and callee.kind == ValueKind.CLASS:
            return within in (yield ("mro", callee.name))
        caller = self.functions.get(call.caller)
        return caller is not None and caller.owner_class is not None and within in (yield ("mro", caller.owner_class))

