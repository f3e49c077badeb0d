"""Planning ``privatize-queues``: for each channel EVT001 reported, the new private name,
the uses to rename, the outside calls to redirect to new methods, and the accessor to
remove, as ``Edits`` per file; or why the channel is left untouched."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from enum import Enum

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from ... import facts as facts_module
from ...checks.evt001_exposed_raw_queue import CODE, fix_plan
from ...model import BindingScope, Finding, NotFixable, PrivatizeChannel, ReplaceAccessor, Span
from ...syntax import traverse
from .. import CodemodResult, FixRun, Skipped
from .edits import ApplyEdits, Edits
from .methods import RETURNS_NOTHING, Holder, OutsideCall, Via, arguments, forwarder, operation_name, order, word
from .reuse import forwarding_method
from .scan import AttributeUse, Collector, Scan, all_entries, class_defs, global_statement_names, import_froms, \
    insertion_point

_MAX_LISTED = 3


class CannotRewrite(Exception):
    """A channel this codemod leaves untouched: the line to report and why."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


class Refers(Enum):
    """Whether a use ``x.<name>`` is the channel (or accessor) being planned."""

    YES = "yes"
    GUESS = "guess"  # the receiver's type is unknown and this is the only channel by that name, as the checks assume
    MAYBE = "maybe"  # the receiver's type is unknown and several channels have that name
    NO = "no"


