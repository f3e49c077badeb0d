"""The values resolution answers with (``eventlint.resolution``): what an expression may hold."""

from __future__ import annotations

from dataclasses import dataclass

from .model import CallFact, End, Named


class ValueKind(Named):
    """What a resolved value is; ``Value.name`` says which one."""

    MODULE = "module"  # a project module: its canonical name
    CLASS = "class"  # a class object: a project class's qualname
    INSTANCE = "instance"  # an instance of a project class: the class's qualname
    FUNCTION = "function"  # a project function or method: its qualname
    CHANNEL = "channel"  # a channel (or one end of one): the channel's id
    CHANNELS = "channels"  # a dict, list or set of channels made alike: the channel's id
    GETTER = "getter"  # a channel's get method, not yet called (``get = q.get``): the channel's id
    ITEM = "item"  # an item received from a channel: the channel's id
    # anything outside the project, by its dotted name as the code reaches it: "()" after a
    # call, "#i" for the i-th element of an unpacked result (``"httpx.Client()"``)
    API = "api"


@dataclass(frozen=True, slots=True)
class Value:
    """A value an expression may hold."""

    kind: ValueKind
    name: str  # see ``ValueKind``
    end: End = End.NONE  # CHANNEL: the end of a pipe or memory channel the name holds
    heuristic: bool = False  # found through the one channel with that attribute name, not by resolution
    origin: CallFact | None = None  # API: the call that made an outside instance, when it was bound from one


NONE_VALUE = Value(ValueKind.API, "builtins.None")  # what ``return None`` gives

CHANNEL_KINDS = (ValueKind.CHANNEL, ValueKind.CHANNELS)


def one_value(values: set[Value]) -> Value | None:
    """The one value callers pass; when they differ, the one channel among them (a pipe's
    ends count as one: a class holding either end), else None."""
    if len(values) == 1:
        return next(iter(values))
    first = next(iter(values), None)
    if first is not None and first.kind == ValueKind.INSTANCE and len({same_value(value) for value in values}) == 1:
        return Value(first.kind, first.name, first.end, first.heuristic)  # instances of one class, made apart
    channels = [value for value in values if value.kind in CHANNEL_KINDS]
    if not channels or len({(value.kind, value.name) for value in channels}) > 1:
        return None
    ends = {value.end for value in channels}
    return Value(channels[0].kind, channels[0].name, ends.pop() if len(ends) == 1 else End.NONE,
                 heuristic=all(value.heuristic for value in channels))


def same_value(value: Value) -> tuple:
    """What makes two values one, whichever call made them."""
    return value.kind, value.name, value.end, value.heuristic
