"""Writing the new code: the bus in place of the queue, ``publish`` in place of each put,
``close(drain=True)`` in place of the shutdown put, the event classes of a tag channel,
the handler functions made from the consumer, and the subscriptions (placed where they
run before anything can publish: see the package docstring).

The functions that plan record edits in a ``PlannedEdits`` and change no tree; ``render``
applies the edits of every migrated channel to each file once, at the end.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from .._cst import Command
from .cleanup import SpacedRemoval, drop_orphaned_sentinels, schedule_import_removal
from .consumers import Consumer, ItemFields, rematch
from .handlers import Handler
from .kinds import EventClass, Kinds, PutKind, Put, Subscription, class_name, event_classes
from .plan import Flavour, Target
from .references import imported_by_home
from .source import BUILTINS, Skip, Source, dotted, is_docstring, is_import_line, small, statements, string

if TYPE_CHECKING:
    from .workspace import Edits, PlannedEdits, Workspace

_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
_PASSIVE_STATEMENT = m.Import() | m.ImportFrom() | m.Assign() | m.AnnAssign() | m.Expr(
    value=m.SimpleString() | m.ConcatenatedString())


def check_free(source: Source, name: str, module: str) -> None:
    """``from module import name`` can be added to ``source`` without shadowing anything."""
    for assignment in source.scopes[source.module].assignments[name]:
        node = getattr(assignment, "node", None)
        if not (isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative
                and dotted(node.module) == module):
            raise Skip(f"`{name}` already means something else in {source.rel}")


def rewrite_creation(plan: Target, edits: PlannedEdits) -> None:
    """``Queue()`` → ``EventBus()`` (the annotation too), imported from eventlint.bus."""
    home, bus = plan.home, plan.bus_class
    check_free(home, bus, "eventlint.bus")
    file = edits.file(home.rel)
    file.replace[id(plan.creation_call)] = lambda node: cst.Call(func=cst.Name(bus))
    if isinstance(plan.creation, cst.AnnAssign):
        file.replace[id(plan.creation.annotation)] = lambda node: node.with_changes(annotation=cst.Name(bus))
    file.imports.append(("eventlint.bus", bus))


def rewrite_puts(work: Workspace, plan: Target, consumer: Consumer, kinds: Kinds, edits: PlannedEdits) -> None:
    """Each put becomes a ``publish`` (of the tag's new event class on a tag channel), the
    shutdown put a ``close``."""
    loop = consumer.loop
    if loop.tagged:
        _add_event_classes(plan, event_classes(loop, kinds.tag_fields), edits)
    for put in kinds.puts:
        file = edits.file(put.source.rel)
        if put.kind is PutKind.SENTINEL:
            _rewrite_sentinel(plan, put, file)
            continue
        if put.kind is PutKind.TAG:
            name = class_name(put.tag)
            if put.source.facts.module != plan.channel.module:
                check_free(put.source, name, plan.channel.module)
                if put.source.facts.module in imported_by_home(work, plan):
                    raise Skip(f"{plan.channel.module} imports {put.source.facts.module}: importing the event "
                               f"classes there would make a circular import")
                file.imports.append((plan.channel.module, name))
            elements = put.call.args[0].value.elements
            if loop.tag_key is None:
                args = [cst.Arg(e.value) for e in elements[1:]]
            else:
                args = [cst.Arg(e.value, keyword=cst.Name(string(e.key)), equal=_EQUAL, comma=e.comma)
                        for e in elements if string(e.key) != loop.tag_key]
                if args:
                    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            event = cst.Call(func=cst.Name(name), args=args)
            file.replace[id(put.call)] = functools.partial(_publish, event=event)
        else:
            file.replace[id(put.call)] = _publish
        if put.site.awaited is not None:
            file.replace[id(put.site.awaited)] = lambda node: node.expression


def _rewrite_sentinel(plan: Target, put: Put, file: Edits) -> None:
    source, target = put.source, put.site.awaited or put.call
    if source.expression_line(target) is None:
        raise Skip(f"the shutdown put at {source.where(put.call)} is part of a larger expression")
    receiver = source.code(put.call.func.value)
    if plan.flavour is Flavour.ASYNC:
        fn = source.function_of(put.call)
        if fn is None or fn.asynchronous is None:
            raise Skip(f"the shutdown put at {source.where(put.call)} is not in a coroutine, where "
                       f"`await aclose()` could go")
        replacement = cst.parse_expression(f"await {receiver}.aclose(drain=True)")
    else:
        replacement = cst.parse_expression(f"{receiver}.close(drain=True)")
    file.replace[id(target)] = lambda node: replacement


def _add_event_classes(plan: Target, classes: list[EventClass], edits: PlannedEdits) -> None:
    """One frozen dataclass per tag, at the top of the channel's module."""
    home = plan.home
    scope = home.scopes[home.module]
    file = edits.file(home.rel)
    for event in classes:
        if scope.assignments[event.name] or event.name in BUILTINS:
            raise Skip(f"the event class name {event.name} is already taken in {plan.channel.module}")
        body = "\n".join(f"    {field_name}: object" for field_name in event.fields) or "    pass"
        statement = cst.parse_statement(f"@dataclass(frozen=True)\nclass {event.name}:\n{body}\n")
        file.top.append(statement.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2))
    check_free(home, "dataclass", "dataclasses")
    file.imports.append(("dataclasses", "dataclass"))