class Planner:
    """One run of the codemod: the plans of every finding, the files they read and the names
    they gave out (two channels of one owner never get the same new name)."""

    def __init__(self, context: FixRun):
        self.context = context
        self.graph = context.graph
        self.result = CodemodResult()
        self.scans: dict[str, Scan] = {}
        self.edits: dict[str, Edits] = {}
        self.reserved: dict[str, set[str]] = {}  # owner -> names this run already gave out

    def run(self) -> CodemodResult:
        targets: list[tuple[Finding, PrivatizeChannel | ReplaceAccessor]] = []
        for finding in self.context.findings:
            if finding.code == CODE:
                target = fix_plan(self.graph, finding)
                if isinstance(target, NotFixable):
                    self.result.skipped.append(Skipped(finding.path, finding.span.line, target.reason))
                else:
                    targets.append((finding, target))
        names = frozenset(t.name if isinstance(t, PrivatizeChannel) else t.accessor.rsplit(".", 1)[-1]
                          for _, t in targets)
        if not names:
            return self.result
        self._scan(names, *self._where_used(targets))
        modules: dict[int, str] = {}  # note -> the module of the channel it is about
        for finding, target in targets:
            first = len(self.result.notes)
            try:
                plan = self._plan_accessor(target) if isinstance(target, ReplaceAccessor) else self._plan_rename(target)
            except CannotRewrite as problem:
                self.result.skipped.append(Skipped(finding.path, finding.span.line, problem.reason))
                continue
            finally:
                channel = self.graph.channels.get(target.channel)
                for index in range(first, len(self.result.notes)):
                    modules[index] = channel.module if channel is not None else ""
            for path, edits in plan.items():
                self.edits.setdefault(path, Edits()).merge(edits)
        # two classes of one name in two modules (a sync and an async test suite) would
        # give two identical notes: each then says its module
        repeated = Counter(self.result.notes)
        self.result.notes = [f"{note} (module {modules[index]})" if repeated[note] > 1 and modules.get(index) else note
                             for index, note in enumerate(self.result.notes)]
        for path, edits in sorted(self.edits.items()):
            scan = self.scans[path]
            command = ApplyEdits(CodemodContext(filename=path, full_module_name=scan.facts.module), scan.facts.module,
                                 edits, scan.wrapper)
            new_text = command.transform_module(scan.module).code
            if new_text != scan.text:
                self.result.changes[path] = new_text
        return self.result

    # ---- reading the files ------------------------------------------------------------------

    def _where_used(self, targets) -> tuple[set[str], set[str]]:
        """The names that may be used bare (module globals) and the files that must be
        read whatever their text (those binding a channel or defining an accessor); every
        other use of a target is an attribute, ``x.<name>``."""
        bare: set[str] = set()
        files: set[str] = set()
        for _, target in targets:
            channel = self.graph.channels.get(target.channel)
            if channel is not None:
                files.add(channel.path)
            if isinstance(target, ReplaceAccessor):
                files.add(self.graph.path_of.get(target.accessor, ""))
            elif channel is None or channel.scope not in (BindingScope.CLASS, BindingScope.INSTANCE):
                bare.add(target.name)
        return bare, files

    def _scan(self, names: frozenset[str], bare: set[str], files: set[str]) -> None:
        """Read every file that may use a name of ``names``: those that spell ``x.<name>``
        (a comment or a line break may follow the dot) or, for a name in ``bare``, the name
        anywhere, and ``files``.  Reading a file costs a parse; most files that spell a
        common attribute name bare (``messages``) never use it as an attribute."""
        attribute = "|".join(re.escape(n) for n in sorted(names))
        spelled = [rf"\.(?:\s|\\|#[^\n]*)*(?:{attribute})\b"]
        if bare:
            spelled.append(r"\b(?:" + "|".join(re.escape(n) for n in sorted(bare)) + r")\b")
        pattern = re.compile("|".join(spelled))
        tag_keys = frozenset(self.context.config.tag_keys)
        for facts in self.graph.files:
            if facts.problem is not None:
                continue
            text = self.context.read(facts.path)
            if facts.path not in files and not pattern.search(text):
                continue
            wrapper = self.context.parse(facts.path)
            collector = Collector(facts, self.graph.catalog, tag_keys, names)
            # the facts pass's own walk: libcst's rebuilds every node on the way back up
            traverse(wrapper.module, collector)
            self.scans[facts.path] = Scan(facts, text, wrapper, collector)

    # ---- resolution ------------------------------------------------------------------------

    def _uses(self, name: str) -> Iterator[tuple[str, Scan, AttributeUse]]:
        """Every ``x.<name>`` in the files read, with the file's path and scan."""
        for path, scan in self.scans.items():
            for use in scan.collector.attributes:
                if use.node.attr.value == name:
                    yield path, scan, use

    def _refers_to(self, use: AttributeUse, channel_id: str) -> Refers:
        """Whether ``x.<name>`` is the channel ``channel_id``."""
        if use.ref is None:
            return Refers.MAYBE
        value = self.graph.resolve(use.ref)
        if value is not None:
            return Refers.YES if value.kind == "channel" and value.name == channel_id else Refers.NO
        receiver = self.graph.resolve(use.ref[:-1])
        if receiver is not None:
            channel = self.graph.channels[channel_id]
            if receiver.kind in ("instance", "class") and channel.owner in self.graph.mro(receiver.name):
                return Refers.MAYBE  # the owner's attribute, shadowed by something the graph can't follow
            return Refers.NO
        guess = self.graph.resolve_channel(use.ref)
        if guess is not None:
            return Refers.GUESS if guess.name == channel_id else Refers.NO
        # an unknown receiver, and the name alone does not single out one channel (several
        # channels are attributes of that name): it may well be this one
        return Refers.MAYBE

    def _refers_to_member(self, use: AttributeUse, owner: str) -> Refers:
        """Whether ``x.<member>`` is the member of class ``owner`` (an accessor method)."""
        if use.ref is None:
            return Refers.MAYBE
        receiver = self.graph.resolve(use.ref[:-1])
        if receiver is None:
            return Refers.MAYBE
        if receiver.kind in ("instance", "class") and owner in self.graph.mro(receiver.name):
            return Refers.YES
        return Refers.NO

    # ---- names -----------------------------------------------------------------------------

    def _related_classes(self, owner: str) -> list[str]:
        return [cls for cls in self.graph.classes if owner in self.graph.mro(cls)] + self.graph.mro(owner)[1:]

    def _class_member_taken(self, owner: str, name: str) -> bool:
        if name in self.reserved.get(owner, set()):
            return True
        for cls in self._related_classes(owner):
            if f"{cls}.{name}" in self.graph.functions or self.graph.class_bindings.get((cls, name)):
                return True
            path = self.graph.path_of.get(cls)
            if path is not None and re.search(rf"\b(?:self|cls|{re.escape(cls.rsplit('.', 1)[-1])})\.{re.escape(name)}\b"
                                              rf"|\bdef {re.escape(name)}\b|^\s*{re.escape(name)}\s*[:=]",
                                              self.context.read(path), re.MULTILINE):
                return True
        return False

    def _module_name_taken(self, module: str, path: str, name: str) -> bool:
        if name in self.reserved.get(module, set()):
            return True
        return bool(word(name).search(self.context.read(path)))

    def _choose(self, owner: str, candidates: list[str], taken) -> str:
        for candidate in candidates:
            if not taken(candidate):
                self.reserved.setdefault(owner, set()).add(candidate)
                return candidate
        base = candidates[-1]
        number = 2
        while taken(f"{base}{number}"):
            number += 1
        self.reserved.setdefault(owner, set()).add(f"{base}{number}")
        return f"{base}{number}"

    # ---- plans -----------------------------------------------------------------------------

    def _plan_rename(self, target: PrivatizeChannel) -> dict[str, Edits]:
        channel, name, binding = self.graph.channels[target.channel], target.name, target.binding
        if name.startswith("__"):
            raise CannotRewrite(binding.line, f"`{name}` is a dunder name; rename it by hand")
        if channel.scope == "module":
            return self._plan_global(channel, name, binding)
        owner = channel.owner
        if self._is_dataclass_field(owner, name):
            raise CannotRewrite(binding.line, f"`{name}` is a dataclass field: renaming it changes the "
                                              f"constructor's parameters; make it private by hand")
        private = self._choose(owner, [f"_{name}", f"_{name}_channel"], lambda n: self._class_member_taken(owner, n))
        plan: dict[str, Edits] = {}
        if channel.scope == "class":
            scan = self.scans[channel.path]
            for node in scan.class_body_names(owner[len(scan.facts.module) + 1:], name):
                plan.setdefault(channel.path, Edits()).rename_name[scan.span(node)] = private
        outside: list[OutsideCall] = []
        maybes: list[str] = []
        guesses: list[str] = []
        for path, scan, use in self._uses(name):
            verdict = self._refers_to(use, channel.id)
            if verdict is Refers.NO:
                continue
            if verdict is Refers.MAYBE:
                maybes.append(scan.where(use.node))
                continue
            if verdict is Refers.GUESS:
                if id(use.node) in scan.collector.called:
                    continue  # ``conn.send(x)``: a method of something else, not a channel attribute
                guesses.append(scan.where(use.node))
            if self.graph.is_inside_owner(channel, use.where, path):
                plan.setdefault(path, Edits()).rename_attribute[scan.span(use.node)] = private
                continue
            outside.append(self._outside_call(scan, use.node, channel, Via.ATTRIBUTE, guessed=verdict is Refers.GUESS))
        if maybes:
            listed = ", ".join(maybes[:_MAX_LISTED]) + (" and more" if len(maybes) > _MAX_LISTED else "")
            raise CannotRewrite(binding.line, f"can't tell whether `.{name}` at {listed} is this channel "
                                              f"(unknown receiver type); left unchanged")
        short = owner.rsplit(".", 1)[-1]
        holder = Holder.CLASSMETHOD if channel.scope == "class" else Holder.METHOD
        defs, names = self._methods(owner, channel, name, outside, f"{holder.value}.{private}", holder, plan,
                                    spelled=name if holder is Holder.METHOD else None)
        if guesses:
            self.result.notes.append(f"`.{name}` at {', '.join(guesses)} was taken to be `{short}.{name}` by its name "
                                     f"alone (the receiver's type is unknown); check those lines")
        if defs:
            plan.setdefault(channel.path, Edits()).add_methods[owner] = defs
        self.result.notes.append(
            f"renamed `{short}.{name}` to `{short}.{private}`"
            + (f" and added {', '.join(f'`{d.name.value}()`' for d in defs)}" if defs else "")
            + (f", and {reused}" if (reused := _reused(defs, names)) else "") + "; code outside the analysed paths that uses it must be updated too")
        return plan

    def _is_dataclass_field(self, owner: str, name: str) -> bool:
        cls = self.graph.classes.get(owner)
        if cls is None or not any(b.scope == "class" for b in self.graph.class_bindings.get((owner, name), ())):
            return False
        scan = self.scans.get(self.graph.path_of.get(owner, ""))
        if scan is None:
            return False
        short = owner[len(scan.facts.module) + 1:]
        for node in class_defs(scan.module, short):
            for decorator in node.decorators:
                target = decorator.decorator.func if m.matches(decorator.decorator, m.Call()) else decorator.decorator
                text = cst.Module([]).code_for_node(target)
                if text.rsplit(".", 1)[-1] in ("dataclass", "define", "frozen", "attrs", "s"):
                    return True
        return False

    def _outside_call(self, scan: Scan, receiver: cst.CSTNode, channel, via: Via, *, guessed: bool = False) -> OutsideCall:
        """The put or get call made on ``receiver`` outside the channel's owner; one that
        no method can stand in for stops the rewrite (``guessed``: the receiver was taken
        to be the channel by the attribute's name alone, which the reason says)."""
        found = scan.collector.method_calls.get(id(receiver))
        if found is not None:
            call, method, awaited = found
            if operation_name(channel, method) is not None:
                return OutsideCall(scan, call, method, awaited, via)
            what = f"by `.{method}()`"
        else:
            what = "other than by a put or get call (passed on, stored or compared)"
        code = cst.Module([]).code_for_node(receiver)
        taken = " (taken to be this channel by its name alone: the receiver's type is unknown)" if guessed else ""
        raise CannotRewrite(scan.line(receiver), f"`{code}` at {scan.where(receiver)}{taken} is used outside its owner "
                                                 f"{what}, which no method can stand in for; nothing was changed")

    def _methods(self, owner: str, channel, label: str, outside: list[OutsideCall], target: str, holder: Holder,
                 plan: dict[str, Edits], *, spelled: str | None = None) -> tuple[list[cst.FunctionDef], dict[str, str]]:
        """One forwarding method per distinct outside operation; redirects the calls.
        ``spelled``: the channel's attribute as the owner's methods spell it (``self.<spelled>``),
        when a method the owner already has may stand for an operation (``reuse``).
        Returns the new definitions and, per channel method, the name that now stands for it."""
        existing = self._owner_class(owner) if spelled is not None else None
        by_operation: dict[str, list[OutsideCall]] = {}
        for use in outside:
            by_operation.setdefault(use.method, []).append(use)
        if holder is Holder.FUNCTION:
            def taken(name: str) -> bool:
                return self._module_name_taken(owner, channel.path, name)
        else:
            def taken(name: str) -> bool:
                return self._class_member_taken(owner, name)
        defs, names = [], {}
        for method, calls in sorted(by_operation.items(), key=lambda item: order(item[0], channel)):
            awaited = {c.awaited for c in calls}
            if len(awaited) > 1:
                first = next(c for c in calls if not c.awaited)
                raise CannotRewrite(first.scan.line(first.call), f"`.{method}()` is awaited at some sites and not at "
                                                                 f"others; left unchanged")
            base = operation_name(channel, method)
            direction = "put" if method in channel.api.put else "get" if method in channel.api.get else "other"
            is_awaited, args = awaited.pop(), arguments(calls, direction)
            returns = direction != "put" and method not in RETURNS_NOTHING
            function_name = forwarding_method(existing, spelled, method, args, is_awaited, returns) \
                if existing is not None else None
            if function_name is not None and self._overridden(owner, function_name):
                function_name = None  # on a subclass's instance the call would run the override
            if function_name is None:
                function_name = self._choose(owner, [base, f"{base}_{label.strip('_').lower()}"], taken)
                defs.append(forwarder(function_name, target, method, direction, is_awaited, args, holder))
            names[method] = function_name
            for use in calls:
                plan.setdefault(use.scan.facts.path, Edits()).redirect_call[use.scan.span(use.call)] = function_name
        return defs, names

    def _overridden(self, owner: str, name: str) -> bool:
        """Whether a subclass of ``owner`` in the analysed code defines its own ``name``."""
        return any(f"{cls}.{name}" in self.graph.functions for cls in self.graph.classes
                   if cls != owner and owner in self.graph.mro(cls))

    def _owner_class(self, owner: str) -> cst.ClassDef | None:
        """The class statement of ``owner``, when there is exactly one."""
        scan = self.scans.get(self.graph.path_of.get(owner, ""))
        if scan is None or not owner.startswith(scan.facts.module + "."):
            return None
        found = class_defs(scan.module, owner[len(scan.facts.module) + 1:])
        return found[0] if len(found) == 1 else None

    def _plan_accessor(self, target: ReplaceAccessor) -> dict[str, Edits]:
        channel, method = self.graph.channels[target.channel], self.graph.functions[target.accessor]
        attr = target.attribute
        member = target.accessor.rsplit(".", 1)[-1]
        owner = method.owner_class
        if owner is None:
            raise CannotRewrite(method.span.line, f"function `{member}()` hands out the module's `{attr}`: give the "
                                                  f"module functions that publish and receive instead (not done "
                                                  f"automatically)")
        plan: dict[str, Edits] = {}
        rewritable: list[OutsideCall] = []
        kept: list[str] = []
        for path, scan, use in self._uses(member):
            verdict = self._refers_to_member(use, owner)
            if verdict is Refers.NO:
                continue
            receiver: cst.CSTNode = use.node
            via = Via.ATTRIBUTE
            if not method.is_property:
                call = scan.collector.called.get(id(use.node))
                receiver = call if call is not None else use.node
                via = Via.ACCESSOR
            found = scan.collector.method_calls.get(id(receiver)) if receiver is not None else None
            if verdict is Refers.YES and found is not None and operation_name(channel, found[1]) is not None \
                    and (method.is_property or via is Via.ACCESSOR):
                rewritable.append(OutsideCall(scan, found[0], found[1], found[2], via))
            else:
                kept.append(scan.where(use.node))
        short = owner.rsplit(".", 1)[-1]
        kind = "property" if method.is_property else "method"
        if not rewritable and kept:
            listed = ", ".join(kept[:_MAX_LISTED])
            raise CannotRewrite(method.span.line, f"{kind} `{short}.{member}` is used at {listed} in ways that can't "
                                                  f"be turned into method calls; left unchanged")
        defs, names = self._methods(owner, channel, member, rewritable, f"self.{attr}", Holder.METHOD, plan,
                                    spelled=attr)
        path = self.graph.path_of[method.qualname]
        if defs:
            plan.setdefault(path, Edits()).add_methods[owner] = defs
        added = ", ".join(f"`{d.name.value}()`" for d in defs)
        reused = _reused(defs, names)
        if reused:
            self.result.notes.append(f"{short}: {reused}")
        if kept:
            listed = ", ".join(kept[:_MAX_LISTED]) + (" and more" if len(kept) > _MAX_LISTED else "")
            self.result.notes.append(f"added {added} to {short}; kept {kind} `{member}`: still used at {listed}")
        else:
            plan.setdefault(path, Edits()).remove_methods.add(method.qualname)
            self.result.notes.append(
                (f"added {added} to {short} and removed" if added else "removed") + f" {kind} `{short}.{member}`; "
                f"code outside the analysed paths that uses it must be updated too")
        return plan

    def _plan_global(self, channel, name: str, binding: Span) -> dict[str, Edits]:
        module, path = channel.module, channel.path
        owner_scan = self.scans.get(path)
        if owner_scan is None:
            raise CannotRewrite(binding.line, "the module could not be read again")
        private = self._choose(module, [f"_{name}", f"_{name}_channel"],
                               lambda n: self._module_name_taken(module, path, n))
        plan: dict[str, Edits] = {}
        own = plan.setdefault(path, Edits())
        scope = owner_scan.global_scope()
        for assignment in scope.assignments[name]:
            if m.matches(assignment.node, m.Name()):
                own.rename_name[owner_scan.span(assignment.node)] = private
            for reference in assignment.references:
                if m.matches(reference.node, m.Name()):
                    own.rename_name[owner_scan.span(reference.node)] = private
        for node in global_statement_names(owner_scan.module, name):
            own.rename_name[owner_scan.span(node)] = private
        outside: list[OutsideCall] = []
        importers: list[tuple[Scan, cst.ImportAlias, list[cst.Name]]] = []
        for scan_path, scan in self.scans.items():
            if scan_path == path:
                continue
            for use in scan.collector.attributes:
                if use.node.attr.value == name and self._refers_to(use, channel.id) is Refers.YES:
                    outside.append(self._outside_call(scan, use.node, channel, Via.ATTRIBUTE))
            for alias, names in self._imports_of(scan, module, name):
                for node in names:
                    outside.append(self._outside_call(scan, node, channel, Via.NAME))
                importers.append((scan, alias, names))
        defs, functions = self._methods(module, channel, name, outside, private, Holder.FUNCTION, plan)
        for scan, alias, names in importers:
            wanted = sorted({functions[c.method] for c in outside if c.scan is scan and c.via is Via.NAME})
            for other in wanted:
                if word(other).search(scan.text):
                    raise CannotRewrite(binding.line, f"{scan.facts.path} already uses the name `{other}`; "
                                                      f"left unchanged")
            plan.setdefault(scan.facts.path, Edits()).import_names[scan.span(alias)] = wanted
        listed = self.graph.module_all(module)
        if listed is not None:
            entries = all_entries(owner_scan.module, name)
            if entries is None:
                raise CannotRewrite(binding.line, f"`__all__` lists `{name}` in a form this codemod can't edit")
            for node in entries:
                own.all_entries[owner_scan.span(node)] = [d.name.value for d in defs]
        if defs:
            statement = insertion_point(owner_scan, binding)
            if statement is None:
                raise CannotRewrite(binding.line, "the assignment is not a module-level statement")
            own.add_functions[owner_scan.span(statement)] = defs
        self.result.notes.append(
            f"renamed module global `{name}` to `{private}`"
            + (f" and added {', '.join(f'`{d.name.value}()`' for d in defs)}" if defs else "")
            + "; code outside the analysed paths that uses it must be updated too")
        return plan

    def _imports_of(self, scan: Scan, module: str, name: str):
        """``from <module> import name [as alias]`` in ``scan``: each alias with the names that use it."""
        found = []
        scope = None
        for node in import_froms(scan.module):
            base = self._import_base(scan, node)
            if base is None or self.graph.canonical_module(base) != module:
                continue
            for alias in node.names if not m.matches(node.names, m.ImportStar()) else ():
                if facts_module.attr_text(alias.name) != name:
                    continue
                local = alias.asname.name.value if alias.asname is not None else name
                scope = scope or scan.global_scope()
                uses = []
                assignments = [a for a in scope.assignments[local] if getattr(a, "node", None) is node]
                if not assignments:
                    raise CannotRewrite(scan.line(node), f"{scan.where(node)} imports `{name}` inside a "
                                                         f"function; left unchanged")
                for assignment in assignments:
                    for reference in assignment.references:
                        uses.append(reference.node)
                found.append((alias, uses))
        return found

    def _import_base(self, scan: Scan, node: cst.ImportFrom) -> str | None:
        return scan.collector.resolve_relative(node)


def _reused(defs: list[cst.FunctionDef], names: dict[str, str]) -> str:
    """The note's words for the existing methods the outside calls now go through."""
    added = {d.name.value for d in defs}
    kept = sorted({name for name in names.values() if name not in added})
    if not kept:
        return ""
    return f"the outside calls now go through its existing {', '.join(f'`{n}()`' for n in kept)}"
