"""migrate-to-bus: move a raw channel, its producers and its dispatching consumer onto
``eventlint.bus`` (EVT001 / EVT002).

What changes, per channel::

    EVENTS = queue.Queue()              EVENTS = EventBus()
                                        EVENTS.subscribe(UserRegistered, _on_user_registered, maxsize=0)
    EVENTS.put(UserRegistered(...))     EVENTS.publish(UserRegistered(...))
    def worker():                       def _on_user_registered(item):
        while True:                         ...
            item = EVENTS.get()
            if item is None: break
            if isinstance(item, UserRegistered):
                ...
    EVENTS.put(None); thread.join()     EVENTS.close(drain=True)

``queue.Queue`` and ``queue.SimpleQueue`` become an ``EventBus`` (one worker thread per
subscription); ``asyncio.Queue`` becomes an ``AsyncEventBus`` (``await q.put(x)`` becomes
``bus.publish(x)``, a plain call, and the shutdown ``await bus.aclose(drain=True)``).
Each branch of the consumer's dispatch becomes one ``subscribe(Kind, handler)``: a branch
that only calls ``handler(item)`` subscribes that handler, any other branch body is
moved into a new ``_on_<kind>`` function (a method when the consumer was one) that keeps
the consumer's variable name.  A tag channel (``q.put(("user", data))`` and
``kind, data = q.get()``) gets one frozen dataclass per tag (``UserEvent``, whose fields are
the names the consumer unpacked) and publishes instances of it; a dict tag channel
(``q.put({"type": "user", "id": 7})`` and ``item["type"] == "user"``) gets one per tag
whose fields are the other keys its puts carry, and the handlers read ``item.id`` where the
consumer read ``item["id"]`` or ``item.get("id")``.  The shutdown sentinel
becomes ``close(drain=True)``, and the code that only started, joined or awaited the
consumer's thread or task is removed.

Where the subscriptions go.  They must be registered before anything is published, or
events published before them would reach nobody (a queue would have kept them):

- a module-level channel subscribes at module level, right after the last statement that
  defines something the subscriptions name (the bus, the classes, the handlers).  That
  runs at import, before any function of the module can publish; module code that could
  run before that point (a bare call, ``if __name__ == "__main__":``, a put at import time)
  makes the site unsafe, and it is skipped.  The consumer must be a module-level function
  of the channel's module;
- an instance channel subscribes in ``__init__``, right after ``self.x = EventBus()``:
  every instance has its subscriptions before any of its methods can publish.  A put in
  ``__init__`` itself is skipped (its handler could run before ``__init__`` has set what the
  handler uses).  The consumer must be a method of the owner class;
- ``AsyncEventBus.subscribe`` needs a running event loop, so an asyncio instance channel
  is only migrated when every construction of its class in the analysed code runs inside
  an ``async def``; a module-level asyncio channel is skipped (import time has no loop).

"Behaves the same" (the project's decision): every handler is called with equal events the
same number of times, and events of one kind reach their handler in publish order.  Order
across kinds is not kept, and on the thread bus handlers of different kinds run
concurrently, each on its own worker; the result's notes say both.  An unbounded queue
subscribes with ``maxsize=0`` (never drops); ``Queue(n)`` with ``maxsize=n,
overflow="block"`` (a bound per subscription now, where the queue bounded all kinds
together).  When dispatch branches test classes that inherit from one another, a later
branch gets ``filter=lambda event: not isinstance(event, Earlier)`` so that the first
matching branch alone handles an event; a branch no event can reach is not migrated, and
an ``else`` branch is dropped only when no published kind reaches it.  This holds for a
program that works: a handler that raises is retried or dead-lettered by the bus, where it
killed the worker thread; a publish after the shutdown raises ``BusClosed``.

Anything the codemod cannot prove is left untouched and reported as ``Skipped`` with the
reason: a value of unknown kind or plain data is published; the channel escapes (passed as
an argument, returned, aliased, used through a method other than put/get/task_done, a
public name mentioned by project files that were not analysed); the consumer loop does
more than get, check the sentinel, dispatch with ``isinstance``, tag comparisons or a
``match`` (class patterns with keyword captures, tag values, no guards) and call
``task_done()``; there are gets outside that loop; the consumer, its thread or its task is
used for anything but starting, joining or awaiting it, or is started in a loop; the
constructor is not a plain FIFO queue (LIFO and priority queues order differently, process
and memory channels have no bus); a bounded ``asyncio.Queue`` (publish cannot wait).
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import libcst as cst
from libcst.codemod import CodemodContext as _LibcstContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ScopeProvider

from ..discovery import source_files
from ..graph import Channel, EventGraph, Operation, Value
from ..facts import string_value
from ..model import FileFacts, Span
from . import CodemodContext, CodemodResult, Skipped, _cst

_CONSTRUCTORS = {
    "queue.Queue": "thread",
    "queue.SimpleQueue": "thread",
    "asyncio.Queue": "async",
    "asyncio.queues.Queue": "async",
}
_ORDERED_ELSEWHERE = ("LifoQueue", "PriorityQueue")
_PUTS = ("put", "put_nowait")
_BUILTINS = frozenset(dir(builtins))
_PLAIN_DATA = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.str",
    "builtins.bytes", "builtins.bytearray", "builtins.int", "builtins.float", "builtins.complex", "builtins.bool",
    "typing.NamedTuple", "typing.TypedDict", "typing_extensions.TypedDict", "enum.IntEnum", "enum.IntFlag",
    "enum.StrEnum", "decimal.Decimal", "fractions.Fraction", "numbers.Number", "numbers.Complex", "numbers.Real",
    "numbers.Rational", "numbers.Integral", "collections.OrderedDict", "collections.defaultdict",
    "collections.Counter", "collections.deque",
})  # what eventlint.bus refuses to publish or subscribe to (plain data, numbers)
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_\-. ][A-Za-z0-9]+)*\Z")
# imports the rewrite can leave unused: removed then (and only then)
_LEFTOVER_IMPORTS = frozenset({"queue", "threading", "asyncio"})
_LEFTOVER_FROM = {"queue": ("Queue", "SimpleQueue"), "threading": ("Thread",),
                  "asyncio": ("Queue", "create_task", "ensure_future")}


class _Skip(Exception):
    """This channel can't be migrated safely; ``reason`` says why."""


class MigrateToBus:
    name = "migrate-to-bus"
    description = "Move a raw queue, its producers and its dispatching consumer onto eventlint.bus."
    safety = "unsafe"

    def run(self, context: CodemodContext) -> CodemodResult:
        result = CodemodResult()
        graph: EventGraph = context.graph  # type: ignore[assignment]
        work = _Workspace(graph, context)
        for channel in _channels(graph, context.findings, result):
            migration = _Migration(work, channel)
            try:
                edits, notes = migration.plan()
                work.commit(channel, edits)
            except _Skip as skip:
                result.skipped.append(Skipped(channel.path, channel.span.line, f"{channel.display}: {skip}"))
                continue
            except Exception as error:  # noqa: BLE001 - one odd site must not stop the whole fix run
                reason = f"{channel.display}: not migrated, internal error ({type(error).__name__}: {error})"
                result.skipped.append(Skipped(channel.path, channel.span.line, reason))
                continue
            result.notes.extend(notes)
        try:
            result.changes = work.render()
        except Exception as failure:  # noqa: BLE001 - e.g. code that wouldn't parse: write nothing at all
            for channel in work.migrated:
                result.skipped.append(Skipped(channel.path, channel.span.line, f"{channel.display}: {failure}"))
            result.notes = []
        return result


def _channels(graph: EventGraph, findings, result: CodemodResult) -> list[Channel]:
    """The channels the EVT001/EVT002 findings are about, once each, in file order."""
    found: dict[str, Channel] = {}
    returned = None
    for finding in findings:
        if finding.code not in ("EVT001", "EVT002"):
            continue
        channel = graph.channels.get(finding.symbol)
        if channel is None:
            if returned is None:
                returned = {method.qualname: channel for method, channel, _, _ in graph.returned_channels()}
            channel = returned.get(finding.symbol)
        if channel is None:
            channel = next((c for c in graph.channels.values() if c.path == finding.path and any(
                b.span.line == finding.span.line for _, _, b in c.names)), None)
        if channel is None:
            result.skipped.append(Skipped(finding.path, finding.span.line, "no channel found for this finding"))
            continue
        found.setdefault(channel.id, channel)
    return sorted(found.values(), key=lambda c: (c.path, c.span.line, c.span.column))


# ---- parsed files ---------------------------------------------------------------------------


