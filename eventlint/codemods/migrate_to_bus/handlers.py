"""The handler each dispatch branch becomes: the function it already calls with the item,
or a new ``_on_<kind>`` function made from its body when that body can leave the loop
without changing what it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m

from ...graph import ValueKind
from .consumers import Branch, Consumer, item_key, item_parents
from .kinds import Kinds, Subscription, class_name, snake
from .plan import Flavour, Target
from .source import BUILTINS, Skip, small, statements, walk

if TYPE_CHECKING:
    from .workspace import PlannedEdits, Workspace

_LEAVES_FUNCTION = m.Return() | m.Yield() | m.Nonlocal()
_LEAVES_LOOP = m.Break() | m.Continue()
_OWN_FUNCTION = (cst.FunctionDef, cst.Lambda, cst.ClassDef)  # where a return or yield is not the branch's
_OWN_LOOP = (cst.For, cst.While, cst.FunctionDef, cst.Lambda)  # where a break or continue is not the branch's


@dataclass(frozen=True, slots=True)
class Handler:
    reference: str  # as the subscription names it: ``welcome``, ``self._on_signup``
    new: str | None  # the name of the function made from the branch body, None when it already existed


def handlers(work: Workspace, plan: Target, consumer: Consumer, kinds: Kinds, subs: tuple[Subscription, ...],
             edits: PlannedEdits) -> tuple[Handler, ...]:
    """One per branch: the function it already calls, or a new one made from its body.
    The new names are recorded in ``edits`` so that a later channel of the file avoids them."""
    loop, source = consumer.loop, consumer.source
    taken = {n.value for n in source.positions if isinstance(n, cst.Name)}
    taken |= work.names_taken(source.rel)
    result = []
    for index, branch in enumerate(loop.dispatched):
        direct = _direct_handler(work, plan, consumer, branch) if not loop.tagged else None
        if direct is not None:
            result.append(Handler(direct, None))
            continue
        _check_extractable(consumer, branch)
        mine = [s for s in subs if s.branch == index]
        if loop.tag_key is not None:
            _check_item_keys(consumer, kinds, branch)
        if not loop.tagged:
            words = [snake(s.cls_code.rsplit(".", 1)[-1]) for s in mine]
        else:
            words = [snake(class_name(s.tag)[:-len("Event")]) for s in mine]
        base = "_on_" + "_or_".join(words[:3])
        name, counter = base, 2
        while name in taken:
            name, counter = f"{base}_{counter}", counter + 1
        taken.add(name)
        edits.file(source.rel).names.add(name)
        result.append(Handler(f"{consumer.self_name}.{name}" if consumer.self_name else name, name))
    return tuple(result)


def _check_item_keys(consumer: Consumer, kinds: Kinds, branch: Branch) -> None:
    """A dict-tag branch reads ``item["key"]`` (or ``item.get("key")``) for keys every put
    of its tags carries, and uses the item no other way: it becomes an event object."""
    source, loop = consumer.source, consumer.loop
    keys = set.intersection(*(set(kinds.tag_fields.get(tag, ())) for tag in branch.tags))
    read = {id(node) for node in walk(branch.body) if item_key(node, loop.item) is not None}
    for node in walk(branch.body):
        key = item_key(node, loop.item)
        if key is not None and key not in keys:
            raise Skip(f"a dispatch branch reads {key!r}, which not every {'/'.join(branch.tags)} put carries "
                       f"({source.where(node)})")
        if m.matches(node, m.Name(loop.item)) and not any(
                id(parent) in read for parent in item_parents(source, node)):
            raise Skip(f"a dispatch branch uses the dict `{loop.item}` itself ({source.where(node)}), not only "
                       f"its keys")


def _direct_handler(work: Workspace, plan: Target, consumer: Consumer, branch: Branch) -> str | None:
    """``handler(item)`` (or ``await handler(item)``) alone in a branch: that handler."""
    body = statements(branch.body)
    line = small(body[0]) if len(body) == 1 else None
    call = line.value if isinstance(line, cst.Expr) else None
    awaited = isinstance(call, cst.Await)
    if awaited:
        call = call.expression
    if plan.flavour is Flavour.ASYNC and not awaited:
        return None  # AsyncEventBus handlers must return an awaitable
    if not m.matches(call, m.Call(args=[m.Arg(value=m.Name(consumer.loop.item), keyword=None, star="")])):
        return None
    func, source, self_name = call.func, consumer.source, consumer.self_name
    if isinstance(func, cst.Name) and source.is_global(func):
        # subscribe() takes the function once; the loop looked the name up for every item,
        # so only a name bound once, by ``def`` or an import, is the same either way
        bound = list(source.scopes[source.module].assignments[func.value])
        if not bound and func.value in BUILTINS:
            return func.value
        if len(bound) == 1 and isinstance(getattr(bound[0], "node", None), (cst.FunctionDef, cst.Import,
                                                                              cst.ImportFrom)):
            return func.value
        return None
    if self_name and m.matches(func, m.Attribute(value=m.Name(self_name))):
        value = work.graph.attribute(plan.channel.owner, func.attr.value, 0)
        is_function = value is not None and value.kind == ValueKind.FUNCTION
        method = work.graph.functions.get(value.name) if is_function else None
        if method is not None and not method.is_property:
            return f"{self_name}.{func.attr.value}"
    return None


def _check_extractable(consumer: Consumer, branch: Branch) -> None:
    """A branch body can become a function when it keeps no state across iterations and
    doesn't leave the loop or the consumer."""
    source, loop = consumer.source, consumer.loop
    for node in walk(branch.body):
        if m.matches(node, _LEAVES_FUNCTION) and not source.inside(node, _OWN_FUNCTION, branch.body):
            raise Skip(f"a dispatch branch uses {type(node).__name__.lower()} ({source.where(node)})")
        if m.matches(node, _LEAVES_LOOP) and not source.inside(node, _OWN_LOOP, branch.body):
            raise Skip(f"a dispatch branch uses {type(node).__name__.lower()} ({source.where(node)})")
    # a case's pattern binds its captures for the body: they go with it
    inside = {id(n) for n in walk(branch.node if isinstance(branch.node, cst.MatchCase) else branch.body)}
    scope = source.scopes[branch.node.test if isinstance(branch.node, cst.If) else loop.get]
    kept = {loop.item, *loop.fields, consumer.self_name}
    for assignment in scope.assignments:
        nodes = [getattr(assignment, "node", None), *(access.node for access in assignment.references)]
        if assignment.name == loop.tag_var:
            if any(id(n) in inside for n in nodes):
                raise Skip(f"a dispatch branch uses the tag variable `{assignment.name}` ({source.where(branch.node)})")
        elif assignment.name not in kept and any(id(n) in inside for n in nodes) \
                and any(id(n) not in inside for n in nodes):
            raise Skip(f"a dispatch branch shares the local `{assignment.name}` with the rest of the consumer "
                       f"({source.where(branch.node)})")
