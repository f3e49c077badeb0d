"""The publisher/subscriber graph: every file's facts assembled into one model.

This is the only module that imports networkx.  It resolves symbolic references across
modules (imports and re-exports, ``self.attr`` through project base classes, module-level
instances, constructor arguments stored on ``self``) and answers the domain questions the
checks ask.  Node ids are ``"kind:qualified.name"``; edge keys are
``"<relation>@path:line:col"`` so a rebuild from cached facts yields the same graph.
"""

from __future__ import annotations

import logging
import traceback
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

from .catalog import Catalog, ChannelApi
from .model import Binding, CallFact, ClassFact, FileFacts, FunctionFact, Location, Ref, Span, dotted, is_public_name

_MISSING = object()
_MAX_CALL_SITES = 64
_MAX_MRO = 64
# passes over one cyclic group of goals before it counts as growing along its cycle: on the
# standard library 864 of 871 groups settle in their second pass, one in its third, and the
# four still changing after the fourth are attributes copied from themselves
_GROUP_PASSES = 4
_log = logging.getLogger("eventlint.internal")
_T = TypeVar("_T")

# A resolved value.  kind is one of: "module", "class", "instance", "function",
# "channel" (name = channel id, extra = end role), "api" (an outside name, dotted).
@dataclass(frozen=True, slots=True)
class Value:
    kind: str
    name: str
    extra: str = ""
    heuristic: bool = False
    origin: CallFact | None = None  # for outside instances: the call that made them


@dataclass(frozen=True, slots=True)
class Failure:
    """An unexpected error while analysing one module.  The module is reported as EVT000 and
    every other module is still analysed."""

    path: str
    module: str
    stage: str  # what was being done, e.g. "finding channels"
    error: str  # "RecursionError: maximum recursion depth exceeded"


class _Frame:
    """One goal being evaluated by ``EventGraph._run``."""

    __slots__ = ("goal", "evaluation", "number", "low", "position", "reply", "cyclic", "passes", "previous", "first")

    def __init__(self, goal, evaluation, number: int, position: int):
        self.goal = goal
        self.evaluation = evaluation
        self.number = self.low = number
        self.position = position  # where the goal sits on the stack of open goals
        self.reply = None  # the value of the goal it asked for last
        self.cyclic = False  # it asked for itself
        self.passes = 1
        self.previous = None  # the group's values after the previous pass, by goal
        self.first = None  # and after its first pass, when every request into the cycle had None


@dataclass
class Channel:
    id: str
    api: ChannelApi
    path: str
    span: Span
    owner: str  # module, class or function qualname
    scope: str  # "module" | "class" | "instance" | "local"
    module: str
    element_type: tuple[str, ...] | None
    creation: CallFact | None
    constructor: str = ""  # how the code named the constructor, e.g. "multiprocessing.get_context().Queue"
    names: list[tuple[str, str, Binding]] = field(default_factory=list)  # (name, end role, binding)

    @property
    def node(self) -> str:
        return f"channel:{self.id}"

    @property
    def display(self) -> str:
        return self.id[len(self.module) + 1:] if self.id.startswith(self.module + ".") else self.id


@dataclass(frozen=True, slots=True)
class Operation:
    """A put or get on a channel."""

    channel: str  # channel id
    direction: str  # "put" | "get"
    method: str
    call: CallFact
    path: str
    function: str  # qualname of the enclosing function (or module/class)
    heuristic: bool = False


