"""The other ends of channels whose constructor starts code at the far end: execnet's
``gateway.remote_exec(source)`` runs ``source`` in another interpreter, where the global
``channel`` (a function's parameter ``channel``) is the other end of the channel it returns.

Both ends are one channel (as the two ends of a pipe are): what the remote code sends is
put on the channel the local code holds, and the other way round.  The code is tied to the
channel by the constructor's argument (the catalogue's ``remote``): the module or function
it names.  When the argument can't be resolved (a module a plugin hook returns), the
project's one module that reads the end's name as a global it never binds is taken, and
the uses found through it are marked heuristic; with two or more such modules none is.
Code that several constructor calls run (the same module started twice) is the far end of
the first of their channels, by id: each call makes a channel of its own.

Connections made to an address meet the same way: ``Client(address)`` makes a channel, and
the connection ``listener.accept()`` returns, for a ``Listener`` at the same address, is its
other end (the catalogue's ``address`` and ``accepted-by``).  The addresses meet when they
are the same literal or the same module-level name, or when the client names the
listener's ``.address``; an address read neither way meets only the project's one listener
(marked heuristic), and two addresses read as different never meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .catalog import Catalog, ChannelApi, ParamSpec
from .model import Binding, CallFact, FileFacts, Ref, dotted
from .resolution import Resolver, ValueKind


@dataclass(frozen=True, slots=True)
class RemoteEnd:
    """In ``owner`` (a module, or a function run remotely) the global or parameter ``name``
    is the far end of the channel ``channel``."""

    owner: str
    name: str
    channel: str
    heuristic: bool = False


def remote_ends(channels: Iterable[tuple[str, ChannelApi, CallFact | None]], files: list[FileFacts],
                resolver: Resolver) -> Iterator[RemoteEnd]:
    """The remote ends of the channels (id, catalogue entry, constructor call) given."""
    remote_modules: dict[str, list[str]] = {}
    for channel_id, api, creation in sorted(channels, key=lambda made: made[0]):
        spec, name = api.remote, api.remote_name
        if spec is None or creation is None:
            continue
        source = spec.argument(creation)
        value = resolver.resolve(source) if source else None
        if value is not None and value.kind in (ValueKind.MODULE, ValueKind.FUNCTION):
            yield RemoteEnd(value.name, name, channel_id)
            continue
        if name not in remote_modules:
            remote_modules[name] = [facts.module for facts in files if _reads_unbound_global(resolver, facts, name)]
        if source and len(remote_modules[name]) == 1:
            yield RemoteEnd(remote_modules[name][0], name, channel_id, heuristic=True)


def _reads_unbound_global(resolver: Resolver, facts: FileFacts, name: str) -> bool:
    """The module uses the global ``name`` without importing it or binding it to anything
    but itself (``channel: execnet.Channel = channel``): the runner of the code provides it."""
    if facts.problem is not None or (facts.module, name) in resolver.imports:
        return False
    root = f"G:{facts.module}.{name}"
    binding = resolver.module_bindings.get((facts.module, name))
    if binding is not None and binding.value != (root,):
        return False
    return any(call.callee[0] == root or any(arg and arg[0] == root for arg in call.args) for call in facts.calls)


@dataclass(frozen=True, slots=True)
class AcceptedEnd:
    """``binding`` holds the connection a listener's accept method returned: the far end
    of the connection channel ``channel`` (``Client(address)``) that meets that listener."""

    binding: Binding
    channel: str
    heuristic: bool = False


@dataclass(frozen=True, slots=True)
class _Accept:
    binding: Binding
    api: ChannelApi
    listener: CallFact | None  # the listener's constructor call, when the accepting object came from one
    address: tuple[str, ...] | None  # what the listener's address argument names, when known


def accepted_ends(channels: Iterable[tuple[str, ChannelApi, CallFact | None]], files: list[FileFacts],
                  resolver: Resolver, catalog: Catalog) -> Iterator[AcceptedEnd]:
    """The far ends of the connections made by constructors with an ``address`` (see the
    module's docstring): each binding of a listener's accepted connection, joined to the
    connections whose address meets the listener's."""
    clients = [(channel_id, api, creation) for channel_id, api, creation in channels
               if api.address is not None and creation is not None]
    if not clients:
        return
    accepts = list(_accepts(files, resolver, catalog, {api.name: api for _, api, _ in clients}))
    listeners = {accept.listener.span if accept.listener is not None else id(accept) for accept in accepts}
    for accept in accepts:
        met: list[tuple[str, bool]] = []
        for channel_id, api, creation in sorted(clients, key=lambda made: made[0]):
            if api is not accept.api:
                continue
            argument = api.address.argument(creation)
            listener = _listener_of(resolver, argument)
            if listener is not None:
                if accept.listener is not None and listener.span == accept.listener.span:
                    met.append((channel_id, False))
                continue
            address = _address_key(resolver, api.address, creation)
            if address is not None and accept.address is not None:
                if address == accept.address:
                    met.append((channel_id, False))
            elif len(listeners) == 1:
                met.append((channel_id, True))
        if met:
            channel_id, heuristic = met[0]
            yield AcceptedEnd(accept.binding, channel_id, heuristic)


def _accepts(files: list[FileFacts], resolver: Resolver, catalog: Catalog,
             apis: dict[str, ChannelApi]) -> Iterator[_Accept]:
    """The bindings of a catalogued listener's accepted connection (``conn = l.accept()``)."""
    by_method: dict[str, ChannelApi] = {}
    for api in apis.values():
        for name in api.accepted_by:
            by_method.setdefault(name, api)
    for facts in files:
        for binding in facts.bindings:
            value = binding.value
            if len(value) < 3 or value[-1] != "()" or not value[-2].startswith("."):
                continue
            listener = resolver.resolve(value[:-2])
            if listener is None:
                continue
            if listener.kind == ValueKind.INSTANCE:
                name = f"{resolver.import_name(listener.name)}(){value[-2]}"
            elif listener.kind == ValueKind.API:
                name = f"{listener.name}{value[-2]}"
            else:
                continue
            api = by_method.get(name) or by_method.get(catalog.replaced(name) or "")
            if api is None:
                continue
            made = listener.origin if listener.kind == ValueKind.API else None
            address = _address_key(resolver, api.address, made) if made is not None else None
            yield _Accept(binding, api, made, address)


def _listener_of(resolver: Resolver, argument: Ref | None) -> CallFact | None:
    """``Client(listener.address)``: the constructor call of the listener named."""
    if not argument or len(argument) < 2 or argument[-1] != ".address":
        return None
    value = resolver.resolve(argument[:-1])
    return value.origin if value is not None and value.kind == ValueKind.API else None


def _address_key(resolver: Resolver, spec: ParamSpec | None, call: CallFact) -> tuple[str, ...] | None:
    """What an address argument is, when the code says it plainly: a literal (a path, a
    pipe name, a port), or the module-level name it is read from (``ADDRESS``, however it
    was imported).  None for anything else (a parameter, an attribute, a tuple built here)."""
    if spec is None:
        return None
    text = spec.argument_text(call)
    if text is not None and text != "?":
        return ("literal", text)
    name = dotted(spec.argument(call))
    if name is None or "()" in name:
        return None
    for _ in range(16):  # a chain of re-exports, never a cycle's worth
        module, _, local = name.rpartition(".")
        target = resolver.imports.get((module, local))
        if target is None:
            break
        name = target
    return ("global", resolver.canonical(name))
