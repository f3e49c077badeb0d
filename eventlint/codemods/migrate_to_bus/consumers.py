"""The consumer: the one function that gets from the channel, and the loop shape this
codemod migrates (get, check the sentinel, dispatch on the kind, ``task_done()``).

``find_consumer`` returns a frozen ``Consumer`` whose ``loop`` records what the loop tests
and binds; any other shape is a ``Skip`` naming the statement that does not fit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import libcst as cst
import libcst.matchers as m

from ...branching import Compared, KindTest, Through, case_kinds, kind_test, subject
from ...syntax import alternatives
from .plan import Flavour, Target, check_outside_mentions, qualify
from .source import BUILTINS, TRUE, Skip, Source, dotted, exits, is_docstring, is_public, small, statements, string

if TYPE_CHECKING:
    from .workspace import Workspace


class SentinelKind(enum.Enum):
    NONE = "none"  # ``None``
    NAME = "name"  # a module-level sentinel object, by qualified name
    TAG = "tag"  # a tag value on a tag channel


@dataclass(frozen=True, slots=True)
class Sentinel:
    """What the consumer stops at; two sentinels are the same when they are equal."""

    kind: SentinelKind
    value: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Branch:
    """One arm of the consumer's dispatch: an ``if``/``elif``, the ``else``, or a ``case``."""

    node: cst.If | cst.Else | cst.MatchCase
    body: cst.BaseSuite
    classes: tuple[cst.BaseExpression, ...] = ()
    tags: tuple[str, ...] = ()
    wildcard: bool = False  # ``case _:``
    prelude: tuple[str, ...] = ()  # what a case's pattern bound: ``cents = item.cents``

    @property
    def is_else(self) -> bool:
        return isinstance(self.node, cst.Else) or self.wildcard


@dataclass(frozen=True, slots=True, eq=False)
class Loop:
    """A consumer ``while True:`` loop that gets, checks a sentinel and dispatches."""

    get: cst.Call
    item: str | None  # class dispatch: the received item
    tag_var: str | None  # tag dispatch: ``kind, data = q.get()``
    fields: tuple[str, ...]
    sentinel: Sentinel | None
    sentinel_code: str
    branches: tuple[Branch, ...]
    task_done: tuple[cst.Call, ...]
    globals: tuple[cst.BaseStatement, ...]
    tag_key: str | None  # dict tag dispatch: ``item["type"] == "user"``

    @property
    def tagged(self) -> bool:
        """Dispatch on a tag (a tuple's first item or a dict key), not on classes."""
        return self.tag_var is not None or self.tag_key is not None

    @property
    def dispatched(self) -> list[Branch]:
        """The branches that test a kind (not the ``else`` / ``case _``), in order."""
        return [b for b in self.branches if not b.is_else]


@dataclass(frozen=True, slots=True, eq=False)
class Consumer:
    """The function that consumes the channel."""

    source: Source
    function: cst.FunctionDef
    self_name: str  # its ``self`` when it is a method, else ""
    loop: Loop


@dataclass(eq=False)
class _Draft:
    """The loop as ``_LoopMatcher.match`` reads it, statement by statement."""

    get: cst.Call
    item: str | None
    tag_var: str | None
    fields: tuple[str, ...]
    sentinel: Sentinel | None = None
    sentinel_code: str = ""
    branches: list[Branch] = field(default_factory=list)
    task_done: list[cst.Call] = field(default_factory=list)
    tag_key: str | None = None


_PLAIN_ARG = m.Arg(keyword=None, star="")
_NAMES = [m.Element(m.Name()), m.Element(m.Name()), m.ZeroOrMore(m.Element(m.Name()))]  # ``kind, data, ...``


def _received(receiver: Callable[[cst.CSTNode], bool], method: str) -> m.Call:
    """``<receiver>.<method>()`` with no arguments, the receiver spelled as the channel is."""
    return m.Call(func=m.Attribute(value=m.MatchIfTrue(receiver), attr=m.Name(method)), args=[])


