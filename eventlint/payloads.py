"""What a put's payload stands for when its callers decide it: the part of the index that
follows a parameter, a tag parameter, an event class or a helper's tagged return back to
the arguments at the call sites (a mixin of ``EventGraph``).  Neutral: which payloads are
kinds is EVT002's part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Protocol

from .model import GET_METHODS, CallFact, Dispatch, FileFacts, FunctionFact, Payload, PayloadShape, Ref
from .resolution import ValueKind



class Operation(Protocol):
    """A put as the index records it (``graph.Operation``)."""

    call: CallFact
    function: str  # the function making it
    path: str
    channel: str  # the channel's id
    union: bool  # through a name the callers fill with this and other channels

_FORWARDED = (PayloadShape.PARAM, PayloadShape.TAG_PARAM, PayloadShape.NEW_PARAM)
_MAX_FORWARDS = 3  # functions passing their own parameter on, followed from a put
_MAX_CALLERS = 200  # call sites read per forwarding function


@dataclass(frozen=True, slots=True)
class PayloadSite:
    """Something put on a channel: the payload of a put, or what a caller passes to a
    function that puts its parameter (``def publish(self, event): self._q.put(event)``)."""

    payload: Payload
    call: CallFact  # the put, or the call of the forwarding function
    path: str
    by_caller: bool = False  # a tag a caller passed for the tag parameter of the put's function
    # what the callers pass for an annotated parameter that is put: that annotation
    # (``def send(self, message: Optional[Event])``)
    annotated: Ref = ()


class PayloadFollower:
    """Follows payloads to the callers that decide them; ``EventGraph`` provides the
    index it reads (``functions``, ``files``, ``resolver``, ``resolve``, ``canonical``,
    ``canonical_module``, ``mro``, ``_channel_method_calls``) and the memo tables (``_forwarded``,
    ``_shaped_returns``, ``_caller_paths``, ``_shared_caller_calls``, ``_constants``)."""

    def forwarded_payloads(self, op: Operation) -> list[PayloadSite]:
        """What a put's payload stands for when its caller decides it: a put of a parameter
        (``def publish(self, event): self._q.put(event)``) is what the callers pass, a tuple
        or dict tagged by a parameter (``(name, args)``) is tagged by the callers' arguments,
        ``event_cls(*args)`` makes the classes the callers pass, and a call of a project
        helper that returns a tagged dict (``_msg("user", ...)``) is what the helper
        returns.  An annotated parameter (``message: Optional[Event]``) stands for its
        annotation and for what the callers pass, each site marked with the annotation.
        Callers are followed through up to ``_MAX_FORWARDS`` functions that pass their own
        parameter on."""
        payload = op.call.payload
        if payload is None:
            return []
        sites = self._forwarded_sites(op, payload)
        # a put through a name holding several channels: a caller whose receiver's construction
        # is known puts on the channel of that construction (``puts_through_method``)
        return [site for site in sites if not self._on_known_instance(site)] if op.union else sites

    def _forwarded_sites(self, op: Operation, payload: Payload) -> list[PayloadSite]:
        if payload.shape in _FORWARDED:
            return self._from_callers(op.function, payload.shape, payload.param, 0, op.channel)
        if payload.shape == PayloadShape.CALL and payload.param:
            # an annotated parameter: what the callers pass, beside the annotation itself
            sites = self._from_callers(op.function, PayloadShape.PARAM, payload.param, 0, op.channel)
            return [replace(site, annotated=payload.ref) for site in sites]
        enclosing = _enclosing_param(payload)
        if enclosing is not None:  # a closure's put of its enclosing function's parameter
            function, param = enclosing
            shape = PayloadShape.NEW_PARAM if payload.shape == PayloadShape.CALL else PayloadShape.PARAM
            return self._from_callers(function, shape, param, 0, op.channel)
        if payload.shape == PayloadShape.CALL:
            return self._helper_payloads(op, payload)
        return []

    def _from_callers(self, function: str, shape: PayloadShape, param: str, depth: int,
                      channel_id: str = "") -> list[PayloadSite]:
        key = (function, shape, param, channel_id)
        known = self._forwarded.get(key)
        if known is None:
            self._forwarded[key] = []  # a cycle of functions passing the parameter round
            known = self._forwarded[key] = self._callers_passing(function, shape, param, depth, channel_id)
        return known

    def _callers_passing(self, function: str, shape: PayloadShape, param: str, depth: int,
                         channel_id: str) -> list[PayloadSite]:
        fn = self.functions.get(function)
        if fn is None:
            return []
        target = fn.owner_class if fn.owner_class is not None and fn.qualname.endswith(".__init__") else fn.qualname
        found = []
        calls = [*self.resolver.calls_to(target), *self._channel_method_calls(fn, channel_id),
                 *self._calls_through_bases(fn)]
        if target != fn.qualname:  # ``super().__init__(...)`` in a subclass
            calls += self.resolver.calls_to(fn.qualname)
        named = {p.name for p in fn.params}
        for call in calls[:_MAX_CALLERS]:
            passed = dict(call.passed)
            # ``**kwargs`` spread (``for name, value in kwargs.items()``): every keyword argument
            # the call passes that no named parameter takes
            keys = [key for key, _ in call.keywords if key not in named] if param.startswith("**") else [param]
            for key in keys:
                found.extend(self._passed_as(call, fn, key, passed, shape, depth, channel_id, self.call_path(call)))
        return found

    def _passed_as(self, call: CallFact, fn: FunctionFact, param: str, passed: dict[str, Payload], shape: PayloadShape,
                   depth: int, channel_id: str, path: str) -> list[PayloadSite]:
        """What ``call`` passes for ``fn``'s parameter ``param``, as payloads of the put."""
        found: list[PayloadSite] = []
        position = self._position(fn, param)
        arg = passed.get(param) or (passed.get(str(position)) if position is not None else None)
        ref = next((r for key, r in call.keywords if key == param), None)
        if ref is None and position is not None and position < len(call.args):
            ref = call.args[position]
        if arg is not None and arg.shape == PayloadShape.PARAM:
            if depth < _MAX_FORWARDS:
                found.extend(self._from_callers(call.caller, shape, arg.param, depth + 1, channel_id))
            return found
        if shape == PayloadShape.TAG_PARAM:
            if arg is not None and arg.shape == PayloadShape.TAG:
                found.append(PayloadSite(Payload(PayloadShape.TAGGED, tag=arg.tag), call, path, True))
        elif shape == PayloadShape.NEW_PARAM:
            if ref:
                found.append(PayloadSite(Payload(PayloadShape.CALL, ref), call, path))
        elif arg is not None and arg.shape in (PayloadShape.TAGGED, PayloadShape.KEYS):
            found.append(PayloadSite(arg, call, path))
        elif ref:
            made = self._instance_payload(ref)
            if made is not None:
                found.append(PayloadSite(made, call, path))
        return found

    def _calls_through_bases(self, fn: FunctionFact) -> list[CallFact]:
        """The calls of the method ``fn`` overrides, made on a receiver known only by a
        project base class (``queue: BaseQueue``; ``queue.put(...)`` reaches
        ``AsyncioQueue.put``)."""
        if fn.owner_class is None or fn.qualname.endswith(".__init__"):
            return []
        name = fn.qualname.rpartition(".")[2]
        found: list[CallFact] = []
        for base in self.mro(fn.owner_class)[1:]:
            if f"{base}.{name}" in self.functions:
                found.extend(self.resolver.calls_to(f"{base}.{name}"))
        return found

    def _instance_payload(self, ref: Ref) -> Payload | None:
        """An argument as a payload: a call (``Connected(peer)``, ``make()``) by its callee,
        a name holding an instance of a project class by that class; None otherwise."""
        if ref[-1] == "()" and len(ref) > 1:
            return Payload(PayloadShape.CALL, ref[:-1])
        value = self.resolve(ref)
        if value is not None and value.kind == ValueKind.INSTANCE:
            return Payload(PayloadShape.CALL, (f"C:{value.name}",))
        return None

    @staticmethod
    def _position(fn: FunctionFact, param: str) -> int | None:
        """The position of ``fn``'s parameter at its call sites (``self`` left out); None
        when it is keyword-only or not a parameter."""
        positional = [p.name for p in fn.params if p.kind == "positional"]
        if fn.owner_class is not None and positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        return positional.index(param) if param in positional else None

    def _helper_payloads(self, op: Operation, payload: Payload) -> list[PayloadSite]:
        """A put of ``helper(...)`` where the project helper returns a tagged tuple or dict."""
        value = self.resolve(payload.ref)
        if value is None or value.kind != ValueKind.FUNCTION:
            return []
        if self._shaped_returns is None:
            shaped: dict[str, list[Payload]] = defaultdict(list)
            for facts in self.files:
                for ret in facts.returns:
                    if ret.payload is not None:
                        shaped[self.canonical(ret.function)].append(ret.payload)
            self._shaped_returns = shaped
        fn = self.functions.get(value.name)
        found = []
        for returned in self._shaped_returns.get(value.name, ()):
            if returned.shape == PayloadShape.TAGGED:
                found.append(PayloadSite(returned, op.call, op.path))
            elif returned.shape == PayloadShape.TAG_PARAM and fn is not None:
                position = self._position(fn, returned.param)
                keys = {returned.param, str(position)} if position is not None else {returned.param}
                for key, tag, param in payload.arguments:
                    if key not in keys:
                        continue
                    if tag is not None:
                        found.append(PayloadSite(Payload(PayloadShape.TAGGED, tag=tag), op.call, op.path))
                    elif param:
                        found.extend(self._from_callers(op.function, PayloadShape.TAG_PARAM, param, 1, op.channel))
        return found

    def _dispatches_in(self, facts: FileFacts) -> list[tuple[str, Dispatch]]:
        if self.catalog.implements_channels(facts.module):
            return []  # billiard's own connection module testing an address's type is no consumer
        found = []
        for dispatch in facts.dispatches:
            if dispatch.returned or dispatch.source[0].startswith("P:"):
                # a parameter holding an item handed over, the channel the function receives
                # from (``def supervise(channel): kind, data = channel.get()``), or the result
                # of a call: an item when it resolves to one
                value = self.resolve(dispatch.source)
                channel = value.name if value is not None and value.kind in (ValueKind.ITEM, ValueKind.CHANNEL) else None
            else:
                value = self.resolve_channel(dispatch.source)
                channel = value.name if value is not None else self._received_through_method(dispatch.source)
                if channel is None:  # ``self.conn.recv()`` where the callers hand several channels to ``conn``
                    found.extend((value.name, dispatch) for value in sorted(self.resolver.channel_union(dispatch.source),
                                                                            key=lambda value: value.name)
                                 if value.kind == ValueKind.CHANNEL)
            if channel is not None:
                found.append((channel, dispatch))
        return found

    def _on_known_instance(self, site: PayloadSite) -> bool:
        """The site is a call of a method on an instance whose construction is known."""
        receiver = self.resolve(site.call.callee[:-1]) if len(site.call.callee) > 1 else None
        return receiver is not None and receiver.kind == ValueKind.INSTANCE and receiver.origin is not None

    def puts_through_method(self, call: CallFact) -> list[str]:
        """The channels a call of a project method named like a put (``send``) puts on, when
        the method puts its first parameter on an attribute of ``self`` (``def send(self, obj):
        self.writer.send(obj)``) and the receiver is an instance whose construction is known
        (``self.pool_channel.send(WorkerTask(...))`` on ``Channel(read1, write0)``)."""
        receiver = self.resolve(call.callee[:-1])
        method = self.resolve(call.callee) if receiver is not None and receiver.origin is not None else None
        fn = self.functions.get(method.name) if method is not None and method.kind == ValueKind.FUNCTION else None
        if fn is None or receiver.kind != ValueKind.INSTANCE or fn.owner_class is None or len(fn.params) < 2:
            return []
        found = []
        for inner in self.resolver.calls_in(fn.qualname):
            payload, callee = inner.payload, inner.callee
            if payload is None or payload.param != fn.params[1].name or len(callee) != 3 or callee[0] != f"I:{fn.owner_class}":
                continue
            channel = self.resolve((*call.callee[:-1], callee[1]))
            if channel is not None and channel.kind == ValueKind.CHANNEL and channel.name not in found:
                found.append(channel.name)
        return found

    def _received_through_method(self, source: Ref) -> str | None:
        """The channel whose items a project object's get-like method returns, for a dispatch
        on what it gave (``message = self.worker_manager.receive(timeout)`` with ``return
        self.pool_channel.recv()``): when exactly one such method of the object gives one."""
        owner = self.resolve(source)
        if owner is None or owner.kind != ValueKind.INSTANCE:
            return None
        items = set()
        for method in sorted(GET_METHODS):
            item = self.resolve((*source, f".{method}", "()"))
            if item is not None and item.kind == ValueKind.ITEM:
                items.add(item.name)
        return items.pop() if len(items) == 1 else None

    def string_constant(self, qualname: str) -> str | None:
        """The string the project's module constant ``qualname`` is bound to (``USER =
        "user"``), however the code reached it (``from .kinds import USER``); None when
        it names no such constant."""
        if self._constants is None:
            self._constants = {f"{self.canonical_module(f.module)}.{name}": value
                               for f in self.files for name, value in f.constants}
        return self._constants.get(self.canonical(qualname))

    def call_path(self, call: CallFact) -> str:
        """The file of a call or of a handoff (a call made later); "" for neither. Found
        by the function that makes it; only the calls of a function that more than one
        file defines (two ``tests/conftest.py``) are looked up by identity, as a map of
        every call would hold one entry a call (20 MiB on the standard library)."""
        if self._caller_paths is None:
            owners: dict[str, str | None] = {}  # None: several files
            for facts in self.files:
                for made in (facts.calls, facts.handoffs):
                    for c in made:
                        known = owners.setdefault(c.caller, facts.path)
                        if known is not None and known != facts.path:
                            owners[c.caller] = None
            self._caller_paths = owners
            if None in owners.values():
                self._shared_caller_calls = {id(c): facts.path for facts in self.files
                                             for made in (facts.handoffs, facts.calls)
                                             for c in made if owners[c.caller] is None}
        path = self._caller_paths.get(call.caller, "")
        return self._shared_caller_calls.get(id(call), "") if path is None else path


def _enclosing_param(payload: Payload) -> tuple[str, str] | None:
    """(function, parameter) when a put sends a parameter of an enclosing function, or an
    instance of the class it holds (``def mapper(self, event_cls): def inner(*args):
    q.put(event_cls(*args))``)."""
    if payload.shape not in (PayloadShape.CALL, PayloadShape.NAME) or len(payload.ref) != 1:
        return None
    tag, _, rest = payload.ref[0].partition(":")
    if tag != "P":
        return None
    function, _, param = rest.rpartition(":")
    return (function, param) if function and param else None
