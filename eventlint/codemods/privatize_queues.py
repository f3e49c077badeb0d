"""``privatize-queues``: make the public raw channels EVT001 found private.

For a public attribute or module global bound to a raw channel (``Hub.inbox``):
- rename it to a private name (``_inbox``; ``_inbox_channel`` when that is taken) at
  every use in the analysed code: the owner's own (``self.inbox``, ``cls.inbox``,
  ``Hub.inbox``, the owner's subclasses) and the outside ones the graph resolves;
- give the owner one small method per distinct operation the outside code performed —
  ``publish``, ``publish_nowait``, ``next_event``, ``next_event_nowait``, or the queue's own
  ``task_done`` / ``join`` — async when the operation was awaited, and rewrite those
  calls: ``hub.inbox.put(x)`` → ``hub.publish(x)``.  A module global gets module functions.

For a public method or property returning a private channel, the outside put/get calls
through it are rewritten the same way and the accessor is removed once nothing else uses
it (otherwise it stays, and the output says where it is still used).

A channel with a use that can't be rewritten (passed as an argument, stored elsewhere, a
receiver of unknown type that may or may not be it) is left entirely untouched, with the
reason.  Renames and new methods change behaviour for code outside the analysed paths, so
the codemod is unsafe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import GlobalScope, MetadataWrapper, PositionProvider, ScopeProvider

from .. import facts as facts_module
from ..checks.evt001_exposed_raw_queue import returned_channels
from ..model import FileFacts, Finding, Ref, Span
from . import CodemodContext, CodemodResult, Skipped

CODE = "EVT001"
# queue methods that are neither put nor get but that outside code commonly calls
_EXTRA_METHODS = ("task_done", "join", "qsize", "empty", "full")
_RETURNS_NOTHING = ("task_done", "join")
_MAX_LISTED = 3


# ---- reading one file ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AttributeUse:
    node: cst.Attribute
    ref: Ref | None
    where: str  # qualname of the enclosing function, class or module


class _Collector(facts_module._Extractor):
    """The facts pass's own name resolution, applied to every ``x.<name>`` of interest:
    what it refers to is then asked of the graph, exactly as the checks do."""

    def __init__(self, facts: FileFacts, catalog, tag_keys: frozenset[str], names: frozenset[str]):
        super().__init__(facts.module, facts.path.endswith("__init__.py"), catalog, tag_keys)
        self.names = names
        self.attributes: list[_AttributeUse] = []
        self.method_calls: dict[int, tuple[cst.Call, str, bool]] = {}  # id(receiver) -> (call, method, awaited)
        self.called: dict[int, cst.Call] = {}  # id(func expression) -> the call

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in self.names:
            self.attributes.append(_AttributeUse(node, self.ref(node), self.frame.qualname))

    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        self.called[id(node.func)] = node
        if isinstance(node.func, cst.Attribute):
            self.method_calls[id(node.func.value)] = (node, node.func.attr.value, id(node) in self.awaited)


@dataclass
class _Scan:
    facts: FileFacts
    text: str
    wrapper: MetadataWrapper
    collector: _Collector
    _scopes: object = None

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def line(self, node: cst.CSTNode) -> int:
        return self.wrapper.resolve(PositionProvider)[node].start.line

    def scopes(self):
        if self._scopes is None:
            self._scopes = self.wrapper.resolve(ScopeProvider)
        return self._scopes

    def global_scope(self) -> GlobalScope:
        return next(s for s in self.scopes().values() if isinstance(s, GlobalScope))

    def class_body_names(self, dotted: str, name: str) -> list[cst.Name]:
        """``name`` bound or read in the body of class ``dotted`` (not in its methods)."""
        found = []
        for node in _class_defs(self.module, dotted):
            statements = node.body.body
            scope = self.scopes().get(statements[0]) if statements else None
            if scope is None:
                continue
            for assignment in scope.assignments[name]:
                if isinstance(assignment.node, cst.Name):
                    found.append(assignment.node)
                found += [r.node for r in assignment.references if isinstance(r.node, cst.Name)]
        return found


# ---- what to change -----------------------------------------------------------------------


@dataclass
class _Edits:
    """Edits to one file, by the identity of the nodes of its parsed tree."""

    rename_attribute: dict[int, str] = field(default_factory=dict)  # Attribute -> new attr
    rename_name: dict[int, str] = field(default_factory=dict)  # Name -> new name
    redirect_call: dict[int, str] = field(default_factory=dict)  # call -> method/function it becomes
    add_methods: dict[str, list[cst.BaseStatement]] = field(default_factory=dict)  # class qualname -> defs
    add_functions: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)  # id(top statement) -> defs
    remove_methods: set[str] = field(default_factory=set)
    import_names: dict[int, list[str]] = field(default_factory=dict)  # ImportAlias -> names imported instead
    all_entries: dict[int, list[str]] = field(default_factory=dict)  # __all__ string element -> names

    def merge(self, other: _Edits) -> None:
        self.rename_attribute.update(other.rename_attribute)
        self.rename_name.update(other.rename_name)
        self.redirect_call.update(other.redirect_call)
        for key, defs in other.add_methods.items():
            self.add_methods.setdefault(key, []).extend(defs)
        for key, defs in other.add_functions.items():
            self.add_functions.setdefault(key, []).extend(defs)
        self.remove_methods |= other.remove_methods
        self.import_names.update(other.import_names)
        self.all_entries.update(other.all_entries)


class _CannotRewrite(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _OutsideCall:
    scan: _Scan
    call: cst.Call
    method: str
    awaited: bool
    how: str  # "attribute": ``x.inbox.put()`` | "name": ``INBOX.put()`` | "accessor": ``x.queue().put()``


def _operation_name(channel, method: str) -> str | None:
    suffix = "_nowait" if method.endswith("_nowait") else "_bytes" if method.endswith("_bytes") else ""
    if method in channel.api.put:
        return "publish" + suffix
    if method in channel.api.get:
        return "next_event" + suffix
    if method in _EXTRA_METHODS:
        return method
    return None


def _args_kind(calls: list[_OutsideCall], direction: str) -> str:
    """"one": a put whose every call passes exactly the event; "none": a call such as
    ``task_done()`` that never takes arguments; "any": forward ``*args, **kwargs`` — always
    for a get, so that callers keep choosing ``block`` and ``timeout`` (and the checks see
    the forwarded wait as the caller's, as the receive it replaces was)."""
    if direction == "put" and all(len(c.call.args) == 1 and c.call.args[0].keyword is None
                                  and not c.call.args[0].star for c in calls):
        return "one"
    if direction != "get" and all(not c.call.args for c in calls):
        return "none"
    return "any"


def _forwarder(name: str, target: str, method: str, direction: str, awaited: bool, args: str, kind: str) -> cst.BaseStatement:
    """Source of one forwarding method or function; ``kind`` is "method", "classmethod" or "function"."""
    receiver = {"method": ["self"], "classmethod": ["cls"], "function": []}[kind]
    params = list(receiver)
    if args == "one":
        params.append("event")
        forwarded = params[-1]
    elif args == "none":
        forwarded = ""
    else:
        params += ["*args", "**kwargs"]
        forwarded = "*args, **kwargs"
    call = f"{target}.{method}({forwarded})"
    if awaited:
        call = f"await {call}"
    returns_nothing = direction == "put" or method in _RETURNS_NOTHING
    body = call if returns_nothing else f"return {call}"
    annotation = " -> None" if returns_nothing else ""
    head = "async def" if awaited else "def"
    decorator = "@classmethod\n" if kind == "classmethod" else ""
    return cst.parse_statement(f"{decorator}{head} {name}({', '.join(params)}){annotation}:\n    {body}\n")


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(name)}\b|\.{re.escape(name)}\b")


