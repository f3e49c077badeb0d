"""What items channels carry, as the facts pass reads it: the shape of what a put sends
(``Payload``, with its ``Tag``) and how a consumer branches on what it receives
(``Dispatch``).  Neutral: which shapes are kinds, sentinels or exceptions is EVT002's part.
"""

from __future__ import annotations

from typing import Protocol

import libcst as cst

from .model import CallFact, Dispatch, DispatchKind, Payload, PayloadShape, Ref, Span, Tag, dotted
from .branching import Compared, KindTest, Through, case_kinds, key_test, kind_test, method_lookup, subject
from .syntax import keyword_value, string_value

PUT_METHODS = frozenset({"put", "put_nowait", "send", "send_nowait", "send_bytes", "publish", "publish_nowait", "emit",
                         "submit", "post", "enqueue"})


class FunctionScope(Protocol):
    """What the facts pass knows of the function it is in."""

    qualname: str
    names: dict[str, Ref]  # local name -> what it holds
    self_name: str | None  # the name of ``self`` (or ``cls``)
    params: dict[str, Ref | None]  # parameter name -> its annotation
    received: dict[str, Ref]  # item name -> the channel it was received from
    results: dict[str, Ref]  # local name -> the call whose result it holds (``self.comms.get_task(i)``)
    tags: dict[str, Ref]  # tag name (from unpacking a received item) -> the channel
    value_types: dict[str, Ref]  # local name -> the class of the instance it holds
    shaped: dict[str, Payload]  # local name -> the tagged tuple or dict it holds
    made: dict[str, list[Ref]]  # local name -> every callee it was bound from, in source order
    caught: set[str]  # names bound by ``except ... as name``
    spliced: dict[str, cst.BaseExpression]  # local name -> the name it spells: ``method = "on_" + kind``
    tuples: dict[str, cst.BaseExpression]  # local name -> the expression last bound to it
    spread: dict[str, str]  # ``value`` of ``for key, value in kwargs.items()`` -> "kwargs"
    star_kwargs: str  # the name of the ``**`` parameter


