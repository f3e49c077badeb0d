"""Event kinds: what each put publishes, which kinds the consumer's branches take, and
the subscriptions (one per kind, in branch order) and event classes that replace them.

A class channel keeps its classes; a tag channel gets one frozen dataclass per tag
(``"user_registered"`` → ``UserRegisteredEvent``) whose fields are what the consumer
unpacked (tuples) or the other keys the puts carry (dicts).
"""

from __future__ import annotations

import enum
import keyword
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from ...graph import Operation, Value, ValueKind
from ...model import PayloadShape
from .consumers import Consumer, Loop, Sentinel, SentinelKind, sentinel_value
from .references import PutSite
from .source import BUILTINS, Skip, Source, dotted, string

if TYPE_CHECKING:
    from .workspace import Workspace

_PLAIN_DATA = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.str",
    "builtins.bytes", "builtins.bytearray", "builtins.int", "builtins.float", "builtins.complex", "builtins.bool",
    "typing.NamedTuple", "typing.TypedDict", "typing_extensions.TypedDict", "enum.IntEnum", "enum.IntFlag",
    "enum.StrEnum", "decimal.Decimal", "fractions.Fraction", "numbers.Number", "numbers.Complex", "numbers.Real",
    "numbers.Rational", "numbers.Integral", "collections.OrderedDict", "collections.defaultdict",
    "collections.Counter", "collections.deque",
})  # what eventlint.bus refuses to publish or subscribe to (plain data, numbers)
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_\-. ][A-Za-z0-9]+)*\Z")
_TAGGED_TUPLE = m.Tuple(elements=[m.Element(), m.ZeroOrMore(m.Element())])


class PutKind(enum.Enum):
    SENTINEL = "sentinel"  # the shutdown value: becomes close(drain=True)
    CLASS = "class"  # an instance of an event class: published as it is
    TAG = "tag"  # a tagged tuple or dict: published as an instance of the tag's new class


@dataclass(frozen=True, slots=True, eq=False)
class Put:
    """A put site and what it publishes."""

    site: PutSite
    kind: PutKind
    cls: Value | None = None  # the class of a CLASS put
    tag: str = ""  # the tag of a TAG put (or of a tag sentinel)

    @property
    def source(self) -> Source:
        return self.site.source

    @property
    def call(self) -> cst.Call:
        return self.site.call


@dataclass(frozen=True, slots=True, eq=False)
class Kinds:
    """Every put, classified; for a dict tag channel, the keys each tag's puts carry."""

    puts: tuple[Put, ...]
    tag_fields: dict[str, list[str]]  # dict tag -> the other keys its puts carry, in the first put's order


@dataclass(frozen=True, slots=True, eq=False)
class Subscription:
    branch: int  # index into the consumer's dispatched branches
    cls: Value | None  # None for a tag's new event class
    cls_code: str  # how the subscription names the class
    tag: str = ""
    excluded: tuple[str, ...] = ()  # earlier branches' classes it must not take


@dataclass(frozen=True, slots=True, eq=False)
class EventClass:
    """A frozen dataclass the migration adds for one tag."""

    name: str
    fields: tuple[str, ...]


def classify_puts(work: Workspace, consumer: Consumer, sites: tuple[PutSite, ...]) -> Kinds:
    """What each put publishes (in put order); any put of a kind the bus can't carry is a skip."""
    tag_fields: dict[str, list[str]] = {}
    puts = tuple(_classify(work, consumer, site, tag_fields) for site in sites)
    return Kinds(puts, tag_fields)


def _classify(work: Workspace, consumer: Consumer, site: PutSite, tag_fields: dict[str, list[str]]) -> Put:
    loop, arg = consumer.loop, site.call.args[0].value
    where = site.source.where(site.call)
    if loop.sentinel is not None and sentinel_value(work, site.source, arg) == loop.sentinel:
        return Put(site, PutKind.SENTINEL)
    if loop.tag_var is not None:
        tag = string(arg.elements[0].value) if m.matches(arg, _TAGGED_TUPLE) else None
        if tag is None:
            raise Skip(f"publishes a value of unknown kind ({site.source.quote(arg)} at {where})")
        if loop.sentinel == Sentinel(SentinelKind.TAG, tag):
            return Put(site, PutKind.SENTINEL, tag=tag)
        if len(arg.elements) != len(loop.fields) + 1:
            raise Skip(f"the put at {where} has {len(arg.elements) - 1} value(s) after its tag; the consumer "
                       f"unpacks {len(loop.fields)}")
        return Put(site, PutKind.TAG, tag=tag)
    if loop.tag_key is not None:
        return _classify_dict(loop, site, arg, where, tag_fields)
    value = _payload_class(work, site.op)
    if value is None:
        raise Skip(f"publishes a value of unknown kind ({site.source.quote(arg)} at {where})")
    if value.kind == ValueKind.CLASS and work.graph.is_exception_class(value.name):
        raise Skip(f"it carries exceptions ({where}); the bus dead-letters failures instead")
    plain = _plain_data(work, value)
    if plain:
        raise Skip(f"publishes {plain} ({where}), which the bus refuses as plain data")
    return Put(site, PutKind.CLASS, cls=value)