class _LoopMatcher:
    """Recognises the one consumer shape this codemod migrates (see the package docstring)."""

    def __init__(self, source: Source, receiver: str, is_async: bool,
                 sentinel_of: Callable[[cst.BaseExpression], Sentinel | None]):
        self.source = source
        self.is_async = is_async
        self.sentinel_of = sentinel_of
        spelled = lambda node: source.code(node) == receiver  # noqa: E731
        self.get_call = _received(spelled, "get")
        self.task_done_line = m.SimpleStatementLine(body=[m.Expr(value=_received(spelled, "task_done"))])
        self.receiver = receiver

    def fail(self, node: cst.CSTNode, what: str) -> Skip:
        return Skip(f"{what} ({self.source.quote(node)} at {self.source.where(node)})")

    def match(self, fn: cst.FunctionDef) -> Loop:
        body = statements(fn.body)
        if body and is_docstring(body[0]):
            body = body[1:]
        globals_ = [s for s in body if isinstance(small(s), cst.Global)]
        body = [s for s in body if s not in globals_]
        if len(body) != 1 or not m.matches(body[0], m.While(orelse=None, test=TRUE)):
            raise self.fail(fn, "the consumer is not a plain `while True:` loop over the channel")
        inner = statements(body[0].body)
        loop = self.get_statement(inner[0] if inner else body[0])
        chain_seen = False
        for statement in inner[1:]:
            done = self.task_done(statement)
            if done is not None:
                loop.task_done.append(done)
                continue
            if isinstance(statement, cst.If) and not chain_seen and loop.sentinel is None \
                    and self.sentinel_check(loop, statement):
                continue
            if isinstance(statement, cst.Try) and not chain_seen:
                statement = self.unwrap_try(loop, statement)
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
        return Loop(loop.get, loop.item, loop.tag_var, loop.fields, loop.sentinel, loop.sentinel_code,
                    tuple(loop.branches), tuple(loop.task_done), tuple(globals_), loop.tag_key)

    def unwrap_try(self, loop: _Draft, statement: cst.Try) -> cst.If:
        """``try: <dispatch> finally: q.task_done()``: the dispatch."""
        if statement.handlers or statement.orelse is not None or statement.finalbody is None:
            raise self.fail(statement, "the consumer loop handles errors itself (try/except)")
        finals = statements(statement.finalbody.body)
        calls = [self.task_done(s) for s in finals]
        if not finals or None in calls:
            raise self.fail(statement, "the consumer loop does more than dispatch")
        loop.task_done.extend(calls)
        inner = statements(statement.body)
        if len(inner) != 1 or not isinstance(inner[0], cst.If):
            raise self.fail(statement, "the consumer loop does more than dispatch")
        return inner[0]

    def get_statement(self, statement: cst.CSTNode) -> _Draft:
        got = self.get_call
        value = m.Await(expression=got) if self.is_async else got
        line = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget()], value=value)])
        if not m.matches(statement, line):
            get = f"{'await ' if self.is_async else ''}{self.receiver}.get()"
            raise self.fail(statement, f"the consumer loop doesn't start with `item = {get}`")
        assign = small(statement)
        call = assign.value.expression if self.is_async else assign.value
        target = assign.targets[0].target
        if isinstance(target, cst.Name):
            return _Draft(call, target.value, None, ())
        if m.matches(target, m.Tuple(elements=_NAMES) | m.List(elements=_NAMES)):
            names = [e.value.value for e in target.elements]
            if len(set(names)) == len(names):
                return _Draft(call, None, names[0], tuple(names[1:]))
        raise self.fail(statement, "the consumer unpacks what it receives in a way this codemod doesn't follow")

    def task_done(self, statement: cst.CSTNode) -> cst.Call | None:
        return small(statement).value if m.matches(statement, self.task_done_line) else None

    def sentinel_test(self, loop: _Draft, test: cst.BaseExpression) -> Sentinel | None:
        """What ``item is None`` / ``item == STOP`` / ``kind == "stop"`` stops at."""
        def compares(name: str | None, operator: m.BaseMatcherNode) -> bool:
            return name is not None and m.matches(test, m.Comparison(
                left=m.Name(name), comparisons=[m.ComparisonTarget(operator=operator)]))

        if compares(loop.item, m.Is() | m.Equal()):
            return self.sentinel_of(test.comparisons[0].comparator)
        if compares(loop.tag_var, m.Equal()):
            tag = string(test.comparisons[0].comparator)
            return Sentinel(SentinelKind.TAG, tag) if tag is not None else None
        return None

    def stops(self, loop: _Draft, body: list[cst.BaseStatement], at: cst.CSTNode) -> None:
        """The sentinel's block may call ``task_done()`` before it leaves, nothing else."""
        done = [self.task_done(extra) for extra in body[:-1]]
        if None in done:
            raise self.fail(at, "the consumer does more than stop at its sentinel")
        loop.task_done.extend(done)

    def sentinel_check(self, loop: _Draft, statement: cst.If) -> bool:
        sentinel = self.sentinel_test(loop, statement.test)
        if sentinel is None:
            return False
        body = statements(statement.body)
        if statement.orelse is not None or not exits(body):
            return False  # a dispatch branch (a tag), or a test the dispatch will refuse
        # located at the test: ``statement`` may be a copy without a position
        self.stops(loop, body, statement.test)
        loop.sentinel = sentinel
        loop.sentinel_code = self.source.module.code_for_node(statement.test.comparisons[0].comparator)
        return True

    def dispatch(self, loop: _Draft, chain: cst.If) -> None:
        node: cst.If | cst.Else | None = chain
        first = True
        while node is not None:
            if isinstance(node, cst.Else):
                loop.branches.append(Branch(node, node.body))
                break
            if first and loop.sentinel is None and self.sentinel_check(loop, node.with_changes(orelse=None)):
                node, first = node.orelse, False
                continue
            first = False
            if loop.item is None:
                branch = Branch(node, node.body, tags=tuple(self.tags(loop, node.test)))
            elif (tags := self.dict_tags(loop, node.test)) is not None:
                branch = Branch(node, node.body, tags=tuple(tags))
            else:
                branch = Branch(node, node.body, classes=tuple(self.classes(loop, node.test)))
            loop.branches.append(branch)
            node = node.orelse
        if any(b.tags for b in loop.branches) and any(b.classes for b in loop.branches):
            raise self.fail(chain.test, "the dispatch tests classes in some branches and a dict tag in others")
        self.stay_in_loop(loop)

    def stay_in_loop(self, loop: _Draft) -> None:
        for branch in loop.branches:
            if exits(statements(branch.body)):
                raise self.fail(branch.node, "a dispatch branch leaves the loop")

    def dict_tags(self, loop: _Draft, test: cst.BaseExpression) -> list[str] | None:
        """The tags of ``item["type"] == "user"`` / ``item.get("type") in ("a", "b")``."""
        read = kind_test(test)
        if read is None or read.name != loop.item or read.through is not Through.KEY or read.key is None:
            return None
        key = read.key
        if loop.tag_key not in (None, key):
            raise self.fail(test, f"the dispatch tests both `{loop.tag_key}` and `{key}`")
        tags = _tag_strings(read)
        if tags is None:
            raise self.fail(test, f"a dispatch branch tests something other than `{loop.item}[{key!r}] == \"tag\"`")
        loop.tag_key = key
        return tags

    def match_dispatch(self, loop: _Draft, statement: cst.Match) -> None:
        """``match item:`` with one class pattern (or tag value) per case; ``case None:``
        (or the sentinel) that breaks; ``case _:`` last."""
        wanted = loop.item if loop.item is not None else loop.tag_var
        if not m.matches(statement.subject, m.Name(wanted)):
            raise self.fail(statement.subject, "the consumer matches on something other than what it received")
        for case in statement.cases:
            if case.guard is not None:
                raise self.fail(case.guard, "a `case` has a guard, which this codemod doesn't migrate")
            if loop.sentinel is None and self.sentinel_case(loop, case):
                continue
            pattern = case.pattern
            if m.matches(pattern, m.MatchAs(pattern=None, name=None)):
                loop.branches.append(Branch(case, case.body, wildcard=True))
                continue
            if loop.item is not None:
                classes, prelude = self.case_classes(loop, pattern)
                branch = Branch(case, case.body, classes=tuple(classes), prelude=tuple(prelude))
            else:
                branch = Branch(case, case.body, tags=tuple(self.case_tags(loop, pattern)))
            loop.branches.append(branch)
        self.stay_in_loop(loop)

    def sentinel_case(self, loop: _Draft, case: cst.MatchCase) -> bool:
        pattern = case.pattern
        if not isinstance(pattern, (cst.MatchValue, cst.MatchSingleton)):
            return False
        if loop.item is not None:
            sentinel = self.sentinel_of(pattern.value)
        else:
            tag = string(pattern.value)
            sentinel = Sentinel(SentinelKind.TAG, tag) if tag is not None else None
        body = statements(case.body)
        if sentinel is None or not exits(body):
            return False
        self.stops(loop, body, pattern)
        loop.sentinel = sentinel
        loop.sentinel_code = self.source.module.code_for_node(pattern.value)
        return True

    def case_classes(self, loop: _Draft, pattern: cst.MatchPattern) -> tuple[list[cst.BaseExpression], list[str]]:
        """The classes a case tests and the statements that bind what it captures:
        ``Deposit(cents=c)`` → ``c = item.cents``, ``Deposit() as d`` → ``d = item``."""
        prelude: list[str] = []
        if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None and pattern.name is not None:
            prelude.append(f"{pattern.name.value} = {loop.item}")
            pattern = pattern.pattern
        options = alternatives(pattern)
        read = case_kinds(loop.item, cst.MatchCase(pattern=pattern, body=cst.SimpleStatementSuite(())), frozenset())
        capture = m.MatchAs(pattern=None, name=m.Name())
        if len(read) != len(options) or any(r.compared is not Compared.CLASS or not dotted(r.operands[0])
                                            or r.node.patterns for r in read):
            raise self.fail(pattern, "a `case` tests more than `Kind(...)` with keyword captures")
        for option in read:
            for element in option.node.kwds:
                if len(options) > 1 or not m.matches(element.pattern, capture):
                    raise self.fail(element, "a `case` tests more than `Kind(...)` with keyword captures")
                prelude.append(f"{element.pattern.name.value} = {loop.item}.{element.key.value}")
        return [r.operands[0] for r in read], prelude

    def case_tags(self, loop: _Draft, pattern: cst.MatchPattern) -> list[str]:
        read = case_kinds(loop.tag_var, cst.MatchCase(pattern=pattern, body=cst.SimpleStatementSuite(())), frozenset())
        tags = [string(r.operands[0]) if r.through is Through.VALUE and r.compared is Compared.TAG else None
                for r in read]
        if not tags or len(tags) != len(alternatives(pattern)) or None in tags:
            raise self.fail(pattern, f"a `case` tests something other than the tag in `{loop.tag_var}`")
        return tags

    def classes(self, loop: _Draft, test: cst.BaseExpression) -> list[cst.BaseExpression]:
        read = kind_test(test)
        if read is not None and read.name == loop.item and read.through is Through.VALUE \
                and read.compared is Compared.CLASS and read.operands and all(dotted(o) for o in read.operands):
            return list(read.operands)
        raise self.fail(test, "a dispatch branch tests something other than `isinstance(item, Kind)`")

    def tags(self, loop: _Draft, test: cst.BaseExpression) -> list[str]:
        read = kind_test(test)
        if read is not None and read.name == loop.tag_var and read.through is Through.VALUE:
            tags = _tag_strings(read)
            if tags is not None:
                return tags
        raise self.fail(test, f"a dispatch branch tests something other than `{loop.tag_var} == \"tag\"`")