class EventGraph:
    def __init__(self, files: list[FileFacts], catalog: Catalog):
        self.catalog = catalog
        import networkx as nx  # here, not at the top: a run whose results are cached never builds a graph

        self.graph = nx.MultiDiGraph()
        self.files = sorted(files, key=lambda f: f.path)
        self.modules: dict[str, FileFacts] = {}
        self.classes: dict[str, ClassFact] = {}
        self.functions: dict[str, FunctionFact] = {}
        self.path_of: dict[str, str] = {}  # class/function qualname -> path
        self.module_bindings: dict[tuple[str, str], Binding] = {}
        self.class_bindings: dict[tuple[str, str], list[Binding]] = defaultdict(list)
        self.local_bindings: dict[tuple[str, str], Binding] = {}
        self.imports: dict[tuple[str, str], str] = {}
        self.channels: dict[str, Channel] = {}
        self._binding_channel: dict[int, tuple[str, str]] = {}
        self.operations: list[Operation] = []
        self._channels_by_attr: dict[str, list[str]] | None = None
        self._dispatches: dict[str, list] | None = None
        self._call_graph = None
        self._tables: dict | None = None
        self._import_names: dict[str, str] = {}
        self._paths_of_calls: dict[int, str] | None = None
        self._memo: dict[tuple, object] = {}
        self._running = False
        self._bindings: dict[int, Binding] = {}
        self._evaluators = {
            "ref": self._eval_ref, "member": self._eval_member, "attr": self._eval_attr, "binding": self._eval_binding,
            "param": self._eval_param, "calls": self._eval_calls, "mro": self._eval_mro, "bases": self._eval_bases,
            "channel-class": self._eval_channel_class,
        }
        self.failures: list[Failure] = []
        self._failed_modules: set[str] = set()
        for facts in self.files:
            self.isolated(facts, "indexing", self._index)
        for facts in self.files:
            self.isolated(facts, "finding channels", self._find_channels)
        # answers given before every channel was known may miss one: start afresh
        self._memo.clear()
        for facts in self.files:
            self.isolated(facts, "finding channel operations", self._find_operations)

    def isolated(self, facts: FileFacts, stage: str, action: Callable[[FileFacts], _T]) -> _T | None:
        """``action(facts)``, one module's part of a step.  An unexpected error becomes a
        ``Failure`` of that module (reported as EVT000; the traceback is logged on the
        ``eventlint.internal`` logger) and None, so the step goes on with the next module."""
        try:
            return action(facts)
        except Exception as error:  # noqa: BLE001 - one module's bug must not cost the others their findings
            _log.debug("internal error while %s in %s (%s)\n%s", stage, facts.path, facts.module, traceback.format_exc())
            if facts.module not in self._failed_modules:
                self._failed_modules.add(facts.module)
                message = " ".join(str(error).split())[:200]
                self.failures.append(Failure(facts.path, facts.module, stage,
                                             f"{type(error).__name__}: {message}" if message else type(error).__name__))
            return None

    # ---- indexing ---------------------------------------------------------------------

    def _index(self, facts: FileFacts) -> None:
        if facts.problem is not None:
            return
        for name in (facts.module, *facts.aliases):
            self.modules.setdefault(name, facts)
        for cls in facts.classes:
            self.classes[cls.qualname] = cls
            self.path_of[cls.qualname] = facts.path
        for fn in facts.functions:
            self.functions[fn.qualname] = fn
            self.path_of[fn.qualname] = facts.path
            self.graph.add_node(f"function:{fn.qualname}", kind="function", path=facts.path, line=fn.span.line)
        for local, target in facts.imports:
            self.imports[(facts.module, local)] = target
        for binding in facts.bindings:
            if binding.scope == "module":
                self.module_bindings[(binding.owner, binding.name)] = binding
            elif binding.scope == "local":
                self.local_bindings[(binding.owner, binding.name)] = binding
            else:
                self.class_bindings[(binding.owner, binding.name)].append(binding)
            self._bindings[id(binding)] = binding
        self.path_of[facts.module] = facts.path

    def canonical_module(self, name: str) -> str:
        facts = self.modules.get(name)
        return facts.module if facts is not None else name

    def canonical(self, qualname: str) -> str:
        """Rewrite a qualname that starts with a module alias to the module's own name."""
        parts = qualname.split(".")
        for cut in range(len(parts), 0, -1):
            head = ".".join(parts[:cut])
            facts = self.modules.get(head)
            if facts is not None:
                return ".".join([facts.module, *parts[cut:]])
        return qualname

    # ---- resolution ---------------------------------------------------------------------
    #
    # Every question resolution answers is a *goal*, a small tuple such as
    # ("member", module, name) or ("ref", ref).  Each goal has an evaluator: a generator that
    # yields the goals it needs and receives their values, so that ``_run`` drives them all
    # from one explicit stack and no chain of imports, aliases, attributes or callers in the
    # analysed project can deepen Python's own stack.  Results are memoised per goal.
    #
    # Cycles are normal in real code (``from a import x`` inside ``a``, ``self.a = self.b`` and
    # ``self.b = self.a``, a package and its modules importing each other).  ``_run`` finds the
    # strongly connected groups of goals as it goes (Tarjan's algorithm): a goal asked for while
    # its own group is still open gets its value so far (None at first), and when the group
    # closes it is evaluated again, each such request now answered by the previous pass, until
    # its values settle.  A group still changing after ``_GROUP_PASSES`` passes holds a value
    # that grows along its cycle (``self.x = self.x.copy()``): it keeps its first pass, where
    # the cycle added nothing.  Either way each member holds what the alternatives leading out
    # of the cycle give, and the group is memoised together, once.  Every goal is evaluated a
    # bounded number of times, so resolution costs time linear in the goals it visits.

    def resolve(self, ref: Ref | None, depth: int = 0) -> Value | None:
        """What ``ref`` names (None when unknown).  ``depth`` is accepted for callers of
        older versions and ignored."""
        if not ref:
            return None
        return self._solve(("ref", ref))

    def resolve_global(self, name: str, depth: int = 0) -> Value | None:
        return self._run(self._global(name))

    def module_member(self, module: str, name: str, depth: int = 0) -> Value | None:
        return self._solve(("member", module, name))

    def step(self, value: Value, step: str, depth: int = 0) -> Value | None:
        return self._run(self._step(value, step))

    def attribute(self, cls: str, attr: str, depth: int = 0, heuristic: bool = False) -> Value | None:
        return self._solve(("attr", cls, attr))

    def binding_value(self, binding: Binding, depth: int = 0) -> Value | None:
        self._bindings.setdefault(id(binding), binding)
        return self._solve(("binding", id(binding)))

    def resolve_param(self, spec: str, depth: int = 0) -> Value | None:
        return self._solve(("param", spec))

    def argument_value(self, fn: FunctionFact, index: int, name: str, depth: int = 0) -> Value | None:
        """The one value every known call of ``fn`` passes for this parameter."""
        return self._run(self._argument_value(fn, index, name))

    def mro(self, qualname: str) -> list[str]:
        """The class and its project base classes, breadth first, without repeats."""
        return self._solve(("mro", qualname))

    def external_bases(self, qualname: str) -> list[str]:
        """The outside (non-project) base classes anywhere in the class's hierarchy."""
        return self._solve(("bases", qualname))

    def _solve(self, goal: tuple):
        value = self._memo.get(goal, _MISSING)
        if value is not _MISSING:
            return value
        return self._run(self._evaluators[goal[0]](goal), goal)

    def _run(self, evaluation, goal: tuple | None = None):
        """Drive ``evaluation`` (the evaluator of ``goal``, or an anonymous question when
        ``goal`` is None) and every goal it needs to completion; see the note above."""
        if self._running:
            raise RuntimeError("resolution re-entered from inside an evaluator")
        self._running = True
        memo, evaluators = self._memo, self._evaluators
        number: dict[tuple, int] = {}  # goal -> its visiting order, while its group is open
        latest: dict[tuple, object] = {}  # goal -> its value in the current or previous pass
        open_goals: list[tuple] = []  # Tarjan's stack: goals whose group has not closed yet
        frames = [_Frame(goal, evaluation, 0, 0)]
        if goal is not None:
            number[goal] = 0
            open_goals.append(goal)
        counter = 1
        frame = frames[-1]
        try:
            while True:
                frame = frames[-1]
                try:
                    wanted = frame.evaluation.send(frame.reply)
                except StopIteration as done:
                    value = done.value
                    frames.pop()
                    key = frame.goal
                    if key is not None:
                        latest[key] = value
                        if frame.low == frame.number:
                            members = open_goals[frame.position:]
                            settled = latest
                            if len(members) > 1 or frame.cyclic:
                                values = {member: latest.get(member) for member in members}
                                if frame.passes < _GROUP_PASSES and frame.previous != values:
                                    # evaluate the group again, each back edge now answered by this pass
                                    for member in members:
                                        del number[member]
                                    del open_goals[frame.position:]
                                    again = _Frame(key, evaluators[key[0]](key), counter, len(open_goals))
                                    again.passes, again.previous = frame.passes + 1, values
                                    again.first = values if frame.first is None else frame.first
                                    number[key] = counter
                                    counter += 1
                                    open_goals.append(key)
                                    frames.append(again)
                                    continue
                                if frame.previous != values and frame.first is not None:
                                    # still changing: a value that grows along the cycle
                                    # (``self.x = self.x.copy()``); the cycle adds nothing
                                    settled = frame.first
                            for member in members:
                                memo[member] = settled.get(member)
                                latest.pop(member, None)
                                del number[member]
                            del open_goals[frame.position:]
                            value = memo[key]
                        elif frames:
                            parent = frames[-1]
                            parent.low = min(parent.low, frame.low)
                    if not frames:
                        return value
                    frames[-1].reply = value
                    continue
                value = memo.get(wanted, _MISSING)
                if value is not _MISSING:
                    frame.reply = value
                    continue
                seen = number.get(wanted)
                if seen is not None:  # a cycle back into the open group
                    frame.low = min(frame.low, seen)
                    if wanted == frame.goal:
                        frame.cyclic = True
                    frame.reply = latest.get(wanted)
                    continue
                number[wanted] = counter
                frames.append(_Frame(wanted, evaluators[wanted[0]](wanted), counter, len(open_goals)))
                open_goals.append(wanted)
                counter += 1
        except Exception:
            if frame.goal is not None:
                memo[frame.goal] = None  # a goal that failed once is not attempted again
            raise
        finally:
            self._running = False

    def _eval_ref(self, goal):
        ref = goal[1]
        tag, _, rest = ref[0].partition(":")
        if tag == "G":
            value = yield from self._global(rest)
        elif tag == "I":
            value = Value("instance", self.canonical(rest))
        elif tag == "C":
            value = Value("class", self.canonical(rest))
        elif tag == "P":
            value = yield ("param", rest)
        elif tag == "L":
            function, _, name = rest.rpartition(":")
            binding = self.local_bindings.get((function, name))
            value = (yield ("binding", id(binding))) if binding is not None else None
        else:
            value = None
        for step in ref[1:]:
            if value is None:
                return None
            value = yield from self._step(value, step)
        return value

    def import_name(self, qualname: str) -> str:
        """The shortest name a project class or function is importable by (its module's
        shortest alias), used to match it against the catalogue."""
        cached = self._import_names.get(qualname)
        if cached is not None:
            return cached
        best = qualname
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            facts = self.modules.get(".".join(parts[:cut]))
            if facts is not None:
                shortest = min((facts.module, *facts.aliases), key=len)
                best = ".".join([shortest, *parts[cut:]])
                break
        self._import_names[qualname] = best
        return best

    def _global(self, name: str):
        if name in ("builtins.None", "builtins.NotImplemented"):
            return None
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            facts = self.modules.get(".".join(parts[:cut]))
            if facts is None:
                continue
            value: Value | None = Value("module", facts.module)
            for part in parts[cut:]:
                if value is None:
                    break
                value = yield from self._step(value, "." + part)
            return value
        return Value("api", name)

    def _eval_member(self, goal):
        _, module, name = goal
        qualname = f"{module}.{name}"
        if qualname in self.classes:
            return Value("class", qualname)
        if qualname in self.functions:
            return Value("function", qualname)
        binding = self.module_bindings.get((module, name))
        if binding is not None:
            return (yield ("binding", id(binding)))
        target = self.imports.get((module, name))
        if target is not None:
            return (yield from self._global(target))
        if qualname in self.modules:
            return Value("module", self.modules[qualname].module)
        return None

    def _step(self, value: Value, step: str):
        if value.kind == "channel":
            channel = self.channels.get(value.name)
            if step == "<item>":
                return Value("item", value.name, heuristic=value.heuristic)
            if channel is not None and step.startswith(".") and step[1:] in channel.api.get:
                return Value("getter", value.name, heuristic=value.heuristic)
            return None
        if value.kind == "getter":
            return Value("item", value.name, heuristic=value.heuristic) if step == "()" else None
        if step.startswith("#"):
            return Value("api", value.name + step, origin=value.origin) if value.kind == "api" else None
        if step.startswith("."):
            attr = step[1:]
            if value.kind == "module":
                return (yield ("member", value.name, attr))
            if value.kind in ("class", "instance"):
                return (yield ("attr", value.name, attr))
            if value.kind == "api":
                return Value("api", f"{value.name}.{attr}", origin=value.origin)
            return None
        if step == "()":
            if value.kind == "class":
                return Value("instance", value.name, heuristic=value.heuristic)
            if value.kind == "function":
                fn = self.functions.get(value.name)
                if fn is not None and fn.returns is not None:
                    returned = yield ("ref", fn.returns)
                    if returned is not None and returned.kind == "class":
                        return Value("instance", returned.name)
                    if returned is not None and returned.kind == "api":
                        return Value("api", returned.name + "()")
                return None
            if value.kind == "api":
                return Value("api", value.name + "()")
            return None
        return None

    def _eval_mro(self, goal):
        # the length cap bounds the answer, not a recursion: a hierarchy is walked with a queue
        order, queue, seen = [], deque([goal[1]]), set()
        while queue and len(order) < _MAX_MRO:
            current = queue.popleft()
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            cls = self.classes.get(current)
            if cls is None:
                continue
            for base in cls.bases:
                resolved = (yield ("ref", base)) if base else None
                if resolved is not None and resolved.kind == "class":
                    queue.append(resolved.name)
        return order

    def _eval_bases(self, goal):
        names = []
        for current in (yield ("mro", goal[1])):
            cls = self.classes.get(current)
            if cls is None:
                continue
            for base in cls.bases:
                resolved = (yield ("ref", base)) if base else None
                if resolved is not None and resolved.kind == "api":
                    names.append(resolved.name)
        return names

    def _eval_attr(self, goal):
        _, cls, attr = goal
        for current in (yield ("mro", cls)):
            method = f"{current}.{attr}"
            if method in self.functions:
                fn = self.functions[method]
                if fn.is_property and fn.returns is not None:
                    returned = yield ("ref", fn.returns)
                    if returned is not None and returned.kind == "class":
                        return Value("instance", returned.name)
                return Value("function", method)
            bindings = self.class_bindings.get((current, attr))
            if bindings:
                for binding in bindings:
                    value = yield ("binding", id(binding))
                    if value is not None:
                        return value
                return None
            if method in self.classes:
                return Value("class", method)
        bases = yield ("bases", cls)
        if bases:
            # an attribute the project doesn't define comes from the outside base class
            return Value("api", f"{bases[0]}().{attr}")
        return None

    def _eval_binding(self, goal):
        binding = self._bindings[goal[1]]
        channel = self._binding_channel.get(goal[1])
        if channel is not None:
            return Value("channel", channel[0], channel[1])
        value = (yield ("ref", binding.value)) if binding.value else None
        if value is not None and value.kind == "api" and binding.call is not None and value.origin is None:
            value = Value("api", value.name, value.extra, value.heuristic, binding.call)
        return value

    def _eval_param(self, goal):
        function, _, name = goal[1].rpartition(":")
        fn = self.functions.get(function)
        if fn is None:
            return None
        for index, param in enumerate(fn.params):
            if param.name != name:
                continue
            if param.annotation is not None:
                annotated = yield ("ref", param.annotation)
                if annotated is not None and annotated.kind == "class":
                    if (yield ("channel-class", annotated.name)) is None:
                        return Value("instance", annotated.name)
                if annotated is not None and annotated.kind == "api" and annotated.name.rsplit(".", 1)[-1][:1].isupper():
                    return Value("api", annotated.name + "()")
            return (yield from self._argument_value(fn, index, name))
        return None

    def _argument_value(self, fn: FunctionFact, index: int, name: str):
        target = fn.qualname
        if fn.owner_class is not None and fn.qualname.endswith(".__init__"):
            target = fn.owner_class
        position = index - (1 if fn.owner_class is not None and fn.params and fn.params[0].name in ("self", "cls") else 0)
        calls = ((yield ("calls",)) or {}).get(target, ())
        if len(calls) > _MAX_CALL_SITES:
            return None  # beyond this many callers the answer is rarely one value anyway
        values = set()
        for call in calls:
            arg = None
            for key, ref in call.keywords:
                if key == name:
                    arg = ref
            if arg is None and 0 <= position < len(call.args):
                arg = call.args[position]
            if not arg:
                continue
            value = yield ("ref", arg)
            if value is not None:
                values.add(value)
                if len(values) > 1:
                    return None
        return values.pop() if len(values) == 1 else None

    def _eval_calls(self, goal):
        """The calls with arguments of each project class and function, by qualname."""
        found: dict[str, list[CallFact]] = defaultdict(list)
        for facts in self.files:
            for call in facts.calls:
                if not call.args and not call.keywords:
                    continue
                callee = yield ("ref", call.callee)
                if callee is not None and callee.kind in ("class", "function"):
                    found[callee.name].append(call)
        return {name: tuple(calls) for name, calls in found.items()}

    def _calls_to(self, qualname: str) -> tuple[CallFact, ...]:
        return (self._solve(("calls",)) or {}).get(qualname, ())

    def _eval_channel_class(self, goal):
        qualname = goal[1]
        bases = [*map(self.import_name, (yield ("mro", qualname))), *(yield ("bases", qualname))]
        for base in bases:
            api = self.catalog.channel(base)
            if api is not None:
                return api.name
        return None

    # ---- channels and operations ----------------------------------------------------------

    def channel_api_of_class(self, qualname: str) -> ChannelApi | None:
        name = self._solve(("channel-class", qualname))
        return self.catalog.channel(name) if name else None

    def channel_api(self, callee: Ref) -> ChannelApi | None:
        name = dotted(callee)
        if name is not None:
            api = self.catalog.channel(name)
            if api is not None:
                return api
        value = self.resolve(callee)
        if value is None:
            return None
        if value.kind == "api":
            return self.catalog.channel(value.name)
        if value.kind == "class":
            return self.channel_api_of_class(value.name)
        return None

    def constructor_name(self, callee: Ref, api: ChannelApi) -> str:
        name = dotted(callee)
        if name is not None and self.catalog.channel(name) is not None:
            return name
        value = self.resolve(callee)
        if value is not None and value.kind == "class":
            return f"{value.name.rsplit('.', 1)[-1]} (a {api.name})"
        return value.name if value is not None and value.kind == "api" else api.name

    def short_name(self, qualname: str, path: str) -> str:
        """A qualname without its module prefix, for messages."""
        for facts in self.files:
            if facts.path == path and qualname.startswith(facts.module + "."):
                return qualname[len(facts.module) + 1:]
        return qualname

    def _find_channels(self, facts: FileFacts) -> None:
        groups: dict[tuple, list[Binding]] = {}
        for binding in facts.bindings:
            value = binding.value
            if value[-1].startswith("#"):
                value = value[:-1]
            if len(value) < 2 or value[-1] != "()":
                continue
            groups.setdefault((binding.span, value), []).append(binding)
        for (span, value), bindings in groups.items():
            api = self.channel_api(value[:-1])
            if api is None:
                continue
            first = bindings[0]
            unpacked = first.value[-1].startswith("#")
            if unpacked and not api.ends:
                continue  # ``a, b = Queue()`` is not a channel binding we understand
            owner = self.canonical(first.owner)
            channel = Channel(
                id=f"{owner}.{first.name}", api=api, path=facts.path, span=span, owner=owner,
                scope=first.scope, module=facts.module, element_type=first.element_type, creation=first.call,
                constructor=self.constructor_name(value[:-1], api),
            )
            for binding in bindings:
                end = ""
                if unpacked:
                    position = int(binding.value[-1][1:])
                    end = api.ends[position] if position < len(api.ends) else ""
                elif api.ends:
                    continue  # the tuple itself bound to one name: no end to speak of
                channel.names.append((binding.name, end, binding))
                self._binding_channel[id(binding)] = (channel.id, end)
            if not channel.names:
                continue
            if channel.element_type is None and channel.scope in ("class", "instance"):
                channel.element_type = self.declared_type(owner, first.name)
            self.channels.setdefault(channel.id, channel)
            self.graph.add_node(channel.node, kind="channel", path=facts.path, line=span.line, api=api.name)

    def resolve_channel(self, ref: Ref) -> Value | None:
        """The channel ``ref`` names; as a last resort, the one channel whose attribute
        has that name (marked heuristic, and the finding says so)."""
        value = self.resolve(ref)
        if value is not None:
            return value if value.kind == "channel" else None
        if len(ref) < 2 or not ref[-1].startswith("."):
            return None
        if self._channels_by_attr is None:
            by_attr: dict[str, list[str]] = defaultdict(list)
            for channel in self.channels.values():
                if channel.scope in ("class", "instance"):
                    for name, _, _ in channel.names:
                        by_attr[name].append(channel.id)
            self._channels_by_attr = by_attr
        attr = ref[-1][1:]
        if attr.startswith("_"):
            return None  # a private name used from elsewhere is too weak a clue
        candidates = self._channels_by_attr.get(attr, [])
        if len(candidates) == 1:
            channel = self.channels[candidates[0]]
            end = next((e for n, e, _ in channel.names if n == ref[-1][1:]), "")
            return Value("channel", channel.id, end, heuristic=True)
        return None

    def _find_operations(self, facts: FileFacts) -> None:
        methods = self.catalog.channel_methods
        for call in facts.calls:
            callee = call.callee
            if len(callee) < 2 or not callee[-1].startswith(".") or callee[-1][1:] not in methods:
                continue
            method = callee[-1][1:]
            receiver = self.resolve_channel(callee[:-1])
            if receiver is None:
                continue
            channel = self.channels.get(receiver.name)
            if channel is None:
                continue
            if method in channel.api.put:
                direction = "put"
            elif method in channel.api.get:
                direction = "get"
            else:
                continue
            operation = Operation(channel.id, direction, method, call, facts.path, call.caller, receiver.heuristic)
            self.operations.append(operation)
            function_node = f"function:{call.caller}"
            where = f"{facts.path}:{call.span.line}:{call.span.column}"
            if direction == "put":
                self.graph.add_edge(function_node, channel.node, key=f"publishes@{where}", kind="publishes")
            else:
                self.graph.add_edge(channel.node, function_node, key=f"consumes@{where}", kind="consumes")

    # ---- questions the checks ask -------------------------------------------------------------

    def all_channels(self) -> Iterator[Channel]:
        for channel_id in sorted(self.channels):
            yield self.channels[channel_id]

    def operations_on(self, channel_id: str) -> list[Operation]:
        return [op for op in self.operations if op.channel == channel_id]

    def publishers_of(self, channel_id: str) -> list[Operation]:
        return [op for op in self.operations_on(channel_id) if op.direction == "put"]

    def consumers_of(self, channel_id: str) -> list[Operation]:
        return [op for op in self.operations_on(channel_id) if op.direction == "get"]

    def is_inside_owner(self, channel: Channel, function: str, path: str) -> bool:
        """Code in the channel's owner (or the owner's subclasses, or its module for globals)."""
        if channel.scope == "module":
            return path == channel.path
        if channel.scope == "local":
            return function == channel.owner or function.startswith(channel.owner + ".")
        owner_class = self.enclosing_class(function)
        if owner_class is None:
            return False
        return channel.owner in self.mro(owner_class)

    def enclosing_class(self, qualname: str) -> str | None:
        while qualname:
            fn = self.functions.get(qualname)
            if fn is not None and fn.owner_class is not None:
                return fn.owner_class
            if qualname in self.classes:
                return qualname
            qualname = qualname.rpartition(".")[0]
        return None

    def outside_uses(self, channel: Channel) -> list[Location]:
        uses = []
        for op in self.operations_on(channel.id):
            if not self.is_inside_owner(channel, op.function, op.path):
                verb = "puts to" if op.direction == "put" else "gets from"
                where = self.short_name(op.function, op.path) if op.function in self.functions else "module code"
                uses.append(Location(op.path, op.call.span, f"{where} {verb} it directly (.{op.method}())"))
        return uses

    def returned_channels(self) -> Iterator[tuple[FunctionFact, Channel, str, Span]]:
        """(function, channel, returned name, return span) for methods returning a channel
        attribute and module functions returning a channel global of their module."""
        for facts in self.files:
            for ret in facts.returns:
                fn = self.functions.get(ret.function)
                if fn is None:
                    continue
                if fn.owner_class is None and fn.qualname.rpartition(".")[0] != facts.module:
                    continue  # a nested function: not reachable by a name from outside
                value = self.resolve(ret.value)
                if value is None or value.kind != "channel":
                    continue
                channel = self.channels.get(value.name)
                if channel is None:
                    continue
                if fn.owner_class is None and (channel.scope != "module" or channel.module != facts.module):
                    continue
                yield fn, channel, ret.value[-1].lstrip(".").rpartition(".")[2], ret.span

    def module_all(self, module: str) -> tuple[str, ...] | None:
        facts = self.modules.get(module)
        return facts.all_names if facts is not None else None

    def is_public(self, name: str) -> bool:
        return is_public_name(name)

    # ---- exports for reports (``eventlint graph``) ----------------------------------------------

    def to_node_link(self) -> dict:
        """The whole graph as node-link JSON data: keys ``nodes`` and ``edges``."""
        from networkx import node_link_data

        return node_link_data(self.graph, edges="edges")

    def _module_of(self, qualname: str) -> str:
        if qualname in self.modules:
            return self.modules[qualname].module
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            if head in self.modules:
                return self.modules[head].module
        return parts[0]

    def subgraph_for_picture(self) -> tuple[list[dict], list[dict]]:
        """The part of the graph worth drawing, as plain lists: every channel, the nodes
        that touch one, and their neighbours; functions far from any channel are left out.

        A node is ``{"id", "kind", "name", "label", "module", "path", "line", "api"}``:
        ``kind`` is "channel", "function", "module" (module-level code) or the id's prefix
        for other nodes such as "api", whose ``module`` is ""; ``api`` is a channel's
        constructor.  An edge is ``{"source", "target", "relation", "path", "line",
        "column"}``, one per site (a put, a get, a registration)."""
        graph = self.graph
        channels = {node for node, kind in graph.nodes(data="kind") if kind == "channel"}
        core = set(channels)
        for node in channels:
            core.update(graph.predecessors(node))
            core.update(graph.successors(node))
        keep = set(core)
        for node in core - channels:
            keep.update(graph.predecessors(node))
            keep.update(graph.successors(node))
        nodes = []
        for node in sorted(keep):
            data = graph.nodes[node]
            kind, _, name = node.partition(":")
            if kind == "channel":
                channel = self.channels.get(name)
                module = channel.module if channel is not None else self._module_of(name)
                label = channel.display if channel is not None else name
            elif kind != "function":
                module, label = "", name  # outside the project: an API, a pseudo-API such as "consumer loop"
            else:
                module = self._module_of(name)
                label = name[len(module) + 1:] if name.startswith(module + ".") else name
                if name == module:
                    kind, label = "module", "(module code)"
            path = data.get("path") or self.path_of.get(name) or self.path_of.get(module, "")
            nodes.append({"id": node, "kind": kind, "name": name, "label": label, "module": module, "path": path,
                          "line": data.get("line", 0), "api": data.get("api", "")})
        edges = []
        for source, target, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
            if source not in keep or target not in keep:
                continue
            relation, _, where = key.partition("@")
            path, line, column = where.rsplit(":", 2) if where.count(":") >= 2 else (where, "0", "0")
            edges.append({"source": source, "target": target, "relation": data.get("kind", relation), "path": path,
                          "line": int(line), "column": int(column)})
        return nodes, edges

    def is_bounded(self, channel: Channel) -> bool:
        spec = channel.api.maxsize
        if spec is None or channel.creation is None:
            return False
        from .callgraph import CallGraph

        return not _is_unbounded_text(CallGraph.argument_text(channel.creation, spec))

    def call_graph(self, max_default_timeout: float):
        """Handlers, call edges and blocking calls (built on first use)."""
        if self._call_graph is None:
            from .callgraph import CallGraph

            self._call_graph = CallGraph(self, max_default_timeout)
            for handler in self._call_graph.handlers():
                where = handler.registration
                self.graph.add_edge(f"api:{handler.via}", f"function:{handler.function}",
                                    key=f"registers@{where.path}:{where.span.line}:{where.span.column}", kind="registers")
        return self._call_graph

    def handlers(self, max_default_timeout: float = 60.0):
        return self.call_graph(max_default_timeout).handlers()

    def call_paths(self, handler, max_default_timeout: float = 60.0):
        """Blocking calls reachable from ``handler`` with no deadline on the way, each with
        its shortest call path."""
        return self.call_graph(max_default_timeout).reach(handler)

    def declared_type(self, owner: str, name: str) -> tuple[str, ...] | None:
        for current in self.mro(owner):
            for binding in self.class_bindings.get((current, name), ()):
                if binding.element_type is not None:
                    return binding.element_type
        return None

    # ---- event kinds (EVT002) -------------------------------------------------------------

    def is_exception_class(self, qualname: str) -> bool:
        for name in [qualname, *self.external_bases(qualname)]:
            if _looks_like_exception(name):
                return True
        return False

    def kind_of_class(self, value: Value | None) -> str | None:
        """A display name for an event class, or None when it is not an event kind."""
        if value is None:
            return None
        if value.kind == "class":
            if self.is_exception_class(value.name):
                return None
            return self.short_name(value.name, self.path_of.get(value.name, ""))
        if value.kind == "api":
            name = value.name
            last = name.rsplit(".", 1)[-1]
            if name.startswith("builtins.") or not last[:1].isupper() or _looks_like_exception(name) or "()" in name:
                return None
            return last
        return None

    def forwarded_payloads(self, op: Operation) -> list[tuple[tuple[str, ...], CallFact, str]]:
        """For a put of a parameter (``def publish(self, event): self._q.put(event)``), what
        the callers of that function pass as the event: (payload, call, path)."""
        fn = self.functions.get(op.function)
        if fn is None or not op.call.payload or op.call.payload[0] != "param":
            return []
        positional = [p.name for p in fn.params if p.kind == "positional"]
        if fn.owner_class is not None and positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        if not positional or positional[0] != op.call.payload[1]:
            return []  # only the first argument's kind is recorded at call sites
        found = []
        for call in self._calls_to(fn.qualname):
            if call.payload and call.payload[0] != "param":
                found.append((call.payload, call, self._call_paths().get(id(call), "")))
        return found

    def _call_paths(self) -> dict[int, str]:
        if self._paths_of_calls is None:
            self._paths_of_calls = {id(c): f.path for f in self.files for c in f.calls}
        return self._paths_of_calls

    def payload_kinds(self, channel_id: str) -> list[tuple[str, Location]]:
        kinds = []
        sites = []
        for op in self.publishers_of(channel_id):
            sites.append((op.call.payload, op.call, op.path))
            sites.extend(self.forwarded_payloads(op))
        for payload, call, path in sites:
            if not payload:
                continue
            tag = payload[0]
            if tag == "tag":
                kinds.append((repr(payload[1]), Location(path, call.span, f"puts {payload[1]!r} events")))
            elif tag in ("new", "ref"):
                value = self.resolve(payload[1:])
                if value is not None and value.kind == "instance":
                    value = Value("class", value.name)
                elif tag == "new" and value is not None and value.kind == "function":
                    value = self.step(value, "()", 0)
                    value = Value("class", value.name) if value is not None and value.kind == "instance" else None
                if tag == "ref" and value is not None and value.kind == "class" and not self.is_exception_class(value.name):
                    value = None  # a class object itself, not an event
                kind = self.kind_of_class(value)
                if kind is not None:
                    kinds.append((kind, Location(path, call.span, f"puts {kind}")))
        return kinds

    def dispatches_by_channel(self) -> dict[str, list]:
        if self._dispatches is None:
            index: dict[str, list] = defaultdict(list)
            for facts in self.files:
                for channel, dispatch in self.isolated(facts, "finding dispatches", self._dispatches_in) or ():
                    index[channel].append((facts, dispatch))
            self._dispatches = index
        return self._dispatches

    def _dispatches_in(self, facts: FileFacts) -> list:
        found = []
        for dispatch in facts.dispatches:
            if dispatch.source[0].startswith("P:"):
                value = self.resolve(dispatch.source)
                channel = value.name if value is not None and value.kind == "item" else None
            else:
                value = self.resolve_channel(dispatch.source)
                channel = value.name if value is not None else None
            if channel is not None:
                found.append((channel, dispatch))
        return found

    def table_keys(self, ref: Ref) -> tuple:
        if self._tables is None:
            self._tables = {}
            for facts in self.files:
                for owner, name, keys in facts.tables:
                    self._tables[(self.canonical(owner), name)] = keys
        if len(ref) == 1 and ref[0].startswith("G:"):
            owner, _, name = ref[0][2:].rpartition(".")
            return self._tables.get((self.canonical(owner), name), ())
        if len(ref) == 2 and ref[0][:2] in ("I:", "C:") and ref[1].startswith("."):
            for cls in self.mro(self.canonical(ref[0][2:])):
                keys = self._tables.get((cls, ref[1][1:]))
                if keys:
                    return keys
        return ()

    def dispatch_kinds(self, channel_id: str) -> list[tuple[str, Location]]:
        """Kinds a consumer of the channel dispatches on, from consumers with 2+ branches."""
        per_function: dict[str, list[tuple[str, Location]]] = defaultdict(list)
        for facts, dispatch in self.dispatches_by_channel().get(channel_id, ()):
            if dispatch.kind[0] == "table":
                for key in self.table_keys(dispatch.kind[1:]):
                    label = repr(key[1]) if key[0] == "tag" else self.kind_of_class(self.resolve(key[1:]))
                    if label is not None:
                        where = self.short_name(dispatch.function, facts.path)
                        per_function[dispatch.function].append(
                            (label, Location(facts.path, dispatch.span, f"{where} looks up {label} in a handler table")))
                continue
            if dispatch.kind[0] == "tag":
                label = repr(dispatch.kind[1])
            else:
                value = self.resolve(dispatch.kind[1:])
                if value is not None and value.kind == "api" and value.name.startswith("builtins."):
                    label = None if _looks_like_exception(value.name) or value.name == "builtins.type" else value.name[9:]
                else:
                    label = self.kind_of_class(value)
            if label is not None:
                where = self.short_name(dispatch.function, facts.path)
                per_function[dispatch.function].append(
                    (label, Location(facts.path, dispatch.span, f"{where} dispatches on {label}")))
        kinds = []
        for branches in per_function.values():
            if len({label for label, _ in branches}) >= 2:
                kinds.extend(branches)
        return kinds


_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Failure")


def _looks_like_exception(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.endswith(_EXCEPTION_SUFFIXES) or last in ("BaseException", "StopIteration", "StopAsyncIteration", "CancelledError")


def _is_unbounded_text(text: str | None) -> bool:
    if text is None:
        return True
    try:
        return float(text) <= 0
    except ValueError:
        return False  # a variable or expression: assume the author meant a bound
