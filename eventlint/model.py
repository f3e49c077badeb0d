"""Records shared by every layer: locations, findings, fixes and per-file facts.

Everything here is a frozen, slotted dataclass of plain values, so that facts cross the
process pool (pickled between eventlint's own processes) and are cached on disk as plain
JSON records (``eventlint.cache``; nothing read from disk is ever unpickled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import Enum
from operator import attrgetter

# A reference is a symbolic path to a value, produced by the facts pass and resolved
# by ``eventlint.resolution``.  Its first element is the root, then one step per element:
#   "G:pkg.mod.name"   a global (module attribute) by qualified name
#   "I:pkg.mod.Class"  an instance of a class (``self`` in a method)
#   "C:pkg.mod.Class"  the class object itself (``cls`` in a classmethod)
#   "P:pkg.mod.func:arg" a parameter of a function
#   "L:pkg.mod.func:var" a local variable the pass could not pin down
#   "T:declared"       (a whole reference) a declaration without a value
#   ".attr"            attribute access
#   "()"               call
#   "[]"               subscription
#   "#i"               the i-th element of an unpacked value
#   "<item>"           an item received from the channel before it
#   "<element>"        (last step of an argument) the one element of a list or tuple
#                      literal: ``callbacks=[fn]``
Ref = tuple[str, ...]


def is_public_name(name: str) -> bool:
    """``_x`` and ``__x`` are private; dunder names and everything else are public."""
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__") and len(name) > 4)


def dotted(ref: Ref | None) -> str | None:
    """``("G:queue", ".Queue")`` → ``"queue.Queue"``; calls render as ``name()``.
    None when the reference is not rooted at a global name."""
    if not ref or not ref[0].startswith("G:"):
        return None
    parts = [ref[0][2:]]
    for step in ref[1:]:
        if step.startswith("."):
            parts.append(step[1:])
        elif step == "()":
            parts[-1] += "()"
        else:
            return None
    return ".".join(parts)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_AFTER_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of source text as Python numbers them: broken at ``\n``, ``\r\n`` and
    ``\r`` only.  ``str.splitlines`` also breaks at form feeds, ``\v``, ``\x1c``-``\x1e``,
    ``\x85`` and U+2028/2029, which would shift every later line number.  Like
    ``str.splitlines``, a final line end does not start another line."""
    if keepends:
        return [line for line in _AFTER_LINE_END.split(text) if line]
    lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


class Named(str, Enum):
    """An enum whose members are their own text: they compare, hash, print and serialise as
    that text (``PayloadShape.TAGGED == "tag"``), so code that still spells the text keeps
    working and the cache stores the text."""

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass(frozen=True, slots=True)
class Span:
    """A source range; lines and columns are 1-based, columns in code points."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    span: Span
    message: str = ""


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace ``span`` of ``path`` with ``replacement``."""

    path: str
    span: Span
    replacement: str


# the method names a receive is read under, whatever the receiver (``item = q.get()``)
GET_METHODS = frozenset({"get", "get_nowait", "receive", "receive_nowait", "recv", "recv_bytes"})


class End(Named):
    """Which end of a pipe or memory channel a name holds, as the catalogue's ``ends`` name
    the items of the tuple its constructor returns."""

    NONE = ""  # the channel as a whole (a queue), or an end the catalogue does not name
    SEND = "send"
    RECEIVE = "receive"
    BOTH = "both"  # a duplex end (``multiprocessing.Pipe()``'s connections)


