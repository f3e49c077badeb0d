"""Facts readers for values the code reaches in two steps.

``bind_nested_attribute`` records ``self._tls.connection = conn`` (an attribute of an object
the instance holds, such as a thread-local) as the instance binding ``_tls.connection``, so
that ``self._tls.connection`` read elsewhere in the class is what was stored there.
``bind_tuple_table`` records a dict literal whose values are tuples of names
at module level (``listener_client = {"pickle": (connection.Listener, connection.Client), ...}``) as one
binding per position, ``listener_client[]#1`` for the second element, read from its first
entry: what ``listener_client[key][1]`` and ``Listener, Client = listener_client[key]`` give
when the key is the usual one.  ``subscript_step`` spells ``table[key][1]`` with the step
``#1`` (the element at that index) instead of a second ``[]``.
"""

from __future__ import annotations

import libcst as cst

from .model import Binding, BindingScope, CallFact, Ref


class NestedReader:
    """The facts visitor's part that reads values reached in two steps (see the module)."""

    @staticmethod
    def subscript_step(node: cst.Subscript) -> str:
        """``"#1"`` for ``table[key][1]`` (a literal index into what a subscription gave),
        else ``"[]"``."""
        if isinstance(node.value, cst.Subscript) and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and isinstance(index.value, cst.Integer):
                return f"#{int(index.value.value, 0)}"
        return "[]"

    def bind_tuple_table(self, target: cst.BaseExpression, value: cst.Dict, stmt: cst.CSTNode) -> None:
        if not isinstance(target, cst.Name) or self.frame.kind != "module":
            return
        first = value.elements[0]
        if not isinstance(first, cst.DictElement) or not isinstance(first.value, cst.Tuple):
            return
        for position, element in enumerate(first.value.elements):
            if not isinstance(element, cst.Element) or not isinstance(element.value, (cst.Name, cst.Attribute)):
                return
            ref = self.ref(element.value)
            if ref:
                self.bindings.append(Binding(BindingScope.MODULE, self.frame.qualname, f"{target.value}[]#{position}", ref,
                                             self.span(stmt), False))

    def bind_nested_attribute(self, target: cst.BaseExpression, value_ref: Ref | None, call: CallFact | None,
                              element_type: tuple[str, ...] | None, stmt: cst.CSTNode) -> None:
        if (value_ref is None or self.function_frame() is None or not isinstance(target, cst.Attribute)
                or not isinstance(target.value, cst.Attribute) or not isinstance(target.value.value, cst.Name)):
            return
        root = self.lookup(target.value.value.value)
        if len(root) == 1 and root[0].startswith("I:"):
            self.bindings.append(Binding(BindingScope.INSTANCE, root[0][2:], f"{target.value.attr.value}.{target.attr.value}",
                                         value_ref, self.span(stmt), False, call, element_type))
