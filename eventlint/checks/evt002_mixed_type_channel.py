"""EVT002: one untyped channel carries two or more distinct event kinds.

The rule's policy: a kind is a project class (not an exception class), an outside class
(a capitalised name that is neither a builtin nor an exception), or a tag (a string, or a
constant such as an Enum member spelled ``Class.MEMBER`` however it was imported, or a
module constant bound to a string or an integer, imported or not; the first element of
a priority queue's tuples is its priority, not a tag).  A channel whose declared element
type names only builtin shapes (``tuple[str, dict[str, Any]]``) is as untyped as one
without a declaration.  The
shutdown sentinels ``None`` and ``...``, exceptions put for error propagation and class
objects themselves are not kinds.  A consumer's dispatch counts when one function branches
on two or more distinct kinds.  Constants compared with the whole item are control pills,
kinds only when one function compares it with two or more of them and the channel also
carries something other than constants (one sentinel beside data is an end-of-stream
marker); untagged dicts are kinds by their key sets only when consumers test two or more
keys that some of them have and others lack (one such key is an optional field).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from ..config import Config
from ..graph import EventGraph, looks_like_exception
from ..model import (DispatchKind, Finding, Fix, Location, MigrateChannel, NotFixable, Payload, PayloadShape, Ref, Safety,
                     Tag, dotted)
from ..resolution import Value, ValueKind
from . import Fixable, Rule

CODE = "EVT002"
NAME = "mixed-type-channel"
_MAX_RELATED = 12
_NOT_EVENTS = ("builtins.", "typing.", "typing_extensions.", "collections.abc.", "types.")
FIX = Fix(Safety.UNSAFE, "migrate-to-bus: move the channel to eventlint.bus with one typed subscription per kind")


# the types a declaration may name without naming any kind: ``Queue[tuple[str, dict[str,
# Any]]]`` says what shape an item has, not which kinds travel
_SHAPES = frozenset({"tuple", "Tuple", "dict", "Dict", "list", "List", "str", "bytes", "int", "float", "bool",
                     "Any", "object", "Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "type", "Type"})


def names_kinds(element_type: tuple[str, ...]) -> bool:
    """A declared element type names the kinds a channel carries unless every type it
    names is a builtin shape (``tuple[str, dict[str, Any]]``)."""
    return any(name.rsplit(".", 1)[-1] not in _SHAPES for name in element_type)


def spell(tag: Tag, graph: EventGraph | None = None) -> str:
    """A tag as kinds are compared and shown: a constant bound to a string by that string
    (``from .kinds import USER`` is ``"user"``), any other constant by its last two parts,
    so that ``Kind.USER`` and ``kinds.Kind.USER`` are one kind."""
    if not tag.named:
        return tag.text
    value = graph.string_constant(tag.text) if graph is not None else None
    return value if value is not None else ".".join(tag.text.split(".")[-2:])


def kind_of_class(graph: EventGraph, value: Value | None) -> str | None:
    """A display name for an event class, or None when it is not an event kind."""
    if value is None:
        return None
    if value.kind == ValueKind.CLASS:
        if graph.is_exception_class(value.name):
            return None
        return graph.short_name(value.name, graph.path_of.get(value.name, ""))
    if value.kind == ValueKind.API:
        name = value.name
        last = name.rsplit(".", 1)[-1]
        if (name.startswith(_NOT_EVENTS) or not last[:1].isupper() or looks_like_exception(name)
                or "()" in name):
            return None  # a builtin, a typing construct (``Optional``, ``Union``), a call's result
        return last
    return None


def kind_of_annotation(graph: EventGraph, ref: Ref) -> str | None:
    """The kind a parameter's annotation names (``message: Event``); None for what names
    no event class (``Optional[...]``, a ``Union`` alias, ``dict``)."""
    value = graph.resolve(ref)
    if value is not None and value.kind == ValueKind.INSTANCE:
        value = Value(ValueKind.CLASS, value.name)
    return kind_of_class(graph, value)


def dispatches_on_tags(graph: EventGraph, channel_id: str) -> bool:
    """A consumer of the channel looks at the tag of what it receives: a comparison, a
    case pattern, a handler table or a ``getattr`` method lookup, however many branches."""
    for site in graph.dispatches_on(channel_id):
        kind = site.dispatch.kind
        if kind == DispatchKind.TAG or kind == DispatchKind.METHOD:
            return True
        if kind == DispatchKind.TABLE and graph.table_keys(site.dispatch.ref):
            return True  # a table of handlers, not a store such as ``self._known[item["name"]]``
    return False


def payload_kinds(graph: EventGraph, channel_id: str) -> list[tuple[str, Location]]:
    """The kinds put on the channel, each with its put site.  A tag that only callers pass
    for a wrapper's parameter (``enqueue("connect", ...)`` of ``def enqueue(self, name,
    *args): self._q.put((name, args))``) is a kind only when a consumer dispatches on tags:
    a parameter in the tag position is otherwise as likely a key or a name as a kind."""
    kinds = []
    tag_dispatch: bool | None = None
    channel = graph.channels.get(channel_id)
    # a priority queue's tuples start with the priority that orders them, not a tag
    ordered = channel is not None and channel.api.name.endswith("PriorityQueue")
    for site in graph.payloads_put(channel_id):
        payload, call, path = site.payload, site.call, site.path
        if site.annotated and kind_of_annotation(graph, site.annotated) is not None:
            continue  # the parameter's annotation names the kind (counted at the put)
        if site.by_caller:
            if tag_dispatch is None:
                tag_dispatch = dispatches_on_tags(graph, channel_id)
            if not tag_dispatch:
                continue
        if payload.shape == PayloadShape.TAGGED:
            if ordered:
                continue
            label = repr(spell(payload.tag, graph))
            kinds.append((label, Location(path, call.span, f"puts {label} events")))
        elif payload.shape == PayloadShape.CALL or payload.shape == PayloadShape.NAME:
            # a local made from different classes on different branches puts each of them
            for ref in (payload.ref, *payload.alternatives):
                for kind in put_classes(graph, payload.shape, ref):
                    kinds.append((kind, Location(path, call.span, f"puts {kind}")))
    return kinds


def put_classes(graph: EventGraph, shape: PayloadShape, ref) -> list[str]:
    """The kinds of a put instance: what the callee ``ref`` makes (CALL; a project function
    returning instances of different classes makes each of them) or the instance the name
    ``ref`` holds (NAME); none for a class object itself or an unknown value."""
    value = graph.resolve(ref)
    if value is not None and value.kind == ValueKind.INSTANCE:
        value = Value(ValueKind.CLASS, value.name)
    elif shape == PayloadShape.CALL and value is not None and value.kind == ValueKind.FUNCTION:
        made = graph.step(value, "()")
        if made is None:  # its ``return``s differ: ``return Hold()`` … ``return Job(task)``
            return sorted({kind for cls in graph.returned_classes(value.name)
                           if (kind := kind_of_class(graph, Value(ValueKind.CLASS, cls))) is not None})
        value = Value(ValueKind.CLASS, made.name) if made.kind == ValueKind.INSTANCE else None
    if (shape == PayloadShape.NAME and value is not None and value.kind == ValueKind.CLASS
            and not graph.is_exception_class(value.name)):
        value = None  # a class object itself, not an event
    kind = kind_of_class(graph, value)
    return [kind] if kind is not None else []


def dispatch_kinds(graph: EventGraph, channel_id: str, put: frozenset[str] = frozenset()) -> list[tuple[str, Location]]:
    """Kinds a consumer of the channel dispatches on, from consumers with 2+ branches.  A
    tag that is an attribute of a class whose objects are put (``job.type is JobTask.type``
    with ``q.put(JobTask(...))``) is that class's kind.  The kinds one test names together
    (``isinstance(o, (list, tuple))``, ``kind in ("a", "b")``) take one branch: a function
    with that test alone treats them alike; a table's keys and ``on_*`` methods are a
    branch each."""
    per_function: dict[str, list[tuple[str, Location]]] = defaultdict(list)
    branches_of: dict[str, set] = defaultdict(set)  # function -> its branches (a test's span, or a key)
    for site in graph.dispatches_on(channel_id):
        dispatch, path = site.dispatch, site.path
        if dispatch.kind == DispatchKind.TABLE:
            for key in graph.table_keys(dispatch.ref):
                label = repr(spell(key.tag, graph)) if key.tag is not None else kind_of_class(graph, graph.resolve(key.ref))
                if label is not None:
                    where = graph.short_name(dispatch.function, path)
                    per_function[dispatch.function].append(
                        (label, Location(path, dispatch.span, f"{where} looks up {label} in a handler table")))
                    branches_of[dispatch.function].add((path, dispatch.span, label))
            continue
        if dispatch.kind == DispatchKind.METHOD:
            # ``getattr(self, "on_" + kind)``: each ``on_*`` method handles one tag
            prefix = dispatch.tag.text if dispatch.tag is not None else ""
            where = graph.short_name(dispatch.function, path)
            # ``getattr(self, kind)`` reaches any attribute: it dispatches on the tag, but
            # names no family of handlers
            for method in graph.method_names(dispatch.ref, prefix) if prefix else ():
                label = repr(method[len(prefix):])
                per_function[dispatch.function].append(
                    (label, Location(path, dispatch.span, f"{where} calls the method {method} for {label}")))
                branches_of[dispatch.function].add((path, dispatch.span, label))
            continue
        if dispatch.kind == DispatchKind.VALUE or dispatch.kind == DispatchKind.KEY:
            continue  # whole-item constants and key tests: see ``control_kinds`` and ``key_set_kinds``
        if dispatch.kind == DispatchKind.TAG:
            label = repr(spell(dispatch.tag, graph))
            owner = graph.canonical(dispatch.tag.text).rpartition(".")[0] if dispatch.tag.named else ""
            if owner in graph.classes and kind_of_class(graph, Value(ValueKind.CLASS, owner)) in put:
                label = kind_of_class(graph, Value(ValueKind.CLASS, owner))
        else:
            value = graph.resolve(dispatch.ref)
            if value is not None and value.kind == ValueKind.API and value.name.startswith("builtins."):
                label = None if looks_like_exception(value.name) or value.name == "builtins.type" else value.name[9:]
            else:
                label = kind_of_class(graph, value)
        if label is not None:
            where = graph.short_name(dispatch.function, path)
            location = Location(path, dispatch.span, f"{where} dispatches on {label}")
            per_function[dispatch.function].append((label, location))
            branches_of[dispatch.function].add((path, dispatch.span))
    kinds = []
    for function, found in per_function.items():
        if len({label for label, _ in found}) >= 2 and len(branches_of[function]) >= 2:
            kinds.extend(found)
    return kinds


def _is_constant(graph: EventGraph, payload: Payload) -> bool:
    """A put of a bare constant: ``None``, a string, a module constant (``POISON_PILL``,
    ``_STOP = object()``) or an exception caught and passed on."""
    if payload.shape in (PayloadShape.NONE, PayloadShape.TAG, PayloadShape.CAUGHT):
        return True
    if payload.shape != PayloadShape.NAME:
        return False
    name = dotted(payload.ref) or ""
    last = name.rsplit(".", 1)[-1]
    return (last.isupper() and last.strip("_")[:1].isalpha()) or graph.string_constant(name) is not None


def _put_constants(graph: EventGraph, channel_id: str) -> set[str]:
    """The constants put on the channel, by the text a comparison's tag has: a module
    constant by its qualified name, a string by its value (not the empty string, which a
    consumer compares with to detect an empty read)."""
    found = set()
    for site in graph.payloads_put(channel_id):
        payload = site.payload
        if payload.shape == PayloadShape.NAME:
            name = dotted(payload.ref)
            if name:
                found.add(name)
        elif payload.shape == PayloadShape.TAG and payload.tag is not None and payload.tag.text:
            found.add(payload.tag.text)
    return found


def _is_string(graph: EventGraph, tag) -> bool:
    """A non-empty string, or a constant bound to one (``POISON_PILL = "\\0"``): a message
    of its own, where ``STOP = object()`` or ``DRAIN = -1`` only marks a state."""
    text = graph.string_constant(tag.text) if tag.named else tag.text
    return bool(text)


def control_kinds(graph: EventGraph, channel_id: str) -> list[tuple[str, Location]]:
    """Control pills: constants a consumer compares the whole item with (``if task ==
    POISON_PILL`` … ``elif task == APPLY_PILL``).  One sentinel beside the data is the
    usual end-of-stream marker, not a kind; two or more distinct constants tested in one
    function and put on the channel, on a channel that also carries something other than
    constants, are a protocol of control messages mixed with data, and each constant is a
    kind, when it is a string or is seen put on the channel: a marker bound to ``object()``
    or a number that nobody puts is a guard the consumer keeps, not a message."""
    per_function: dict[str, list[tuple[str, Location]]] = defaultdict(list)
    travelling = _put_constants(graph, channel_id)
    for site in graph.dispatches_on(channel_id):
        dispatch = site.dispatch
        tag = dispatch.tag
        if dispatch.kind == DispatchKind.VALUE and tag is not None and (tag.text in travelling or _is_string(graph, tag)):
            label = tag.text.rsplit(".", 1)[-1] if tag.named else repr(tag.text)
            where = graph.short_name(dispatch.function, site.path)
            per_function[dispatch.function].append(
                (label, Location(site.path, dispatch.span, f"{where} compares the item with {label}")))
    kinds = [kind for branches in per_function.values() if len({label for label, _ in branches}) >= 2
             for kind in branches]
    sites = graph.payloads_put(channel_id)
    if kinds and sites and all(_is_constant(graph, site.payload) for site in sites):
        return []  # only constants travel: one type of command, not kinds beside data
    return kinds


def key_set_kinds(graph: EventGraph, channel_id: str) -> list[tuple[str, Location]]:
    """Dicts told apart by their keys: untagged dicts put on the channel
    (``{"exit": cls, "exception": text}``, ``{"name": n, "reporter": r}``) are kinds, one per
    key set, when a consumer tests the presence of two or more keys (``"exit" in result``,
    ``"reporter" in result``) each of which some of the dicts have and others lack.  One
    such key is an optional field (``if "error" in reply``), not a dispatch."""
    shapes = [site for site in graph.payloads_put(channel_id) if site.payload.shape == PayloadShape.KEYS]
    tests = [site for site in graph.dispatches_on(channel_id)
             if site.dispatch.kind == DispatchKind.KEY and site.dispatch.tag is not None]
    splitting = {key for key in {site.dispatch.tag.text for site in tests}
                 if any(key in s.payload.keys for s in shapes) and any(key not in s.payload.keys for s in shapes)}
    if len(splitting) < 2:
        return []
    labels: dict[frozenset[str], str] = {}
    kinds = []
    for site in sorted(shapes, key=lambda s: (s.path, s.call.span.line)):
        label = labels.setdefault(frozenset(splitting.intersection(site.payload.keys)),
                                  "{" + ", ".join(repr(key) for key in site.payload.keys) + "}")
        kinds.append((label, Location(site.path, site.call.span, f"puts {label} dicts")))
    for site in tests:
        key = site.dispatch.tag.text
        if key in splitting:
            label = next(label for signature, label in labels.items() if key in signature)
            where = graph.short_name(site.dispatch.function, site.path)
            kinds.append((label, Location(site.path, site.dispatch.span, f"{where} tests for the key {key!r}")))
    return kinds


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    for channel in graph.all_channels():
        if channel.element_type is not None and names_kinds(channel.element_type):
            continue
        put = payload_kinds(graph, channel.id)
        evidence = (put + dispatch_kinds(graph, channel.id, frozenset(kind for kind, _ in put))
                    + control_kinds(graph, channel.id) + key_set_kinds(graph, channel.id))
        # a subclass's channel replacing a base class's: the base class's code uses it too
        replaced = []
        for base_channel in graph.shadowed_channels(channel.id):
            base_put = payload_kinds(graph, base_channel)
            inherited = (base_put + dispatch_kinds(graph, base_channel, frozenset(kind for kind, _ in base_put))
                         + control_kinds(graph, base_channel) + key_set_kinds(graph, base_channel))
            if inherited:
                evidence += inherited
                replaced.append(graph.channels[base_channel].display)
        kinds = sorted({kind for kind, _ in evidence})
        if len(kinds) < 2:
            continue
        related, seen = [], set()
        for kind, location in sorted(evidence, key=lambda e: (e[1].path, e[1].span.line, e[1].span.column)):
            key = (kind, location.path, location.span.line)
            if key not in seen and len(related) < _MAX_RELATED:
                seen.add(key)
                related.append(location)
        heuristic = any(op.heuristic for op in graph.operations_on(channel.id))
        message = (f"channel {channel.display} carries {len(kinds)} event kinds: {', '.join(kinds)}; "
                   f"declare its element type or give each kind its own typed channel")
        if replaced:
            message += f" (it replaces the base class's {', '.join(replaced)}, so the base class's code uses it)"
        if heuristic:
            message += (" (some uses were matched to this channel by a name: its unique attribute name, the one"
                        " function that returns it, or the one module or listener at its other end)")
        yield Finding(CODE, NAME, message, channel.path, channel.span, symbol=channel.id, related=tuple(related),
                      fix=FIX)


def migration_plan(graph: EventGraph, finding: Finding) -> MigrateChannel | NotFixable:
    """What ``migrate-to-bus`` does for one of this rule's findings: the channel it is about."""
    if finding.symbol in graph.channels:
        return MigrateChannel(finding.symbol)
    return NotFixable("no channel found for this finding")


RULE = Rule(CODE, NAME, "One untyped channel carries unrelated event kinds and consumers dispatch on type or tag.",
            Fixable.UNSAFE, check)
