"""How code tests the kind of a value: the one reader of dispatch shapes.

``kind_test`` reads an ``if``/``elif`` test and ``case_kinds`` a ``case`` pattern into
``KindTest`` records: which name is tested, through what (the value itself, its type, a
key, an index or an attribute), whether classes or tags are compared, and the operand
nodes.  Neutral syntax: whether the name holds a received item, and whether the shape is a
kind, a sentinel or something a codemod can migrate, is decided by the reader's caller —
the facts pass (for EVT002's dispatches) and migrate-to-bus (for the consumers it rewrites)
read the same shapes through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import libcst as cst

from .model import Named
from .syntax import alternatives, class_operands, string_value


class Through(Named):
    """How a test reaches the kind of the value held by ``KindTest.name``."""

    VALUE = "value"  # the value itself: ``isinstance(item, A)``, ``kind == "user"``, ``case A():``
    TYPE = "type"  # its type: ``type(item) is A``
    KEY = "key"  # a key: ``item["type"] == "a"``, ``item.get("type")``, ``case {"type": "a"}:``
    INDEX = "index"  # a position: ``item[0] == "a"``, ``case ("a", _):``
    ATTRIBUTE = "attribute"  # an attribute: ``item.kind == "a"``


class Compared(Named):
    CLASS = "class"  # the operands are classes
    TAG = "tag"  # the operands are tag values (strings, constants, Enum members)


@dataclass(frozen=True, slots=True, eq=False)
class KindTest:
    """One test of the kind of ``name``: ``operands`` are the classes or tags it accepts."""

    name: str
    through: Through
    compared: Compared
    operands: tuple[cst.BaseExpression, ...]
    key: str | None = None  # KEY: the key (a string); ATTRIBUTE: the attribute's name
    node: cst.CSTNode | None = None  # the test or pattern read


def subject(node: cst.BaseExpression) -> tuple[str, Through, str | None] | None:
    """(name, through, key) for ``item``, ``type(item)``, ``item["k"]``, ``item[0]``,
    ``item.get("k")`` and ``item.kind``; None for any other expression."""
    if isinstance(node, cst.Name):
        return node.value, Through.VALUE, None
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and len(node.slice) == 1 \
            and isinstance(node.slice[0].slice, cst.Index):
        index = node.slice[0].slice.value
        key = string_value(index)
        return node.value.value, (Through.KEY if key is not None else Through.INDEX), key
    if isinstance(node, cst.Call) and node.args and not node.args[0].keyword and not node.args[0].star:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "get" and isinstance(func.value, cst.Name):
            return func.value.value, Through.KEY, string_value(node.args[0].value)
        if isinstance(func, cst.Name) and func.value == "type" and len(node.args) == 1 \
                and isinstance(node.args[0].value, cst.Name):
            return node.args[0].value.value, Through.TYPE, None
        return None
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        return node.value.value, Through.ATTRIBUTE, node.attr.value
    return None


def kind_test(test: cst.BaseExpression) -> KindTest | None:
    """The kind test ``test`` makes, or None: ``isinstance(x, A | B)``; ``type(x) is A``;
    one comparison by ``==``, ``is`` or ``in`` (a tuple, list or set of operands)."""
    kind = type(test)  # concrete node classes: ``is`` is isinstance at a fraction of its cost
    if kind is cst.Call and type(test.func) is cst.Name and test.func.value == "isinstance" \
            and len(test.args) == 2 and type(test.args[0].value) is cst.Name \
            and not any(a.keyword or a.star for a in test.args):
        operands = class_operands(test.args[1].value)
        return KindTest(test.args[0].value.value, Through.VALUE, Compared.CLASS, tuple(operands), node=test)
    if kind is not cst.Comparison or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if not isinstance(target.operator, (cst.Equal, cst.Is, cst.In)):
        return None
    found = subject(test.left)
    if found is None:
        return None
    name, through, key = found
    operands = (class_operands(target.comparator) if isinstance(target.operator, cst.In)
                else [target.comparator])
    compared = Compared.CLASS if through is Through.TYPE else Compared.TAG
    return KindTest(name, through, compared, tuple(operands), key, test)


def key_test(test: cst.BaseExpression) -> tuple[str, str] | None:
    """(name, key) when ``test`` asks whether the dict ``name`` holds has the string key:
    ``"exit" in item``, ``"exit" not in item``, ``item.get("exit") is None`` (or ``is not
    None``), and as the whole test of an ``if`` or ``while``, ``item.get("exit")`` or ``not
    item.get("exit")``; None for anything else."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test = test.expression
    if isinstance(test, cst.Call):
        found = subject(test)
        return (found[0], found[2]) if found is not None and found[1] is Through.KEY and found[2] else None
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if isinstance(target.operator, (cst.In, cst.NotIn)) and isinstance(target.comparator, cst.Name):
        key = string_value(test.left)
        return (target.comparator.value, key) if key is not None else None
    if isinstance(target.operator, (cst.Is, cst.IsNot)) and isinstance(target.comparator, cst.Name) \
            and target.comparator.value == "None" and isinstance(test.left, cst.Call):
        found = subject(test.left)
        if found is not None and found[1] is Through.KEY and found[2] is not None:
            return found[0], found[2]
    return None