class Safety(Named):
    """How far a fix can be trusted.  Safe: it only changes runs in which the call would
    have waited longer than the timeout, and raises what the API already raises.  Unsafe:
    it brings an outcome the caller never had to handle, or renames and restructures;
    applied only with ``--unsafe-fixes``."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class ScopeKind(Named):
    """What a timeout scope bounds: only the awaited operations inside it (asyncio, anyio
    and trio scopes), or everything inside it (a signal alarm, a sync deadline)."""

    NONE = ""  # no enclosing scope
    ASYNC = "async"
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class Fix:
    safety: Safety
    description: str
    edits: tuple[TextEdit, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    message: str
    path: str
    span: Span
    symbol: str = ""
    related: tuple[Location, ...] = ()
    fix: Fix | None = None

    def sort_key(self) -> tuple:
        return (self.path, self.span.line, self.span.column, self.code, self.message)


# ---- fix plans: what a check decided a finding's codemod does ------------------------


@dataclass(frozen=True, slots=True)
class PassTimeout:
    """EVT003: give ``call`` (in the finding's file: the blocking call itself, or the call
    that creates its client) a timeout: the argument already passed by ``keyword`` or at
    ``position`` when it is ``None``, else a new ``keyword=`` (or positional) argument."""

    call: Span
    keyword: str | None
    position: int | None
    safety: Safety  # from the catalogue entry
    client_timeout: bool = False  # the value is an ``aiohttp.ClientTimeout(total=...)``, not a number


@dataclass(frozen=True, slots=True)
class WrapInWaitFor:
    """EVT003: an awaited ``call`` that takes no timeout becomes ``asyncio.wait_for(call, timeout=...)``."""

    call: Span
    safety: Safety  # from the catalogue entry


@dataclass(frozen=True, slots=True)
class MigrateChannel:
    """EVT001 or EVT002: move the channel ``channel`` (a channel id), its producers and its
    dispatching consumer onto ``eventlint.bus`` (what migrate-to-bus does)."""

    channel: str


@dataclass(frozen=True, slots=True)
class NotFixable:
    """A finding its codemod leaves untouched, and why (shown by ``fix``)."""

    reason: str


@dataclass(frozen=True, slots=True)
class PrivatizeChannel:
    """EVT001: rename the public attribute or module global ``name`` bound to ``channel``
    (a channel id) at ``binding`` to a private name, with methods for outside use."""

    channel: str
    name: str
    binding: Span


@dataclass(frozen=True, slots=True)
class ReplaceAccessor:
    """EVT001: the public method or property ``accessor`` (a qualname) hands out the private
    attribute ``attribute`` holding ``channel``: outside calls through it become methods."""

    channel: str
    accessor: str
    attribute: str


# ---- facts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassFact:
    qualname: str
    bases: tuple[Ref, ...]
    span: Span
    public: bool
    metaclass: Ref | None = None  # ``class Display(metaclass=Singleton)``


class ParamKind(Named):
    """How a parameter takes its argument."""

    POSITIONAL = "positional"  # by position (or keyword): ``x``, ``x, /``
    KEYWORD = "keyword"  # keyword-only, after ``*``
    STAR = "star"  # ``*args``
    STARSTAR = "starstar"  # ``**kwargs``


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    annotation: Ref | None
    kind: ParamKind
    default: str | None = None  # the default's literal text (``summary``), "?" for an expression, None for none


@dataclass(frozen=True, slots=True)
class FunctionFact:
    qualname: str
    owner_class: str | None
    is_async: bool
    public: bool
    params: tuple[Param, ...]
    returns: Ref | None
    decorators: tuple[Ref, ...]
    span: Span
    is_property: bool = False


class PayloadShape(Named):
    """What the first argument of a put-like call (``q.put(x)``, ``send(x)``...) looks like."""

    CALL = "new"  # a call, ``Event(...)`` or ``make()``: ``Payload.ref`` is the callee
    NAME = "ref"  # a name or attribute: ``Payload.ref`` is what it names
    TAGGED = "tag"  # a tuple whose first element, or a dict whose tag key, is a tag: ``Payload.tag``
    NONE = "none"  # the literal ``None`` or ``...``
    CAUGHT = "caught"  # a name bound by ``except ... as name``
    PARAM = "param"  # a parameter of the enclosing function: ``Payload.param`` is its name
    TAG_PARAM = "tag-param"  # a tuple or dict whose tag is the parameter ``Payload.param``: ``(name, args)``
    NEW_PARAM = "new-param"  # an instance of the class the parameter ``Payload.param`` holds: ``event_cls(*args)``
    TAG = "tag-value"  # an argument that is itself a tag constant (``enqueue("connect", ...)``): ``Payload.tag``
    KEYS = "keys"  # a dict with no tag key (``{"exit": cls, "exception": text}``): ``Payload.keys`` are its keys
    OTHER = "unknown"  # any other expression, or a local whose value the pass cannot pin down


@dataclass(frozen=True, slots=True)
class Tag:
    """A constant that names a kind of item, in a payload, a dispatch test or a table key."""

    text: str  # a string literal's value, or the qualified name of a constant (``app.kinds.Kind.USER``)
    named: bool = False  # ``text`` is a qualified name rather than a string's value


@dataclass(frozen=True, slots=True)
class Payload:
    """The first argument of a put-like call, by shape (see ``PayloadShape``)."""

    shape: PayloadShape
    ref: Ref = ()  # CALL: the callee (or a parameter's annotation); NAME: the reference
    tag: Tag | None = None  # TAGGED: the tag
    # PARAM, TAG_PARAM, NEW_PARAM: the parameter's name; CALL: the annotated parameter
    # put (``def send(self, message: Event): self._q.put(message)``), ``ref`` its annotation
    param: str = ""
    # CALL: the call's arguments that are tag constants or the enclosing function's
    # parameters, as (position or keyword, tag, parameter name): ``_msg("user", ...)``
    arguments: tuple[tuple[str, Tag | None, str], ...] = ()
    # CALL of a local: the other classes the local was made from before (``event =
    # ButtonEvent(...)`` in one branch, ``event = WheelEvent(...)`` in another)
    alternatives: tuple[Ref, ...] = ()
    # KEYS: the dict's string keys, those stored into it afterwards included
    # (``result = {"name": n}; result["out"] = out; q.put(result)``), sorted
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallFact:
    """A call site: ``callee(args)`` inside ``caller`` (a function qualname or module)."""

    caller: str
    callee: Ref
    span: Span
    args: tuple[Ref | None, ...] = ()
    keywords: tuple[tuple[str, Ref | None], ...] = ()
    arg_texts: tuple[str, ...] = ()
    keyword_texts: tuple[tuple[str, str], ...] = ()
    has_star: bool = False  # a ``*x`` or ``**x`` argument
    # the ``*x`` arguments: (the number of positional arguments before it, ``x`` when a plain name)
    star_args: tuple[tuple[int, str], ...] = ()
    awaited: bool = False
    timeout_scope: ScopeKind = ScopeKind.NONE  # the innermost enclosing timeout scope's kind
    # the calls of the ``with`` items around it that are not catalogued scopes by the name the
    # module uses (``async with asyncio_timeout(5):``, imported from a project module), by span
    scope_candidates: tuple[Span, ...] = ()
    payload: Payload | None = None  # the first argument of a put-like method call, else None
    # receiver item names bound from this call's result, e.g. ``item = q.get()``
    result_names: tuple[str, ...] = ()
    # the arguments a payload may travel through, by position ("0", "1"...) or keyword:
    # tag constants, tagged tuples and dicts, and the caller's own parameters
    passed: tuple[tuple[str, Payload], ...] = ()
    # what the enclosing ``if`` tests say of the caller's own parameters for the call to
    # run: (parameter, state), state one of the ``GUARD_*`` values (``if try_hard: ...``)
    guards: tuple[tuple[str, str], ...] = ()
    # the elements of tuple and list literals passed as arguments, by position or keyword:
    # ``Manager(name, (pub, sub))`` packs ``pub`` and ``sub`` into the argument "1"
    packed: tuple[tuple[str, tuple[Ref | None, ...]], ...] = ()


# the states a call's guard asks of a parameter of its function (``CallFact.guards``):
# is None, is not None, truthy, falsy
GUARD_NONE, GUARD_SET, GUARD_TRUE, GUARD_FALSE = "none", "set", "true", "false"


class BindingScope(Named):
    """Where a binding lives."""

    MODULE = "module"  # a module global
    CLASS = "class"  # a class attribute
    INSTANCE = "instance"  # ``self.x``
    LOCAL = "local"  # a function's local name
    CALLBACK = "callback"  # ``obj.on_message = handler``: an attribute set on another object


@dataclass(frozen=True, slots=True)
class Binding:
    """``name`` in ``scope`` is bound to ``value``.

    scope is "module", "class" (class attribute), "instance" (``self.x``) or "local";
    owner is the module, class or function qualname.  A value produced by unpacking a
    call's result ends with the step "#i" (the i-th element).  ``call`` is the call
    that produced the value, when it was a call, so the graph can read its arguments.
    ``element_type`` is the declared item type of a generic channel annotation or
    constructor (``Queue[Event]``): None when undeclared, ``Any`` or ``object``.
    """

    scope: BindingScope
    owner: str
    name: str
    value: Ref
    span: Span
    public: bool
    call: CallFact | None = None
    element_type: tuple[str, ...] | None = None
    container: bool = False  # a dict, list or set whose values ``value`` makes (``{n: Queue() for n in names}``)


@dataclass(frozen=True, slots=True)
class ReturnFact:
    function: str
    value: Ref  # () when ``payload`` is set
    span: Span
    call: CallFact | None = None  # the call returned, when the value is one (``return Queue()``)
    payload: Payload | None = None  # a returned tagged tuple or dict: ``return {"type": kind, **data}``
    position: int = -1  # ``return inq, outq``: the element at this index of a returned tuple (one fact each)


class DispatchKind(Named):
    """How a consumer branches on a received item."""

    CLASS = "class"  # ``isinstance(item, A)``, ``type(item) is A``, ``case A():``: the class is ``ref``
    TAG = "tag"  # ``kind == "user"``, ``item["type"] == "a"``, ``case ("user", _):``: the tag is ``tag``
    TABLE = "table"  # ``HANDLERS[type(item)]``, ``handlers[item["type"]]``: the table is ``ref``
    # ``getattr(self, "on_" + kind)``: the object whose methods are looked up is ``ref``,
    # the prefix of their names ``tag``
    METHOD = "method"
    VALUE = "value"  # ``item == POISON_PILL``, ``item is _STOP``: the item itself compared with the constant ``tag``
    KEY = "key"  # ``"exit" in item``, ``item.get("exit")`` as a test: the key ``tag`` is tested for presence


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A branch on a value received from a channel, e.g. ``isinstance(item, A)``."""

    function: str  # the qualname of the function branching
    source: Ref  # the channel the item came from (receiver of the get call), or the parameter holding it
    kind: DispatchKind
    span: Span
    ref: Ref = ()  # CLASS: the class tested; TABLE: the table looked up
    tag: Tag | None = None  # TAG, VALUE, KEY: the tag compared with
    # the item is the result of calling ``source`` (``item = self.comms.get_task(i)``), not
    # received from the channel ``source`` names
    returned: bool = False


