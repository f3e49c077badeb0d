"""What the migrations of one run share: the graph, the parsed files, the edits of the
channels already planned.

Edits are keyed by the id of an original node, so planning never changes a tree and the
edits of several channels in one file apply in a single pass (``emission.render``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import libcst as cst

from ...discovery import source_files
from ...graph import Channel, EventGraph
from .. import FixRun
from .source import Skip, Source


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

    def __init__(self, graph: EventGraph, context: FixRun):
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
                files = source_files([root], root, config.exclude + config.extend_exclude, config.src,
                                     respect_gitignore=config.respect_gitignore)
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