def case_kinds(name: str, case: cst.MatchCase, tag_keys: frozenset[str]) -> list[KindTest]:
    """The kind tests of a ``case`` of ``match name:``, one per alternative it reads:
    ``case A():`` (a class), ``case "a":`` / ``case Kind.A:`` (a tag), ``case ("a", ...):``
    (a tag at index 0), ``case {"type": "a"}:`` (a tag under one of ``tag_keys``)."""
    found: list[KindTest] = []
    for pattern in alternatives(case.pattern):
        if isinstance(pattern, cst.MatchClass):
            found.append(KindTest(name, Through.VALUE, Compared.CLASS, (pattern.cls,), node=pattern))
        elif isinstance(pattern, cst.MatchValue):
            found.append(KindTest(name, Through.VALUE, Compared.TAG, (pattern.value,), node=pattern))
        elif isinstance(pattern, cst.MatchSequence) and pattern.patterns:
            first = pattern.patterns[0]
            if isinstance(first, cst.MatchSequenceElement) and isinstance(first.value, cst.MatchValue):
                found.append(KindTest(name, Through.INDEX, Compared.TAG, (first.value.value,), node=pattern))
        elif isinstance(pattern, cst.MatchMapping):
            for element in pattern.elements:
                key = string_value(element.key)
                if key in tag_keys and isinstance(element.pattern, cst.MatchValue):
                    found.append(KindTest(name, Through.KEY, Compared.TAG, (element.pattern.value,), key, pattern))
    return found


@dataclass(frozen=True, slots=True)
class MethodLookup:
    """``getattr(owner, "on_" + name)``: a method chosen by the tag ``name`` holds (reached
    ``through`` it, as ``subject`` says), among ``owner``'s attributes spelled ``prefix``
    followed by the tag."""

    name: str
    through: Through
    key: str | None
    owner: cst.BaseExpression
    prefix: str


def method_lookup(call: cst.Call, spliced: Mapping[str, cst.BaseExpression] = {}) -> MethodLookup | None:
    """``getattr(obj, "on_" + tag)``, ``getattr(obj, f"on_{tag}")``, ``getattr(obj, "on_%s" % tag)``
    and ``getattr(obj, tag)`` (prefix ""), optionally with a default; None for anything else.
    ``spliced`` maps local names to the expression they were bound to, so that
    ``method = "worker_" + name`` then ``getattr(self, method)`` reads as the first form."""
    if not (isinstance(call.func, cst.Name) and call.func.value == "getattr" and len(call.args) in (2, 3)) \
            or any(a.keyword or a.star for a in call.args):
        return None
    owner, spelled = call.args[0].value, call.args[1].value
    if isinstance(spelled, cst.Name) and spelled.value in spliced:
        spelled = spliced[spelled.value]
    prefix, tag = "", spelled
    if isinstance(spelled, cst.BinaryOperation) and isinstance(spelled.operator, cst.Add):
        prefix, tag = string_value(spelled.left), spelled.right
    elif isinstance(spelled, cst.BinaryOperation) and isinstance(spelled.operator, cst.Modulo):
        text = string_value(spelled.left)
        prefix = text[:-2] if text is not None and text.endswith("%s") and text.count("%") == 1 else None
        tag = spelled.right
    elif isinstance(spelled, cst.FormattedString):
        parts = spelled.parts
        if len(parts) != 2 or not isinstance(parts[0], cst.FormattedStringText) \
                or not isinstance(parts[1], cst.FormattedStringExpression) or parts[1].format_spec is not None:
            return None
        prefix, tag = parts[0].value, parts[1].expression
    if prefix is None:
        return None
    found = subject(tag)
    if found is None or found[1] is Through.TYPE:
        return None
    return MethodLookup(found[0], found[1], found[2], owner, prefix)