def _tag_strings(read: KindTest) -> list[str] | None:
    """The string tags a comparison accepts (``== "a"``, ``in ("a", "b")``); None when an
    operand is not a string or the test is no ``==``/``in`` comparison."""
    if not isinstance(read.node, cst.Comparison) \
            or not isinstance(read.node.comparisons[0].operator, (cst.Equal, cst.In)):
        return None
    tags = [string(o) for o in read.operands]
    return tags if tags and None not in tags else None


def item_key(node: cst.CSTNode, item: str | None) -> str | None:
    """``"type"`` for ``item["type"]`` and ``item.get("type")`` (no default); None for
    anything else."""
    read = subject(node) if item is not None and isinstance(node, cst.BaseExpression) else None
    if read is None or read[0] != item or read[1] is not Through.KEY:
        return None
    if isinstance(node, cst.Call) and len(node.args) != 1:
        return None
    return read[2]


def item_parents(source: Source, node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's parent and grandparent (``item`` in ``item["k"]`` / ``item.get("k")``)."""
    parent = source.parents.get(node)
    return [p for p in (parent, source.parents.get(parent) if parent is not None else None) if p is not None]


class ItemFields(cst.CSTTransformer):
    """``item["key"]`` and ``item.get("key")`` → ``item.key``, once the dict is an event object."""

    def __init__(self, item: str):
        super().__init__()
        self.item = item

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        return self._field(original_node, updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._field(original_node, updated_node)

    def _field(self, original_node, updated_node) -> cst.BaseExpression:
        key = item_key(original_node, self.item)
        if key is None:
            return updated_node
        return cst.Attribute(value=cst.Name(self.item), attr=cst.Name(key), lpar=updated_node.lpar,
                             rpar=updated_node.rpar)


def rematch(consumer: Consumer, updated: cst.FunctionDef) -> Loop:
    """The loop of ``updated``, the consumer function as the rewrite has changed it (its
    puts already publish): the same shape read again, for the branches' new bodies."""
    source, loop = consumer.source, consumer.loop

    def same_sentinel(node: cst.BaseExpression) -> Sentinel | None:
        return loop.sentinel if source.module.code_for_node(node) == loop.sentinel_code else None

    matcher = _LoopMatcher(source, source.code(loop.get.func.value), consumer.function.asynchronous is not None,
                           same_sentinel)
    return matcher.match(updated)


def find_consumer(work: Workspace, plan: Target, gets: list[tuple[Source, cst.Call]]) -> Consumer:
    """The one function that gets from the channel, when it has the migratable loop."""
    channel = plan.channel
    if len(gets) != 1:
        where = ", ".join(s.where(c) for s, c in gets) or "nowhere in the analysed code"
        raise Skip(f"one consumer loop must be the only place that gets from it; it is read at {where}")
    source, get = gets[0]
    fn = source.function_of(get)
    if fn is None:
        raise Skip(f"the get at {source.where(get)} is not inside a function")
    name = fn.name.value
    if fn.decorators:
        raise Skip(f"the consumer {name}() is decorated")
    if plan.flavour is Flavour.ASYNC and fn.asynchronous is None:
        raise Skip(f"the consumer {name}() is not a coroutine function")
    cls = source.class_of(fn)
    if channel.scope == "module":
        if source is not plan.home or source.top_statement(fn) is not fn:
            raise Skip(f"the consumer {source.qualname(fn)} is not a module-level function of {channel.module}")
        expected = 0
    else:
        if cls is None or source.qualname(cls) != channel.owner:
            raise Skip(f"the consumer {source.qualname(fn)} is not a method of {channel.owner}")
        expected = 1
    params = fn.params
    if len(params.params) != expected or params.posonly_params or params.kwonly_params \
            or isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
        raise Skip(f"the consumer {name}() takes arguments")
    self_name = params.params[0].name.value if expected else ""
    check_outside_mentions(work, channel, name, is_public(name), "consumer")
    matcher = _LoopMatcher(source, source.code(get.func.value), plan.flavour is Flavour.ASYNC,
                           lambda node: sentinel_value(work, source, node))
    loop = matcher.match(fn)
    if loop.get is not get:
        raise Skip(f"the consumer gets at {source.where(get)}, outside its loop")
    return Consumer(source, fn, self_name, loop)


def sentinel_value(work: Workspace, source: Source, node: cst.BaseExpression) -> Sentinel | None:
    """``None``, or a module-level sentinel object by its qualified name."""
    if m.matches(node, m.Name("None")):
        return Sentinel(SentinelKind.NONE)
    if isinstance(node, cst.Name) and node.value not in BUILTINS and source.is_global(node):
        graph = work.graph
        local = (source.facts.module, node.value)
        return Sentinel(SentinelKind.NAME, graph.canonical(qualify(graph, source, node.value) if local in graph.imports
                                                           else f"{source.facts.module}.{node.value}"))
    return None
