"""Syntax reader for the facts pass: a read that ``select.select`` with a timeout has found
ready.

::

    readable, _, _ = select.select([sock], [], [], 0.5)
    if not readable:
        return None
    return sock.recv(4096)

The ``recv`` cannot wait: the socket had data (or its peer closed it) when ``select``
returned, and ``select`` itself waited at most its timeout.  The facts pass records such a
read as made inside a synchronous timeout scope (``CallFact.timeout_scope``), as a
``with`` block under a deadline would be.  The statement right after the ``select`` must
read its answer:

- ``if not readable: <return, raise, continue or break>``: the rest of the block;
- ``if readable:`` or ``if sock in readable:``: the ``if``'s body;

(``answer = select.select(...)`` with ``answer[0]`` reads the same), and ``if
select.select([sock], [], [], t)[0]:`` covers its body.  Only the first read of each
watched socket counts: a second one, one repeated by a loop or a comprehension, and a read
of a socket the ``select`` did not watch may wait again.
"""

from __future__ import annotations

import libcst as cst

from .model import dotted
from .syntax import traverse

# the reads a readable socket (or pipe) answers at once
READS = frozenset({"recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "accept", "read"})
_EXITS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _text(node: cst.BaseExpression) -> str | None:
    """``sock``, ``self.sock``: a name or a chain of attributes, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = _text(node.value)
        return f"{inner}.{node.attr.value}" if inner is not None else None
    return None


def _watched(call: cst.BaseExpression | None, name_of) -> tuple[str, ...] | None:
    """The sockets ``select.select(reads, writes, errors, timeout)`` watches for reading,
    when it is given a timeout; None for anything else.  ``name_of``: what the facts
    pass's import resolution calls a callee (``select.select`` under any import of it),
    asked only of a call shaped like one."""
    if type(call) is not cst.Call or not call.args or any(arg.star for arg in call.args):
        return None
    positional = [arg for arg in call.args if arg.keyword is None]
    timeout = positional[3].value if len(positional) > 3 else next(
        (arg.value for arg in call.args if arg.keyword is not None and arg.keyword.value == "timeout"), None)
    if timeout is None or (isinstance(timeout, cst.Name) and timeout.value == "None"):
        return None  # no timeout: select itself waits for ever
    reads = positional[0].value if positional else None
    if not isinstance(reads, (cst.List, cst.Tuple)) or "select.select" not in (_text(call.func), name_of(call.func)):
        return None
    texts = tuple(_text(element.value) for element in reads.elements if isinstance(element, cst.Element))
    return tuple(text for text in texts if text is not None) or None


def _exits(body: cst.BaseSuite) -> bool:
    last = body.body[-1] if body.body else None
    if isinstance(last, cst.SimpleStatementLine):
        return bool(last.body) and isinstance(last.body[-1], _EXITS)
    return isinstance(body, cst.SimpleStatementSuite) and bool(body.body) and isinstance(body.body[-1], _EXITS)


def _is_ready(node: cst.BaseExpression, ready: str, whole: bool) -> bool:
    """``node`` is the list of ready sockets: ``ready`` itself (``readable, _, _ =
    select.select(...)``), or ``ready[0]`` when ``ready`` holds the whole answer
    (``ready = select.select(...)``)."""
    if whole:
        node = _subscript_zero(node)
    return isinstance(node, cst.Name) and node.value == ready


def _tests_ready(test: cst.BaseExpression, ready: str, whole: bool, watched: tuple[str, ...]) -> bool:
    """``ready`` or ``sock in ready`` (for a watched ``sock``)."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        return (isinstance(target.operator, cst.In) and _is_ready(target.comparator, ready, whole)
                and _text(test.left) in watched)
    return _is_ready(test, ready, whole)


class _FirstReads(cst.CSTVisitor):
    """The first read of each watched socket, in source order (not inside a nested
    function, which does not run there, nor inside a loop or a comprehension)."""

    def __init__(self, watched: tuple[str, ...]):
        super().__init__()
        self.left = set(watched)
        self.found: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in READS:
            receiver = _text(func.value)
            if receiver in self.left:
                self.left.discard(receiver)
                self.found.add(id(node))


def _not_entered(self, node: cst.CSTNode) -> bool:
    return False


# a nested function does not run there; a read repeated by a loop or a comprehension may
# wait from its second round on
for _kind in ("FunctionDef", "Lambda", "For", "While", "GeneratorExp", "ListComp", "SetComp", "DictComp"):
    setattr(_FirstReads, f"visit_{_kind}", _not_entered)


class ReadinessReader:
    """The facts visitor's part that finds the reads ``select`` found ready: ``ready_reads``
    holds the ids of their call nodes."""

    ready_reads: set[int]

    def start_readiness(self) -> None:
        self.ready_reads = set()

    def _callee_name(self, func: cst.BaseExpression) -> str | None:
        return dotted(self.ref(func))

    def _mark(self, statements, watched: tuple[str, ...]) -> None:
        reads = _FirstReads(watched)
        for statement in statements:
            traverse(statement, reads)
            if not reads.left:
                break
        self.ready_reads |= reads.found

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        statements = node.body
        # every statement of every block passes here: node classes compared with ``is``
        # (libcst's are ABCs, and a failing isinstance goes through ABCMeta)
        for index, statement in enumerate(statements):
            kind = type(statement)
            if kind is cst.If:
                watched = _watched(_subscript_zero(statement.test), self._callee_name)
                if watched:  # ``if select.select([sock], [], [], t)[0]:``
                    self._mark(statement.body.body, watched)
                continue
            if not (kind is cst.SimpleStatementLine and len(statement.body) == 1
                    and type(statement.body[0]) is cst.Assign and len(statement.body[0].targets) == 1):
                continue
            assign = statement.body[0]
            watched = _watched(assign.value, self._callee_name)
            target = assign.targets[0].target
            whole = isinstance(target, cst.Name)
            if whole:
                ready = target.value
            elif isinstance(target, (cst.Tuple, cst.List)) and target.elements \
                    and isinstance(target.elements[0].value, cst.Name):
                ready = target.elements[0].value.value
            else:
                continue
            if not watched:
                continue
            later = statements[index + 1] if index + 1 < len(statements) else None
            if not isinstance(later, cst.If):
                continue  # the answer is read by the statement right after the select, or not at all
            test = later.test
            if (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
                    and _tests_ready(test.expression, ready, whole, watched) and later.orelse is None
                    and _exits(later.body)):
                self._mark(statements[index + 2:], watched)  # ``if not ready: return``
            elif _tests_ready(test, ready, whole, watched):
                self._mark(later.body.body, watched)  # ``if ready:``
        super().visit_IndentedBlock(node)


def _subscript_zero(test: cst.BaseExpression) -> cst.BaseExpression | None:
    """``X`` of ``X[0]``, else None."""
    if isinstance(test, cst.Subscript) and len(test.slice) == 1:
        index = test.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.Integer) and index.value.value == "0":
            return test.value
    return None