@dataclass(frozen=True, slots=True)
class TableKey:
    """One key of a dict literal that maps kinds to handlers: a class or a tag."""

    ref: Ref = ()  # a class (or any name) used as the key
    tag: Tag | None = None  # a tag used as the key


@dataclass(frozen=True, slots=True)
class Table:
    """A dict literal keyed by tags or classes (``HANDLERS = {"user": on_user}``), bound to
    ``owner.name``: a module global, a class attribute or an instance attribute (``self.x``)."""

    owner: str  # the module or class qualname
    name: str
    keys: tuple[TableKey, ...]


@dataclass(frozen=True, slots=True)
class LoopFact:
    """A ``for``/``while`` loop that may consume a channel: ``sources`` are the receivers of
    get-like calls in its header or body, ``iterates`` what a ``for`` loop iterates over.
    ``inputs`` is the first wait or receive (a call of a method named ``wait``, ``get``,
    ``receive``, ``recv``...) a ``while`` loop makes in each turn: in its header
    (``while await ev.wait():``) or as the value of one of its body's leading simple
    statements (``item = q.get()``), looking into ``with``/``try`` blocks and a nested
    ``while`` (``while not ready: cond.wait()``)."""

    function: str
    span: Span
    sources: tuple[Ref, ...]
    iterates: Ref | None = None
    inputs: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Suppression:
    line: int
    codes: tuple[str, ...]  # empty = every code
    applies_to: tuple[int, ...]  # lines this comment silences


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    span: Span


