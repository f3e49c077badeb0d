"""Every place the channel is used, sorted into puts, gets and ``task_done()`` calls.

A channel that is used any other way (passed, returned, aliased, a method the bus has no
equivalent for, a use the analysis did not see) can't be moved: ``uses`` raises ``Skip``
at the first such place, in file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from ...graph import Operation, ValueKind
from .plan import Target, qualify
from .source import Skip, Source, dotted

if TYPE_CHECKING:
    from .workspace import Workspace

PUTS = ("put", "put_nowait")
_GETS = ("get", "get_nowait")


@dataclass(frozen=True, slots=True, eq=False)
class PutSite:
    """A ``put`` to the channel, as the analysis saw it (``op``) and as the file spells it."""

    source: Source
    call: cst.Call
    awaited: cst.Await | None  # ``await q.put(x)``
    op: Operation


@dataclass(frozen=True, slots=True, eq=False)
class Uses:
    puts: tuple[PutSite, ...]
    gets: tuple[tuple[Source, cst.Call], ...]
    task_done: tuple[tuple[Source, cst.Call], ...]


def uses(work: Workspace, plan: Target) -> Uses:
    """Every reference, sorted into puts, gets and task_done() calls; anything else is a skip."""
    puts: list[PutSite] = []
    gets: list[tuple[Source, cst.Call]] = []
    task_done: list[tuple[Source, cst.Call]] = []
    ops = {(op.path, op.call.span): op for op in work.graph.operations_on(plan.channel.id)}
    seen = set()
    for source, node in _references(work, plan):
        parent = source.parent(node)
        if not (isinstance(parent, cst.Attribute) and parent.value is node):
            if _is_creation_target(plan, source, node):
                continue
            raise Skip(f"it escapes: {_escape(source, node)} at {source.where(node)}")
        call = source.parent(parent)
        method = parent.attr.value
        if not (isinstance(call, cst.Call) and call.func is parent):
            raise Skip(f"its .{method} is used as a value at {source.where(parent)} (a `for item in "
                       f"iter(q.get, None)` consumer, or a callback)")
        key = (source.rel, source.span(call))
        if method in PUTS:
            if key not in ops:
                raise Skip(f"the put at {source.where(call)} is not where the analysis saw it (the file "
                           f"changed since it was checked)")
            seen.add(key)
            puts.append(_put_site(plan, source, call, ops[key]))
        elif method in _GETS:
            seen.add(key)
            gets.append((source, call))
        elif method == "task_done":
            task_done.append((source, call))
        else:
            raise Skip(f"it uses .{method}() at {source.where(call)}, which the bus has no equivalent for")
    unseen = [op for key, op in ops.items() if key not in seen]
    if unseen:
        raise Skip(f"{unseen[0].path}:{unseen[0].call.span.line} uses it through another name")
    return Uses(tuple(puts), tuple(gets), tuple(task_done))


def _references(work: Workspace, plan: Target) -> Iterator[tuple[Source, cst.CSTNode]]:
    if plan.channel.scope == "module":
        yield from _global_references(work, plan)
    else:
        yield from _attribute_references(work, plan)


def _global_references(work: Workspace, plan: Target) -> Iterator[tuple[Source, cst.CSTNode]]:
    name, home, graph, module = plan.name, plan.home, work.graph, plan.channel.module
    assignments = list(home.scopes[home.module].assignments[name])
    if len(assignments) != 1:
        raise Skip(f"`{name}` is assigned more than once")
    for node in home.in_order(assignments[0].references):
        yield home, node
    for source in work.sources_mentioning(name):
        if source is home:
            continue
        for node in source.positions:
            if isinstance(node, cst.ImportFrom) and graph.canonical_module(source.import_base(node)) == module:
                if isinstance(node.names, cst.ImportStar):
                    raise Skip(f"{source.where(node)} imports everything from {module}")
                for alias in node.names:
                    if dotted(alias.name) != name:
                        continue
                    local = alias.asname.name.value if alias.asname is not None else name
                    for assignment in source.scopes[node].assignments[local]:
                        if getattr(assignment, "node", None) is node:
                            yield from ((source, use) for use in source.in_order(assignment.references))
            elif m.matches(node, m.Attribute(attr=m.Name(name))) \
                    and graph.canonical_module(qualify(graph, source, dotted(node.value))) == module:
                yield source, node


def imported_by_home(work: Workspace, plan: Target) -> set[str]:
    """The project modules the channel's module imports (anywhere in it)."""
    home = plan.home
    found = set()
    for node in home.positions:
        if isinstance(node, cst.Import):
            found |= {dotted(alias.name) for alias in node.names}
        elif isinstance(node, cst.ImportFrom):
            base = home.import_base(node)
            found.add(base)
            if not isinstance(node.names, cst.ImportStar):
                found |= {f"{base}.{dotted(alias.name)}" for alias in node.names}
    return {work.graph.canonical_module(name) for name in found}


def _attribute_references(work: Workspace, plan: Target) -> Iterator[tuple[Source, cst.CSTNode]]:
    named = m.Attribute(attr=m.Name(plan.name))
    for source in work.sources_mentioning(plan.name):
        for node in source.positions:
            if m.matches(node, named) and _owns(work, plan, source, node):
                yield source, node


def _owns(work: Workspace, plan: Target, source: Source, node: cst.Attribute) -> bool:
    """Is ``x.<name>`` this channel?  A skip when that can't be told."""
    graph, channel = work.graph, plan.channel
    cls = source.self_class(node)
    if cls is not None:
        return channel.owner in graph.mro(cls) or cls in graph.mro(channel.owner)
    parent = source.parent(node)
    call = source.parent(parent) if isinstance(parent, cst.Attribute) else None
    if isinstance(call, cst.Call):
        span = source.span(call)
        for op in graph.operations:
            if op.path == source.rel and op.call.span == span:
                if op.channel != channel.id:
                    return False
                if op.heuristic:
                    raise Skip(f"{source.quote(node)} at {source.where(node)} was matched to it by its "
                               f"attribute name only; annotate the receiver's type")
                return True
        fact = next((c for c in source.facts.calls if c.span == span), None)
        value = graph.resolve(fact.callee[:-1]) if fact is not None and len(fact.callee) > 1 else None
        if value is not None:
            return value.kind == ValueKind.CHANNEL and value.name == channel.id
    raise Skip(f"can't tell whether {source.quote(node)} at {source.where(node)} is this channel")


def _is_creation_target(plan: Target, source: Source, node: cst.CSTNode) -> bool:
    parent = source.parent(node)
    if isinstance(parent, cst.AssignTarget):
        parent = source.parent(parent)
    return source is plan.home and parent is plan.creation


def _put_site(plan: Target, source: Source, call: cst.Call, op: Operation) -> PutSite:
    parent = source.parent(call)
    if not m.matches(call, m.Call(args=[m.Arg(keyword=None, star="")])):
        raise Skip(f"the put at {source.where(call)} passes block/timeout arguments")
    if op.method == "put_nowait" and plan.maxsize:
        raise Skip(f"put_nowait() on a bounded queue raises queue.Full ({source.where(call)}); the bus would "
                   f"block instead")
    return PutSite(source, call, parent if isinstance(parent, cst.Await) else None, op)


def _escape(source: Source, node: cst.CSTNode) -> str:
    parent = source.parent(node)
    if isinstance(parent, cst.Arg):
        return "passed as an argument"
    if isinstance(parent, cst.Return):
        return "returned"
    if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
        return "assigned to another name"
    if isinstance(parent, cst.AssignTarget):
        return "reassigned"
    return f"used in {source.quote(parent or node)}"