# ---- the codemod ---------------------------------------------------------------------------


class PrivatizeQueues:
    name = "privatize-queues"
    description = "Rename public raw queues (EVT001) to private names and give their owners methods for outside use."
    safety = "unsafe"

    def run(self, context: CodemodContext) -> CodemodResult:
        return _Run(context).run()


class _Run:
    def __init__(self, context: CodemodContext):
        self.context = context
        self.graph = context.graph
        self.result = CodemodResult()
        self.scans: dict[str, _Scan] = {}
        self.edits: dict[str, _Edits] = {}
        self.reserved: dict[str, set[str]] = {}  # owner -> names this run already gave out

    def run(self) -> CodemodResult:
        targets = []
        for finding in self.context.findings:
            if finding.code == CODE:
                target = self._target(finding)
                if target is None:
                    self.result.skipped.append(Skipped(finding.path, finding.span.line,
                                                       "the channel was not found in the analysis"))
                else:
                    targets.append((finding, target))
        names = frozenset(t[2] for _, t in targets)
        if not names:
            return self.result
        self._scan(names)
        for finding, target in targets:
            kind = target[0]
            try:
                plan = self._plan_accessor(*target[1:]) if kind == "accessor" else self._plan_rename(*target[1:])
            except _CannotRewrite as problem:
                self.result.skipped.append(Skipped(finding.path, finding.span.line, problem.reason))
                continue
            for path, edits in plan.items():
                self.edits.setdefault(path, _Edits()).merge(edits)
        for path, edits in sorted(self.edits.items()):
            scan = self.scans[path]
            new_text = scan.module.visit(_Apply(scan.facts.module, edits)).code
            if new_text != scan.text:
                self.result.changes[path] = new_text
        return self.result

    # ---- targets ---------------------------------------------------------------------------

    def _target(self, finding: Finding):
        for channel in self.graph.all_channels():
            if channel.path != finding.path:
                continue
            for name, _end, binding in channel.names:
                if binding.span == finding.span and finding.symbol.endswith("." + name):
                    return ("rename", channel, name, binding)
        for method, channel, attr, span in returned_channels(self.graph):
            if method.qualname == finding.symbol and span == finding.span:
                return ("accessor", channel, method.qualname.rsplit(".", 1)[-1], method, attr)
        return None

    def _scan(self, names: frozenset[str]) -> None:
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
        tag_keys = frozenset(self.context.config.tag_keys)
        for facts in self.graph.files:
            if facts.problem is not None:
                continue
            text = self.context.read(facts.path)
            if not pattern.search(text):
                continue
            wrapper = self.context.parse(facts.path)
            collector = _Collector(facts, self.graph.catalog, tag_keys, names)
            wrapper.visit(collector)
            self.scans[facts.path] = _Scan(facts, text, wrapper, collector)

    # ---- resolution ------------------------------------------------------------------------

    def _refers_to(self, use: _AttributeUse, channel_id: str) -> str:
        """"yes"; "guess" (the receiver's type is unknown and this is the only channel by
        that attribute name, as the checks assume too); "maybe" (several are); or "no"."""
        if use.ref is None:
            return "maybe"
        value = self.graph.resolve(use.ref)
        if value is not None:
            return "yes" if value.kind == "channel" and value.name == channel_id else "no"
        receiver = self.graph.resolve(use.ref[:-1])
        if receiver is not None:
            channel = self.graph.channels[channel_id]
            if receiver.kind in ("instance", "class") and channel.owner in self.graph.mro(receiver.name):
                return "maybe"  # the owner's attribute, shadowed by something the graph can't follow
            return "no"
        guess = self.graph.resolve_channel(use.ref)
        if guess is not None:
            return "guess" if guess.name == channel_id else "no"
        # an unknown receiver, and the name alone does not single out one channel (several
        # channels are attributes of that name): it may well be this one
        return "maybe"

    def _refers_to_member(self, use: _AttributeUse, owner: str) -> str:
        """Whether ``x.<member>`` is the member of class ``owner`` (an accessor method)."""
        if use.ref is None:
            return "maybe"
        receiver = self.graph.resolve(use.ref[:-1])
        if receiver is None:
            return "maybe"
        if receiver.kind in ("instance", "class") and owner in self.graph.mro(receiver.name):
            return "yes"
        return "no"

    def _where(self, scan: _Scan, node: cst.CSTNode) -> str:
        return f"{scan.facts.path}:{scan.line(node)}"

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
        return bool(_word(name).search(self.context.read(path)))

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

    def _plan_rename(self, channel, name: str, binding) -> dict[str, _Edits]:
        if name.startswith("__"):
            raise _CannotRewrite(binding.span.line, f"`{name}` is a dunder name; rename it by hand")
        if channel.scope == "module":
            return self._plan_global(channel, name, binding)
        owner = channel.owner
        if self._is_dataclass_field(owner, name):
            raise _CannotRewrite(binding.span.line, f"`{name}` is a dataclass field: renaming it changes the "
                                                    f"constructor's parameters; make it private by hand")
        private = self._choose(owner, [f"_{name}", f"_{name}_channel"], lambda n: self._class_member_taken(owner, n))
        plan: dict[str, _Edits] = {}
        if channel.scope == "class":
            scan = self.scans[channel.path]
            for node in scan.class_body_names(owner[len(scan.facts.module) + 1:], name):
                plan.setdefault(channel.path, _Edits()).rename_name[id(node)] = private
        outside: list[_OutsideCall] = []
        maybes: list[str] = []
        guesses: list[str] = []
        for path, scan in self.scans.items():
            for use in scan.collector.attributes:
                if use.node.attr.value != name:
                    continue
                verdict = self._refers_to(use, channel.id)
                if verdict == "no":
                    continue
                if verdict == "maybe":
                    maybes.append(self._where(scan, use.node))
                    continue
                if verdict == "guess":
                    if id(use.node) in scan.collector.called:
                        continue  # ``conn.send(x)``: a method of something else, not a channel attribute
                    guesses.append(self._where(scan, use.node))
                if self.graph.is_inside_owner(channel, use.where, path):
                    plan.setdefault(path, _Edits()).rename_attribute[id(use.node)] = private
                    continue
                outside.append(self._outside_call(scan, use.node, channel, "attribute"))
        if maybes:
            listed = ", ".join(maybes[:_MAX_LISTED]) + (" and more" if len(maybes) > _MAX_LISTED else "")
            raise _CannotRewrite(binding.span.line, f"can't tell whether `.{name}` at {listed} is this channel "
                                                    f"(unknown receiver type); left unchanged")
        short = owner.rsplit(".", 1)[-1]
        kind = "classmethod" if channel.scope == "class" else "method"
        defs, _ = self._methods(owner, channel, name, outside,
                                f"{'cls' if kind == 'classmethod' else 'self'}.{private}", kind, plan)
        if guesses:
            self.result.notes.append(f"`.{name}` at {', '.join(guesses)} was taken to be `{short}.{name}` by its name "
                                     f"alone (the receiver's type is unknown); check those lines")
        if defs:
            plan.setdefault(channel.path, _Edits()).add_methods[owner] = defs
        self.result.notes.append(
            f"renamed `{short}.{name}` to `{short}.{private}`"
            + (f" and added {', '.join(f'`{d.name.value}()`' for d in defs)}" if defs else "")
            + "; code outside the analysed paths that uses it must be updated too")
        return plan

    def _is_dataclass_field(self, owner: str, name: str) -> bool:
        cls = self.graph.classes.get(owner)
        if cls is None or not any(b.scope == "class" for b in self.graph.class_bindings.get((owner, name), ())):
            return False
        scan = self.scans.get(self.graph.path_of.get(owner, ""))
        if scan is None:
            return False
        short = owner[len(scan.facts.module) + 1:]
        for node in _class_defs(scan.module, short):
            for decorator in node.decorators:
                target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
                text = cst.Module([]).code_for_node(target)
                if text.rsplit(".", 1)[-1] in ("dataclass", "define", "frozen", "attrs", "s"):
                    return True
        return False

    def _outside_call(self, scan: _Scan, receiver: cst.CSTNode, channel, how: str) -> _OutsideCall:
        found = scan.collector.method_calls.get(id(receiver))
        if found is not None:
            call, method, awaited = found
            if _operation_name(channel, method) is not None:
                return _OutsideCall(scan, call, method, awaited, how)
            what = f"by `.{method}()`"
        else:
            what = "other than by a put or get call (passed on, stored or compared)"
        code = cst.Module([]).code_for_node(receiver)
        raise _CannotRewrite(scan.line(receiver), f"`{code}` at {self._where(scan, receiver)} is used outside its owner "
                                                  f"{what}, which no method can stand in for; nothing was changed")

    def _methods(self, owner: str, channel, label: str, outside: list[_OutsideCall], target: str, kind: str,
                 plan: dict[str, _Edits]) -> tuple[list[cst.FunctionDef], dict[str, str]]:
        """One forwarding method per distinct outside operation; redirects the calls.
        Returns the definitions and, per channel method, the name that now stands for it."""
        by_operation: dict[str, list[_OutsideCall]] = {}
        for use in outside:
            by_operation.setdefault(use.method, []).append(use)
        if kind == "function":
            def taken(name: str) -> bool:
                return self._module_name_taken(owner, channel.path, name)
        else:
            def taken(name: str) -> bool:
                return self._class_member_taken(owner, name)
        defs, names = [], {}
        for method, calls in sorted(by_operation.items(), key=lambda item: _order(item[0], channel)):
            awaited = {c.awaited for c in calls}
            if len(awaited) > 1:
                first = next(c for c in calls if not c.awaited)
                raise _CannotRewrite(first.scan.line(first.call), f"`.{method}()` is awaited at some sites and not at "
                                                                  f"others; left unchanged")
            base = _operation_name(channel, method)
            direction = "put" if method in channel.api.put else "get" if method in channel.api.get else "other"
            function_name = self._choose(owner, [base, f"{base}_{label.strip('_').lower()}"], taken)
            defs.append(_forwarder(function_name, target, method, direction, awaited.pop(), _args_kind(calls, direction), kind))
            names[method] = function_name
            for use in calls:
                plan.setdefault(use.scan.facts.path, _Edits()).redirect_call[id(use.call)] = function_name
        return defs, names

    def _plan_accessor(self, channel, member: str, method, attr: str) -> dict[str, _Edits]:
        owner = method.owner_class
        if owner is None:
            raise _CannotRewrite(method.span.line, f"function `{member}()` hands out the module's `{attr}`: give the "
                                                   f"module functions that publish and receive instead (not done "
                                                   f"automatically)")
        plan: dict[str, _Edits] = {}
        rewritable: list[_OutsideCall] = []
        kept: list[str] = []
        for path, scan in self.scans.items():
            for use in scan.collector.attributes:
                if use.node.attr.value != member:
                    continue
                verdict = self._refers_to_member(use, owner)
                if verdict == "no":
                    continue
                receiver: cst.CSTNode = use.node
                how = "attribute"
                if not method.is_property:
                    call = scan.collector.called.get(id(use.node))
                    receiver = call if call is not None else use.node
                    how = "accessor"
                found = scan.collector.method_calls.get(id(receiver)) if receiver is not None else None
                if verdict == "yes" and found is not None and _operation_name(channel, found[1]) is not None \
                        and (method.is_property or how == "accessor"):
                    rewritable.append(_OutsideCall(scan, found[0], found[1], found[2], how))
                else:
                    kept.append(self._where(scan, use.node))
        short = owner.rsplit(".", 1)[-1]
        kind = "property" if method.is_property else "method"
        if not rewritable and kept:
            listed = ", ".join(kept[:_MAX_LISTED])
            raise _CannotRewrite(method.span.line, f"{kind} `{short}.{member}` is used at {listed} in ways that can't "
                                                   f"be turned into method calls; left unchanged")
        defs, _ = self._methods(owner, channel, member, rewritable, f"self.{attr}", "method", plan)
        path = self.graph.path_of[method.qualname]
        if defs:
            plan.setdefault(path, _Edits()).add_methods[owner] = defs
        added = ", ".join(f"`{d.name.value}()`" for d in defs)
        if kept:
            listed = ", ".join(kept[:_MAX_LISTED]) + (" and more" if len(kept) > _MAX_LISTED else "")
            self.result.notes.append(f"added {added} to {short}; kept {kind} `{member}`: still used at {listed}")
        else:
            plan.setdefault(path, _Edits()).remove_methods.add(method.qualname)
            self.result.notes.append(
                (f"added {added} to {short} and removed" if added else "removed") + f" {kind} `{short}.{member}`; "
                f"code outside the analysed paths that uses it must be updated too")
        return plan

    def _plan_global(self, channel, name: str, binding) -> dict[str, _Edits]:
        module, path = channel.module, channel.path
        owner_scan = self.scans.get(path)
        if owner_scan is None:
            raise _CannotRewrite(binding.span.line, "the module could not be read again")
        private = self._choose(module, [f"_{name}", f"_{name}_channel"],
                               lambda n: self._module_name_taken(module, path, n))
        plan: dict[str, _Edits] = {}
        own = plan.setdefault(path, _Edits())
        scope = owner_scan.global_scope()
        for assignment in scope.assignments[name]:
            if isinstance(assignment.node, cst.Name):
                own.rename_name[id(assignment.node)] = private
            for reference in assignment.references:
                if isinstance(reference.node, cst.Name):
                    own.rename_name[id(reference.node)] = private
        for node in _global_statement_names(owner_scan.module, name):
            own.rename_name[id(node)] = private
        outside: list[_OutsideCall] = []
        importers: list[tuple[_Scan, cst.ImportAlias, list[cst.Name]]] = []
        for scan_path, scan in self.scans.items():
            for use in scan.collector.attributes:
                if use.node.attr.value != name or scan_path == path:
                    continue
                if self._refers_to(use, channel.id) == "yes":
                    outside.append(self._outside_call(scan, use.node, channel, "attribute"))
            if scan_path != path:
                for alias, names in self._imports_of(scan, module, name):
                    for node in names:
                        outside.append(self._outside_call(scan, node, channel, "name"))
                    importers.append((scan, alias, names))
        defs, functions = self._methods(module, channel, name, outside, private, "function", plan)
        for scan, alias, names in importers:
            wanted = sorted({functions[c.method] for c in outside if c.scan is scan and c.how == "name"})
            for other in wanted:
                if _word(other).search(scan.text):
                    raise _CannotRewrite(binding.span.line, f"{scan.facts.path} already uses the name `{other}`; "
                                                            f"left unchanged")
            plan.setdefault(scan.facts.path, _Edits()).import_names[id(alias)] = wanted
        listed = self.graph.module_all(module)
        if listed is not None:
            entries = _all_entries(owner_scan.module, name)
            if entries is None:
                raise _CannotRewrite(binding.span.line, f"`__all__` lists `{name}` in a form this codemod can't edit")
            for node in entries:
                own.all_entries[id(node)] = [d.name.value for d in defs]
        if defs:
            statement = _insertion_point(owner_scan, binding.span)
            if statement is None:
                raise _CannotRewrite(binding.span.line, "the assignment is not a module-level statement")
            own.add_functions[id(statement)] = defs
        self.result.notes.append(
            f"renamed module global `{name}` to `{private}`"
            + (f" and added {', '.join(f'`{d.name.value}()`' for d in defs)}" if defs else "")
            + "; code outside the analysed paths that uses it must be updated too")
        return plan

    def _imports_of(self, scan: _Scan, module: str, name: str):
        """``from <module> import name [as alias]`` in ``scan``: each alias with the names that use it."""
        found = []
        scope = None
        for node in _import_froms(scan.module):
            base = self._import_base(scan, node)
            if base is None or self.graph.canonical_module(base) != module:
                continue
            for alias in node.names if not isinstance(node.names, cst.ImportStar) else ():
                if facts_module._attr_text(alias.name) != name:
                    continue
                local = alias.asname.name.value if alias.asname is not None else name
                scope = scope or scan.global_scope()
                uses = []
                assignments = [a for a in scope.assignments[local] if getattr(a, "node", None) is node]
                if not assignments:
                    raise _CannotRewrite(scan.line(node), f"{self._where(scan, node)} imports `{name}` inside a "
                                                          f"function; left unchanged")
                for assignment in assignments:
                    for reference in assignment.references:
                        uses.append(reference.node)
                found.append((alias, uses))
        return found

    def _import_base(self, scan: _Scan, node: cst.ImportFrom) -> str | None:
        return scan.collector.resolve_relative(node)


