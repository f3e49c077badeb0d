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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .catalog import ChannelApi
from .model import CallFact, FileFacts
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