class _Source:
    """One file's syntax tree with positions, parents and (on demand) scopes."""

    def __init__(self, rel: str, text: str, facts: FileFacts):
        self.rel = rel
        self.facts = facts
        try:
            self.wrapper = MetadataWrapper(_cst.parse_module(text))
        except cst.ParserSyntaxError as error:
            raise _Skip(f"{rel} no longer parses ({error.message})") from None
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self._scopes = None

    @property
    def scopes(self):
        if self._scopes is None:
            self._scopes = self.wrapper.resolve(ScopeProvider)
        return self._scopes

    def span(self, node: cst.CSTNode) -> Span:
        where = self.positions[node]
        return Span(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def where(self, node: cst.CSTNode) -> str:
        return f"{self.rel}:{self.line(node)}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def quote(self, node: cst.CSTNode) -> str:
        text = " ".join(self.code(node).strip().split())
        return f"`{text[:60]}{'…' if len(text) > 60 else ''}`"

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        node = self.parents.get(node)
        while node is not None:
            yield node
            node = self.parents.get(node)

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return next((a for a in self.ancestors(node) if isinstance(a, cst.FunctionDef)), None)

    def qualname(self, node: cst.FunctionDef | cst.ClassDef) -> str:
        parts = [node.name.value]
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
                parts.append(ancestor.name.value)
        return ".".join([self.facts.module, *reversed(parts)])

    def class_of(self, fn: cst.FunctionDef) -> cst.ClassDef | None:
        block = self.parent(fn)
        owner = self.parent(block) if block is not None else None
        return owner if isinstance(owner, cst.ClassDef) else None

    def line_of(self, small: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The line holding the small statement ``small`` when it is alone on it."""
        line = self.parent(small)
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
            return line
        return None

    def expression_line(self, expression: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The line when ``expression`` (or ``await expression``) is its whole statement."""
        parent = self.parent(expression)
        if isinstance(parent, cst.Await) and parent.expression is expression:
            return self.expression_line(parent)
        if isinstance(parent, cst.Expr) and parent.value is expression:
            return self.line_of(parent)
        return None

    def is_global(self, name: cst.Name) -> bool:
        """Does ``name`` refer to a module-level binding (or a builtin)?"""
        scope = self.scopes.get(name)
        if scope is None:
            return False
        referents = [a for access in scope.accesses[name] if access.node is name for a in access.referents]
        if not referents:
            return name.value in _BUILTINS
        return all(getattr(a, "scope", None) is self.scopes[self.module] for a in referents)

    def top_statement(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        chain = [node, *self.ancestors(node)]
        return chain[-2] if len(chain) >= 2 and isinstance(chain[-1], cst.Module) else None

    def in_loop(self, node: cst.CSTNode) -> bool:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.For, cst.While)):
                return True
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return False
        return False


@dataclass
class _Edits:
    """Edits to one file, keyed by the id of the original node."""

    replace: dict[int, Callable] = field(default_factory=dict)
    remove: set[int] = field(default_factory=set)
    after: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)
    top: list[cst.BaseStatement] = field(default_factory=list)  # after the leading imports
    imports: list[tuple[str, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # new module or class names

    def touched(self) -> set[int]:
        return set(self.replace) | self.remove | set(self.after)


class _Workspace:
    """What the migrations share: the graph, parsed files, committed edits."""

    def __init__(self, graph: EventGraph, context: CodemodContext):
        self.graph = graph
        self.context = context
        self.facts = {f.path: f for f in graph.files if f.problem is None}
        self._sources: dict[str, _Source] = {}
        self._texts: dict[str, str] = {}
        self.edits: dict[str, _Edits] = {}
        self.migrated: list[Channel] = []
        self._unanalysed: list[Path] | None = None
        self._outside_texts: dict[Path, str] = {}

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = self.context.read(rel)
        return self._texts[rel]

    def source(self, rel: str) -> _Source:
        if rel not in self._sources:
            self._sources[rel] = _Source(rel, self.text(rel), self.facts[rel])
        return self._sources[rel]

    def sources_mentioning(self, word: str) -> Iterator[_Source]:
        pattern = re.compile(rf"\b{re.escape(word)}\b")
        for rel in sorted(self.facts):
            if pattern.search(self.text(rel)):
                yield self.source(rel)

    def unanalysed_mentions(self, word: str) -> str | None:
        """A project file that was not analysed and mentions ``word``, if any."""
        if self._unanalysed is None:
            config = self.context.config
            root = self.context.root
            try:
                files = source_files([root], root, config.exclude + config.extend_exclude, config.src)
            except OSError:
                files = []
            self._unanalysed = [f.path for f in files if f.rel not in self.facts]
        pattern = re.compile(rf"\b{re.escape(word)}\b")
        for path in self._unanalysed:
            if path not in self._outside_texts:
                try:
                    self._outside_texts[path] = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    self._outside_texts[path] = ""
            if pattern.search(self._outside_texts[path]):
                return path.relative_to(self.context.root).as_posix()
        return None

    def commit(self, channel: Channel, planned: dict[str, _Edits]) -> None:
        for rel, edits in planned.items():
            mine = self.edits.get(rel)
            if mine is not None and mine.touched() & edits.touched():
                raise _Skip("its edits overlap the migration of another channel in " + rel)
        for rel, edits in planned.items():
            mine = self.edits.setdefault(rel, _Edits())
            mine.replace.update(edits.replace)
            mine.remove |= edits.remove
            for key, statements in edits.after.items():
                mine.after.setdefault(key, []).extend(statements)
            mine.top.extend(edits.top)
            mine.imports.extend(i for i in edits.imports if i not in mine.imports)
            mine.names |= edits.names
        self.migrated.append(channel)

    def render(self) -> dict[str, str]:
        changes = {}
        for rel, edits in sorted(self.edits.items()):
            source = self.source(rel)
            module = source.module.visit(_Apply(edits, source.module))
            if edits.imports:
                context = _LibcstContext()
                for module_name, name in edits.imports:
                    AddImportsVisitor.add_needed_import(context, module_name, name)
                module = AddImportsVisitor(context).transform_module(module)
            module = _drop_orphaned_imports(source.module, module)
            module = _drop_orphaned_sentinels(source.module, module)
            text = module.code
            try:
                cst.parse_module(text)
            except cst.ParserSyntaxError as error:
                raise _Skip(f"the rewritten {rel} would not parse ({error.message}); nothing was changed") from None
            if text != self.text(rel):
                changes[rel] = text
        return changes


class _Apply(cst.CSTTransformer):
    def __init__(self, edits: _Edits, module: cst.Module):
        super().__init__()
        self.edits = edits
        self.anchor = _top_anchor(module) if edits.top else None

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
                at = 1 if body and _is_docstring(body[0]) else 0
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


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _top_anchor(module: cst.Module) -> cst.BaseStatement | None:
    """The last statement of the module's leading docstring-and-imports block."""
    anchor = None
    for statement in module.body:
        if _is_import_line(statement) or (anchor is None and _is_docstring(statement)):
            anchor = statement
        else:
            break
    return anchor


def _drop_orphaned_imports(before: cst.Module, after: cst.Module) -> cst.Module:
    """Remove ``import queue`` / ``threading`` / ``asyncio`` names that the rewrite left
    unused (names that were unused before are not this codemod's business)."""
    used_before = _import_uses(before)
    wrapper = MetadataWrapper(after)
    module = wrapper.module
    uses = _import_uses(module, wrapper)
    orphaned = {name for name, count in uses.items() if count == 0 and used_before.get(name, 0) > 0}
    if not orphaned:
        return after

    def change(statement: cst.BaseStatement) -> cst.BaseStatement | None:
        if _is_import_line(statement) and len(statement.body) == 1:
            small = statement.body[0]
            names = list(small.names) if not isinstance(small.names, cst.ImportStar) else None
            if names is not None:
                kept = [a for a in names if _import_key(small, a) not in orphaned]
                if not kept:
                    return None
                if len(kept) != len(names):
                    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    return statement.with_changes(body=[small.with_changes(names=kept)])
        return statement

    return _changed_body(module, change)


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


def _drop_orphaned_sentinels(before: cst.Module, after: cst.Module) -> cst.Module:
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
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None, False
    small = statement.body[0]
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
            and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Name)
            and small.value.func.value == "object" and not small.value.args):
        return None, False
    name = small.targets[0].target.value
    if not name.startswith("_"):
        return None, False
    bare = not statement.trailing_whitespace.comment and all(not line.comment for line in statement.leading_lines)
    return name, bare