def rewrite_consumer(consumer: Consumer, handlers: tuple[Handler, ...], edits: PlannedEdits) -> None:
    """The consumer function becomes the new handler functions (or goes away)."""
    source, fn, loop = consumer.source, consumer.function, consumer.loop
    file = edits.file(source.rel)
    made = [(index, h.new) for index, h in enumerate(handlers) if h.new is not None]
    if not made:
        file.remove.add(id(fn))
        return
    is_async = fn.asynchronous is not None
    parameter = loop.item
    prelude: list[cst.BaseStatement] = []
    if loop.tag_var is not None:
        used = {n.value for b in loop.branches for n in m.findall(b.body, m.Name())}
        parameter = next(p for p in ("event", "message", "received", "tagged") if p not in used | {*loop.fields})
        values = ", ".join(f"{parameter}.{f}" for f in loop.fields)
        prelude.append(cst.parse_statement(f"{', '.join(loop.fields)} = {values}\n"))
    self_name = consumer.self_name
    params = ", ".join([*([self_name] if self_name else []), parameter])
    blank = [cst.EmptyLine(indent=False)] * (1 if self_name else 2)

    def rebuild(updated: cst.FunctionDef) -> cst.FlattenSentinel:
        branches = rematch(consumer, updated).dispatched
        functions = []
        for position, (index, name) in enumerate(made):
            body = branches[index].body
            if loop.tag_key is not None:
                body = body.visit(ItemFields(loop.item))
            block = body if isinstance(body, cst.IndentedBlock) else cst.IndentedBlock(body=statements(body))
            mentioned = {n.value for n in m.findall(body, m.Name())}
            declared = [g for g in loop.globals if {n.name.value for n in small(g).names} & mentioned]
            header = cst.parse_statement(f"{'async ' if is_async else ''}def {name}({params}):\n    pass\n")
            bound = [cst.parse_statement(f"{line}\n") for line in branches[index].prelude]
            functions.append(header.with_changes(
                body=block.with_changes(body=[*declared, *prelude, *bound, *block.body]),
                leading_lines=updated.leading_lines if position == 0 else blank))
        return cst.FlattenSentinel(functions)

    file.replace[id(fn)] = rebuild