def _classify_dict(loop: Loop, site: PutSite, arg: cst.BaseExpression, where: str,
                   tag_fields: dict[str, list[str]]) -> Put:
    """``{"type": "user", "id": 7}``: tag "user", fields ``id`` (the same keys on every put
    of that tag, each a name a dataclass field can have)."""
    keys = [string(e.key) if isinstance(e, cst.DictElement) else None
            for e in (arg.elements if isinstance(arg, cst.Dict) else [])]
    tag_element = next((e for e, k in zip(arg.elements, keys) if k == loop.tag_key), None) if keys else None
    tag = string(tag_element.value) if tag_element is not None else None
    if not keys or None in keys or tag is None:
        raise Skip(f"publishes a value of unknown kind ({site.source.quote(arg)} at {where})")
    fields = [k for k in keys if k != loop.tag_key]
    if any(not k.isidentifier() or keyword.iskeyword(k) for k in fields):
        raise Skip(f"the put at {where} has a key that can't be a field name")
    known = tag_fields.setdefault(tag, fields)
    if set(known) != set(fields):
        raise Skip(f"{tag!r} events are put with different keys ({where})")
    return Put(site, PutKind.TAG, tag=tag)


def _payload_class(work: Workspace, op: Operation) -> Value | None:
    """The class of what ``op`` puts, from the analysis (None when unknown)."""
    graph = work.graph
    payload = op.call.payload
    if payload is None or payload.shape not in (PayloadShape.CALL, PayloadShape.NAME):
        return None
    value = graph.resolve(payload.ref)
    if value is None:
        return None
    if value.kind == ValueKind.INSTANCE:
        return Value(ValueKind.CLASS, value.name)
    if payload.shape != PayloadShape.CALL:
        return None
    if value.kind == ValueKind.CLASS:
        return value
    if value.kind == ValueKind.FUNCTION:
        made = graph.step(value, "()", 0)
        return Value(ValueKind.CLASS, made.name) if made is not None and made.kind == ValueKind.INSTANCE else None
    last = value.name.rsplit(".", 1)[-1]
    if value.kind == ValueKind.API and last[:1].isupper() and "()" not in value.name \
            and not value.name.startswith("builtins."):
        return Value(ValueKind.API, value.name)
    return None


def _plain_data(work: Workspace, value: Value) -> str:
    names = [value.name] if value.kind == ValueKind.API else work.graph.external_bases(value.name)
    plain = [n for n in names if n in _PLAIN_DATA]
    return f"a {plain[0].rsplit('.', 1)[-1]}" if plain else ""


def _branch_class(work: Workspace, source: Source, expr: cst.BaseExpression) -> Value:
    """What a dispatch branch's class is, from the analysis."""
    name = dotted(expr)
    head = expr
    while isinstance(head, cst.Attribute):
        head = head.value
    if not (isinstance(head, cst.Name) and source.is_global(head)):
        raise Skip(f"the dispatch class {name} is not a module-level name")
    parts = name.split(".")
    value = work.graph.resolve((f"G:{source.facts.module}.{parts[0]}", *(f".{p}" for p in parts[1:])))
    if value is None and parts[0] in BUILTINS:
        raise Skip(f"the consumer dispatches on the builtin {name}, which the bus refuses as plain data")
    if value is None or value.kind not in (ValueKind.CLASS, ValueKind.API):
        raise Skip(f"can't tell what class {name} is")
    value = Value(value.kind, value.name)
    plain = _plain_data(work, value)
    if plain:
        raise Skip(f"the consumer dispatches on {plain} ({name}), which the bus refuses as plain data")
    return value