def _name_uses(module: cst.Module, names: set[str]) -> dict[str, int]:
    """How often each of ``names`` appears as a name anywhere in the module (any scope:
    a local of the same name keeps the sentinel, which errs on the safe side)."""
    counts = dict.fromkeys(names, 0)

    class Count(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value in counts:
                counts[node.value] += 1

    module.visit(Count())
    return counts


def _import_key(small: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None:
        return None
    name = _dotted(alias.name)
    if isinstance(small, cst.Import):
        return name if name in _LEFTOVER_IMPORTS else None
    module = _dotted(small.module) if small.module is not None and not small.relative else ""
    return f"{module}.{name}" if name in _LEFTOVER_FROM.get(module, ()) else None


def _import_uses(module: cst.Module, wrapper: MetadataWrapper | None = None) -> dict[str, int]:
    """How often each removable top-level import is referenced."""
    if wrapper is None:
        wrapper = MetadataWrapper(module)
        module = wrapper.module
    scope = wrapper.resolve(ScopeProvider)[module]
    counts: dict[str, int] = {}
    for statement in module.body:
        if not _is_import_line(statement):
            continue
        for small in statement.body:
            if isinstance(small.names, cst.ImportStar):
                continue
            for alias in small.names:
                key = _import_key(small, alias)
                if key is None:
                    continue
                local = _dotted(alias.name).split(".")[0] if isinstance(small, cst.Import) else _dotted(alias.name)
                counts[key] = sum(len(a.references) for a in scope.assignments[local]
                                  if getattr(a, "node", None) is small)
    return counts


def _dotted(node: cst.CSTNode | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


# ---- the consumer loop ------------------------------------------------------------------------


@dataclass
class _Branch:
    node: cst.If | cst.Else | cst.MatchCase
    body: cst.BaseSuite
    classes: list[cst.BaseExpression] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    wildcard: bool = False  # ``case _:``
    prelude: list[str] = field(default_factory=list)  # what a case's pattern bound: ``cents = item.cents``

    @property
    def is_else(self) -> bool:
        return isinstance(self.node, cst.Else) or self.wildcard


@dataclass
class _Loop:
    """A consumer ``while True:`` loop that gets, checks a sentinel and dispatches."""

    get: cst.Call
    item: str | None  # class dispatch: the received item
    tag_var: str | None  # tag dispatch: ``kind, data = q.get()``
    fields: list[str]
    sentinel: tuple[str, ...] | None  # ("none",) | ("name", qualname) | ("tag", value)
    sentinel_code: str
    branches: list[_Branch]
    task_done: list[cst.Call]
    globals: list[cst.BaseStatement]
    tag_key: str | None = None  # dict tag dispatch: ``item["type"] == "user"``
    tag_fields: dict[str, list[str]] = field(default_factory=dict)  # dict tag -> the other keys its puts carry

    @property
    def tagged(self) -> bool:
        """Dispatch on a tag (a tuple's first item or a dict key), not on classes."""
        return self.tag_var is not None or self.tag_key is not None


def _small(statement: cst.CSTNode) -> cst.BaseSmallStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def _statements(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    return [cst.SimpleStatementLine(body=[s]) for s in block.body]


def _exits(statements: list[cst.BaseStatement]) -> bool:
    last = _small(statements[-1]) if statements else None
    return isinstance(last, cst.Break) or (isinstance(last, cst.Return) and last.value is None)


class _LoopMatcher:
    """Recognises the one consumer shape this codemod migrates (see the module docstring)."""

    def __init__(self, source: _Source, receiver: str, is_async: bool, sentinel_of: Callable):
        self.source = source
        self.receiver = receiver
        self.is_async = is_async
        self.sentinel_of = sentinel_of  # expression -> ("none",) | ("name", q) | None

    def fail(self, node: cst.CSTNode, what: str) -> _Skip:
        return _Skip(f"{what} ({self.source.quote(node)} at {self.source.where(node)})")

    def match(self, fn: cst.FunctionDef) -> _Loop:
        body = _statements(fn.body)
        if body and _is_docstring(body[0]):
            body = body[1:]
        globals_ = [s for s in body if isinstance(_small(s), cst.Global)]
        body = [s for s in body if s not in globals_]
        if len(body) != 1 or not isinstance(body[0], cst.While) or body[0].orelse is not None \
                or not _is_true(body[0].test):
            raise self.fail(fn, "the consumer is not a plain `while True:` loop over the channel")
        statements = _statements(body[0].body)
        loop = self.get_statement(statements[0] if statements else body[0])
        loop.globals = globals_
        rest = statements[1:]
        chain_seen = False
        for statement in rest:
            done = self.task_done(statement)
            if done is not None:
                loop.task_done.append(done)
                continue
            if isinstance(statement, cst.If) and not chain_seen and loop.sentinel is None \
                    and self.sentinel_check(loop, statement):
                continue
            if isinstance(statement, cst.Try) and not chain_seen:
                if statement.handlers or statement.orelse is not None or statement.finalbody is None:
                    raise self.fail(statement, "the consumer loop handles errors itself (try/except)")
                finals = _statements(statement.finalbody.body)
                calls = [self.task_done(s) for s in finals]
                if not finals or None in calls:
                    raise self.fail(statement, "the consumer loop does more than dispatch")
                loop.task_done.extend(calls)
                inner = _statements(statement.body)
                if len(inner) != 1 or not isinstance(inner[0], cst.If):
                    raise self.fail(statement, "the consumer loop does more than dispatch")
                statement = inner[0]
            if isinstance(statement, cst.If) and not chain_seen:
                chain_seen = True
                self.dispatch(loop, statement)
                continue
            if isinstance(statement, cst.Match) and not chain_seen:
                chain_seen = True
                self.match_dispatch(loop, statement)
                continue
            raise self.fail(statement, "the consumer loop does more than dispatch")
        if not loop.branches:
            raise self.fail(fn, "the consumer doesn't dispatch on the kind of what it receives")
        return loop

    def get_statement(self, statement: cst.CSTNode) -> _Loop:
        small = _small(statement)
        ok = isinstance(small, cst.Assign) and len(small.targets) == 1
        value = small.value if ok else None
        if isinstance(value, cst.Await) != self.is_async:
            ok = False
        call = value.expression if isinstance(value, cst.Await) else value
        if not (ok and isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "get" and not call.args
                and self.source.code(call.func.value) == self.receiver):
            get = f"{'await ' if self.is_async else ''}{self.receiver}.get()"
            raise self.fail(statement, f"the consumer loop doesn't start with `item = {get}`")
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return _Loop(call, target.value, None, [], None, "", [], [], [])
        if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) >= 2 and all(
                isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements):
            names = [e.value.value for e in target.elements]
            if len(set(names)) == len(names):
                return _Loop(call, None, names[0], names[1:], None, "", [], [], [])
        raise self.fail(statement, "the consumer unpacks what it receives in a way this codemod doesn't follow")

    def task_done(self, statement: cst.CSTNode) -> cst.Call | None:
        small = _small(statement)
        call = small.value if isinstance(small, cst.Expr) else None
        if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "task_done"
                and not call.args and self.source.code(call.func.value) == self.receiver):
            return call
        return None

    def sentinel_test(self, loop: _Loop, test: cst.BaseExpression) -> tuple[str, ...] | None:
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        target = test.comparisons[0]
        if not isinstance(test.left, cst.Name):
            return None
        if loop.item is not None and test.left.value == loop.item and isinstance(target.operator, (cst.Is, cst.Equal)):
            return self.sentinel_of(target.comparator)
        if loop.tag_var is not None and test.left.value == loop.tag_var and isinstance(target.operator, cst.Equal):
            tag = _string(target.comparator)
            return ("tag", tag) if tag is not None else None
        return None

    def sentinel_check(self, loop: _Loop, statement: cst.If) -> bool:
        sentinel = self.sentinel_test(loop, statement.test)
        if sentinel is None:
            return False
        body = _statements(statement.body)
        if statement.orelse is not None or not _exits(body):
            return False  # a dispatch branch (a tag), or a test the dispatch will refuse
        done = [self.task_done(extra) for extra in body[:-1]]
        if None in done:  # (located at the test: ``statement`` may be a copy without a position)
            raise self.fail(statement.test, "the consumer does more than stop at its sentinel")
        loop.task_done.extend(done)
        loop.sentinel = sentinel
        loop.sentinel_code = self.source.module.code_for_node(statement.test.comparisons[0].comparator)
        return True

    def dispatch(self, loop: _Loop, chain: cst.If) -> None:
        node: cst.If | cst.Else | None = chain
        first = True
        while node is not None:
            if isinstance(node, cst.Else):
                loop.branches.append(_Branch(node, node.body))
                break
            if first and loop.sentinel is None and self.sentinel_check(loop, node.with_changes(orelse=None)):
                node, first = node.orelse, False
                continue
            first = False
            branch = _Branch(node, node.body)
            if loop.item is None:
                branch.tags = self.tags(loop, node.test)
            elif (tags := self.dict_tags(loop, node.test)) is not None:
                branch.tags = tags
            else:
                branch.classes = self.classes(loop, node.test)
            loop.branches.append(branch)
            node = node.orelse
        if any(b.tags for b in loop.branches) and any(b.classes for b in loop.branches):
            raise self.fail(chain.test, "the dispatch tests classes in some branches and a dict tag in others")
        for branch in loop.branches:
            if _exits(_statements(branch.body)):
                raise self.fail(branch.node, "a dispatch branch leaves the loop")

    def dict_tags(self, loop: _Loop, test: cst.BaseExpression) -> list[str] | None:
        """The tags of ``item["type"] == "user"`` / ``item.get("type") in ("a", "b")``."""
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        key = _item_key(test.left, loop.item)
        if key is None:
            return None
        if loop.tag_key not in (None, key):
            raise self.fail(test, f"the dispatch tests both `{loop.tag_key}` and `{key}`")
        target = test.comparisons[0]
        if isinstance(target.operator, cst.Equal):
            tags = [_string(target.comparator)]
        elif isinstance(target.operator, cst.In) and isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
            tags = [_string(e.value) for e in target.comparator.elements]
        else:
            tags = []
        if not tags or None in tags:
            raise self.fail(test, f"a dispatch branch tests something other than `{loop.item}[{key!r}] == \"tag\"`")
        loop.tag_key = key
        return tags

    def match_dispatch(self, loop: _Loop, statement: cst.Match) -> None:
        """``match item:`` with one class pattern (or tag value) per case; ``case None:``
        (or the sentinel) that breaks; ``case _:`` last."""
        wanted = loop.item if loop.item is not None else loop.tag_var
        if not (isinstance(statement.subject, cst.Name) and statement.subject.value == wanted):
            raise self.fail(statement.subject, "the consumer matches on something other than what it received")
        for case in statement.cases:
            if case.guard is not None:
                raise self.fail(case.guard, "a `case` has a guard, which this codemod doesn't migrate")
            if loop.sentinel is None and self.sentinel_case(loop, case):
                continue
            pattern = case.pattern
            if isinstance(pattern, cst.MatchAs) and pattern.pattern is None and pattern.name is None:
                loop.branches.append(_Branch(case, case.body, wildcard=True))
                continue
            branch = _Branch(case, case.body)
            if loop.item is not None:
                branch.classes, branch.prelude = self.case_classes(loop, pattern)
            else:
                branch.tags = self.case_tags(loop, pattern)
            loop.branches.append(branch)
        for branch in loop.branches:
            if _exits(_statements(branch.body)):
                raise self.fail(branch.node, "a dispatch branch leaves the loop")

    def sentinel_case(self, loop: _Loop, case: cst.MatchCase) -> bool:
        pattern = case.pattern
        if not isinstance(pattern, (cst.MatchValue, cst.MatchSingleton)):
            return False
        if loop.item is not None:
            sentinel = self.sentinel_of(pattern.value)
        else:
            tag = _string(pattern.value)
            sentinel = ("tag", tag) if tag is not None else None
        body = _statements(case.body)
        if sentinel is None or not _exits(body):
            return False
        done = [self.task_done(extra) for extra in body[:-1]]
        if None in done:
            raise self.fail(pattern, "the consumer does more than stop at its sentinel")
        loop.task_done.extend(done)
        loop.sentinel = sentinel
        loop.sentinel_code = self.source.module.code_for_node(pattern.value)
        return True

    def case_classes(self, loop: _Loop, pattern: cst.MatchPattern) -> tuple[list[cst.BaseExpression], list[str]]:
        """The classes a case tests and the statements that bind what it captures:
        ``Deposit(cents=c)`` → ``c = item.cents``, ``Deposit() as d`` → ``d = item``."""
        prelude: list[str] = []
        if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None and pattern.name is not None:
            prelude.append(f"{pattern.name.value} = {loop.item}")
            pattern = pattern.pattern
        alternatives = pattern.patterns if isinstance(pattern, cst.MatchOr) else None
        options = [element.pattern for element in alternatives] if alternatives is not None else [pattern]
        classes = []
        for option in options:
            if not isinstance(option, cst.MatchClass) or not _dotted(option.cls) or option.patterns:
                raise self.fail(option, "a `case` tests more than `Kind(...)` with keyword captures")
            for element in option.kwds:
                capture = element.pattern
                if alternatives is not None or not (isinstance(capture, cst.MatchAs) and capture.pattern is None
                                                    and capture.name is not None):
                    raise self.fail(element, "a `case` tests more than `Kind(...)` with keyword captures")
                prelude.append(f"{capture.name.value} = {loop.item}.{element.key.value}")
            classes.append(option.cls)
        return classes, prelude

    def case_tags(self, loop: _Loop, pattern: cst.MatchPattern) -> list[str]:
        options = [e.pattern for e in pattern.patterns] if isinstance(pattern, cst.MatchOr) else [pattern]
        tags = [_string(o.value) if isinstance(o, cst.MatchValue) else None for o in options]
        if not tags or None in tags:
            raise self.fail(pattern, f"a `case` tests something other than the tag in `{loop.tag_var}`")
        return tags

    def classes(self, loop: _Loop, test: cst.BaseExpression) -> list[cst.BaseExpression]:
        if (isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance"
                and len(test.args) == 2 and not any(a.keyword or a.star for a in test.args)
                and isinstance(test.args[0].value, cst.Name) and test.args[0].value.value == loop.item):
            operand = test.args[1].value
            operands = [e.value for e in operand.elements] if isinstance(operand, cst.Tuple) else [operand]
            if operands and all(_dotted(o) for o in operands):
                return operands
        raise self.fail(test, "a dispatch branch tests something other than `isinstance(item, Kind)`")

    def tags(self, loop: _Loop, test: cst.BaseExpression) -> list[str]:
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name) \
                and test.left.value == loop.tag_var:
            target = test.comparisons[0]
            if isinstance(target.operator, cst.Equal):
                tag = _string(target.comparator)
                if tag is not None:
                    return [tag]
            if isinstance(target.operator, cst.In) and isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
                tags = [_string(e.value) for e in target.comparator.elements]
                if tags and None not in tags:
                    return tags
        raise self.fail(test, f"a dispatch branch tests something other than `{loop.tag_var} == \"tag\"`")


_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _item_key(node: cst.CSTNode, item: str | None) -> str | None:
    """``"type"`` for ``item["type"]`` and ``item.get("type")``; None for anything else."""
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == item \
            and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return _string(node.slice[0].slice.value)
    if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "get"
            and isinstance(node.func.value, cst.Name) and node.func.value.value == item and len(node.args) == 1
            and node.args[0].keyword is None and not node.args[0].star):
        return _string(node.args[0].value)
    return None


