"""Syntax readers for the facts pass: alternative definitions and containers of values.

``alternative_blocks`` says which blocks of a ``try`` or ``if`` define names that only
stand in for a definition made elsewhere: the ``except`` handlers of a ``try`` (the
fallback of ``try: from queue import Queue except ImportError: from Queue import Queue``),
and a branch that never runs on a current Python 3 (the other side of a
``sys.version_info`` or ``PY2``/``PY3`` test, the body of ``if TYPE_CHECKING:``).  Such a
block may define a name that is not defined yet, but it does not replace a definition.

``container_element`` reads the element of a dict, list or set built in one expression:
the call that makes each value of ``{n: Queue() for n in names}``, ``[Queue(), Queue()]``
or ``defaultdict(Queue)``.
"""

from __future__ import annotations

import operator

import libcst as cst

from .syntax import attr_text

# the Python the branches are read for: any current Python 3
_RUNTIME = (3, 12)
_COMPARE = {
    cst.GreaterThan: operator.gt, cst.GreaterThanEqual: operator.ge, cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le, cst.Equal: operator.eq, cst.NotEqual: operator.ne,
}
_VERSION_NAMES = ("sys.version_info", "version_info")
_CONTAINER_FACTORIES = frozenset({"defaultdict", "collections.defaultdict"})


def _int_tuple(node: cst.BaseExpression) -> tuple[int, ...] | None:
    if isinstance(node, cst.Integer):
        return (int(node.value, 0),)
    if isinstance(node, cst.Tuple):
        numbers = []
        for element in node.elements:
            if not isinstance(element.value, cst.Integer):
                return None
            numbers.append(int(element.value.value, 0))
        return tuple(numbers)
    return None


def _version_side(node: cst.BaseExpression) -> tuple[int, ...] | None:
    """The running version's part that ``node`` names: ``sys.version_info`` (the whole
    version), ``sys.version_info[0]`` or ``.major`` (the major number), ``[:2]`` (a prefix)."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        text = attr_text(node)
        if text in _VERSION_NAMES:
            return _RUNTIME
        if text in tuple(f"{name}.major" for name in _VERSION_NAMES):
            return _RUNTIME[:1]
        return None
    if isinstance(node, cst.Subscript) and isinstance(node.value, (cst.Name, cst.Attribute)):
        if attr_text(node.value) in _VERSION_NAMES and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and isinstance(index.value, cst.Integer):
                position = int(index.value.value, 0)
                return _RUNTIME[position:position + 1]
            if (isinstance(index, cst.Slice) and index.lower is None and index.step is None
                    and isinstance(index.upper, cst.Integer)):
                return _RUNTIME[:int(index.upper.value, 0)]  # ``sys.version_info[:2]``
    return None


def runtime_truth(test: cst.BaseExpression) -> bool | None:
    """Whether the test of an ``if`` holds on a current Python 3 at run time (None when
    it can't be told): version comparisons, ``PY2``/``PY3`` flags, ``TYPE_CHECKING``."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = runtime_truth(test.expression)
        return None if inner is None else not inner
    if isinstance(test, (cst.Name, cst.Attribute)):
        last = attr_text(test).rsplit(".", 1)[-1]
        if last == "TYPE_CHECKING":
            return False
        if last in ("PY2", "PY27", "IS_PY2", "PY26"):
            return False
        if last in ("PY3", "IS_PY3", "PY3K", "PY34", "PY35", "PY36", "PY37"):
            return True
        return None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        compare = _COMPARE.get(type(target.operator))
        running = _version_side(test.left)
        other = _int_tuple(target.comparator)
        if compare is None or running is None or other is None:
            return None
        return compare(running, other)
    return None


def alternative_blocks(node: cst.If | cst.Try) -> list[cst.BaseSuite]:
    """The blocks of ``node`` whose definitions stand in for others (see the module's
    docstring)."""
    if isinstance(node, cst.Try):
        return [handler.body for handler in node.handlers]
    truth = runtime_truth(node.test)
    if truth is None:
        return []
    if truth is False:
        return [node.body]
    return [node.orelse.body] if isinstance(node.orelse, cst.Else) else []


# the (concrete) node classes ``container_element`` looks into
_CONTAINER_MAKERS = frozenset({cst.DictComp, cst.ListComp, cst.SetComp, cst.Dict, cst.List, cst.Set, cst.Tuple, cst.Call})


def container_element(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """The expression that makes each element of a container built by ``value``: a call
    in a comprehension or a literal (``{n: Queue() for n in names}``, ``[Queue()]``), or
    ``defaultdict(Queue)``'s factory.  None for anything else."""
    if type(value) not in _CONTAINER_MAKERS:  # most values: a name, an attribute, a literal
        return None
    element = None
    if isinstance(value, cst.DictComp):
        element = value.value
    elif isinstance(value, (cst.ListComp, cst.SetComp)):
        element = value.elt
    elif isinstance(value, cst.Dict):
        element = next((e.value for e in value.elements if isinstance(e, cst.DictElement)
                        and isinstance(e.value, cst.Call)), None)
    elif isinstance(value, (cst.List, cst.Set, cst.Tuple)):
        element = next((e.value for e in value.elements if isinstance(e, cst.Element)
                        and isinstance(e.value, cst.Call)), None)
    elif (isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute))
          and attr_text(value.func) in _CONTAINER_FACTORIES and value.args and value.args[0].keyword is None
          and isinstance(value.args[0].value, (cst.Name, cst.Attribute))):
        return value.args[0].value  # the factory itself: its call makes each element
    return element if isinstance(element, cst.Call) else None


def is_script_test(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.Equal)):
        return False
    sides = (test.left, test.comparisons[0].comparator)
    names = [s.value for s in sides if isinstance(s, cst.Name)]
    strings = [s.evaluated_value for s in sides if isinstance(s, cst.SimpleString)]
    return names == ["__name__"] and strings == ["__main__"]


class AlternativesReader:
    """The facts visitor's part that tracks alternative blocks: while the walk is inside
    one, ``alternative`` is positive, and a module or class name already defined is not
    defined again (``replaces_as_alternative``).  It also tracks the module's script block
    (``if __name__ == "__main__":``): while inside it, ``script`` is positive, and the
    names it binds exist only when the file runs as a program, never for an importer."""

    _alternative_blocks: set[int]
    _script_blocks: set[int]
    alternative: int
    script: int

    def start_alternatives(self) -> None:
        self._alternative_blocks = set()
        self._script_blocks = set()
        self.alternative = self.script = 0

    def visit_If(self, node: cst.If) -> None:
        self._alternative_blocks.update(id(block) for block in alternative_blocks(node))
        if self.frame.kind == "module" and is_script_test(node.test):
            self._script_blocks.add(id(node.body))

    def visit_Try(self, node: cst.Try) -> None:
        self._alternative_blocks.update(id(block) for block in alternative_blocks(node))

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.alternative += id(node) in self._alternative_blocks
        self.script += id(node) in self._script_blocks

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.alternative -= id(original_node) in self._alternative_blocks
        self.script -= id(original_node) in self._script_blocks

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self.visit_IndentedBlock(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self.leave_IndentedBlock(original_node)

    def replaces_as_alternative(self, name: str) -> bool:
        """A module or class name defined again in an alternative block (an ``except
        ImportError`` fallback, a branch for another Python): the first definition stands."""
        return bool(self.alternative) and self.frame.kind != "function" and name in self.frame.names