def _order(method: str, channel) -> tuple[int, str]:
    return (0 if method in channel.api.put else 1 if method in channel.api.get else 2, method)


# ---- tree helpers ------------------------------------------------------------------------------


def _class_defs(module: cst.Module, dotted: str) -> list[cst.ClassDef]:
    found = []

    class Finder(cst.CSTVisitor):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.stack.append(node.name.value)
            if ".".join(self.stack) == dotted:
                found.append(node)

        def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
            self.stack.pop()

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.stack.append(node.name.value)

        def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
            self.stack.pop()

    module.visit(Finder())
    return found


def _global_statement_names(module: cst.Module, name: str) -> list[cst.Name]:
    found = []

    class Finder(cst.CSTVisitor):
        def visit_Global(self, node: cst.Global) -> None:
            found.extend(item.name for item in node.names if item.name.value == name)

    module.visit(Finder())
    return found


def _import_froms(module: cst.Module) -> list[cst.ImportFrom]:
    found = []

    class Finder(cst.CSTVisitor):
        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            found.append(node)

    module.visit(Finder())
    return found


def _all_entries(module: cst.Module, name: str) -> list[cst.CSTNode] | None:
    """The string elements naming ``name`` in ``__all__ = [...]`` / ``+= [...]``; None when
    ``__all__`` is built some other way."""
    found: list[cst.CSTNode] = []
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets, value = [], None
            if isinstance(small, cst.Assign):
                targets, value = [t.target for t in small.targets], small.value
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                targets, value = [small.target], small.value
            if not any(isinstance(t, cst.Name) and t.value == "__all__" for t in targets):
                continue
            if not isinstance(value, (cst.List, cst.Tuple)):
                return None
            for element in value.elements:
                if isinstance(element.value, cst.SimpleString) and element.value.evaluated_value == name:
                    found.append(element)
    return found