@dataclass(frozen=True, slots=True)
class FileFacts:
    path: str  # relative to the project root, "/"-separated
    module: str
    aliases: tuple[str, ...] = ()  # other names the module is importable as
    problem: Problem | None = None
    all_names: tuple[str, ...] | None = None
    imports: tuple[tuple[str, str], ...] = ()  # module-level (local name, qualified target)
    classes: tuple[ClassFact, ...] = ()
    functions: tuple[FunctionFact, ...] = ()
    bindings: tuple[Binding, ...] = ()
    returns: tuple[ReturnFact, ...] = ()
    calls: tuple[CallFact, ...] = ()
    dispatches: tuple[Dispatch, ...] = ()
    loops: tuple[LoopFact, ...] = ()
    tables: tuple[Table, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    # puts handed to a callback, made later: ``call_soon_threadsafe(q.put_nowait, item)``,
    # ``functools.partial(q.put, item)``, ``weakref.finalize(obj, q.put, item)``
    handoffs: tuple[CallFact, ...] = ()
    # module-level constants that may tag items: (name, value) of names bound to a string,
    # and the names bound to an integer (``ACK = 0``)
    constants: tuple[tuple[str, str], ...] = ()
    numbers: tuple[str, ...] = ()


def _reduce_by_fields(cls: type) -> None:
    """Pickle as ``cls(*values)``: the default for slotted dataclasses looks the fields up
    again for every object, which made loading a warm cache cost as much as the checks."""
    getter = attrgetter(*(f.name for f in fields(cls)))
    single = len(fields(cls)) == 1

    def __reduce__(self):
        values = getter(self)
        return cls, ((values,) if single else values)

    cls.__reduce__ = __reduce__


for _record in (Span, Location, TextEdit, Fix, Finding, ClassFact, Param, FunctionFact, Tag, Payload, CallFact, Binding,
                ReturnFact, Dispatch, TableKey, Table, LoopFact, Suppression, Problem, FileFacts):
    _reduce_by_fields(_record)

