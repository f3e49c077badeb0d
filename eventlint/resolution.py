"""Resolution: what a name, attribute, call result or parameter may hold, across modules.

``Resolver`` answers questions about references (``eventlint.model.Ref``) from every file's
facts: imports and re-exports, ``self.attr`` through project base classes, module-level
instances, the values callers pass for a parameter, class hierarchies.  Its answers are
``Value`` records.  It knows nothing of rules: the index (``eventlint.graph``) tells it
which bindings hold channels once it has found them, and the checks decide what the values
mean.

Every answer is memoised and every question terminates, whatever the shape of the project
(see the note on goals in ``eventlint.solver.GoalSolver``).
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict, deque

from .catalog import Catalog
from .instances import InstanceGoals
from .model import Binding, CallFact, ClassFact, End, FileFacts, FunctionFact, Ref, ReturnFact
from .solver import GoalSolver
from .unions import UnionGoals
from .values import NONE_VALUE as _NONE_VALUE
from .values import Value, ValueKind
from .values import one_value as _one_value
from .values import same_value as _same_value

_MAX_CALL_SITES = 64
_MAX_MRO = 64
# what a goal is worth before it has been answered (a cycle back into it, a failed
# evaluation): nothing, in the shape its askers iterate over
_UNANSWERED = {"mro": (), "bases": (), "calls-to": (), "union": frozenset()}


_CALLS = ("calls",)  # the index of every call of a project class or function


class Resolver(InstanceGoals, UnionGoals, GoalSolver):
    """Resolution over the facts of every file of a run.

    Every question is a *goal*, a small tuple such as ("member", module, name) or
    ("ref", ref).  Each goal has an evaluator: a generator that yields the goals it needs
    and receives their values, so that ``_run`` drives them all from one explicit stack and
    no chain of imports, aliases, attributes or callers in the analysed project can deepen
    Python's own stack.  Results are memoised per goal.
    """
    def __init__(self, files: list[FileFacts], catalog: Catalog):
        self.catalog = catalog
        self.files = files  # the caller's order: calls are indexed in it
        self.modules: dict[str, FileFacts] = {}  # every name a module is importable as -> its facts
        self.classes: dict[str, ClassFact] = {}
        self.functions: dict[str, FunctionFact] = {}
        self.path_of: dict[str, str] = {}  # module, class or function qualname -> path
        self.module_bindings: dict[tuple[str, str], Binding] = {}  # (module, name) -> its last binding
        self.class_bindings: dict[tuple[str, str], list[Binding]] = defaultdict(list)  # (class, name) -> bindings
        self.local_bindings: dict[tuple[str, str], Binding] = {}  # (function, name) -> its last binding
        self.imports: dict[tuple[str, str], str] = {}  # (module, local name) -> qualified target
        self.star_imports: dict[str, list[str]] = defaultdict(list)  # module -> modules it imports * from
        self.returns_of: dict[str, list[ReturnFact]] = defaultdict(list)  # function -> its ``return``s of a value
        # (function, index) -> the elements at that index of the tuples it returns
        self.returned_elements: dict[tuple[str, int], list[ReturnFact]] = defaultdict(list)
        self._bindings: dict[int, Binding] = {}  # id -> binding, of those asked about (``_binding_goal``)
        self._channels: dict[int, tuple[str, End, bool]] = {}  # id(binding) -> (channel id, end, heuristic)
        self._getters: dict[str, tuple[str, ...]] = {}  # channel id -> its get methods
        # (module, global) or (function, parameter) -> the channel end that name is in code
        # the channel's constructor runs at its other end (``remote_exec(module)``)
        self._remote_ends: dict[tuple[str, str], Value] = {}
        self._import_names: dict[str, str] = {}
        # every call with arguments in file order, and each callee's calls as their numbers
        # there (see ``_eval_calls``)
        self._numbered_calls: list[CallFact] = []
        self._calls_by_callee: dict[tuple, int | array] | None = None
        # a callee (or several, as a tuple of them) -> its calls, in file order
        self._calls_made: dict[tuple, tuple[CallFact, ...]] = {}
        super().__init__({
            "ref": self._eval_ref, "member": self._eval_member, "attr": self._eval_attr, "binding": self._eval_binding,
            "param": self._eval_param, "calls": self._eval_calls, "calls-to": self._eval_calls_to,
            "mro": self._eval_mro, "bases": self._eval_bases, "channel-class": self._eval_channel_class,
            "returned": self._eval_returned, "packed": self._eval_packed, "element": self._eval_element,
            "made": self._eval_made, "made-by": self._eval_made_by, "returned-by": self._eval_returned_by,
            "union": self._eval_union, "handed": self._eval_handed,
        }, _UNANSWERED, {_CALLS: "calls-to"})

    def add(self, facts: FileFacts) -> None:
        """Index one module's definitions, imports and bindings."""
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
        for local, target in facts.imports:
            if local == "*":
                self.star_imports[facts.module].append(target)
            else:
                self.imports[(facts.module, local)] = target
        for ret in facts.returns:
            if ret.position < 0:
                self.returns_of[ret.function].append(ret)
            else:
                self.returned_elements[(ret.function, ret.position)].append(ret)
        for binding in facts.bindings:
            if binding.scope == "module":
                self.module_bindings[(binding.owner, binding.name)] = binding
            elif binding.scope == "local":
                self.local_bindings[(binding.owner, binding.name)] = binding
            else:
                self.class_bindings[(binding.owner, binding.name)].append(binding)
        self.path_of[facts.module] = facts.path

    def bind_channel(self, binding: Binding, channel: str, end: End, gets: tuple[str, ...],
                     heuristic: bool = False) -> None:
        """``binding`` makes a channel (``end`` of it), or holds one end of one made elsewhere
        (``heuristic`` when only a guess ties them); ``gets`` are its get methods (the first
        binding of a channel id says).  Call ``forget`` once every channel is known: answers
        given before may have missed one."""
        self._channels[id(binding)] = (channel, end, heuristic)
        if gets:
            self._getters.setdefault(channel, gets)
        self.revoke(("binding", id(binding)))

    def bind_remote_end(self, owner: str, name: str, channel: str, heuristic: bool) -> None:
        """In the module or function ``owner``, run at the other end of ``channel``, the
        global or parameter ``name`` is that end.  Call ``forget`` afterwards."""
        self._remote_ends.setdefault((owner, name), Value(ValueKind.CHANNEL, channel, heuristic=heuristic))
        self.revoke(("member", owner, name), ("param", f"{owner}:{name}"))

    # ---- names ----------------------------------------------------------------------------

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

    # ---- questions --------------------------------------------------------------------------

    def resolve(self, ref: Ref | None) -> Value | None:
        """What ``ref`` names (None when unknown)."""
        if not ref:
            return None
        return self._solve(("ref", ref))

    def resolve_global(self, name: str) -> Value | None:
        """What the dotted global ``name`` names."""
        return self._run(self._global(name))

    def module_member(self, module: str, name: str) -> Value | None:
        return self._solve(("member", module, name))

    def step(self, value: Value, step: str) -> Value | None:
        """What one more step of a reference (".attr", "()", ...) gives from ``value``."""
        return self._run(self._step(value, step))

    def attribute(self, cls: str, attr: str) -> Value | None:
        """The attribute ``attr`` of class ``cls`` (or of its instances)."""
        return self._solve(("attr", cls, attr))

    def binding_value(self, binding: Binding) -> Value | None:
        return self._solve(self._binding_goal(binding))

    def _binding_goal(self, binding: Binding) -> tuple[str, int]:
        """The question what ``binding`` holds; a binding is kept by ``id`` once asked
        about (a third of them are)."""
        self._bindings.setdefault(id(binding), binding)
        return ("binding", id(binding))

    def resolve_param(self, spec: str) -> Value | None:
        """The value of the parameter ``"pkg.mod.func:name"``."""
        return self._solve(("param", spec))

    def argument_value(self, fn: FunctionFact, index: int, name: str) -> Value | None:
        """The one value every known call of ``fn`` passes for this parameter."""
        return self._run(self._argument_value(fn, index, name))

    def argument_values(self, fn: FunctionFact, index: int, name: str) -> tuple[tuple[bool, Value | None], ...]:
        """For each of the project's calls of ``fn``: whether it passes an argument for this
        parameter (``Base.__init__(self, *args)`` passes none of its own), and its value
        (None when not known)."""
        return self._run(self._argument_values(fn, index, name))

    def mro(self, qualname: str) -> list[str]:
        """The class and its project base classes, breadth first, without repeats."""
        return self._solve(("mro", qualname))

    def external_bases(self, qualname: str) -> list[str]:
        """The outside (non-project) base classes anywhere in the class's hierarchy."""
        return self._solve(("bases", qualname))

    def calls_to(self, qualname: str) -> tuple[CallFact, ...]:
        """The calls with arguments of the project class or function ``qualname``."""
        return (self._solve(("calls",)) or {}).get(qualname, ())

    def channel_class(self, qualname: str) -> str | None:
        """The catalogue name of the channel class the project class ``qualname`` is, or
        derives from (None when it is none)."""
        return self._solve(("channel-class", qualname))

    # ---- evaluators -------------------------------------------------------------------------

    def _eval_ref(self, goal):
        ref = goal[1]
        tag, _, rest = ref[0].partition(":")
        if tag == "G" and len(ref) > 2 and ref[1] == "[]" and ref[2][:1] == "#":
            # ``listener_client[key][1]`` of a dict literal of tuples (``eventlint.nested``)
            table = self.module_bindings.get((rest.rpartition(".")[0], f"{rest.rpartition('.')[2]}[]{ref[2]}"))
            if table is not None:
                tag, ref = "", ("", *ref[3:])
                value = yield self._binding_goal(table)
        if tag == "G":
            # ``import google.cloud.pkg.mod`` then ``google.cloud.pkg.mod.X``: the root may be a
            # namespace package, so start from the longest dotted prefix naming a project module
            name, skip = rest, 0
            for index, step in enumerate(ref[1:], 1):
                if not step.startswith("."):
                    break
                name += step
                if name in self.modules:
                    rest, skip = name, index
            ref = ref[skip:]
            value = yield from self._global(rest)
        elif tag == "I":
            value = Value(ValueKind.INSTANCE, self.canonical(rest))
        elif tag == "C":
            value = Value(ValueKind.CLASS, self.canonical(rest))
        elif tag == "P":
            value = None
            if len(ref) > 1 and ref[1][:1] == "#":
                # ``self.pub, self.sub = pair`` where the callers pass ``(pub, sub)``
                value = yield ("packed", rest, int(ref[1][1:]))
                if value is not None:
                    ref = ref[1:]
            if value is None:
                value = yield ("param", rest)
        elif tag == "L":
            function, _, name = rest.rpartition(":")
            binding = self.local_bindings.get((function, name))
            value = (yield self._binding_goal(binding)) if binding is not None else None
        elif tag:
            value = None
        return (yield from self._follow(value, ref[1:]))

    def _follow(self, value: Value | None, steps: Ref):
        """What the steps of a reference (".attr", "()", "#0"...) give from ``value``."""
        index = 0
        while index < len(steps):
            if value is None:
                return None
            step = steps[index]
            index += 1
            if value.kind == ValueKind.INSTANCE and step[:1] == "." and index < len(steps) and steps[index][:1] == ".":
                # ``self._tls.connection`` stored as the instance binding ``_tls.connection``
                nested = yield from self._nested_attribute(value.name, f"{step[1:]}.{steps[index][1:]}")
                if nested is not None:
                    value, index = nested, index + 1
                    continue
            if step == "()" and value.kind == ValueKind.FUNCTION and index < len(steps) and steps[index].startswith("#"):
                # ``inq, outq = self.get_queues()``: the element of the tuple the function returns
                element = yield ("element", value.name, int(steps[index][1:]))
                if element is not None:
                    value, index = element, index + 1
                    continue
            value = yield from self._step(value, step)
        return value

    def _nested_attribute(self, cls: str, name: str):
        """The value stored as ``self.a.b`` (``name`` "a.b") in the class or its bases, or None."""
        for current in (yield ("mro", cls)):
            for binding in self.class_bindings.get((current, name), ()):
                value = yield self._binding_goal(binding)
                if value is not None:
                    return value
        return None

    def _global(self, name: str):
        if name in ("builtins.None", "builtins.NotImplemented"):
            return None
        if name in self.functions:  # a function defined inside a function (``G:mod.start.loop``)
            return Value(ValueKind.FUNCTION, name)
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            facts = self.modules.get(".".join(parts[:cut]))
            if facts is None:
                continue
            value: Value | None = Value(ValueKind.MODULE, facts.module)
            for part in parts[cut:]:
                if value is None:
                    break
                value = yield from self._step(value, "." + part)
            return value
        return Value(ValueKind.API, name)

    def _eval_member(self, goal):
        _, module, name = goal
        qualname = f"{module}.{name}"
        remote_end = self._remote_ends.get((module, name))
        if remote_end is not None:
            return remote_end
        if qualname in self.classes:
            return Value(ValueKind.CLASS, qualname)
        if qualname in self.functions:
            return Value(ValueKind.FUNCTION, qualname)
        binding = self.module_bindings.get((module, name))
        if binding is not None:
            return (yield self._binding_goal(binding))
        target = self.imports.get((module, name))
        if target is not None:
            return (yield from self._global(target))
        if qualname in self.modules:
            return Value(ValueKind.MODULE, self.modules[qualname].module)
        if not name.startswith("_"):  # ``from base import *`` brings base's public names
            for base in self.star_imports.get(module, ()):
                value = yield ("member", self.canonical_module(base), name)
                if value is not None:
                    return value
        if self.catalog.replaced(qualname) is not None:
            # a module standing in for another (``[[module-alias]]``) analysed as a project:
            # a name it defines at run time (billiard's ``globals().update(...)`` copying its
            # context's methods) is the other module's name
            return Value(ValueKind.API, qualname)
        return None

    def _step(self, value: Value, step: str):
        kind = value.kind
        if kind == ValueKind.CHANNEL:
            if step == "<item>":
                return Value(ValueKind.ITEM, value.name, heuristic=value.heuristic)
            if step.startswith(".") and step[1:] in self._getters.get(value.name, ()):
                return Value(ValueKind.GETTER, value.name, heuristic=value.heuristic)
            return None
        if kind == ValueKind.GETTER:
            return Value(ValueKind.ITEM, value.name, heuristic=value.heuristic) if step == "()" else None
        if kind == ValueKind.CHANNELS:
            # ``self._queues[worker_id]``: one of the channels a dict, list or set holds
            return Value(ValueKind.CHANNEL, value.name, value.end, heuristic=value.heuristic) if step == "[]" else None
        if step == "[]":
            # ``Queue[Event]``: a generic class subscripted with its type arguments is the class
            if kind == ValueKind.CLASS:
                return value
            last = value.name.rsplit(".", 1)[-1]
            if kind == ValueKind.API and ((last[:1].isupper() and not last.isupper())
                                          or self.catalog.channel(value.name) is not None):
                return value  # a class by its name (``Queue``), not a constant table (``HANDLERS``)
            return None
        if step.startswith("#"):
            return Value(ValueKind.API, value.name + step, origin=value.origin) if kind == ValueKind.API else None
        if step.startswith("."):
            attr = step[1:]
            if kind == ValueKind.MODULE:
                return (yield ("member", value.name, attr))
            if kind == ValueKind.CLASS or kind == ValueKind.INSTANCE:
                found = yield ("attr", value.name, attr)
                if kind == ValueKind.INSTANCE and value.origin is not None:
                    # the instance one constructor call made: its methods run on it, its
                    # constructor's parameters hold what that call passes
                    if found is None or found.kind == ValueKind.API:  # unknown, or known by an annotation
                        made = yield ("made-by", value.name, attr, value.origin)
                        return made if made is not None else found
                    if found.kind == ValueKind.FUNCTION:
                        return Value(ValueKind.FUNCTION, found.name, origin=value.origin)
                return found
            if kind == ValueKind.API:
                return Value(ValueKind.API, f"{value.name}.{attr}", origin=value.origin)
            return None
        if step == "()":
            if kind == ValueKind.CLASS:
                return Value(ValueKind.INSTANCE, value.name, heuristic=value.heuristic)
            if kind == ValueKind.FUNCTION:
                bound = (yield ("returned-by", value.name, value.origin)) if value.origin is not None else None
                if bound is not None:
                    return bound  # ``return self.reader.recv()`` on the instance ``Channel(read1, write0)``
                fn = self.functions.get(value.name)
                if fn is not None and fn.returns is not None:
                    returned = yield ("ref", fn.returns)
                    if returned is not None and returned.kind == ValueKind.CLASS:
                        # ``def Client() -> BaseClient: return Urllib3Client()``: the subclass
                        # the function builds, whose methods are the ones that run
                        built = yield ("returned", value.name)
                        if (built is not None and built.kind == ValueKind.INSTANCE and built.name != returned.name
                                and returned.name in (yield ("mro", built.name))):
                            return built
                        return Value(ValueKind.INSTANCE, returned.name)
                    if returned is not None and returned.name in ("typing.Any", "typing_extensions.Any"):
                        # ``-> Any``: an item a getter returns (``return self._q.get()``), else opaque
                        item = yield ("returned", value.name)
                        if item is not None and item.kind == ValueKind.ITEM:
                            return item
                    if returned is not None and returned.kind == ValueKind.API:
                        built = (yield ("returned", value.name)) if returned.name.endswith("Callable") else None
                        if built is not None and built.kind == ValueKind.FUNCTION:
                            return built  # ``-> Callable``: the function it returns (``return unix_send``)
                        return Value(ValueKind.API, returned.name + "()")
                return (yield ("returned", value.name)) if fn is not None else None
            if kind == ValueKind.API:
                return Value(ValueKind.API, value.name + "()")
            return None
        return None

    def _eval_returned(self, goal):
        """What a call of the project function returns, read from its ``return``s: the one
        outside value they all give (``return multiprocessing.get_context("spawn")``), with
        the call that made it, or the one project instance or class.  None when they differ
        or none is known.  Outside values of one name made by different calls (a socket
        made on each branch) are one value, the first return's."""
        values: dict[tuple, Value] = {}
        items, closures = set(), {}
        for ret in self.returns_of.get(goal[1], ()):
            if not ret.value:  # a returned tagged tuple or dict: no value to resolve
                continue
            value = yield ("ref", ret.value)
            if value is not None and value.kind == ValueKind.ITEM:
                items.add(value)  # ``return self._tasks.get(timeout=0.1)``: what a channel gave
                continue
            if value is not None and value.kind == ValueKind.FUNCTION and value.name.startswith(goal[1] + "."):
                closures.setdefault(value.name, value)  # ``return unix_send``: a function it defines
                continue
            if value is None or value.kind not in (ValueKind.API, ValueKind.INSTANCE, ValueKind.CLASS):
                continue
            if value.kind == ValueKind.API and value.origin is None and ret.call is not None:
                value = Value(ValueKind.API, value.name, value.end, value.heuristic, ret.call)
            values.setdefault(_same_value(value), value)
        if len(items) == 1 and set(values.values()) <= {_NONE_VALUE}:
            return items.pop()  # a getter that returns None when it gives up waiting is still a getter
        if closures and not items and not values and len({self.functions[name].params for name in closures}) == 1:
            return next(iter(closures.values()))  # variants of one signature (per platform): calls reach the first
        if items or len(values) > 1:
            return None
        return next(iter(values.values()), None)

    def _eval_element(self, goal):
        """The element at one index of the tuples a project function returns (``return
        self._inq, self._outq``), when every such ``return`` gives the same value."""
        _, function, position = goal
        values: dict[tuple, Value] = {}
        for ret in self.returned_elements.get((function, position), ()):
            value = yield ("ref", ret.value)
            if value is None:
                continue
            if value.kind == ValueKind.INSTANCE and value.origin is None:
                value = Value(value.kind, value.name, origin=self.element_call(ret))  # ``return (Channel(r, w), ...)``
            values.setdefault(_same_value(value), value)  # a socket made on each branch is one value
            if len(values) > 1:
                return None
        return next(iter(values.values()), None)

    def _eval_mro(self, goal):
        # the length cap bounds the answer, not a recursion: a hierarchy is walked with a queue
        order, queue, seen = [], deque([goal[1]]), set()
        while queue and len(order) < _MAX_MRO:
            current = queue.popleft()
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            queue.extend((yield from self._bases_of(current, ValueKind.CLASS)))
        return order

    def _eval_bases(self, goal):
        names = []
        for current in (yield ("mro", goal[1])):
            names.extend((yield from self._bases_of(current, ValueKind.API)))
        return names

    def _bases_of(self, qualname: str, kind: ValueKind):
        """The names of the project class's bases that resolve to ``kind`` (a step of a goal:
        it yields the goals it needs, as the goals themselves do)."""
        cls = self.classes.get(qualname)
        names = []
        for base in cls.bases if cls is not None else ():
            resolved = (yield ("ref", base)) if base else None
            if resolved is not None and resolved.kind == kind:
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
                    if returned is not None and returned.kind == ValueKind.CLASS:
                        return Value(ValueKind.INSTANCE, returned.name)
                if fn.is_property:
                    # ``@property def queue(self): return self._queue``: reading it gives the channel
                    returns = [ret for ret in self.returns_of.get(method, ()) if ret.value]
                    returned = (yield ("ref", returns[0].value)) if len(returns) == 1 else None
                    if returned is not None and returned.kind in (ValueKind.CHANNEL, ValueKind.CHANNELS):
                        return returned
                return Value(ValueKind.FUNCTION, method)
            bindings = self.class_bindings.get((current, attr))
            if bindings:
                for binding in bindings:
                    value = yield self._binding_goal(binding)
                    if value is not None:
                        return value
                return (yield ("made", cls, attr))
            if method in self.classes:
                return Value(ValueKind.CLASS, method)
        bases = yield ("bases", cls)
        if bases:
            # an attribute the project doesn't define comes from the outside base class
            return Value(ValueKind.API, f"{bases[0]}().{attr}")
        return None

    def _eval_binding(self, goal):
        binding = self._bindings[goal[1]]
        channel = self._channels.get(goal[1])
        if channel is not None:
            return Value(ValueKind.CHANNELS if binding.container else ValueKind.CHANNEL, channel[0], channel[1],
                         heuristic=channel[2])
        value = (yield ("ref", binding.value)) if binding.value else None
        if (value is not None and value.kind in (ValueKind.API, ValueKind.INSTANCE) and binding.call is not None
                and value.origin is None and (value.kind == ValueKind.API or binding.value[-1] == "()")):
            # the call that made it: an instance of a project class remembers its construction
            value = Value(value.kind, value.name, value.end, value.heuristic, binding.call)
        return value

    def _eval_param(self, goal):
        function, _, name = goal[1].rpartition(":")
        fn = self.functions.get(function)
        if fn is None:
            return None
        remote_end = self._remote_ends.get((function, name))
        if remote_end is not None:
            return remote_end
        for index, param in enumerate(fn.params):
            if param.name != name:
                continue
            if param.annotation is not None:
                annotated = yield ("ref", param.annotation)
                if annotated is not None and annotated.kind == ValueKind.CLASS:
                    if ((yield ("channel-class", annotated.name)) is None
                            and self.catalog.channel_type(self.import_name(annotated.name)) is None):
                        return Value(ValueKind.INSTANCE, annotated.name)
                if (annotated is not None and annotated.kind == ValueKind.API
                        and annotated.name.rsplit(".", 1)[-1][:1].isupper()):
                    # ``request_queue: queue.Queue``, ``publisher: Connection`` (a pipe's end):
                    # the channel the callers pass, when known
                    passed = yield from self._argument_value(fn, index, name)
                    if passed is not None and passed.kind in (ValueKind.CHANNEL, ValueKind.CHANNELS):
                        return passed
                    return Value(ValueKind.API, annotated.name + "()")
            return (yield from self._argument_value(fn, index, name))
        return None

    def _eval_packed(self, goal):
        """The ``position``-th element of the tuple or list literal the callers pass for
        the parameter (``Manager(name, (pub, sub))``): the one value they all give there."""
        function, _, name = goal[1].rpartition(":")
        fn = self.functions.get(function)
        index = next((i for i, param in enumerate(fn.params) if param.name == name), None) if fn else None
        if index is None:
            return None
        return (yield from self._argument_value(fn, index, name, goal[2]))

    def _callers(self, fn: FunctionFact, only: CallFact | None = None):
        """The project's calls of ``fn`` with arguments (``only``: that one call); None
        beyond ``_MAX_CALL_SITES``."""
        target = fn.qualname
        if fn.owner_class is not None and fn.qualname.endswith(".__init__"):
            target = fn.owner_class
        calls = (only,) if only is not None else ((yield ("calls-to", target)) or ())
        if target != fn.qualname:
            # a subclass's constructor passing it on: ``super().__init__(conn)`` or
            # ``Base.__init__(self, conn)``
            calls = (*calls, *(() if only is not None else ((yield ("calls-to", fn.qualname)) or ())))
        return calls if len(calls) <= _MAX_CALL_SITES else None

    def _argument_value(self, fn: FunctionFact, index: int, name: str, element: int | None = None,
                        within: str | None = None, only: CallFact | None = None):
        """The one value the project's callers pass for the parameter, or with ``element``
        the one they pass at that position of a tuple or list literal given for it; with
        ``within`` (a class, ``fn`` a constructor of it or of a base class) only the callers
        that construct an instance of that class or of its subclasses.  Callers passing one
        channel (either end of a pipe among them) beside other objects pass that channel.
        With ``only``, what that one call passes."""
        calls = yield from self._callers(fn, only)
        if calls is None:
            return None  # beyond this many callers the answer is rarely one value anyway
        values = set()
        for call in calls:
            if within is not None and not (yield from self._constructs(call, fn, within)):
                continue
            arg = yield from self._argument_ref(fn, index, name, call, element)
            if arg:
                value = yield ("ref", arg)
            elif element is None and (handed := (yield from self._handed_on(fn, index, call))) is not None:
                value = yield ("handed", handed[0].qualname, handed[1])  # ``Base.__init__(self, *args)``
            else:
                continue
            if value is not None:
                values.add(value)
        return _one_value(values)

    def _argument_position(self, fn: FunctionFact, index: int, call: CallFact):
        """Where among ``call``'s positional arguments ``fn``'s parameter ``index`` is."""
        bound = fn.owner_class is not None and fn.params and fn.params[0].name in ("self", "cls")
        at = index - (1 if bound else 0)
        if bound and fn.params[0].name == "self" and len(call.callee) > 1:
            receiver = yield ("ref", call.callee[:-1])
            if receiver is not None and receiver.kind == ValueKind.CLASS:
                at += 1  # ``Base.method(self, ...)`` passes the instance itself
        return at

    def _argument_ref(self, fn: FunctionFact, index: int, name: str, call: CallFact, element: int | None = None):
        """The argument ``call`` passes for the parameter (None when it passes none)."""
        at = yield from self._argument_position(fn, index, call)
        if element is None:
            arg = next((ref for key, ref in reversed(call.keywords) if key == name), None)
            return arg if arg is not None or not 0 <= at < len(call.args) else call.args[at]
        elements = dict(call.packed).get(name, dict(call.packed).get(str(at)))
        return elements[element] if elements is not None and element < len(elements) else None

    def _argument_values(self, fn: FunctionFact, index: int, name: str):
        values = []
        for call in (yield from self._callers(fn)) or ():
            arg = yield from self._argument_ref(fn, index, name, call)
            values.append((True, (yield ("ref", arg))) if arg else (False, None))
        return tuple(values)

    def _eval_calls(self, goal):
        """The calls with arguments of each project class and function, by qualname."""
        # the calls of each callee, as their numbers in file order: the index is answered
        # again whenever a callee's value may have changed (see ``forget``), the calls never do
        if self._calls_by_callee is None:
            # a handoff is a call made later: a put handed to a callback, a thread's target
            self._numbered_calls = [call for facts in self.files for call in (*facts.calls, *facts.handoffs)
                                    if call.args or call.keywords]
            by_callee: dict[tuple, int | array] = {}  # a callee called once has its number alone
            for number, call in enumerate(self._numbered_calls):
                numbers = by_callee.get(call.callee)
                if numbers is None:
                    by_callee[call.callee] = number
                elif type(numbers) is int:
                    by_callee[call.callee] = array("l", (numbers, number))
                else:
                    numbers.append(number)
            self._calls_by_callee = by_callee
        callees: dict[tuple, Value | None] = {}  # one question per callee, however often it is called
        for ref in self._calls_by_callee:
            callees[ref] = yield ("ref", ref)
        # ``Poller(feed)`` of a subclass that inherits its constructor passes ``feed`` to the
        # base class's ``__init__`` (``self.feed = feed`` there)
        constructors: dict[str, str | None] = {}
        for callee in callees.values():
            if (callee is not None and callee.kind == ValueKind.CLASS and callee.name not in constructors
                    and f"{callee.name}.__init__" not in self.functions):
                constructors[callee.name] = next((cls for cls in (yield ("mro", callee.name))[1:]
                                                  if f"{cls}.__init__" in self.functions), None)
        found: dict[str, list[tuple]] = defaultdict(list)  # name -> the callees that name it
        for ref, callee in callees.items():
            if callee is not None and (callee.kind == ValueKind.CLASS or callee.kind == ValueKind.FUNCTION):
                found[callee.name].append(ref)
                if constructors.get(callee.name) is not None:
                    found[constructors[callee.name]].append(ref)
        # each name's calls in file order, however many callees named it; the tuples are
        # made once and kept, as the index is answered again with mostly the same ones
        made = self._calls_made
        answer = {}
        for name, refs in found.items():
            key = refs[0] if len(refs) == 1 else tuple(refs)
            calls = made.get(key)
            if calls is None:
                calls = made[key] = self._calls_of(refs)
            answer[name] = calls
        return answer

    def _calls_of(self, refs: list[tuple]) -> tuple[CallFact, ...]:
        """The calls of the callees ``refs``, in file order."""
        runs = [(numbers,) if type(numbers) is int else numbers
                for numbers in map(self._calls_by_callee.__getitem__, refs)]
        return tuple(map(self._numbered_calls.__getitem__,
                         runs[0] if len(runs) == 1 else sorted(itertools.chain.from_iterable(runs))))

    def _eval_calls_to(self, goal):
        """The calls with arguments of one project class or function."""
        return ((yield _CALLS) or {}).get(goal[1], ())

    def _eval_channel_class(self, goal):
        qualname = goal[1]
        bases = [*map(self.import_name, (yield ("mro", qualname))), *(yield ("bases", qualname))]
        for base in bases:
            api = self.catalog.channel(base)
            if api is not None:
                return api.name
        return None