class ItemReader:
    """The part of the facts pass that reads payloads and dispatches (a mixin of its
    extractor, which provides ``function_frame``, ``ref``, ``lookup``, ``span``, ``frame``, the
    module's ``constants`` (strings) and ``numbers`` (integers), the ``tag_keys`` setting
    and the ``dispatches`` list)."""

    tag_keys: frozenset[str]
    constants: dict[str, str]
    numbers: set[str]
    dispatches: list[Dispatch]
    handoffs: list[CallFact]
    callback_methods: frozenset[str]  # channel methods handing each item to a callback (``setcallback``)

    def caller(self) -> str:
        raise NotImplementedError

    def arg_ref(self, value: cst.BaseExpression) -> Ref | None:
        raise NotImplementedError

    def function_frame(self) -> FunctionScope | None:
        raise NotImplementedError

    def ref(self, node: cst.BaseExpression | None) -> Ref | None:
        raise NotImplementedError

    def lookup(self, name: str) -> Ref:
        raise NotImplementedError

    def span(self, node: cst.CSTNode) -> Span:
        raise NotImplementedError

    def note_assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """``USER = "user"`` and ``ACK = 0`` at module level are constants that may tag
        items; ``method = "on_" + kind`` in a function spells a name a later
        ``getattr(self, method)`` looks up."""
        if not isinstance(target, cst.Name):
            return
        name = target.value
        if self.frame.kind == "module":
            literal = string_value(value) if isinstance(value, cst.SimpleString) else None
            if literal is not None:
                self.constants[name] = literal
            elif _is_integer(value):
                self.numbers.add(name)
            return
        fn = self.function_frame()
        if fn is not None:
            if isinstance(value, (cst.BinaryOperation, cst.FormattedString)):
                fn.spliced[name] = value
            else:
                fn.spliced.pop(name, None)

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
                    others = tuple(dict.fromkeys(r for r in fn.made.get(value.value, ()) if r != known))
                    if self.own_param(value) is not None and fn.params.get(value.value) == known:
                        # an annotated parameter: the annotation, and what the callers pass
                        return Payload(PayloadShape.CALL, known, param=value.value, alternatives=others)
                    return Payload(PayloadShape.CALL, known, alternatives=others)
                param = self.own_param(value)
                if param is not None:
                    # the caller decides: ``def publish(self, event): self._q.put(event)``
                    return Payload(PayloadShape.PARAM, param=param)
                shaped = fn.shaped.get(value.value)
                if shaped is not None:
                    return shaped
                if value.value in fn.names or value.value in fn.params:
                    return _OTHER
            return Payload(PayloadShape.NAME, self.lookup(value.value))
        if isinstance(value, cst.Ellipsis):
            return _NONE
        if isinstance(value, cst.Call):
            param = self.own_param(value.func)
            if param is not None:  # ``event_cls(*args)``: the callers pass the class
                return Payload(PayloadShape.NEW_PARAM, param=param)
            callee = self.ref(value.func)
            return Payload(PayloadShape.CALL, callee, arguments=self.call_arguments(value)) if callee else _OTHER
        if isinstance(value, cst.Tuple) and value.elements:
            return self.tagged(value.elements[0].value)
        if isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) in self.tag_keys:
                    found = self.tagged(element.value)
                    if found is not _OTHER:
                        return found
            keys = [string_value(e.key) if isinstance(e, cst.DictElement) else None for e in value.elements]
            if keys and None not in keys:  # ``{"exit": cls, "exception": text}``: no tag, known keys
                return Payload(PayloadShape.KEYS, keys=tuple(sorted(set(keys))))
            return _OTHER
        literal = string_value(value)
        if literal is not None:  # ``q.put("stop")``: a bare constant
            return Payload(PayloadShape.TAG, tag=Tag(literal))
        return _OTHER

    def note_key_stored(self, target: cst.BaseExpression) -> bool:
        """``result["out"] = out`` on a local holding a dict of known keys adds the key;
        True when ``target`` is such a store."""
        fn = self.function_frame()
        if fn is None or not isinstance(target, cst.Subscript) or not isinstance(target.value, cst.Name) \
                or len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
            return False
        shaped = fn.shaped.get(target.value.value)
        if shaped is None or shaped.shape != PayloadShape.KEYS:
            return False
        key = string_value(target.slice[0].slice.value)
        if key is None:
            fn.shaped.pop(target.value.value)  # ``result[name] = ...``: the keys are no longer known
        else:
            fn.shaped[target.value.value] = Payload(PayloadShape.KEYS, keys=tuple(sorted({*shaped.keys, key})))
        return True

    def note_handoff(self, node: cst.Call) -> None:
        """``call_soon_threadsafe(q.put_nowait, item)``, ``partial(q.put, item)``,
        ``weakref.finalize(obj, q.put, item)``: a put-like method handed over with the
        argument it will be called with is a put made later, recorded apart from calls.
        So is a function started with its arguments (``Thread(target=work, args=(q,))``)."""
        target = keyword_value(node, "target")
        if target is not None:
            self.note_start(node, target)
            return
        args = node.args
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in self.callback_methods:
            self.note_item_callback(node, node.func)
            return
        for index, arg in enumerate(args[:-1]):
            value = arg.value
            if arg.star or arg.keyword is not None or not isinstance(value, cst.Attribute) \
                    or value.attr.value not in PUT_METHODS:
                continue
            item = args[index + 1]
            if item.star or item.keyword is not None:
                return
            callee = self.ref(value)
            if callee is not None:
                self.handoffs.append(CallFact(caller=self.caller(), callee=callee, span=self.span(node),
                                              args=(self.arg_ref(item.value),), payload=self.payload(item.value)))
            return

    def note_item_callback(self, node: cst.Call, func: cst.Attribute) -> None:
        """``channel.setcallback(self.on_item)``: the callback will be called with each item
        the receiver gets, a call made later of ``on_item(<item of channel>)``."""
        callback = keyword_value(node, "callback")
        if callback is None and node.args and not node.args[0].star and node.args[0].keyword is None:
            callback = node.args[0].value
        receiver = self.ref(func.value)
        callee = self.arg_ref(callback) if callback is not None else None
        if receiver and callee:
            self.handoffs.append(CallFact(caller=self.caller(), callee=callee, span=self.span(node),
                                          args=(receiver + ("<item>",),)))

    def note_start(self, node: cst.Call, target: cst.BaseExpression) -> None:
        """``Thread(target=work, args=(q, n))``, ``ctx.Process(target=work, args=args)`` with
        ``args`` a tuple bound just before, ``kwargs={"q": q}``: the thread or process will
        call ``target`` with these arguments (how a channel usually reaches a worker)."""
        fn = self.function_frame()
        given, named = keyword_value(node, "args"), keyword_value(node, "kwargs")
        if fn is not None and isinstance(given, cst.Name):
            given = fn.tuples.get(given.value)
        if fn is not None and isinstance(named, cst.Name):
            named = fn.tuples.get(named.value)
        started = self.ref(target)
        elements = given.elements if isinstance(given, (cst.Tuple, cst.List)) else ()
        if started is None or any(not isinstance(e, cst.Element) for e in elements):
            return
        keywords = []
        for element in named.elements if isinstance(named, cst.Dict) else ():
            key = string_value(element.key) if isinstance(element, cst.DictElement) else None
            if key is not None and key.isidentifier():
                keywords.append((key, self.arg_ref(element.value)))
        if elements or keywords:
            self.handoffs.append(CallFact(caller=self.caller(), callee=started, span=self.span(node),
                                          args=tuple(self.arg_ref(e.value) for e in elements), keywords=tuple(keywords)))

    def tagged(self, node: cst.BaseExpression) -> Payload:
        """A tuple or dict whose tag is ``node``: a tag constant, or a parameter of the
        enclosing function (``(name, args)`` in ``def enqueue(self, name, *args)``)."""
        tag = self.tag_value(node)
        if tag is not None:
            return Payload(PayloadShape.TAGGED, tag=tag)
        param = self.own_param(node)
        return Payload(PayloadShape.TAG_PARAM, param=param) if param is not None else _OTHER

    def own_param(self, node: cst.BaseExpression) -> str | None:
        """The name of the enclosing function's parameter ``node`` is (not ``self``, not
        rebound in the body), else None."""
        fn = self.function_frame()
        if fn is None or not isinstance(node, cst.Name):
            return None
        name = node.value
        if name in fn.params and name not in fn.names and name != fn.self_name:
            return name
        if name in fn.spread and name not in fn.names:
            return "**" + fn.spread[name]  # each keyword argument the callers pass
        return None

    def note_spread(self, target: cst.BaseExpression, iterated: cst.BaseExpression) -> None:
        """``for key, value in kwargs.items()`` or ``for value in kwargs.values()``, ``kwargs``
        the function's ``**`` parameter: ``value`` is each keyword argument of its callers."""
        fn = self.function_frame()
        if (fn is None or not fn.star_kwargs or not isinstance(iterated, cst.Call) or iterated.args
                or not isinstance(iterated.func, cst.Attribute) or not isinstance(iterated.func.value, cst.Name)
                or iterated.func.value.value != fn.star_kwargs):
            return
        method = iterated.func.attr.value
        if method == "items" and isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            target = target.elements[1].value
        elif method != "values":
            return
        if isinstance(target, cst.Name):
            fn.spread[target.value] = fn.star_kwargs

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.note_spread(node.target, node.iter)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self.note_spread(node.for_in.target, node.for_in.iter)  # the key and value come first in the source

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self.note_spread(node.for_in.target, node.for_in.iter)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self.note_spread(node.for_in.target, node.for_in.iter)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.note_spread(node.for_in.target, node.for_in.iter)

    def call_arguments(self, call: cst.Call) -> tuple[tuple[str, Tag | None, str], ...]:
        """A call's arguments that are tag constants or the enclosing function's parameters,
        as (position or keyword, tag, parameter): ``_msg("user", ...)``, ``_msg(kind, ...)``."""
        found = []
        for key, node in _arguments(call):
            tag = self.argument_tag(node)
            param = self.own_param(node) if tag is None else None
            if tag is not None or param is not None:
                found.append((key, tag, param or ""))
        return tuple(found)

    def passed(self, call: cst.Call) -> tuple[tuple[str, Payload], ...]:
        """The arguments a payload may travel through (``CallFact.passed``): tag constants,
        tagged tuples and dicts, and the enclosing function's own parameters."""
        found = []
        for key, node in _arguments(call):
            tag = self.argument_tag(node)
            if tag is not None:
                found.append((key, Payload(PayloadShape.TAG, tag=tag)))
                continue
            param = self.own_param(node)
            if param is not None:
                found.append((key, Payload(PayloadShape.PARAM, param=param)))
            elif isinstance(node, (cst.Tuple, cst.Dict)):
                shaped = self.payload(node)
                if shaped is not _OTHER:
                    found.append((key, shaped))
        return tuple(found)

    def argument_tag(self, node: cst.BaseExpression) -> Tag | None:
        """A tag constant passed as an argument: a string that reads as a name (not a
        message), a module constant bound to one, or a dotted constant."""
        if isinstance(node, cst.SimpleString):
            # read without evaluating: a name-like string has no prefix and no escapes
            # (and ``ast.literal_eval``, run for every string argument, leaves garbage cycles)
            text = node.value
            inner = text[1:-1] if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0] else ""
            return Tag(inner) if inner.isidentifier() and len(inner) <= _MAX_TAG else None
        if isinstance(node, cst.Attribute) and not _constant_like(node.attr.value):
            return None
        return self.tag_value(node)

    def tag_value(self, node: cst.BaseExpression) -> Tag | None:
        """A string literal, a module constant bound to one, or a dotted constant such as an
        Enum member (``Kind.USER``), by its qualified name."""
        literal = string_value(node)
        if literal is not None:
            return Tag(literal)
        if isinstance(node, cst.Name) and node.value in self.constants:
            return Tag(self.constants[node.value])
        if isinstance(node, cst.Name) and (node.value in self.numbers or _constant_name(node.value)):
            # ``ACK = 0`` here, or a constant imported from another module
            # (``from .protocol import ACK``): by its qualified name
            name = dotted(self.lookup(node.value))
            return Tag(name, named=True) if name and not name.startswith("builtins.") else None
        if isinstance(node, cst.Attribute):  # Enum members and module constants: Kind.USER, kinds.USER
            name = dotted(self.ref(node))  # None for ``self.expected.name``: a value, not a tag
            return Tag(name, named=True) if name else None
        return None

    def table_tag(self, key: cst.BaseExpression) -> Tag | None:
        """The tag a handler table's key is: a string, or a module constant (``ACK:
        on_ack``); a dotted key (``events.UserCreated``) stays a reference to resolve."""
        literal = string_value(key)
        if literal is not None:
            return Tag(literal)
        return self.tag_value(key) if isinstance(key, cst.Name) else None

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        fn = self.function_frame()
        if fn is not None and node.name is not None and isinstance(node.name.name, cst.Name):
            fn.caught.add(node.name.name.value)

    def item_source(self, name: str, through: Through) -> tuple[Ref, Compared] | None:
        """(channel, what a test of it compares) when ``name`` reached ``through`` holds a
        received item or its tag: ``kind`` unpacked from an item compares tags; an item
        itself compares classes (``isinstance``, ``case A()``), its type classes, and a
        key, index or attribute of it tags.  The result of a call (``item =
        self.comms.get_task(i)``) is marked ``returned``: the graph decides whether it is
        an item."""
        fn = self.function_frame()
        if fn is None:
            return None
        if through is Through.VALUE and name in fn.tags:
            return fn.tags[name], Compared.TAG
        item = self.item_ref(fn, name)
        if item is None:
            return None
        return item, (Compared.CLASS if through in (Through.VALUE, Through.TYPE) else Compared.TAG)

    def note_received(self, fn: FunctionScope, name: str, value: cst.BaseExpression) -> Ref | None:
        """Note what binding ``name`` to ``value`` in ``fn`` receives: an item of a channel
        (``item = q.get()``: that channel, returned), or the tag of an item read into a local
        (``kind = item["type"]``, ``item.get("type")``, ``event.kind``), which later tests
        compare as a tag, as they do the first element unpacked from an item."""
        source = self.receive_source(value)
        if source is not None:
            fn.received[name] = source
            return source
        fn.received.pop(name, None)
        found = subject(value)
        if found is not None and found[1] in (Through.KEY, Through.ATTRIBUTE) and found[2]:
            item = self.item_ref(fn, found[0])
            if item is not None:
                fn.tags[name] = item
        return None

    @staticmethod
    def item_ref(fn: FunctionScope, name: str) -> Ref | None:
        """What ``name`` holds when it may be a received item: the receiving channel's
        ref, the parameter (the graph follows the arguments of its callers), or the call
        whose result it holds (ending in ``"<result>"``)."""
        if name in fn.received:
            return fn.received[name]
        if name in fn.params and name != fn.self_name:
            return (f"P:{fn.qualname}:{name}",)
        if name in fn.results:
            return fn.results[name] + (_RESULT,)
        return None

    def add_dispatch(self, source: Ref, kind: DispatchKind, node: cst.CSTNode, ref: Ref = (),
                     tag: Tag | None = None) -> None:
        fn = self.function_frame()
        if fn is not None:
            returned = source[-1] == _RESULT
            source = source[:-1] if returned else source
            self.dispatches.append(Dispatch(fn.qualname, source, kind, self.span(node), ref, tag, returned))

    def note_kind_test(self, test: KindTest, at: cst.CSTNode) -> None:
        """A dispatch per operand of ``test`` when it tests a received item the way its
        shape allows (classes of the item or its type, tags of a tag), and one per constant
        the item itself is compared with (``item == POISON_PILL``, ``item is _STOP``)."""
        found = self.item_source(test.name, test.through)
        if found is not None and found[1] is Compared.CLASS and test.through is Through.VALUE \
                and test.compared is Compared.TAG:
            for operand in test.operands:
                tag = self.constant_tag(operand)
                if tag is not None:
                    self.add_dispatch(found[0], DispatchKind.VALUE, at, tag=tag)
            return
        if found is None or found[1] is not test.compared:
            return
        source = found[0]
        for operand in test.operands:
            if test.compared is Compared.CLASS:
                ref = self.ref(operand)
                if ref is not None:
                    self.add_dispatch(source, DispatchKind.CLASS, at, ref=ref)
            else:
                tag = self.tag_value(operand)
                if tag is not None:
                    self.add_dispatch(source, DispatchKind.TAG, at, tag=tag)

    def note_dispatch_call(self, node: cst.Call) -> None:
        test = kind_test(node)
        if test is not None:
            self.note_kind_test(test, node)
            return
        fn = self.function_frame()
        prefix = _prefix_test(node)
        if prefix is not None:  # ``message.startswith("__SCALE__")``
            found = self.item_source(prefix[0], Through.VALUE)
            if found is not None and found[1] is Compared.CLASS:
                self.add_dispatch(found[0], DispatchKind.VALUE, node, tag=Tag(prefix[1]))
            return
        lookup = method_lookup(node, fn.spliced if fn is not None else {})
        if lookup is None:
            return
        found = self.item_source(lookup.name, lookup.through)
        owner = self.ref(lookup.owner)
        # a received item spliced into a name is a string: a tag, like a tag unpacked from it
        if found is not None and (found[1] is Compared.TAG or lookup.through is Through.VALUE) and owner is not None:
            self.add_dispatch(found[0], DispatchKind.METHOD, node, ref=owner, tag=Tag(lookup.prefix))

    def constant_tag(self, node: cst.BaseExpression) -> Tag | None:
        """A constant an item itself is compared with: a module constant by its qualified
        name (``POISON_PILL``, ``_STOP = object()``), a string, an Enum member."""
        if isinstance(node, cst.Name) and (node.value in self.constants or node.value in self.numbers
                                           or _constant_name(node.value)):
            name = dotted(self.lookup(node.value))
            return Tag(name, named=True) if name and not name.startswith("builtins.") else None
        return self.tag_value(node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        test = kind_test(node)
        if test is not None:
            self.note_kind_test(test, node)
            return
        self.note_key_test(node)

    def note_key_test(self, node: cst.BaseExpression) -> None:
        tested = key_test(node)  # ``"exit" in item``, ``if item.get("exit"):``: a key's presence
        found = self.item_source(tested[0], Through.VALUE) if tested is not None else None
        if found is not None and found[1] is Compared.CLASS:
            self.add_dispatch(found[0], DispatchKind.KEY, node, tag=Tag(tested[1]))

    # the other readers of the extractor visit ``if`` and ``while`` too: pass the visit on
    def visit_If(self, node: cst.If) -> bool | None:
        if not isinstance(node.test, cst.Comparison):  # comparisons are read on their own
            self.note_key_test(node.test)
        return super().visit_If(node)  # type: ignore[misc]

    def visit_While(self, node: cst.While) -> bool | None:
        if not isinstance(node.test, cst.Comparison):
            self.note_key_test(node.test)
        return super().visit_While(node)  # type: ignore[misc]

    def visit_Match(self, node: cst.Match) -> None:
        found = subject(node.subject)
        if found is None:
            return
        name, through, _ = found
        for case in node.cases:
            for test in case_kinds(name, case, self.tag_keys):
                if through is not Through.VALUE:  # ``match item["type"]:``: the values are tags
                    if test.through is not Through.VALUE or test.compared is not Compared.TAG:
                        continue
                    test = KindTest(name, through, Compared.TAG, test.operands)
                self.note_kind_test(test, case)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # ``HANDLERS[type(item)](item)`` / ``handlers[item["type"]]``: a dict-of-handlers lookup
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        read = subject(node.slice[0].slice.value)
        found = self.item_source(read[0], read[1]) if read is not None else None
        if found is None or (read[1] is Through.VALUE and found[1] is Compared.CLASS):
            return  # ``table[item]``: the item itself, not its kind
        table = self.ref(node.value)
        if table is not None:
            self.add_dispatch(found[0], DispatchKind.TABLE, node, ref=table)


def _arguments(call: cst.Call) -> list[tuple[str, cst.BaseExpression]]:
    """(position or keyword, value) of each argument up to the first ``*args``."""
    found = []
    for position, arg in enumerate(call.args):
        if arg.star:
            break
        found.append((arg.keyword.value if arg.keyword is not None else str(position), arg.value))
    return found


def _prefix_test(call: cst.Call) -> tuple[str, str] | None:
    """(name, prefix) for ``name.startswith("prefix")``; None for anything else."""
    func = call.func
    if (not isinstance(func, cst.Attribute) or func.attr.value != "startswith" or not isinstance(func.value, cst.Name)
            or len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star):
        return None
    prefix = string_value(call.args[0].value)
    return (func.value.value, prefix) if prefix else None


def _constant_name(name: str) -> bool:
    """``ACK``, ``STZ_MSG``: how module constants are spelled (not ``X``, not ``Queue``)."""
    return len(name) > 1 and name.isupper() and name.strip("_")[:1].isalpha()


def _is_integer(node: cst.BaseExpression) -> bool:
    """``0``, ``0x9B``, ``-1``."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, cst.Integer)


def _constant_like(name: str) -> bool:
    """``USER`` or ``User``: how Enum members and module constants are spelled."""
    return name[:1].isupper()


_MAX_TAG = 40
_RESULT = "<result>"  # marks the ref of a call whose result a tested name holds
_NONE = Payload(PayloadShape.NONE)
_CAUGHT = Payload(PayloadShape.CAUGHT)
_OTHER = Payload(PayloadShape.OTHER)
