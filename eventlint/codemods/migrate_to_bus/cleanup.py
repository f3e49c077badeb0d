"""What the migration makes unused, and removes: the statements that started, joined or
awaited the consumer (``starters``, decided while planning) and, once a file is rewritten,
the ``queue`` / ``threading`` / ``asyncio`` imports and the private sentinel object only
the replaced code used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, ScopeProvider

from ...graph import ValueKind
from .consumers import Consumer
from .plan import Flavour, Target, check_outside_mentions, qualify
from .source import Skip, Source, dotted, is_import_line, is_public

if TYPE_CHECKING:
    from .workspace import Workspace

# imports the rewrite can leave unused: removed then (and only then)
_LEFTOVER_IMPORTS = frozenset({"queue", "threading", "asyncio"})
_LEFTOVER_FROM = {"queue": ("Queue", "SimpleQueue"), "threading": ("Thread",),
                  "asyncio": ("Queue", "create_task", "ensure_future")}
_PRIVATE_SENTINEL = m.SimpleStatementLine(body=[m.Assign(
    targets=[m.AssignTarget(target=m.Name(value=m.MatchIfTrue(lambda name: name.startswith("_"))))],
    value=m.Call(func=m.Name("object"), args=[]))])
_THREAD_KEYWORDS = frozenset({"target", "name", "daemon"})
_TASK_MAKERS = ("asyncio.create_task", "asyncio.ensure_future")


@dataclass(frozen=True, slots=True, eq=False)
class Starters:
    """The statements that only start, join or await the consumer, and what removing them
    changes that the user should know."""

    statements: tuple[tuple[Source, cst.BaseStatement], ...]
    notes: tuple[str, ...]


# ---- the code that starts, joins or awaits the consumer ----------------------------------------


def starters(work: Workspace, plan: Target, consumer: Consumer) -> Starters:
    """The statements that only start, join or await the consumer: they are removed."""
    source, fn = consumer.source, consumer.function
    channel = plan.channel
    qualname = source.qualname(fn)
    refs: list[cst.CSTNode] = []
    if channel.scope == "module":
        for assignment in source.scopes[source.module].assignments[fn.name.value]:
            if getattr(assignment, "node", None) is not fn:
                raise Skip(f"the name of the consumer {fn.name.value}() is bound more than once")
            refs.extend(access.node for access in assignment.references)
    else:
        for node in source.positions:
            if isinstance(node, cst.Attribute) and node.attr.value == fn.name.value:
                if source.self_class(node) != channel.owner:
                    raise Skip(f"the consumer {fn.name.value}() is used outside its class ({source.where(node)})")
                refs.append(node)
    _check_not_used_elsewhere(work, qualname, source.rel)
    if not refs:
        raise Skip(f"the consumer {qualname} is never started in the analysed code")
    if len(refs) > 1:
        raise Skip(f"the consumer {qualname} is used in more than one place")
    return _starter_statements(work, plan, source, refs[0])


def _check_not_used_elsewhere(work: Workspace, qualname: str, home: str) -> None:
    graph = work.graph
    mentioning = {source.rel for source in work.sources_mentioning(qualname.rsplit(".", 1)[-1])}
    for facts in graph.files:
        if facts.path == home or facts.path not in mentioning:
            continue
        refs = [b.value for b in facts.bindings]
        for call in facts.calls:
            refs += [call.callee, *call.args, *(ref for _, ref in call.keywords)]
        for ref in refs:
            value = graph.resolve(ref) if ref else None
            if value is not None and value.kind == ValueKind.FUNCTION and value.name == qualname:
                raise Skip(f"the consumer {qualname} is used in {facts.path}")


def _starter_statements(work: Workspace, plan: Target, source: Source, ref: cst.CSTNode) -> Starters:
    thread = plan.flavour is Flavour.THREAD
    what = "thread" if thread else "task"
    parent = source.parent(ref)
    if thread:
        creator = source.parent(parent) if isinstance(parent, cst.Arg) else None
        if not (m.matches(parent, m.Arg(keyword=m.Name("target"))) and isinstance(creator, cst.Call)
                and qualify(work.graph, source, dotted(creator.func)) == "threading.Thread"
                and all(a.keyword is not None and a.keyword.value in _THREAD_KEYWORDS for a in creator.args)):
            raise Skip(f"the consumer is used other than in `threading.Thread(target=...)` ({source.where(ref)})")
    else:
        creator = source.parent(source.parent(parent)) if isinstance(parent, cst.Call) else None
        if not (isinstance(parent, cst.Call) and parent.func is ref and not parent.args
                and isinstance(creator, cst.Call) and creator.args and creator.args[0].value is parent
                and qualify(work.graph, source, dotted(creator.func)) in _TASK_MAKERS
                and all(m.matches(a, m.Arg(keyword=m.Name("name"))) for a in creator.args[1:])):
            raise Skip(f"the consumer is used other than in `asyncio.create_task(consumer())` ({source.where(ref)})")
    holder = source.parent(creator)
    if thread and m.matches(holder, m.Attribute(attr=m.Name("start"))):
        start = source.parent(holder)
        line = source.expression_line(start) if m.matches(start, m.Call(args=[])) else None
        return Starters(((source, _removable(source, line, creator)),), ())
    if not thread and isinstance(holder, cst.Expr):
        return Starters(((source, _removable(source, source.line_of(holder), creator)),), ())
    if m.matches(holder, m.Assign(targets=[m.AssignTarget()])):
        first = (source, _removable(source, source.line_of(holder), creator))
        handle = _handle_statements(work, plan, source, holder.targets[0].target, holder)
        return Starters((first, *handle.statements), handle.notes)
    raise Skip(f"the consumer's {what} is used in a way this codemod doesn't follow ({source.where(creator)})")


def _removable(source: Source, line: cst.BaseStatement | None, node: cst.CSTNode) -> cst.BaseStatement:
    if line is None:
        raise Skip(f"the consumer is started in an expression or on a line with other statements "
                   f"({source.where(node)})")
    if source.in_loop(line):
        raise Skip(f"the consumer is started inside a loop ({source.where(node)}): several workers")
    return line


def _handle_statements(work: Workspace, plan: Target, source: Source, target: cst.BaseExpression,
                       creation: cst.Assign) -> Starters:
    """The uses of the consumer's thread or task handle: start, join, await, daemon, nothing else."""
    channel = plan.channel
    what = "thread" if plan.flavour is Flavour.THREAD else "task"
    uses: list[cst.CSTNode] = []
    if isinstance(target, cst.Name):
        scope = source.scopes[creation]
        assignments = list(scope.assignments[target.value])
        if len(assignments) != 1:
            raise Skip(f"the consumer's {what} `{target.value}` is assigned more than once")
        uses = source.in_order(assignments[0].references)
        if scope is source.scopes[source.module]:
            check_outside_mentions(work, channel, target.value, is_public(target.value), what)
            for other in work.sources_mentioning(target.value):
                if other is not source:
                    raise Skip(f"the consumer's {what} `{target.value}` may be used in {other.rel}")
    elif isinstance(target, cst.Attribute) and source.self_class(target) == channel.owner:
        attr = target.attr.value
        check_outside_mentions(work, channel, attr, is_public(attr), what)
        for other in work.sources_mentioning(attr):
            for node in other.positions:
                if isinstance(node, cst.Attribute) and node.attr.value == attr and node is not target:
                    if other is not source or other.self_class(node) != channel.owner:
                        raise Skip(f"the consumer's {what} `.{attr}` is used at {other.where(node)}")
                    uses.append(node)
    else:
        raise Skip(f"the consumer's {what} is stored in {source.quote(target)}")
    found, notes = [], []
    for use in uses:
        line, note = _handle_use(plan.flavour, source, use)
        if line is None:
            raise Skip(f"the consumer's {what} is used for more than starting and joining it "
                       f"({source.quote(source.parent(use) or use)} at {source.where(use)})")
        if source.in_loop(line):
            raise Skip(f"the consumer's {what} is used inside a loop ({source.where(use)})")
        found.append((source, line))
        notes.extend(note)
    return Starters(tuple(found), tuple(notes))


