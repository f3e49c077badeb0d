"""The edits ``privatize-queues`` makes to one file, and the ``libcst.codemod`` command that
makes them.  An edit names its node by where it is (its span in the file as read), so the
plan can be made on one parse of the file and carried out on another."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ...model import Span
from .._cst import Command, span_of


@dataclass
class Edits:
    """Edits to one file, gathered over every channel of the run."""

    rename_attribute: dict[Span, str] = field(default_factory=dict)  # ``x.<attr>`` -> new attr
    rename_name: dict[Span, str] = field(default_factory=dict)  # a name -> new name
    redirect_call: dict[Span, str] = field(default_factory=dict)  # a call -> the method/function it becomes
    add_methods: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)  # class qualname -> defs
    add_functions: dict[Span, list[cst.FunctionDef]] = field(default_factory=dict)  # module statement -> defs after it
    remove_methods: set[str] = field(default_factory=set)  # method qualnames
    import_names: dict[Span, list[str]] = field(default_factory=dict)  # an imported name -> names imported instead
    all_entries: dict[Span, list[str]] = field(default_factory=dict)  # an ``__all__`` element -> names listed instead

    def merge(self, other: Edits) -> None:
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


class ApplyEdits(Command):
    """Rename, redirect, add and remove what ``edits`` says in one module."""

    DESCRIPTION = "Make planned channel attributes private and redirect outside calls to new methods."
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, module: str, edits: Edits, wrapper: MetadataWrapper | None = None):
        super().__init__(context)
        self.module_name = module
        self.edits = edits
        self.stack: list[str] = []  # the enclosing classes and functions
        self.wrapper = wrapper  # the scan's, whose positions the edits were addressed by
        self.positions: Mapping[cst.CSTNode, CodeRange] | None = None

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """The tree the scan read is rewritten in one walk with the positions the scan
        already has (libcst's codemod machinery would copy it and position it again)."""
        if self.wrapper is None or tree is not self.wrapper.module:
            return super().rewrite(tree)
        self.positions = self.wrapper.resolve(PositionProvider)
        return tree.visit(self)

    def _at(self, node: cst.CSTNode, edits: dict[Span, object]):
        if not edits:
            return None
        where = self.positions[node] if self.positions is not None else self.get_metadata(PositionProvider, node)
        return edits.get(span_of(where))

    def _qualname(self) -> str:
        return ".".join([self.module_name, *self.stack])

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        qualname = self._qualname()
        self.stack.pop()
        body = [s for s in updated_node.body.body
                if not (m.matches(s, m.FunctionDef()) and f"{qualname}.{s.name.value}" in self.edits.remove_methods)]
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
        new = self._at(original_node, self.edits.rename_attribute)
        return updated_node.with_changes(attr=cst.Name(new)) if new else updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self._at(original_node, self.edits.rename_name)
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        target = self._at(original_node, self.edits.redirect_call)
        if target is None:
            return updated_node
        receiver = updated_node.func.value  # ``x.inbox`` / ``INBOX`` / ``x.queue()``
        if m.matches(receiver, m.Attribute()):
            func: cst.BaseExpression = cst.Attribute(value=receiver.value, attr=cst.Name(target))
        elif m.matches(receiver, m.Call(func=m.Attribute())):
            func = cst.Attribute(value=receiver.func.value, attr=cst.Name(target))
        else:
            func = cst.Name(target)
        return updated_node.with_changes(func=func)

    def leave_ImportFrom(self, original_node: cst.ImportFrom,
                         updated_node: cst.ImportFrom) -> cst.ImportFrom | cst.RemovalSentinel:
        if m.matches(original_node.names, m.ImportStar()) or not self.edits.import_names:
            return updated_node
        names = []
        changed = False
        for original, updated in zip(original_node.names, updated_node.names):
            replacement = self._at(original, self.edits.import_names)
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
        replacements = [self._at(e, self.edits.all_entries) for e in original_node.elements]
        if not any(r is not None for r in replacements):
            return updated_node
        elements = []
        for original, updated, replacement in zip(original_node.elements, updated_node.elements, replacements):
            if replacement is None:
                elements.append(updated)
                continue
            quote = original.value.quote if m.matches(original.value, m.SimpleString()) else '"'
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
            defs = self._at(original, self.edits.add_functions) or []
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