def place_subscriptions(work: Workspace, plan: Target, consumer: Consumer, subs: tuple[Subscription, ...],
                        handlers: tuple[Handler, ...], removed: tuple[tuple[Source, cst.BaseStatement], ...],
                        edits: PlannedEdits) -> None:
    """One ``subscribe`` per subscription, right after the bus is made (an instance
    channel) or after the last module statement they depend on (a module channel)."""
    home, channel = plan.home, plan.channel
    options = f", maxsize={plan.maxsize}, overflow=\"block\"" if plan.maxsize else ", maxsize=0"
    if channel.scope == "instance":
        line = home.line_of(plan.creation)
        init = home.function_of(plan.creation)
        if init is None or init.name.value != "__init__" or home.parent(line) is not init.body:
            raise Skip("it is not created directly in the body of its class's __init__")
        building = [op for op in work.graph.publishers_of(channel.id) if op.function == home.qualname(init)]
        if building:
            raise Skip(f"it is published to while {channel.owner.rsplit('.', 1)[-1]} is being built "
                       f"({building[0].path}:{building[0].call.span.line}); a handler could then run before "
                       f"__init__ has set what it needs")
        init_self = init.params.params[0].name.value
        receiver = f"{init_self}.{plan.name}"
    else:
        init_self, receiver = "", plan.name
    self_name = consumer.self_name
    subscribes = []
    for sub in subs:
        handler = handlers[sub.branch].reference
        if init_self and self_name and handler.startswith(self_name + "."):
            handler = init_self + handler[len(self_name):]
        extra = ""
        if sub.excluded:
            excluded = sub.excluded[0] if len(sub.excluded) == 1 else f"({', '.join(sub.excluded)})"
            extra = f", filter=lambda event: not isinstance(event, {excluded})"
        subscribes.append(cst.parse_statement(f"{receiver}.subscribe({sub.cls_code}, {handler}{options}{extra})\n"))
    if channel.scope == "instance":
        anchor = home.line_of(plan.creation)
    else:
        anchor = _module_anchor(work, plan, consumer, subs, handlers, removed)
        if isinstance(anchor, cst.BaseCompoundStatement):
            subscribes[0] = subscribes[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2)
    edits.file(home.rel).after[id(anchor)] = subscribes


def _module_anchor(work: Workspace, plan: Target, consumer: Consumer, subs: tuple[Subscription, ...],
                   handlers: tuple[Handler, ...],
                   removed: tuple[tuple[Source, cst.BaseStatement], ...]) -> cst.BaseStatement:
    """The last top-level statement the subscriptions depend on (see the package docstring)."""
    home = plan.home
    body = list(home.module.body)
    start = body.index(home.top_statement(plan.creation))
    needed = [start]
    scope = home.scopes[home.module]
    names = {s.cls_code.split(".")[0] for s in subs if s.cls is not None}
    names |= {h.reference.split(".")[0] for h in handlers if h.new is None}
    for name in names:
        for assignment in scope.assignments[name]:
            node = getattr(assignment, "node", None)
            top = home.top_statement(node) if node is not None else None
            if top is not None:
                needed.append(body.index(top))
    if any(h.new is not None for h in handlers):
        needed.append(body.index(consumer.function))
    last = max(needed)
    gone = {id(statement) for _, statement in removed}
    for statement in body[start + 1:last]:
        if id(statement) not in gone and not _passive(statement):
            raise Skip(f"module code at {home.where(statement)} could run before the subscriptions are "
                       f"registered (they need names defined further down)")
    for op in work.graph.publishers_of(plan.channel.id):
        if op.function == plan.channel.module and op.path == home.rel and op.call.span.line <= home.line(body[last]):
            raise Skip(f"it is published to at import time ({home.rel}:{op.call.span.line})")
    return body[last]


def _publish(node: cst.Call, event: cst.BaseExpression | None = None) -> cst.Call:
    """``q.put(x)`` → ``q.publish(x)`` (or ``q.publish(event)``)."""
    changed = node.with_changes(func=node.func.with_changes(attr=cst.Name("publish")))
    if event is not None:
        changed = changed.with_changes(args=[node.args[0].with_changes(value=event)])
    return changed