def _item_parents(source: _Source, node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's parent and grandparent (``item`` in ``item["k"]`` / ``item.get("k")``)."""
    parent = source.parents.get(node)
    return [p for p in (parent, source.parents.get(parent) if parent is not None else None) if p is not None]


class _ItemFields(cst.CSTTransformer):
    """``item["key"]`` and ``item.get("key")`` → ``item.key``, once the dict is an event object."""

    def __init__(self, item: str):
        super().__init__()
        self.item = item

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        return self._field(original_node, updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._field(original_node, updated_node)

    def _field(self, original_node, updated_node) -> cst.BaseExpression:
        key = _item_key(original_node, self.item)
        if key is None:
            return updated_node
        return cst.Attribute(value=cst.Name(self.item), attr=cst.Name(key), lpar=updated_node.lpar,
                             rpar=updated_node.rpar)


def _is_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    return isinstance(test, cst.Integer) and test.value == "1"


_string = string_value


# ---- one channel ----------------------------------------------------------------------------



@dataclass
class _Put:
    source: _Source
    call: cst.Call
    awaited: cst.Await | None
    op: Operation
    kind: str = ""  # "sentinel" | "class" | "tag"
    cls: Value | None = None
    tag: str = ""


@dataclass
class _Subscription:
    branch: int
    cls: Value | None  # None for a tag's new event class
    cls_code: str  # how the subscription names the class
    tag: str = ""
    excluded: list[str] = field(default_factory=list)  # earlier branches' classes it must not take


@dataclass
class _Handler:
    reference: str  # as the subscription names it: ``welcome``, ``self._on_signup``
    new: str | None  # the name of the function made from the branch body, None when it already existed


class _Migration:
    """Plans the migration of one channel; any reason not to raises ``_Skip``."""

    def __init__(self, work: _Workspace, channel: Channel):
        self.work = work
        self.graph = work.graph
        self.channel = channel
        self.edits: dict[str, _Edits] = {}
        self.notes: list[str] = []
        self.removed: list[tuple[_Source, cst.BaseStatement]] = []

    def file(self, rel: str) -> _Edits:
        return self.edits.setdefault(rel, _Edits())

    def plan(self) -> tuple[dict[str, _Edits], list[str]]:
        channel = self.channel
        self.flavour = self.kind_of_channel()
        if channel.scope not in ("module", "instance"):
            raise _Skip(f"a {channel.scope} channel; only module globals and instance attributes are migrated")
        if len(channel.names) != 1:
            raise _Skip("it is bound to several names")
        self.name = channel.names[0][0]
        self.bus_class = "EventBus" if self.flavour == "thread" else "AsyncEventBus"
        self.home = self.work.source(channel.path)
        self.creation, self.creation_call = self.find_creation()
        self.maxsize = self.bound()
        if self.flavour == "async" and self.maxsize:
            raise _Skip("a bounded asyncio.Queue makes `await put()` wait for room; AsyncEventBus.publish can't wait "
                        "(overflow=\"block\" is thread-only), so the bound would turn into drops")
        if self.flavour == "async" and channel.scope == "module":
            raise _Skip("a module-level asyncio channel: AsyncEventBus.subscribe needs a running event loop, so "
                        "nothing could subscribe at import time, before the first publish")
        self.check_outside_mentions(self.name, channel.names[0][2].public, "channel")
        puts, gets, task_done = self.uses()
        self.find_consumer(gets)
        stray = [(s, c) for s, c in task_done if not any(c is t for t in self.loop.task_done)]
        if stray:
            raise _Skip(f"task_done() is called outside the consumer loop ({stray[0][0].where(stray[0][1])})")
        for put in puts:
            self.classify(put)
        subscriptions = self.subscriptions(puts)
        self.removed = self.starters()
        if self.flavour == "async":
            self.check_constructions()
        handlers = self.handlers(subscriptions)
        self.rewrite_creation()
        self.rewrite_puts(puts)
        self.rewrite_consumer(handlers)
        self.place_subscriptions(subscriptions, handlers)
        for source, statement in self.removed:
            self.file(source.rel).remove.add(id(statement))
        where = f"{channel.path}:{channel.span.line}"
        kinds = ", ".join(dict.fromkeys(s.cls_code for s in subscriptions))
        self.notes.insert(0, f"{where}: {channel.display} is now an {self.bus_class} with {len(subscriptions)} "
                             f"subscription(s) ({kinds}); events of one kind still reach their handler in publish "
                             f"order, but the order across kinds is not kept")
        if any(p.kind == "sentinel" for p in puts):
            closing = "close(drain=True)" if self.flavour == "thread" else "aclose(drain=True)"
            self.notes.append(f"{where}: the shutdown put became {closing}: it waits for every published event to be "
                              f"handled, and publishing after it raises BusClosed where the queue kept the item")
        elif self.flavour == "thread":
            self.notes.append(f"{where}: nothing closes the bus: at exit it is closed with drain=True (waiting up to "
                              f"10 s), so events still queued then are handled, where a daemon worker was cut off")
        if self.flavour == "thread" and len({s.branch for s in subscriptions}) > 1:
            self.notes.append(f"{where}: handlers of different kinds now run concurrently, each on its own worker "
                              f"thread; guard any state they share")
        return self.edits, self.notes

    # -- the channel itself ------------------------------------------------------------------

    def kind_of_channel(self) -> str:
        constructor = self.channel.constructor
        flavour = _CONSTRUCTORS.get(constructor)
        if flavour is not None:
            return flavour
        if constructor.endswith(_ORDERED_ELSEWHERE):
            raise _Skip(f"a {constructor} hands items out in another order than they were put; the bus keeps "
                        f"publish order")
        raise _Skip(f"a {constructor or self.channel.api.name}: only queue.Queue, queue.SimpleQueue and asyncio.Queue "
                    f"have a bus to move to")

    def find_creation(self) -> tuple[cst.Assign | cst.AnnAssign, cst.Call]:
        for node in self.home.positions:
            if isinstance(node, (cst.Assign, cst.AnnAssign)) and self.home.span(node) == self.channel.span:
                if isinstance(node.value, cst.Call) and (isinstance(node, cst.AnnAssign) or len(node.targets) == 1) \
                        and self.home.line_of(node) is not None:
                    return node, node.value
                break
        raise _Skip("its creation is not a plain `name = Queue()` line (or the file changed since it was checked)")

    def bound(self) -> int:
        """0 for an unbounded queue, else its maxsize."""
        call = self.creation_call
        if not call.args:
            return 0
        arg = call.args[0]
        if len(call.args) == 1 and not arg.star and (arg.keyword is None or arg.keyword.value == "maxsize"):
            value = arg.value
            if isinstance(value, cst.Integer):
                return max(int(value.value, 0), 0)
            if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus) \
                    and isinstance(value.expression, cst.Integer):
                return 0
        raise _Skip(f"its size is not a literal number ({self.home.quote(call)})")

    def check_outside_mentions(self, name: str, public: bool, what: str) -> None:
        """A public name may be used by project files that were not analysed."""
        if not public:
            return
        if self.channel.scope == "module" and what == "channel":
            listed = self.graph.module_all(self.channel.module)
            if listed is not None and name not in listed:
                return
        elsewhere = self.work.unanalysed_mentions(name)
        if elsewhere is not None:
            raise _Skip(f"the public name `{name}` of its {what} is mentioned in {elsewhere}, which was not analysed")

    # -- every reference to the channel -----------------------------------------------------

    def references(self) -> Iterator[tuple[_Source, cst.CSTNode]]:
        if self.channel.scope == "module":
            yield from self.global_references()
        else:
            yield from self.attribute_references()

    def global_references(self) -> Iterator[tuple[_Source, cst.CSTNode]]:
        name, home = self.name, self.home
        assignments = list(home.scopes[home.module].assignments[name])
        if len(assignments) != 1:
            raise _Skip(f"`{name}` is assigned more than once")
        for access in assignments[0].references:
            yield home, access.node
        for source in self.work.sources_mentioning(name):
            if source is home:
                continue
            for node in source.positions:
                if isinstance(node, cst.ImportFrom) and self.imports_home(source, node):
                    if isinstance(node.names, cst.ImportStar):
                        raise _Skip(f"{source.where(node)} imports everything from {self.channel.module}")
                    for alias in node.names:
                        if _dotted(alias.name) != name:
                            continue
                        local = alias.asname.name.value if alias.asname is not None else name
                        for assignment in source.scopes[node].assignments[local]:
                            if getattr(assignment, "node", None) is node:
                                yield from ((source, access.node) for access in assignment.references)
                elif isinstance(node, cst.Attribute) and node.attr.value == name \
                        and self.graph.canonical_module(self.qualify(source, _dotted(node.value))) == self.channel.module:
                    yield source, node

    def imports_home(self, source: _Source, node: cst.ImportFrom) -> bool:
        return self.graph.canonical_module(_import_base(source, node)) == self.channel.module

    def imported_by_home(self) -> set[str]:
        """The project modules the channel's module imports (anywhere in it)."""
        found = set()
        for node in self.home.positions:
            if isinstance(node, cst.Import):
                found |= {_dotted(alias.name) for alias in node.names}
            elif isinstance(node, cst.ImportFrom):
                base = _import_base(self.home, node)
                found.add(base)
                if not isinstance(node.names, cst.ImportStar):
                    found |= {f"{base}.{_dotted(alias.name)}" for alias in node.names}
        return {self.graph.canonical_module(name) for name in found}

    def qualify(self, source: _Source, dotted: str) -> str:
        """A dotted name as written in ``source`` → the qualified name it imports."""
        head, _, rest = dotted.partition(".")
        target = self.graph.imports.get((source.facts.module, head), head)
        return f"{target}.{rest}" if rest else target

    def attribute_references(self) -> Iterator[tuple[_Source, cst.CSTNode]]:
        for source in self.work.sources_mentioning(self.name):
            for node in source.positions:
                if isinstance(node, cst.Attribute) and node.attr.value == self.name and self.owns(source, node):
                    yield source, node

    def self_class(self, source: _Source, node: cst.Attribute) -> str | None:
        """The class whose method reads ``self.<attr>``, when the receiver is that method's ``self``."""
        fn = source.function_of(node)
        if fn is None or not isinstance(node.value, cst.Name):
            return None
        cls = source.class_of(fn)
        params = fn.params.params
        if cls is None or not params or params[0].name.value != node.value.value \
                or any(_dotted(d.decorator) == "staticmethod" for d in fn.decorators):
            return None
        return source.qualname(cls)

    def owns(self, source: _Source, node: cst.Attribute) -> bool:
        """Is ``x.<name>`` this channel?  A skip when that can't be told."""
        cls = self.self_class(source, node)
        if cls is not None:
            return self.channel.owner in self.graph.mro(cls) or cls in self.graph.mro(self.channel.owner)
        parent = source.parent(node)
        call = source.parent(parent) if isinstance(parent, cst.Attribute) else None
        if isinstance(call, cst.Call):
            span = source.span(call)
            for op in self.graph.operations:
                if op.path == source.rel and op.call.span == span:
                    if op.channel != self.channel.id:
                        return False
                    if op.heuristic:
                        raise _Skip(f"{source.quote(node)} at {source.where(node)} was matched to it by its "
                                    f"attribute name only; annotate the receiver's type")
                    return True
            fact = next((c for c in source.facts.calls if c.span == span), None)
            value = self.graph.resolve(fact.callee[:-1]) if fact is not None and len(fact.callee) > 1 else None
            if value is not None:
                return value.kind == "channel" and value.name == self.channel.id
        raise _Skip(f"can't tell whether {source.quote(node)} at {source.where(node)} is this channel")

    def uses(self) -> tuple[list[_Put], list[tuple[_Source, cst.Call]], list[tuple[_Source, cst.Call]]]:
        """Every reference, sorted into puts, gets and task_done() calls; anything else is a skip."""
        puts: list[_Put] = []
        gets: list[tuple[_Source, cst.Call]] = []
        task_done: list[tuple[_Source, cst.Call]] = []
        ops = {(op.path, op.call.span): op for op in self.graph.operations_on(self.channel.id)}
        seen = set()
        for source, node in self.references():
            parent = source.parent(node)
            if not (isinstance(parent, cst.Attribute) and parent.value is node):
                if self.is_creation_target(source, node):
                    continue
                raise _Skip(f"it escapes: {_escape(source, node)} at {source.where(node)}")
            call = source.parent(parent)
            method = parent.attr.value
            if not (isinstance(call, cst.Call) and call.func is parent):
                raise _Skip(f"its .{method} is used as a value at {source.where(parent)} (a `for item in "
                            f"iter(q.get, None)` consumer, or a callback)")
            key = (source.rel, source.span(call))
            if method in _PUTS:
                if key not in ops:
                    raise _Skip(f"the put at {source.where(call)} is not where the analysis saw it (the file "
                                f"changed since it was checked)")
                seen.add(key)
                puts.append(self.put_site(source, call, ops[key]))
            elif method in ("get", "get_nowait"):
                seen.add(key)
                gets.append((source, call))
            elif method == "task_done":
                task_done.append((source, call))
            else:
                raise _Skip(f"it uses .{method}() at {source.where(call)}, which the bus has no equivalent for")
        unseen = [op for key, op in ops.items() if key not in seen]
        if unseen:
            raise _Skip(f"{unseen[0].path}:{unseen[0].call.span.line} uses it through another name")
        return puts, gets, task_done

    def is_creation_target(self, source: _Source, node: cst.CSTNode) -> bool:
        parent = source.parent(node)
        if isinstance(parent, cst.AssignTarget):
            parent = source.parent(parent)
        return source is self.home and parent is self.creation

    def put_site(self, source: _Source, call: cst.Call, op: Operation) -> _Put:
        parent = source.parent(call)
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            raise _Skip(f"the put at {source.where(call)} passes block/timeout arguments")
        if op.method == "put_nowait" and self.maxsize:
            raise _Skip(f"put_nowait() on a bounded queue raises queue.Full ({source.where(call)}); the bus would "
                        f"block instead")
        return _Put(source, call, parent if isinstance(parent, cst.Await) else None, op)

    # -- the consumer ------------------------------------------------------------------------

    def find_consumer(self, gets: list[tuple[_Source, cst.Call]]) -> None:
        if len(gets) != 1:
            where = ", ".join(s.where(c) for s, c in gets) or "nowhere in the analysed code"
            raise _Skip(f"one consumer loop must be the only place that gets from it; it is read at {where}")
        source, get = gets[0]
        fn = source.function_of(get)
        if fn is None:
            raise _Skip(f"the get at {source.where(get)} is not inside a function")
        self.consumer_source, self.consumer = source, fn
        name = fn.name.value
        if fn.decorators:
            raise _Skip(f"the consumer {name}() is decorated")
        if self.flavour == "async" and fn.asynchronous is None:
            raise _Skip(f"the consumer {name}() is not a coroutine function")
        cls = source.class_of(fn)
        if self.channel.scope == "module":
            if source is not self.home or source.top_statement(fn) is not fn:
                raise _Skip(f"the consumer {source.qualname(fn)} is not a module-level function of "
                            f"{self.channel.module}")
            expected = 0
        else:
            if cls is None or source.qualname(cls) != self.channel.owner:
                raise _Skip(f"the consumer {source.qualname(fn)} is not a method of {self.channel.owner}")
            expected = 1
        params = fn.params
        if len(params.params) != expected or params.posonly_params or params.kwonly_params \
                or isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
            raise _Skip(f"the consumer {name}() takes arguments")
        self.self_name = params.params[0].name.value if expected else ""
        self.check_outside_mentions(name, _is_public(name), "consumer")
        matcher = _LoopMatcher(source, source.code(get.func.value), self.flavour == "async",
                               lambda node: self.sentinel_value(source, node))
        self.loop = matcher.match(fn)
        if self.loop.get is not get:
            raise _Skip(f"the consumer gets at {source.where(get)}, outside its loop")

    def sentinel_value(self, source: _Source, node: cst.BaseExpression) -> tuple[str, ...] | None:
        """("none",) for None, ("name", qualname) for a module-level sentinel object."""
        if isinstance(node, cst.Name) and node.value == "None":
            return ("none",)
        if isinstance(node, cst.Name) and node.value not in _BUILTINS and source.is_global(node):
            return ("name", self.graph.canonical(self.qualify(source, node.value)
                                                 if (source.facts.module, node.value) in self.graph.imports
                                                 else f"{source.facts.module}.{node.value}"))
        return None

    # -- the code that starts, joins or awaits the consumer ----------------------------------------

    def starters(self) -> list[tuple[_Source, cst.BaseStatement]]:
        """The statements that only start, join or await the consumer: they are removed."""
        source, fn = self.consumer_source, self.consumer
        qualname = source.qualname(fn)
        refs: list[cst.CSTNode] = []
        if self.channel.scope == "module":
            for assignment in source.scopes[source.module].assignments[fn.name.value]:
                if getattr(assignment, "node", None) is not fn:
                    raise _Skip(f"the name of the consumer {fn.name.value}() is bound more than once")
                refs.extend(access.node for access in assignment.references)
        else:
            for node in source.positions:
                if isinstance(node, cst.Attribute) and node.attr.value == fn.name.value:
                    if self.self_class(source, node) != self.channel.owner:
                        raise _Skip(f"the consumer {fn.name.value}() is used outside its class ({source.where(node)})")
                    refs.append(node)
        self.check_not_used_elsewhere(qualname, source.rel)
        if not refs:
            raise _Skip(f"the consumer {qualname} is never started in the analysed code")
        if len(refs) > 1:
            raise _Skip(f"the consumer {qualname} is used in more than one place")
        return self.starter_statements(source, refs[0])

    def check_not_used_elsewhere(self, qualname: str, home: str) -> None:
        mentioning = {source.rel for source in self.work.sources_mentioning(qualname.rsplit(".", 1)[-1])}
        for facts in self.graph.files:
            if facts.path == home or facts.path not in mentioning:
                continue
            refs = [b.value for b in facts.bindings]
            for call in facts.calls:
                refs += [call.callee, *call.args, *(ref for _, ref in call.keywords)]
            for ref in refs:
                value = self.graph.resolve(ref) if ref else None
                if value is not None and value.kind == "function" and value.name == qualname:
                    raise _Skip(f"the consumer {qualname} is used in {facts.path}")

    def starter_statements(self, source: _Source, ref: cst.CSTNode) -> list[tuple[_Source, cst.BaseStatement]]:
        thread = self.flavour == "thread"
        what = "thread" if thread else "task"
        parent = source.parent(ref)
        if thread:
            creator = source.parent(parent) if isinstance(parent, cst.Arg) else None
            if not (isinstance(parent, cst.Arg) and parent.keyword is not None and parent.keyword.value == "target"
                    and isinstance(creator, cst.Call)
                    and self.qualify(source, _dotted(creator.func)) == "threading.Thread"
                    and all(a.keyword is not None and a.keyword.value in ("target", "name", "daemon")
                            for a in creator.args)):
                raise _Skip(f"the consumer is used other than in `threading.Thread(target=...)` ({source.where(ref)})")
        else:
            creator = source.parent(source.parent(parent)) if isinstance(parent, cst.Call) else None
            if not (isinstance(parent, cst.Call) and parent.func is ref and not parent.args
                    and isinstance(creator, cst.Call) and creator.args and creator.args[0].value is parent
                    and self.qualify(source, _dotted(creator.func)) in ("asyncio.create_task", "asyncio.ensure_future")
                    and all(a.keyword is not None and a.keyword.value == "name" for a in creator.args[1:])):
                raise _Skip(f"the consumer is used other than in `asyncio.create_task(consumer())` "
                            f"({source.where(ref)})")
        holder = source.parent(creator)
        if thread and isinstance(holder, cst.Attribute) and holder.attr.value == "start":
            start = source.parent(holder)
            line = source.expression_line(start) if isinstance(start, cst.Call) and not start.args else None
            return [(source, self.removable(source, line, creator))]
        if not thread and isinstance(holder, cst.Expr):
            return [(source, self.removable(source, source.line_of(holder), creator))]
        if isinstance(holder, cst.Assign) and len(holder.targets) == 1:
            statements = [(source, self.removable(source, source.line_of(holder), creator))]
            statements += self.handle_statements(source, holder.targets[0].target, holder)
            return statements
        raise _Skip(f"the consumer's {what} is used in a way this codemod doesn't follow ({source.where(creator)})")

    def removable(self, source: _Source, line: cst.BaseStatement | None, node: cst.CSTNode) -> cst.BaseStatement:
        if line is None:
            raise _Skip(f"the consumer is started in an expression or on a line with other statements "
                        f"({source.where(node)})")
        if source.in_loop(line):
            raise _Skip(f"the consumer is started inside a loop ({source.where(node)}): several workers")
        return line

    def handle_statements(self, source: _Source, target: cst.BaseExpression,
                          creation: cst.Assign) -> list[tuple[_Source, cst.BaseStatement]]:
        """The uses of the consumer's thread or task handle: start, join, await, daemon, nothing else."""
        what = "thread" if self.flavour == "thread" else "task"
        uses: list[cst.CSTNode] = []
        if isinstance(target, cst.Name):
            scope = source.scopes[creation]
            assignments = list(scope.assignments[target.value])
            if len(assignments) != 1:
                raise _Skip(f"the consumer's {what} `{target.value}` is assigned more than once")
            uses = [access.node for access in assignments[0].references]
            if scope is source.scopes[source.module]:
                self.check_outside_mentions(target.value, _is_public(target.value), what)
                for other in self.work.sources_mentioning(target.value):
                    if other is not source:
                        raise _Skip(f"the consumer's {what} `{target.value}` may be used in {other.rel}")
        elif isinstance(target, cst.Attribute) and self.self_class(source, target) == self.channel.owner:
            attr = target.attr.value
            self.check_outside_mentions(attr, _is_public(attr), what)
            for other in self.work.sources_mentioning(attr):
                for node in other.positions:
                    if isinstance(node, cst.Attribute) and node.attr.value == attr and node is not target:
                        if other is not source or self.self_class(other, node) != self.channel.owner:
                            raise _Skip(f"the consumer's {what} `.{attr}` is used at {other.where(node)}")
                        uses.append(node)
        else:
            raise _Skip(f"the consumer's {what} is stored in {source.quote(target)}")
        statements = []
        for use in uses:
            line = self.handle_use(source, use)
            if line is None:
                raise _Skip(f"the consumer's {what} is used for more than starting and joining it "
                            f"({source.quote(source.parent(use) or use)} at {source.where(use)})")
            if source.in_loop(line):
                raise _Skip(f"the consumer's {what} is used inside a loop ({source.where(use)})")
            statements.append((source, line))
        return statements

    def handle_use(self, source: _Source, use: cst.CSTNode) -> cst.BaseStatement | None:
        """The line to remove for one use of the handle, or None when it is another kind of use."""
        parent = source.parent(use)
        if self.flavour == "thread" and isinstance(parent, cst.Attribute) and parent.value is use:
            call = source.parent(parent)
            if parent.attr.value in ("start", "join") and isinstance(call, cst.Call) and call.func is parent:
                if parent.attr.value == "join" and call.args:
                    self.notes.append(f"{source.where(call)}: the join timeout is gone: close(drain=True) waits "
                                      f"until every published event is handled")
                return source.expression_line(call)
            target = source.parent(parent)
            assign = source.parent(target) if isinstance(target, cst.AssignTarget) else None
            if parent.attr.value == "daemon" and isinstance(assign, cst.Assign):
                return source.line_of(assign)
            return None
        if self.flavour == "async" and isinstance(parent, cst.Await):
            return source.expression_line(parent)
        assign = source.parent(parent) if isinstance(parent, cst.AssignTarget) else None
        if isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Name) and assign.value.value == "None":
            return source.line_of(assign)
        return None

    def check_constructions(self) -> None:
        """AsyncEventBus.subscribe needs a running loop: the owner must only be made inside coroutines."""
        owner = self.channel.owner
        found = 0
        for facts in self.graph.files:
            for call in facts.calls:
                value = self.graph.resolve(call.callee)
                if value is None or value.kind != "class" or owner not in self.graph.mro(value.name):
                    continue
                found += 1
                fn = self.graph.functions.get(call.caller)
                if fn is None or not fn.is_async:
                    raise _Skip(f"{value.name.rsplit('.', 1)[-1]}() is made outside a coroutine at "
                                f"{facts.path}:{call.span.line}; AsyncEventBus.subscribe needs a running loop")
        if not found:
            raise _Skip(f"{owner} is never made in the analysed code, so it can't be shown that its subscriptions "
                        f"would be made inside a running loop")

    # -- kinds ----------------------------------------------------------------------------------

    def classify(self, put: _Put) -> None:
        loop, arg = self.loop, put.call.args[0].value
        where = put.source.where(put.call)
        if loop.sentinel is not None and self.sentinel_value(put.source, arg) == loop.sentinel:
            put.kind = "sentinel"
            return
        if loop.tag_var is not None:
            tag = _string(arg.elements[0].value) if isinstance(arg, cst.Tuple) and arg.elements and not any(
                isinstance(e, cst.StarredElement) for e in arg.elements) else None
            if tag is None:
                raise _Skip(f"publishes a value of unknown kind ({put.source.quote(arg)} at {where})")
            put.tag = tag
            put.kind = "sentinel" if loop.sentinel == ("tag", tag) else "tag"
            if put.kind == "tag" and len(arg.elements) != len(loop.fields) + 1:
                raise _Skip(f"the put at {where} has {len(arg.elements) - 1} value(s) after its tag; the consumer "
                            f"unpacks {len(loop.fields)}")
            return
        if loop.tag_key is not None:
            self.classify_dict(put, arg, where)
            return
        value = self.payload_class(put.op)
        if value is None:
            raise _Skip(f"publishes a value of unknown kind ({put.source.quote(arg)} at {where})")
        if value.kind == "class" and self.graph.is_exception_class(value.name):
            raise _Skip(f"it carries exceptions ({where}); the bus dead-letters failures instead")
        plain = self.plain_data(value)
        if plain:
            raise _Skip(f"publishes {plain} ({where}), which the bus refuses as plain data")
        put.kind, put.cls = "class", value

    def classify_dict(self, put: _Put, arg: cst.BaseExpression, where: str) -> None:
        """``{"type": "user", "id": 7}``: tag "user", fields ``id`` (the same keys on every put
        of that tag, each a name a dataclass field can have)."""
        loop = self.loop
        keys = [_string(e.key) if isinstance(e, cst.DictElement) else None
                for e in (arg.elements if isinstance(arg, cst.Dict) else [])]
        tag_element = next((e for e, k in zip(arg.elements, keys) if k == loop.tag_key), None) if keys else None
        tag = _string(tag_element.value) if tag_element is not None else None
        if not keys or None in keys or tag is None:
            raise _Skip(f"publishes a value of unknown kind ({put.source.quote(arg)} at {where})")
        fields = [k for k in keys if k != loop.tag_key]
        if any(not k.isidentifier() or keyword.iskeyword(k) for k in fields):
            raise _Skip(f"the put at {where} has a key that can't be a field name")
        known = loop.tag_fields.setdefault(tag, fields)
        if set(known) != set(fields):
            raise _Skip(f"{tag!r} events are put with different keys ({where})")
        put.tag, put.kind = tag, "tag"

    def payload_class(self, op: Operation) -> Value | None:
        """The class of what ``op`` puts, from the analysis (None when unknown)."""
        payload = op.call.payload
        if not payload or payload[0] not in ("new", "ref"):
            return None
        value = self.graph.resolve(payload[1:])
        if value is None:
            return None
        if value.kind == "instance":
            return Value("class", value.name)
        if payload[0] != "new":
            return None
        if value.kind == "class":
            return value
        if value.kind == "function":
            made = self.graph.step(value, "()", 0)
            return Value("class", made.name) if made is not None and made.kind == "instance" else None
        last = value.name.rsplit(".", 1)[-1]
        if value.kind == "api" and last[:1].isupper() and "()" not in value.name \
                and not value.name.startswith("builtins."):
            return Value("api", value.name)
        return None

    def plain_data(self, value: Value) -> str:
        names = [value.name] if value.kind == "api" else self.graph.external_bases(value.name)
        plain = [n for n in names if n in _PLAIN_DATA]
        return f"a {plain[0].rsplit('.', 1)[-1]}" if plain else ""

    def branch_class(self, expr: cst.BaseExpression) -> Value:
        source, dotted = self.consumer_source, _dotted(expr)
        head = expr
        while isinstance(head, cst.Attribute):
            head = head.value
        if not (isinstance(head, cst.Name) and source.is_global(head)):
            raise _Skip(f"the dispatch class {dotted} is not a module-level name")
        parts = dotted.split(".")
        value = self.graph.resolve((f"G:{source.facts.module}.{parts[0]}", *(f".{p}" for p in parts[1:])))
        if value is None and parts[0] in _BUILTINS:
            raise _Skip(f"the consumer dispatches on the builtin {dotted}, which the bus refuses as plain data")
        if value is None or value.kind not in ("class", "api"):
            raise _Skip(f"can't tell what class {dotted} is")
        value = Value(value.kind, value.name)
        plain = self.plain_data(value)
        if plain:
            raise _Skip(f"the consumer dispatches on {plain} ({dotted}), which the bus refuses as plain data")
        return value

    def relation(self, sub: Value, base: Value) -> bool | None:
        """Is ``sub`` ``base`` or one of its subclasses?  None when that can't be told."""
        if (sub.kind, sub.name) == (base.kind, base.name):
            return True
        if sub.kind == "class":
            if base.kind == "class":
                return base.name in self.graph.mro(sub.name)
            outside = [b for b in self.graph.external_bases(sub.name) if b not in ("builtins.object", "object")]
            if base.name in outside:
                return True
            return False if not outside else None
        return False if base.kind == "class" else None

    def subscriptions(self, puts: list[_Put]) -> list[_Subscription]:
        """One subscription per class (or tag) a branch tests, in branch order."""
        loop, source = self.loop, self.consumer_source
        branches = [b for b in loop.branches if not b.is_else]
        has_else = len(branches) != len(loop.branches)
        subs: list[_Subscription] = []
        if loop.tagged:
            for index, branch in enumerate(branches):
                for tag in branch.tags:
                    if any(s.tag == tag for s in subs):
                        raise _Skip(f"the branch for {tag!r} at {source.where(branch.node)} is unreachable: an "
                                    f"earlier branch takes it")
                    if not _TAG.match(tag):
                        raise _Skip(f"the tag {tag!r} doesn't make a class name")
                    subs.append(_Subscription(index, None, _class_name(tag), tag))
            for put in puts:
                if put.kind == "tag" and not any(s.tag == put.tag for s in subs):
                    raise _Skip(f"it carries {put.tag!r} events ({put.source.where(put.call)}) that no branch "
                                f"handles")
        else:
            for index, branch in enumerate(branches):
                subs += [_Subscription(index, self.branch_class(e), source.code(e)) for e in branch.classes]
            for position, sub in enumerate(subs):
                for earlier in subs[:position]:
                    related = self.relation(sub.cls, earlier.cls)
                    if related is None:
                        raise _Skip(f"can't tell whether {sub.cls_code} is a {earlier.cls_code} (classes outside the "
                                    f"analysed code)")
                    if related:
                        raise _Skip(f"the branch for {sub.cls_code} is unreachable: {earlier.cls_code} is tested "
                                    f"first")
                    if self.relation(earlier.cls, sub.cls):
                        sub.excluded.append(earlier.cls_code)
            for put in {(p.cls.kind, p.cls.name): p for p in puts if p.kind == "class"}.values():
                matching = []
                for sub in subs:
                    related = self.relation(put.cls, sub.cls)
                    if related is None:
                        raise _Skip(f"can't tell whether {_short(put.cls)} is a {sub.cls_code} (classes outside the "
                                    f"analysed code)")
                    if related:
                        matching.append(sub)
                if not matching and has_else:
                    raise _Skip(f"{_short(put.cls)} events ({put.source.where(put.call)}) reach the else branch")
                for later in matching[1:]:  # multiple inheritance: the first matching branch alone takes it
                    if matching[0].cls_code not in later.excluded:
                        later.excluded.append(matching[0].cls_code)
        if has_else:
            self.notes.append(f"{source.where(loop.branches[-1].node)}: the else branch was dropped: no event "
                              f"published to {self.channel.display} reaches it")
        return subs

    # -- handlers -------------------------------------------------------------------------------

    def handlers(self, subs: list[_Subscription]) -> list[_Handler]:
        """One per branch: the function it already calls, or a new one made from its body."""
        loop = self.loop
        branches = [b for b in loop.branches if not b.is_else]
        source = self.consumer_source
        taken = {n.value for n in source.positions if isinstance(n, cst.Name)}
        taken |= self.work.edits[source.rel].names if source.rel in self.work.edits else set()
        result = []
        for index, branch in enumerate(branches):
            direct = self.direct_handler(branch) if not loop.tagged else None
            if direct is not None:
                result.append(_Handler(direct, None))
                continue
            self.check_extractable(branch)
            mine = [s for s in subs if s.branch == index]
            if loop.tag_key is not None:
                self.check_item_keys(branch)
            if not loop.tagged:
                words = [_snake(s.cls_code.rsplit(".", 1)[-1]) for s in mine]
            else:
                words = [_snake(_class_name(s.tag)[:-len("Event")]) for s in mine]
            base = "_on_" + "_or_".join(words[:3])
            name, counter = base, 2
            while name in taken:
                name, counter = f"{base}_{counter}", counter + 1
            taken.add(name)
            self.file(source.rel).names.add(name)
            result.append(_Handler(f"{self.self_name}.{name}" if self.self_name else name, name))
        return result

    def check_item_keys(self, branch: _Branch) -> None:
        """A dict-tag branch reads ``item["key"]`` (or ``item.get("key")``) for keys every put
        of its tags carries, and uses the item no other way: it becomes an event object."""
        source, loop = self.consumer_source, self.loop
        keys = set.intersection(*(set(loop.tag_fields.get(tag, ())) for tag in branch.tags))
        read = {id(node) for node in _walk(branch.body) if _item_key(node, loop.item) is not None}
        for node in _walk(branch.body):
            key = _item_key(node, loop.item)
            if key is not None and key not in keys:
                raise _Skip(f"a dispatch branch reads {key!r}, which not every {'/'.join(branch.tags)} put carries "
                            f"({source.where(node)})")
            if isinstance(node, cst.Name) and node.value == loop.item and not any(
                    id(parent) in read for parent in _item_parents(source, node)):
                raise _Skip(f"a dispatch branch uses the dict `{loop.item}` itself ({source.where(node)}), not only "
                            f"its keys")

    def direct_handler(self, branch: _Branch) -> str | None:
        """``handler(item)`` (or ``await handler(item)``) alone in a branch: that handler."""
        statements = _statements(branch.body)
        small = _small(statements[0]) if len(statements) == 1 else None
        call = small.value if isinstance(small, cst.Expr) else None
        awaited = isinstance(call, cst.Await)
        if awaited:
            call = call.expression
        if self.flavour == "async" and not awaited:
            return None  # AsyncEventBus handlers must return an awaitable
        if not (isinstance(call, cst.Call) and len(call.args) == 1 and call.args[0].keyword is None
                and not call.args[0].star and isinstance(call.args[0].value, cst.Name)
                and call.args[0].value.value == self.loop.item):
            return None
        func, source = call.func, self.consumer_source
        if isinstance(func, cst.Name) and source.is_global(func):
            # subscribe() takes the function once; the loop looked the name up for every item,
            # so only a name bound once, by ``def`` or an import, is the same either way
            bound = list(source.scopes[source.module].assignments[func.value])
            if not bound and func.value in _BUILTINS:
                return func.value
            if len(bound) == 1 and isinstance(getattr(bound[0], "node", None), (cst.FunctionDef, cst.Import,
                                                                                  cst.ImportFrom)):
                return func.value
            return None
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and self.self_name \
                and func.value.value == self.self_name:
            value = self.graph.attribute(self.channel.owner, func.attr.value, 0)
            method = self.graph.functions.get(value.name) if value is not None and value.kind == "function" else None
            if method is not None and not method.is_property:
                return f"{self.self_name}.{func.attr.value}"
        return None

    def check_extractable(self, branch: _Branch) -> None:
        """A branch body can become a function when it keeps no state across iterations and
        doesn't leave the loop or the consumer."""
        source, loop = self.consumer_source, self.loop
        for node in _walk(branch.body):
            if isinstance(node, (cst.Return, cst.Yield, cst.Nonlocal)) and not _nested(source, node, branch.body):
                raise _Skip(f"a dispatch branch uses {type(node).__name__.lower()} ({source.where(node)})")
            if isinstance(node, (cst.Break, cst.Continue)) and not _in_inner_loop(source, node, branch.body):
                raise _Skip(f"a dispatch branch uses {type(node).__name__.lower()} ({source.where(node)})")
        # a case's pattern binds its captures for the body: they go with it
        inside = {id(n) for n in _walk(branch.node if isinstance(branch.node, cst.MatchCase) else branch.body)}
        scope = source.scopes[branch.node.test if isinstance(branch.node, cst.If) else self.loop.get]
        kept = {loop.item, *loop.fields, self.self_name}
        for assignment in scope.assignments:
            nodes = [getattr(assignment, "node", None), *(access.node for access in assignment.references)]
            if assignment.name == loop.tag_var:
                if any(id(n) in inside for n in nodes):
                    raise _Skip(f"a dispatch branch uses the tag variable `{assignment.name}` "
                                f"({source.where(branch.node)})")
            elif assignment.name not in kept and any(id(n) in inside for n in nodes) \
                    and any(id(n) not in inside for n in nodes):
                raise _Skip(f"a dispatch branch shares the local `{assignment.name}` with the rest of the consumer "
                            f"({source.where(branch.node)})")

    # -- the rewrite ------------------------------------------------------------------------------

    def check_free(self, source: _Source, name: str, module: str) -> None:
        """``from module import name`` can be added to ``source`` without shadowing anything."""
        for assignment in source.scopes[source.module].assignments[name]:
            node = getattr(assignment, "node", None)
            if not (isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative
                    and _dotted(node.module) == module):
                raise _Skip(f"`{name}` already means something else in {source.rel}")

    def rewrite_creation(self) -> None:
        edits, bus = self.file(self.home.rel), self.bus_class
        self.check_free(self.home, bus, "eventlint.bus")
        edits.replace[id(self.creation_call)] = lambda node: cst.Call(func=cst.Name(bus))
        if isinstance(self.creation, cst.AnnAssign):
            edits.replace[id(self.creation.annotation)] = lambda node: node.with_changes(annotation=cst.Name(bus))
        edits.imports.append(("eventlint.bus", bus))

    def rewrite_puts(self, puts: list[_Put]) -> None:
        loop = self.loop
        if loop.tagged:
            self.add_event_classes([(_class_name(t), loop.tag_fields.get(t, []) if loop.tag_key else loop.fields)
                                    for b in loop.branches for t in b.tags])
        for put in puts:
            edits = self.file(put.source.rel)
            if put.kind == "sentinel":
                self.rewrite_sentinel(put, edits)
                continue
            if put.kind == "tag":
                name = _class_name(put.tag)
                if put.source.facts.module != self.channel.module:
                    self.check_free(put.source, name, self.channel.module)
                    if put.source.facts.module in self.imported_by_home():
                        raise _Skip(f"{self.channel.module} imports {put.source.facts.module}: importing the event "
                                    f"classes there would make a circular import")
                    edits.imports.append((self.channel.module, name))
                elements = put.call.args[0].value.elements
                if loop.tag_key is None:
                    args = [cst.Arg(e.value) for e in elements[1:]]
                else:
                    args = [cst.Arg(e.value, keyword=cst.Name(_string(e.key)), equal=_EQUAL, comma=e.comma)
                            for e in elements if _string(e.key) != loop.tag_key]
                    if args:
                        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                event = cst.Call(func=cst.Name(name), args=args)
                edits.replace[id(put.call)] = functools.partial(_publish, event=event)
            else:
                edits.replace[id(put.call)] = _publish
            if put.awaited is not None:
                edits.replace[id(put.awaited)] = lambda node: node.expression

    def rewrite_sentinel(self, put: _Put, edits: _Edits) -> None:
        source, target = put.source, put.awaited or put.call
        if source.expression_line(target) is None:
            raise _Skip(f"the shutdown put at {source.where(put.call)} is part of a larger expression")
        receiver = source.code(put.call.func.value)
        if self.flavour == "async":
            fn = source.function_of(put.call)
            if fn is None or fn.asynchronous is None:
                raise _Skip(f"the shutdown put at {source.where(put.call)} is not in a coroutine, where "
                            f"`await aclose()` could go")
            replacement = cst.parse_expression(f"await {receiver}.aclose(drain=True)")
        else:
            replacement = cst.parse_expression(f"{receiver}.close(drain=True)")
        edits.replace[id(target)] = lambda node: replacement

    def add_event_classes(self, classes: list[tuple[str, list[str]]]) -> None:
        """One frozen dataclass per tag, at the top of the channel's module."""
        scope = self.home.scopes[self.home.module]
        edits = self.file(self.home.rel)
        for name, fields in classes:
            if scope.assignments[name] or name in _BUILTINS:
                raise _Skip(f"the event class name {name} is already taken in {self.channel.module}")
            body = "\n".join(f"    {field_name}: object" for field_name in fields) or "    pass"
            statement = cst.parse_statement(f"@dataclass(frozen=True)\nclass {name}:\n{body}\n")
            edits.top.append(statement.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2))
        self.check_free(self.home, "dataclass", "dataclasses")
        edits.imports.append(("dataclasses", "dataclass"))

    def rewrite_consumer(self, handlers: list[_Handler]) -> None:
        """The consumer function becomes the new handler functions (or goes away)."""
        source, fn, loop = self.consumer_source, self.consumer, self.loop
        edits = self.file(source.rel)
        made = [(index, h.new) for index, h in enumerate(handlers) if h.new is not None]
        if not made:
            edits.remove.add(id(fn))
            return
        is_async = fn.asynchronous is not None
        matcher = _LoopMatcher(source, source.code(loop.get.func.value), is_async,
                               lambda node: loop.sentinel if source.module.code_for_node(node) == loop.sentinel_code
                               else None)
        parameter = loop.item
        prelude: list[cst.BaseStatement] = []
        if loop.tag_var is not None:
            used = {n.value for b in loop.branches for n in _walk(b.body) if isinstance(n, cst.Name)}
            parameter = next(p for p in ("event", "message", "received", "tagged") if p not in used | {*loop.fields})
            values = ", ".join(f"{parameter}.{f}" for f in loop.fields)
            prelude.append(cst.parse_statement(f"{', '.join(loop.fields)} = {values}\n"))
        params = ", ".join([*([self.self_name] if self.self_name else []), parameter])
        blank = [cst.EmptyLine(indent=False)] * (1 if self.self_name else 2)

        def rebuild(updated: cst.FunctionDef) -> cst.FlattenSentinel:
            branches = [b for b in matcher.match(updated).branches if not b.is_else]
            functions = []
            for position, (index, name) in enumerate(made):
                body = branches[index].body
                if loop.tag_key is not None:
                    body = body.visit(_ItemFields(loop.item))
                block = body if isinstance(body, cst.IndentedBlock) else cst.IndentedBlock(body=_statements(body))
                mentioned = {n.value for n in _walk(body) if isinstance(n, cst.Name)}
                declared = [g for g in loop.globals if {n.name.value for n in _small(g).names} & mentioned]
                header = cst.parse_statement(f"{'async ' if is_async else ''}def {name}({params}):\n    pass\n")
                bound = [cst.parse_statement(f"{line}\n") for line in branches[index].prelude]
                functions.append(header.with_changes(
                    body=block.with_changes(body=[*declared, *prelude, *bound, *block.body]),
                    leading_lines=updated.leading_lines if position == 0 else blank))
            return cst.FlattenSentinel(functions)

        edits.replace[id(fn)] = rebuild

    def place_subscriptions(self, subs: list[_Subscription], handlers: list[_Handler]) -> None:
        options = f", maxsize={self.maxsize}, overflow=\"block\"" if self.maxsize else ", maxsize=0"
        if self.channel.scope == "instance":
            line = self.home.line_of(self.creation)
            init = self.home.function_of(self.creation)
            if init is None or init.name.value != "__init__" or self.home.parent(line) is not init.body:
                raise _Skip("it is not created directly in the body of its class's __init__")
            building = [op for op in self.graph.publishers_of(self.channel.id)
                        if op.function == self.home.qualname(init)]
            if building:
                raise _Skip(f"it is published to while {self.channel.owner.rsplit('.', 1)[-1]} is being built "
                            f"({building[0].path}:{building[0].call.span.line}); a handler could then run before "
                            f"__init__ has set what it needs")
            init_self = init.params.params[0].name.value
            receiver = f"{init_self}.{self.name}"
        else:
            init_self, receiver = "", self.name
        statements = []
        for sub in subs:
            handler = handlers[sub.branch].reference
            if init_self and self.self_name and handler.startswith(self.self_name + "."):
                handler = init_self + handler[len(self.self_name):]
            extra = ""
            if sub.excluded:
                excluded = sub.excluded[0] if len(sub.excluded) == 1 else f"({', '.join(sub.excluded)})"
                extra = f", filter=lambda event: not isinstance(event, {excluded})"
            statements.append(cst.parse_statement(f"{receiver}.subscribe({sub.cls_code}, {handler}{options}{extra})\n"))
        if self.channel.scope == "instance":
            anchor = self.home.line_of(self.creation)
        else:
            anchor = self.module_anchor(subs, handlers)
            if isinstance(anchor, cst.BaseCompoundStatement):
                statements[0] = statements[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2)
        self.file(self.home.rel).after[id(anchor)] = statements

    def module_anchor(self, subs: list[_Subscription], handlers: list[_Handler]) -> cst.BaseStatement:
        """The last top-level statement the subscriptions depend on (see the module docstring)."""
        home = self.home
        body = list(home.module.body)
        start = body.index(home.top_statement(self.creation))
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
            needed.append(body.index(self.consumer))
        last = max(needed)
        removed = {id(statement) for _, statement in self.removed}
        for statement in body[start + 1:last]:
            if id(statement) not in removed and not _passive(statement):
                raise _Skip(f"module code at {home.where(statement)} could run before the subscriptions are "
                            f"registered (they need names defined further down)")
        for op in self.graph.publishers_of(self.channel.id):
            if op.function == self.channel.module and op.path == home.rel and op.call.span.line <= home.line(
                    body[last]):
                raise _Skip(f"it is published to at import time ({home.rel}:{op.call.span.line})")
        return body[last]


