"""The methods (or module functions) ``privatize-queues`` gives an owner so that outside
code no longer touches its channel: one per distinct operation performed from outside,
each forwarding to the now-private channel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import libcst as cst
import libcst.matchers as m

from .scan import Scan

# queue methods that are neither put nor get but that outside code commonly calls
EXTRA_METHODS = ("task_done", "join", "qsize", "empty", "full")
RETURNS_NOTHING = ("task_done", "join")


class Via(Enum):
    """How outside code reaches the channel it calls a method on."""

    ATTRIBUTE = "attribute"  # ``x.inbox.put()``, or ``x.inbox.put()`` through a property
    NAME = "name"  # ``INBOX.put()`` after ``from module import INBOX``
    ACCESSOR = "accessor"  # ``x.queue().put()``


class Holder(Enum):
    """What the new forwarders belong to, and so their first parameter."""

    METHOD = "self"
    CLASSMETHOD = "cls"
    FUNCTION = ""  # a module function


class Arguments(Enum):
    """What a forwarder takes and passes on."""

    EVENT = "event"  # a put whose every call passes exactly the event
    NONE = "none"  # a call such as ``task_done()`` that never takes arguments
    ANY = "any"  # ``*args, **kwargs``


@dataclass(frozen=True, slots=True)
class OutsideCall:
    """A put, get or other queue call on the channel made from outside its owner."""

    scan: Scan
    call: cst.Call
    method: str
    awaited: bool
    via: Via


def operation_name(channel, method: str) -> str | None:
    """The forwarder's name for the channel's ``method``; None when no forwarder can stand in."""
    suffix = "_nowait" if method.endswith("_nowait") else "_bytes" if method.endswith("_bytes") else ""
    if method in channel.api.put:
        return "publish" + suffix
    if method in channel.api.get:
        return "next_event" + suffix
    if method in EXTRA_METHODS:
        return method
    return None


def order(method: str, channel) -> tuple[int, str]:
    """Puts first, then gets, then the rest, each by name."""
    return (0 if method in channel.api.put else 1 if method in channel.api.get else 2, method)


def arguments(calls: list[OutsideCall], direction: str) -> Arguments:
    """Always ``ANY`` for a get, so that callers keep choosing ``block`` and ``timeout`` (and
    the checks see the forwarded wait as the caller's, as the receive it replaces was)."""
    if direction == "put" and all(m.matches(c.call, m.Call(args=[m.Arg(keyword=None, star="")])) for c in calls):
        return Arguments.EVENT
    if direction != "get" and all(not c.call.args for c in calls):
        return Arguments.NONE
    return Arguments.ANY


def forwarder(name: str, target: str, method: str, direction: str, awaited: bool, args: Arguments,
              holder: Holder) -> cst.FunctionDef:
    """One forwarding method or function: ``def name(self, event) -> None: target.method(event)``."""
    params = [holder.value] if holder.value else []
    if args is Arguments.EVENT:
        params.append("event")
        forwarded = "event"
    elif args is Arguments.NONE:
        forwarded = ""
    else:
        params += ["*args", "**kwargs"]
        forwarded = "*args, **kwargs"
    call = f"{target}.{method}({forwarded})"
    if awaited:
        call = f"await {call}"
    returns_nothing = direction == "put" or method in RETURNS_NOTHING
    body = call if returns_nothing else f"return {call}"
    annotation = " -> None" if returns_nothing else ""
    head = "async def" if awaited else "def"
    decorator = "@classmethod\n" if holder is Holder.CLASSMETHOD else ""
    return cst.parse_statement(f"{decorator}{head} {name}({', '.join(params)}){annotation}:\n    {body}\n")


def word(name: str) -> re.Pattern[str]:
    """``name`` as a whole name or attribute in source text."""
    return re.compile(rf"(?<![\w.]){re.escape(name)}\b|\.{re.escape(name)}\b")