def _handle_use(flavour: Flavour, source: Source, use: cst.CSTNode) -> tuple[cst.BaseStatement | None, list[str]]:
    """The line to remove for one use of the handle (None when it is another kind of use),
    and the note removing it needs."""
    parent = source.parent(use)
    if flavour is Flavour.THREAD and isinstance(parent, cst.Attribute) and parent.value is use:
        call = source.parent(parent)
        if parent.attr.value in ("start", "join") and isinstance(call, cst.Call) and call.func is parent:
            notes = []
            if parent.attr.value == "join" and call.args:
                notes.append(f"{source.where(call)}: the join timeout is gone: close(drain=True) waits until every "
                             f"published event is handled")
            return source.expression_line(call), notes
        target = source.parent(parent)
        assign = source.parent(target) if isinstance(target, cst.AssignTarget) else None
        if parent.attr.value == "daemon" and isinstance(assign, cst.Assign):
            return source.line_of(assign), []
        return None, []
    if flavour is Flavour.ASYNC and isinstance(parent, cst.Await):
        return source.expression_line(parent), []
    assign = source.parent(parent) if isinstance(parent, cst.AssignTarget) else None
    if m.matches(assign, m.Assign(value=m.Name("None"))):
        return source.line_of(assign), []
    return None, []


# ---- after the rewrite: imports and sentinels nothing uses any more ----------------------------


