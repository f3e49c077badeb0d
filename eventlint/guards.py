"""Syntax reader for the facts pass: what the enclosing ``if`` tests say of the
function's own parameters (and of their attributes: ``if self._final_q:``).

``if try_hard: self.save_file()`` runs the call only when ``try_hard`` is truthy, and
``if timeout is None: await done.wait()`` only when no timeout was given.  The facts pass
records such conditions on each call (``CallFact.guards``) as (parameter, state) pairs
(``("self._final_q", TRUE)`` for an attribute of one);
whether a caller's arguments make a guarded call dead is for the reader of the facts to
decide.  Only tests of a parameter not rebound before the test are read: a conjunction
guards its body with each of its parameter tests, and an ``else`` gets the opposite of
a test made of one parameter test.
"""

from __future__ import annotations

import libcst as cst

from .model import GUARD_FALSE as FALSE, GUARD_NONE as NONE, GUARD_SET as SET, GUARD_TRUE as TRUE

_OPPOSITE = {NONE: SET, SET: NONE, TRUE: FALSE, FALSE: TRUE}


def _subject(node: cst.BaseExpression, params) -> str | None:
    """``p`` for a parameter ``p``, ``"p.attr"`` for an attribute of one (``self._final_q``)."""
    if isinstance(node, cst.Name):
        return node.value if node.value in params else None
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in params:
        return f"{node.value.value}.{node.attr.value}"
    return None


def _param_test(test: cst.BaseExpression, params) -> tuple[str, str] | None:
    """(parameter, state) for ``p``, ``not p``, ``p is None``, ``p is not None`` (and
    ``==``/``!=`` None), where ``p`` is one of ``params`` or an attribute of one
    (``"self.attr"``); else None."""
    subject = _subject(test, params)
    if subject is not None:
        return subject, TRUE
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _param_test(test.expression, params)
        return (inner[0], _OPPOSITE[inner[1]]) if inner is not None and inner[1] == TRUE else None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        subject = _subject(test.left, params)
        if subject is not None and isinstance(target.comparator, cst.Name) and target.comparator.value == "None":
            if isinstance(target.operator, (cst.Is, cst.Equal)):
                return subject, NONE
            if isinstance(target.operator, (cst.IsNot, cst.NotEqual)):
                return subject, SET
    return None


def param_guards(test: cst.BaseExpression, params) -> tuple[tuple[tuple[str, str], ...], tuple[str, str] | None]:
    """The guards ``test`` puts on its body, and the one it puts on its ``else`` (only
    when the whole test is one parameter test)."""
    single = _param_test(test, params)
    if single is not None:
        return (single,), (single[0], _OPPOSITE[single[1]])
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        found = []
        stack = [test]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And):
                stack.extend((node.left, node.right))
                continue
            guard = _param_test(node, params)
            if guard is not None:
                found.append(guard)
        return tuple(found), None
    return (), None


class GuardReader:
    """The facts visitor's part that tracks the parameter guards of the blocks it is in:
    ``guards`` holds them for the call being read."""

    _guard_blocks: dict[int, tuple[tuple[str, str, str], ...]]
    _guards: list[tuple[str, str, str]]  # (function, parameter, state)

    def start_guards(self) -> None:
        self._guard_blocks = {}
        self._guards = []

    def current_guards(self) -> tuple[tuple[str, str], ...]:
        """The guards on the calls read now: those of the blocks around them in their own
        function (a function defined inside a guarded block does not run under its guard)."""
        if not self._guards:
            return ()
        qualname = self.frame.qualname
        return tuple((param, state) for owner, param, state in self._guards if owner == qualname)

    def visit_If(self, node: cst.If) -> None:
        frame = self.frame
        if frame.kind == "function" and frame.params:
            unbound = [name for name in frame.params if name not in frame.names]
            if unbound:
                body, other = param_guards(node.test, unbound)
                if body:
                    self._guard_blocks[id(node.body)] = tuple((frame.qualname, *guard) for guard in body)
                if other is not None and isinstance(node.orelse, cst.Else):
                    self._guard_blocks[id(node.orelse.body)] = ((frame.qualname, *other),)
        super().visit_If(node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._guards.extend(self._guard_blocks.get(id(node), ()))
        super().visit_IndentedBlock(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        pushed = self._guard_blocks.pop(id(original_node), ())
        if pushed:
            del self._guards[len(self._guards) - len(pushed):]
        super().leave_IndentedBlock(original_node)