def _insertion_point(scan: _Scan, span: Span) -> cst.BaseStatement | None:
    """The module-level statement after which new functions go: the end of the block of
    simple statements (no blank line between them) that holds the assignment at ``span``."""
    positions = scan.wrapper.resolve(PositionProvider)
    body = scan.module.body
    for index, statement in enumerate(body):
        where = positions[statement]
        if where.start.line <= span.line <= where.end.line:
            while index + 1 < len(body) and isinstance(body[index + 1], cst.SimpleStatementLine) \
                    and not body[index + 1].leading_lines and isinstance(body[index], cst.SimpleStatementLine):
                index += 1
            return body[index]
    return None


class _Apply(cst.CSTTransformer):
    def __init__(self, module: str, edits: _Edits):
        super().__init__()
        self.module = module
        self.edits = edits
        self.stack: list[str] = []

    def _qualname(self) -> str:
        return ".".join([self.module, *self.stack])

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        qualname = self._qualname()
        self.stack.pop()
        body = list(updated_node.body.body)
        body = [s for s in body if not (isinstance(s, cst.FunctionDef) and f"{qualname}.{s.name.value}" in self.edits.remove_methods)]
        added = self.edits.add_methods.get(qualname, [])
        body += [d.with_changes(leading_lines=[cst.EmptyLine(indent=False)]) for d in added]
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()])]
        if body == list(updated_node.body.body):
            return updated_node
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.stack.pop()
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
        new = self.edits.rename_attribute.get(id(original_node))
        return updated_node.with_changes(attr=cst.Name(new)) if new else updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.edits.rename_name.get(id(original_node))
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        target = self.edits.redirect_call.get(id(original_node))
        if target is None:
            return updated_node
        receiver = updated_node.func.value  # ``x.inbox`` / ``INBOX`` / ``x.queue()``
        if isinstance(receiver, cst.Attribute):
            func: cst.BaseExpression = cst.Attribute(value=receiver.value, attr=cst.Name(target))
        elif isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
            func = cst.Attribute(value=receiver.func.value, attr=cst.Name(target))
        else:
            func = cst.Name(target)
        return updated_node.with_changes(func=func)

    def leave_ImportFrom(self, original_node: cst.ImportFrom,
                         updated_node: cst.ImportFrom) -> cst.ImportFrom | cst.RemovalSentinel:
        if isinstance(original_node.names, cst.ImportStar):
            return updated_node
        names = []
        changed = False
        for original, updated in zip(original_node.names, updated_node.names):
            replacement = self.edits.import_names.get(id(original))
            if replacement is None:
                names.append(updated)
                continue
            changed = True
            names += [cst.ImportAlias(name=cst.Name(n)) for n in replacement]
        if not changed:
            return updated_node
        if not names:
            return cst.RemovalSentinel.REMOVE  # it imported only the channel, and nothing uses it
        return updated_node.with_changes(names=_commas(names, updated_node.names))

    def leave_List(self, original_node: cst.List, updated_node: cst.List) -> cst.List:
        return self._all(original_node, updated_node)

    def leave_Tuple(self, original_node: cst.Tuple, updated_node: cst.Tuple) -> cst.Tuple:
        return self._all(original_node, updated_node)

    def _all(self, original_node, updated_node):
        if not any(id(e) in self.edits.all_entries for e in original_node.elements):
            return updated_node
        elements = []
        for original, updated in zip(original_node.elements, updated_node.elements):
            replacement = self.edits.all_entries.get(id(original))
            if replacement is None:
                elements.append(updated)
                continue
            quote = original.value.quote if isinstance(original.value, cst.SimpleString) else '"'
            elements += [cst.Element(cst.SimpleString(f"{quote}{n}{quote}")) for n in replacement]
        return updated_node.with_changes(elements=_commas(elements, updated_node.elements))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.edits.add_functions:
            return updated_node
        body: list[cst.BaseStatement] = []
        pad_next = False
        for original, updated in zip(original_node.body, updated_node.body):
            if pad_next:
                updated = updated.with_changes(leading_lines=_blank(2 - len(updated.leading_lines))
                                               + list(updated.leading_lines))
            body.append(updated)
            defs = self.edits.add_functions.get(id(original), [])
            body += [d.with_changes(leading_lines=_blank(2)) for d in defs]
            pad_next = bool(defs)
        return updated_node.with_changes(body=body)


def _blank(count: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=False) for _ in range(max(0, count))]


def _commas(items: list, template) -> list:
    """Comma-separate ``items`` the way ``template`` (the original sequence) was."""
    if not items:
        return items
    separator = next((t.comma for t in template if isinstance(getattr(t, "comma", None), cst.Comma)), None)
    separator = separator or cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    trailing = template[-1].comma if template else cst.MaybeSentinel.DEFAULT
    out = [item.with_changes(comma=separator) for item in items[:-1]]
    out.append(items[-1].with_changes(comma=trailing))
    return out