def schedule_import_removal(context: CodemodContext, before: cst.Module) -> None:
    """Ask ``RemoveImportsVisitor`` to remove the ``queue`` / ``threading`` / ``asyncio``
    names the rewrite may leave unused: those the file used before (an import unused
    before the rewrite is not this codemod's business); it removes them when nothing uses
    them after it."""
    for key, count in _import_uses(before).items():
        if count == 0:
            continue
        module_name, _, name = key.rpartition(".")
        if module_name:
            RemoveImportsVisitor.remove_unused_import(context, module_name, name)
        else:
            RemoveImportsVisitor.remove_unused_import(context, key)


class SpacedRemoval(RemoveImportsVisitor):
    """``RemoveImportsVisitor`` whose removed top-level import lines pass their blank
    leading lines (not comments) to the next statement when it has none of its own, so a
    docstring stays apart from the code below it."""

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.emptied: set[int] = set()

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine):
        if not updated_node.body:
            self.emptied.add(id(original_node))
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        updated_node = super().leave_Module(original_node, updated_node)
        kept = iter(updated_node.body)
        body: list[cst.BaseStatement] = []
        carried: list = []
        for statement in original_node.body:
            if id(statement) in self.emptied:
                if all(not line.comment for line in statement.leading_lines):
                    carried = carried or list(statement.leading_lines)
                continue
            following = next(kept, None)
            if following is None:  # not a removal this class made: leave the module as it is
                return updated_node
            if carried and not following.leading_lines:
                following = following.with_changes(leading_lines=carried)
            carried = []
            body.append(following)
        return updated_node.with_changes(body=body)


def _changed_body(module: cst.Module, change: Callable[[cst.BaseStatement], cst.BaseStatement | None]) -> cst.Module:
    """``module`` with each top-level statement replaced by ``change(statement)``.  One
    that becomes None goes, and its blank leading lines (not comments) pass to the next
    statement when that has none of its own."""
    body: list[cst.BaseStatement] = []
    carried: list = []
    for statement in module.body:
        if carried and not statement.leading_lines:
            statement = statement.with_changes(leading_lines=carried)
        carried = []
        changed = change(statement)
        if changed is None:
            if all(not line.comment for line in statement.leading_lines):
                carried = list(statement.leading_lines)
            continue
        body.append(changed)
    return module.with_changes(body=body)


def drop_orphaned_sentinels(before: cst.Module, after: cst.Module) -> cst.Module:
    """Remove a private module-level ``_STOP = object()`` that only the replaced shutdown
    put and sentinel check used (a public one may be imported elsewhere: it stays)."""
    candidates = {name for name, _ in map(_sentinel_definition, before.body) if name}
    if not candidates:
        return after
    used_before, used_after = _name_uses(before, candidates), _name_uses(after, candidates)
    orphaned = {name for name in candidates if used_before[name] > 1 and used_after[name] == 1}  # 1: its definition
    if not orphaned:
        return after
    return _changed_body(after, lambda statement: None if _sentinel_definition(statement) in
                         {(name, True) for name in orphaned} else statement)


def _sentinel_definition(statement: cst.CSTNode) -> tuple[str | None, bool]:
    """(``_NAME``, whether the line holds nothing else) for ``_NAME = object()``."""
    if not m.matches(statement, _PRIVATE_SENTINEL):
        return None, False
    name = statement.body[0].targets[0].target.value
    bare = not statement.trailing_whitespace.comment and all(not line.comment for line in statement.leading_lines)
    return name, bare


def _name_uses(module: cst.Module, names: set[str]) -> dict[str, int]:
    """How often each of ``names`` appears as a name anywhere in the module (any scope:
    a local of the same name keeps the sentinel, which errs on the safe side)."""
    counts = dict.fromkeys(names, 0)
    wanted = m.Name(value=m.MatchIfTrue(lambda value: value in counts))
    for found in m.findall(module, wanted):
        counts[found.value] += 1
    return counts


def _import_key(statement: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None:
        return None
    name = dotted(alias.name)
    if isinstance(statement, cst.Import):
        return name if name in _LEFTOVER_IMPORTS else None
    module = dotted(statement.module) if statement.module is not None and not statement.relative else ""
    return f"{module}.{name}" if name in _LEFTOVER_FROM.get(module, ()) else None


def _import_uses(module: cst.Module, wrapper: MetadataWrapper | None = None) -> dict[str, int]:
    """How often each removable top-level import is referenced."""
    if wrapper is None:
        wrapper = MetadataWrapper(module)
        module = wrapper.module
    scope = wrapper.resolve(ScopeProvider)[module]
    counts: dict[str, int] = {}
    for statement in module.body:
        if not is_import_line(statement):
            continue
        for imported in statement.body:
            if isinstance(imported.names, cst.ImportStar):
                continue
            for alias in imported.names:
                key = _import_key(imported, alias)
                if key is None:
                    continue
                local = dotted(alias.name).split(".")[0] if isinstance(imported, cst.Import) else dotted(alias.name)
                counts[key] = sum(len(a.references) for a in scope.assignments[local]
                                  if getattr(a, "node", None) is imported)
    return counts
