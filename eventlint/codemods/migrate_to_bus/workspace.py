"""What the migrations of one run share: the graph, the parsed files, the edits of the
channels already planned; and the step that applies those edits to each file at the end.

Edits are keyed by the id of an original node, so planning never changes a tree and the
edits of several channels in one file apply in a single pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import libcst as cst
from libcst.codemod import CodemodContext as _LibcstContext
from libcst.codemod.visitors import AddImportsVisitor

from ...discovery import source_files
from ...graph import Channel, EventGraph
from .. import CodemodContext
from .cleanup import drop_orphaned_imports, drop_orphaned_sentinels
from .source import Skip, Source, is_docstring, is_import_line


@dataclass
class Edits:
    """Edits to one file, keyed by the id of the original node."""

    replace: dict[int, Callable] = field(default_factory=dict)
    remove: set[int] = field(default_factory=set)
    after: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)
    top: list[cst.BaseStatement] = field(default_factory=list)  # after the leading imports
    imports: list[tuple[str, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # new module or class names

    def touched(self) -> set[int]:
        return set(self.replace) | self.remove | set(self.after)


class PlannedEdits:
    """The edits one channel's migration plans, by root-relative path."""

    def __init__(self) -> None:
        self.by_file: dict[str, Edits] = {}

    def file(self, rel: str) -> Edits:
        return self.by_file.setdefault(rel, Edits())


class Workspace:
    """What the migrations share: the graph, parsed files, committed edits."""

    def __init__(self, graph: EventGraph, context: CodemodContext):
        self.graph = graph
        self.context = context
        self.facts = {f.path: f for f in graph.files if f.problem is None}
        self._sources: dict[str, Source] = {}
        self._texts: dict[str, str] = {}
        self.edits: dict[str, Edits] = {}
        self.migrated: list[Channel] = []
        self._unanalysed: list[Path] | None = None
        self._outside_texts: dict[Path, str] = {}

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = self.context.read(rel)
        return self._texts[rel]

    def source(self, rel: str) -> Source:
        if rel not in self._sources:
            self._sources[rel] = Source(rel, self.text(rel), self.facts[rel])
        return self._sources[rel]

    def sources_mentioning(self, word: str) -> Iterator[Source]:
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

    def names_taken(self, rel: str) -> set[str]:
        """The names earlier migrations already added to ``rel``."""
        return set(self.edits[rel].names) if rel in self.edits else set()

    def commit(self, channel: Channel, planned: PlannedEdits) -> None:
        for rel, edits in planned.by_file.items():
            mine = self.edits.get(rel)
            if mine is not None and mine.touched() & edits.touched():
                raise Skip("its edits overlap the migration of another channel in " + rel)
        for rel, edits in planned.by_file.items():
            mine = self.edits.setdefault(rel, Edits())
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
            module = drop_orphaned_imports(source.module, module)
            module = drop_orphaned_sentinels(source.module, module)
            text = module.code
            try:
                cst.parse_module(text)
            except cst.ParserSyntaxError as error:
                raise Skip(f"the rewritten {rel} would not parse ({error.message}); nothing was changed") from None
            if text != self.text(rel):
                changes[rel] = text
        return changes


class _Apply(cst.CSTTransformer):
    def __init__(self, edits: Edits, module: cst.Module):
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