def _passive(statement: cst.BaseStatement) -> bool:
    """Module code that defines names without running anything that could publish."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return True
    if isinstance(statement, cst.SimpleStatementLine):
        return all(m.matches(s, _PASSIVE_STATEMENT) for s in statement.body)
    if isinstance(statement, cst.If):
        return dotted(statement.test).endswith("TYPE_CHECKING")
    return False


# ---- applying the edits of every migrated channel ------------------------------------------


def render(work: Workspace) -> dict[str, str]:
    """The new text of every file the committed migrations edit (unchanged files left out);
    ``Skip`` when one would not parse, so that nothing is written."""
    changes = {}
    for rel, edits in sorted(work.edits.items()):
        source = work.source(rel)
        context = CodemodContext(filename=rel)
        module = ApplyEdits(context, edits, source.module).transform_module(source.module)
        module = drop_orphaned_sentinels(source.module, module)
        text = module.code
        try:
            cst.parse_module(text)
        except cst.ParserSyntaxError as error:
            raise Skip(f"the rewritten {rel} would not parse ({error.message}); nothing was changed") from None
        if text != work.text(rel):
            changes[rel] = text
    return changes


class ApplyEdits(Command):
    """One file's part of the committed migrations: the planned removals, replacements and
    insertions, the imports they need, and the removal of imports they left unused."""

    REMOVER = SpacedRemoval

    def __init__(self, context: CodemodContext, edits: Edits, module: cst.Module):
        super().__init__(context)
        self.edits = edits
        self.anchor = _top_anchor(module) if edits.top else None
        for module_name, name in edits.imports:
            AddImportsVisitor.add_needed_import(context, module_name, name)
        schedule_import_removal(context, module)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        # the edits are keyed by the nodes of this very tree: no metadata wrapper (a copy)
        return tree.visit(self)

    def on_leave(self, original_node, updated_node):
        key = id(original_node)
        if key in self.edits.remove:
            updated_node = cst.RemovalSentinel.REMOVE
        elif key in self.edits.replace:
            updated_node = self.edits.replace[key](updated_node)
        if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
            updated_node = updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        extra = list(self.edits.after.get(key, ()))
        if self.anchor is not None and original_node is self.anchor:
            extra = [*self.edits.top, *extra]
        if isinstance(original_node, cst.Module) and self.edits.top:
            body = list(updated_node.body)
            if self.anchor is None:
                at = 1 if body and is_docstring(body[0]) else 0
                body[at:at] = self.edits.top
            return updated_node.with_changes(body=_spaced(body, self.edits.top))
        if extra:
            if isinstance(updated_node, cst.FlattenSentinel):
                return cst.FlattenSentinel([*updated_node.nodes, *extra])
            if isinstance(updated_node, cst.RemovalSentinel):
                return cst.FlattenSentinel(extra)
            return cst.FlattenSentinel([updated_node, *extra])
        return updated_node


def _spaced(body: list[cst.BaseStatement], inserted: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """Two blank lines between the inserted classes and the code that follows them."""
    ids = {id(s) for s in inserted}
    for index in range(len(body) - 1):
        following = body[index + 1]
        if id(body[index]) in ids and id(following) not in ids:
            blank = 0
            for line in following.leading_lines:
                if line.comment is not None:
                    break
                blank += 1
            if blank < 2:
                body[index + 1] = following.with_changes(
                    leading_lines=[cst.EmptyLine(indent=False)] * (2 - blank) + list(following.leading_lines))
    return body


def _top_anchor(module: cst.Module) -> cst.BaseStatement | None:
    """The last statement of the module's leading docstring-and-imports block."""
    anchor = None
    for statement in module.body:
        if is_import_line(statement) or (anchor is None and is_docstring(statement)):
            anchor = statement
        else:
            break
    return anchor