def _import_base(source: _Source, node: cst.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement imports from."""
    base = _dotted(node.module) if node.module is not None else ""
    if not node.relative:
        return base
    module = source.facts.module
    package = module if source.rel.endswith("__init__.py") else module.rpartition(".")[0]
    for _ in range(len(node.relative) - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{base}" if base else package


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
        return all(isinstance(s, (cst.Import, cst.ImportFrom, cst.Assign, cst.AnnAssign)) or (
            isinstance(s, cst.Expr) and isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString)))
            for s in statement.body)
    if isinstance(statement, cst.If):
        return _dotted(statement.test).endswith("TYPE_CHECKING")
    return False


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _nested(source: _Source, node: cst.CSTNode, top: cst.CSTNode) -> bool:
    """Is ``node`` inside a function, lambda or class nested in ``top``?"""
    for ancestor in source.ancestors(node):
        if ancestor is top:
            return False
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return True
    return False


def _in_inner_loop(source: _Source, node: cst.CSTNode, top: cst.CSTNode) -> bool:
    for ancestor in source.ancestors(node):
        if ancestor is top:
            return False
        if isinstance(ancestor, (cst.For, cst.While, cst.FunctionDef, cst.Lambda)):
            return True
    return False


def _escape(source: _Source, node: cst.CSTNode) -> str:
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


def _short(value: Value) -> str:
    return value.name.rsplit(".", 1)[-1]


def _class_name(tag: str) -> str:
    """``"payment_received"`` → ``PaymentReceivedEvent``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-. ]+", tag) if part) + "Event"


def _snake(name: str) -> str:
    """``UserRegistered`` → ``user_registered``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return snake + "_" if keyword.iskeyword(snake) else snake
