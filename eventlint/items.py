"""What items channels carry, as the facts pass reads it: the shape of what a put sends
(``Payload``, with its ``Tag``) and how a consumer branches on what it receives
(``Dispatch``).  Neutral: which shapes are kinds, sentinels or exceptions is EVT002's part.
"""

from __future__ import annotations

from typing import Protocol

import libcst as cst

from .model import Dispatch, DispatchKind, Payload, PayloadShape, Ref, Span, Tag, dotted
from .syntax import alternatives, class_operands, string_value


class FunctionScope(Protocol):
    """What the facts pass knows of the function it is in."""

    qualname: str
    names: dict[str, Ref]  # local name -> what it holds
    self_name: str | None  # the name of ``self`` (or ``cls``)
    params: dict[str, Ref | None]  # parameter name -> its annotation
    received: dict[str, Ref]  # item name -> the channel it was received from
    tags: dict[str, Ref]  # tag name (from unpacking a received item) -> the channel
    value_types: dict[str, Ref]  # local name -> the class of the instance it holds
    caught: set[str]  # names bound by ``except ... as name``


class ItemReader:
    """The part of the facts pass that reads payloads and dispatches (a mixin of its
    extractor, which provides ``function_frame``, ``ref``, ``lookup``, ``span``, the module's
    string ``constants``, the ``tag_keys`` setting and the ``dispatches`` list)."""

    tag_keys: frozenset[str]
    constants: dict[str, str]
    dispatches: list[Dispatch]

    def function_frame(self) -> FunctionScope | None:
        raise NotImplementedError

    def ref(self, node: cst.BaseExpression | None) -> Ref | None:
        raise NotImplementedError

    def lookup(self, name: str) -> Ref:
        raise NotImplementedError

    def span(self, node: cst.CSTNode) -> Span:
        raise NotImplementedError

    def payload(self, value: cst.BaseExpression) -> Payload:
        """The shape of what a put-like call sends (see ``PayloadShape``)."""
        if isinstance(value, cst.Name):
            if value.value in ("None", "Ellipsis"):
                return _NONE
            fn = self.function_frame()
            if fn is not None:
                if value.value in fn.caught:
                    return _CAUGHT
                known = fn.value_types.get(value.value)
                if known is not None:
                    return Payload(PayloadShape.CALL, known)
                if value.value in fn.params and value.value not in fn.names and value.value != fn.self_name:
                    # the caller decides: ``def publish(self, event): self._q.put(event)``
                    return Payload(PayloadShape.PARAM, param=value.value)
                if value.value in fn.names or value.value in fn.params:
                    return _OTHER
            return Payload(PayloadShape.NAME, self.lookup(value.value))
        if isinstance(value, cst.Ellipsis):
            return _NONE
        if isinstance(value, cst.Call):
            callee = self.ref(value.func)
            return Payload(PayloadShape.CALL, callee) if callee else _OTHER
        if isinstance(value, cst.Tuple) and value.elements:
            tag = self.tag_value(value.elements[0].value)
            return Payload(PayloadShape.TAGGED, tag=tag) if tag is not None else _OTHER
        if isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) in self.tag_keys:
                    tag = self.tag_value(element.value)
                    if tag is not None:
                        return Payload(PayloadShape.TAGGED, tag=tag)
            return _OTHER
        return _OTHER

    def tag_value(self, node: cst.BaseExpression) -> Tag | None:
        """A string literal, a module constant bound to one, or a dotted constant such as an
        Enum member (``Kind.USER``), by its qualified name."""
        literal = string_value(node)
        if literal is not None:
            return Tag(literal)
        if isinstance(node, cst.Name) and node.value in self.constants:
            return Tag(self.constants[node.value])
        if isinstance(node, cst.Attribute):  # Enum members and module constants: Kind.USER, kinds.USER
            name = dotted(self.ref(node))  # None for ``self.expected.name``: a value, not a tag
            return Tag(name, named=True) if name else None
        return None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        fn = self.function_frame()
        if fn is not None and node.name is not None and isinstance(node.name.name, cst.Name):
            fn.caught.add(node.name.name.value)

    def item_source(self, node: cst.BaseExpression) -> tuple[Ref, str] | None:
        """(channel, how) when ``node`` is a received item or its tag: ``item``,
        ``item[0]``, ``item["type"]``, ``item.get("type")``, ``type(item)``, ``kind``."""
        fn = self.function_frame()
        if fn is None:
            return None
        if isinstance(node, cst.Name):
            if node.value in fn.tags:
                return fn.tags[node.value], "tag"
            item = self.item_ref(fn, node.value)
            return (item, "item") if item is not None else None
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
            item = self.item_ref(fn, node.value.value)
            return (item, "tag") if item is not None else None
        if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "get"
                and isinstance(node.func.value, cst.Name)):
            item = self.item_ref(fn, node.func.value.value)
            return (item, "tag") if item is not None else None
        if (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "type" and node.args
                and isinstance(node.args[0].value, cst.Name)):
            item = self.item_ref(fn, node.args[0].value.value)
            return (item, "type") if item is not None else None
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            item = self.item_ref(fn, node.value.value)  # item.kind == "user"
            return (item, "tag") if item is not None else None
        return None

    @staticmethod
    def item_ref(fn: FunctionScope, name: str) -> Ref | None:
        """What ``name`` holds when it may be a received item: the receiving channel's
        ref, or the parameter (the graph follows the arguments of its callers)."""
        if name in fn.received:
            return fn.received[name]
        if name in fn.params and name != fn.self_name:
            return (f"P:{fn.qualname}:{name}",)
        return None

    def add_dispatch(self, source: Ref, kind: DispatchKind, node: cst.CSTNode, ref: Ref = (),
                     tag: Tag | None = None) -> None:
        fn = self.function_frame()
        if fn is not None:
            self.dispatches.append(Dispatch(fn.qualname, source, kind, self.span(node), ref, tag))

    def note_dispatch_call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Name) or node.func.value != "isinstance" or len(node.args) != 2:
            return
        found = self.item_source(node.args[0].value)
        if found is None or found[1] != "item":
            return
        for cls in class_operands(node.args[1].value):
            ref = self.ref(cls)
            if ref is not None:
                self.add_dispatch(found[0], DispatchKind.CLASS, node, ref=ref)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        found = self.item_source(node.left)
        if found is None or len(node.comparisons) != 1:
            return
        target = node.comparisons[0]
        if not isinstance(target.operator, (cst.Equal, cst.Is, cst.In)):
            return
        source, how = found
        operands = (class_operands(target.comparator) if isinstance(target.operator, cst.In)
                    else [target.comparator])
        for operand in operands:
            if how == "type":
                ref = self.ref(operand)
                if ref is not None:
                    self.add_dispatch(source, DispatchKind.CLASS, node, ref=ref)
            elif how == "tag":
                tag = self.tag_value(operand)
                if tag is not None:
                    self.add_dispatch(source, DispatchKind.TAG, node, tag=tag)

    def visit_Match(self, node: cst.Match) -> None:
        found = self.item_source(node.subject)
        if found is None:
            return
        source, how = found
        for case in node.cases:
            for pattern in alternatives(case.pattern):
                if isinstance(pattern, cst.MatchClass) and how == "item":
                    ref = self.ref(pattern.cls)
                    if ref is not None:
                        self.add_dispatch(source, DispatchKind.CLASS, case, ref=ref)
                elif isinstance(pattern, cst.MatchSequence) and how == "item" and pattern.patterns:
                    first = pattern.patterns[0]
                    value = getattr(first, "value", None)
                    if isinstance(value, cst.MatchValue) or isinstance(first, cst.MatchSequenceElement):
                        value = first.value.value if isinstance(first.value, cst.MatchValue) else None
                    tag = string_value(value) if value is not None else None
                    if tag is not None:
                        self.add_dispatch(source, DispatchKind.TAG, case, tag=Tag(tag))
                elif isinstance(pattern, cst.MatchMapping) and how == "item":
                    for element in pattern.elements:
                        if string_value(element.key) in self.tag_keys and isinstance(element.pattern, cst.MatchValue):
                            tag = string_value(element.pattern.value)
                            if tag is not None:
                                self.add_dispatch(source, DispatchKind.TAG, case, tag=Tag(tag))
                elif isinstance(pattern, cst.MatchValue) and how == "tag":
                    tag = self.tag_value(pattern.value)
                    if tag is not None:
                        self.add_dispatch(source, DispatchKind.TAG, case, tag=tag)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # ``HANDLERS[type(item)](item)`` / ``handlers[item["type"]]``: a dict-of-handlers lookup
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        found = self.item_source(node.slice[0].slice.value)
        if found is None or found[1] == "item":
            return
        table = self.ref(node.value)
        if table is not None:
            self.add_dispatch(found[0], DispatchKind.TABLE, node, ref=table)


_NONE = Payload(PayloadShape.NONE)
_CAUGHT = Payload(PayloadShape.CAUGHT)
_OTHER = Payload(PayloadShape.OTHER)