def _relation(work: Workspace, sub: Value, base: Value) -> bool | None:
    """Is ``sub`` ``base`` or one of its subclasses?  None when that can't be told."""
    if (sub.kind, sub.name) == (base.kind, base.name):
        return True
    if sub.kind == ValueKind.CLASS:
        if base.kind == ValueKind.CLASS:
            return base.name in work.graph.mro(sub.name)
        outside = [b for b in work.graph.external_bases(sub.name) if b not in ("builtins.object", "object")]
        if base.name in outside:
            return True
        return False if not outside else None
    return False if base.kind == ValueKind.CLASS else None


def subscriptions(work: Workspace, consumer: Consumer, kinds: Kinds,
                  display: str) -> tuple[tuple[Subscription, ...], tuple[str, ...]]:
    """One subscription per class (or tag) a branch tests, in branch order; and the note
    that the ``else`` branch was dropped, when there was one."""
    loop, source = consumer.loop, consumer.source
    branches = loop.dispatched
    has_else = len(branches) != len(loop.branches)
    if loop.tagged:
        subs = _tag_subscriptions(source, branches, kinds)
    else:
        subs = _class_subscriptions(work, source, branches, kinds, has_else)
    notes = ()
    if has_else:
        notes = (f"{source.where(loop.branches[-1].node)}: the else branch was dropped: no event published to "
                 f"{display} reaches it",)
    return subs, notes


def _tag_subscriptions(source: Source, branches, kinds: Kinds) -> tuple[Subscription, ...]:
    subs: list[Subscription] = []
    for index, branch in enumerate(branches):
        for tag in branch.tags:
            if any(s.tag == tag for s in subs):
                raise Skip(f"the branch for {tag!r} at {source.where(branch.node)} is unreachable: an earlier "
                           f"branch takes it")
            if not _TAG.match(tag):
                raise Skip(f"the tag {tag!r} doesn't make a class name")
            subs.append(Subscription(index, None, class_name(tag), tag))
    for put in kinds.puts:
        if put.kind is PutKind.TAG and not any(s.tag == put.tag for s in subs):
            raise Skip(f"it carries {put.tag!r} events ({put.source.where(put.call)}) that no branch handles")
    return tuple(subs)


def _class_subscriptions(work: Workspace, source: Source, branches, kinds: Kinds,
                         has_else: bool) -> tuple[Subscription, ...]:
    tested = [(index, _branch_class(work, source, e), source.code(e))
              for index, branch in enumerate(branches) for e in branch.classes]
    excluded: list[list[str]] = [[] for _ in tested]
    for position, (_, cls, code) in enumerate(tested):
        for _, earlier, earlier_code in tested[:position]:
            related = _relation(work, cls, earlier)
            if related is None:
                raise Skip(f"can't tell whether {code} is a {earlier_code} (classes outside the analysed code)")
            if related:
                raise Skip(f"the branch for {code} is unreachable: {earlier_code} is tested first")
            if _relation(work, earlier, cls):
                excluded[position].append(earlier_code)
    for put in {(p.cls.kind, p.cls.name): p for p in kinds.puts if p.kind is PutKind.CLASS}.values():
        matching = []
        for position, (_, cls, code) in enumerate(tested):
            related = _relation(work, put.cls, cls)
            if related is None:
                raise Skip(f"can't tell whether {_short(put.cls)} is a {code} (classes outside the analysed code)")
            if related:
                matching.append(position)
        if not matching and has_else:
            raise Skip(f"{_short(put.cls)} events ({put.source.where(put.call)}) reach the else branch")
        first_code = tested[matching[0]][2] if matching else ""
        for later in matching[1:]:  # multiple inheritance: the first matching branch alone takes it
            if first_code not in excluded[later]:
                excluded[later].append(first_code)
    return tuple(Subscription(index, cls, code, "", tuple(excluded[position]))
                 for position, (index, cls, code) in enumerate(tested))


def event_classes(loop: Loop, tag_fields: dict[str, list[str]]) -> list[EventClass]:
    """The classes a tag channel's events become, one per tag a branch tests."""
    return [EventClass(class_name(t), tuple(tag_fields.get(t, []) if loop.tag_key else loop.fields))
            for b in loop.branches for t in b.tags]


def _short(value: Value) -> str:
    return value.name.rsplit(".", 1)[-1]


def class_name(tag: str) -> str:
    """``"payment_received"`` → ``PaymentReceivedEvent``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-. ]+", tag) if part) + "Event"


def snake(name: str) -> str:
    """``UserRegistered`` → ``user_registered``."""
    snake_case = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return snake_case + "_" if keyword.iskeyword(snake_case) else snake_case
