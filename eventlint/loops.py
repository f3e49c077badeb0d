"""Loops that may consume a channel, as the facts pass reads them: what a ``for`` loop
iterates over, the receives in a loop's body, and the wait or receive each turn of a
``while`` loop starts with (its input).  Neutral: whether a wait is a hang or a loop's
input is EVT003's part.
"""

from __future__ import annotations

from typing import Callable, Protocol

import libcst as cst

from .model import GET_METHODS, LoopFact, Ref, Span

_Takes = Callable[[cst.BaseExpression], bool]
_TAKE_METHODS = GET_METHODS | {"wait", "accept"}  # ``accept``: a server loop's next connection


class _Scope(Protocol):
    qualname: str
    received: dict[str, Ref]
    names: dict[str, Ref]


class LoopReader:
    """The part of the facts pass that reads loops (a mixin of its extractor, which
    provides ``function_frame``, ``ref``, ``span`` and the ``loops``, ``loop_stack``,
    ``loop_inputs`` and ``loop_gates`` it fills)."""

    loops: list[LoopFact]
    loop_stack: list[tuple[cst.CSTNode, list[Ref], Ref | None]]
    loop_inputs: dict[int, tuple[Span, ...]]
    loop_gates: dict[int, set[int]]

    def function_frame(self) -> _Scope | None:
        raise NotImplementedError

    def ref(self, node: cst.BaseExpression | None) -> Ref | None:
        raise NotImplementedError

    def span(self, node: cst.CSTNode) -> Span:
        raise NotImplementedError

    def note_spread(self, target: cst.BaseExpression, iterated: cst.BaseExpression) -> None:
        raise NotImplementedError

    def visit_For(self, node: cst.For) -> None:
        fn = self.function_frame()
        iterates = None
        sources: list[Ref] = []
        it = node.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "iter" and it.args:
            getter = it.args[0].value
            if isinstance(getter, cst.Attribute) and getter.attr.value in GET_METHODS:
                receiver = self.ref(getter.value)
                if receiver is not None:
                    sources.append(receiver)
        else:
            iterates = self.ref(it)
        if fn is not None:
            source = sources[0] if sources else iterates
            if source is not None and isinstance(node.target, cst.Name):
                fn.received[node.target.value] = source
            if isinstance(node.target, cst.Name):
                fn.names.pop(node.target.value, None)
            self.note_spread(node.target, node.iter)
        self.loop_stack.append((node, sources, iterates if node.asynchronous is not None or iterates else None))

    def leave_For(self, original_node: cst.For) -> None:
        self.close_loop()

    def visit_While(self, node: cst.While) -> None:
        self.loop_stack.append((node, [], None))
        first = _turn_calls(node, self.is_take)
        # a turn that starts by calling a function (``while True: self.pong()``, ``frame =
        # await self._next_frame()``) takes its input through that function
        leading = [] if first else _leading_call(node.body)
        self.loop_inputs[id(node)] = tuple(self.span(call) for call in first + leading)
        if first:
            # the turn starts with a wait or a receive: that is the loop's input, and a
            # receive later in the body is work it does
            self.loop_gates[id(node)] = {id(call) for call in first}

    def is_take(self, func: cst.BaseExpression) -> bool:
        """``func`` is a wait or receive method: ``q.get``, or a local bound to one (``nwait =
        not_empty.wait`` then ``nwait()``)."""
        if isinstance(func, cst.Attribute):
            return func.attr.value in _TAKE_METHODS
        ref = self.ref(func) if isinstance(func, cst.Name) else None
        return bool(ref) and len(ref) > 1 and ref[-1][1:] in _TAKE_METHODS and ref[-1][:1] == "."

    def leave_While(self, original_node: cst.While) -> None:
        self.close_loop()

    def close_loop(self) -> None:
        node, sources, iterates = self.loop_stack.pop()
        inputs = self.loop_inputs.pop(id(node), ())
        self.loop_gates.pop(id(node), None)
        fn = self.function_frame()
        if isinstance(node, cst.For) and not (node.asynchronous is not None or _iter_sentinel(node.iter)):
            # a ``for`` loop takes its items from what it iterates over (``range(n)``, a
            # list): a receive in its body is work it does, not its input
            sources = []
        if fn is None or (not sources and iterates is None and not inputs):
            return
        # the loop's input is its first receive; later receives in the body are work it does
        self.loops.append(LoopFact(fn.qualname, self.span(node), tuple(sources[:1]), iterates, inputs))


def _head_call(expr: cst.BaseExpression | None, takes: _Takes) -> list[cst.Call]:
    """The wait or receive whose result an expression tests or binds: ``await ev.wait()``,
    ``not q.get()``, ``(item := q.get()) is not None``."""
    while expr is not None and not isinstance(expr, cst.Call):
        if isinstance(expr, cst.Await):
            expr = expr.expression
        elif isinstance(expr, cst.UnaryOperation):
            expr = expr.expression
        elif isinstance(expr, cst.Comparison):
            expr = expr.left
        elif isinstance(expr, cst.NamedExpr):
            expr = expr.value
        else:
            return []
    if expr is None or not takes(expr.func):
        return []
    return [expr]


def _first_calls(block: cst.BaseSuite, takes: _Takes) -> list[cst.Call]:
    """The first wait or receive a block makes (``self._wake.wait()``, ``item = q.get()``),
    past leading statements that do other things (a log line): statement by statement,
    looking into ``with``, ``try``, a nested ``while`` and the branches of an ``if`` (``if
    not buffer: wait()``, ``if pending: ... else: await wake.wait()``); any other compound
    statement ends the search."""
    for statement in block.body:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign)) and small.value is not None:
                    found = _head_call(small.value, takes)
                    if found:
                        return found
            continue
        if isinstance(statement, (cst.With, cst.Try)):
            return _first_calls(statement.body, takes)
        if isinstance(statement, cst.While):
            return _turn_calls(statement, takes)
        if isinstance(statement, cst.If):
            found = []
            branch: cst.If | cst.Else | None = statement
            while branch is not None:
                found += _first_calls(branch.body, takes)
                branch = branch.orelse if isinstance(branch, cst.If) else None
            return found
        return []
    return []


def _turn_calls(node: cst.While, takes: _Takes) -> list[cst.Call]:
    """The wait or receive a ``while`` loop makes first in each turn: its header's, else its
    body's first."""
    return _head_call(node.test, takes) or _first_calls(node.body, takes)


def _leading_call(block: cst.BaseSuite) -> list[cst.Call]:
    """The call a block's first statement makes, when that statement is a call, awaited or
    bound (``self.pong()``, ``frame = await self._next_frame()``)."""
    statement = block.body[0] if block.body else None
    if not isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) or not statement.body:
        return []
    small = statement.body[0]
    value = small.value if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign)) else None
    if isinstance(value, cst.Await):
        value = value.expression
    return [value] if isinstance(value, cst.Call) else []


def _iter_sentinel(it: cst.BaseExpression) -> bool:
    """``iter(q.get, None)``: a loop over a receive."""
    return isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "iter"
