"""Codemods: libcst rewrites that migrate code found by the checks.

A codemod reads the graph and the findings (each with the fix plan its check made) and
returns new file contents; it never writes.  ``eventlint.fixer`` verifies and writes them
(re-parse, atomic rename, skip files changed since they were read, keep encoding and
newlines).  The rewrite of one file is a ``libcst.codemod`` command; the ``Codemod`` here
is the project-wide step around those commands that ``eventlint fix`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ..config import Config
from ..model import Finding


@dataclass(frozen=True, slots=True)
class Skipped:
    """A site left untouched, and why."""

    path: str  # relative to the project root
    line: int
    reason: str


@dataclass
class FixRun:
    """One codemod's run over the project: what it may read and what it was asked to fix.
    (libcst's own ``libcst.codemod.CodemodContext`` is the per-file context of a command.)"""

    graph: object  # eventlint.graph.EventGraph
    findings: list[Finding]  # root-relative paths
    config: Config
    root: Path
    read: Callable[[str], str]  # root-relative path -> current text (already edited by earlier codemods)
    unsafe: bool = False
    timeout: float = 10.0
    # path -> (text, parsed tree): runs that share one dict (each finding's fix spelled out
    # for SARIF) parse each file once
    parsed: dict = field(default_factory=dict)

    def parse(self, path: str):
        """The file's current text as a libcst ``MetadataWrapper`` (read-only: transform
        its ``module`` into a new tree, never in place)."""
        from ._cst import parse

        text = self.read(path)
        entry = self.parsed.get(path)
        if entry is None or entry[0] != text:
            entry = self.parsed[path] = (text, parse(text))
        return entry[1]


@dataclass
class CodemodResult:
    changes: dict[str, str] = field(default_factory=dict)  # root-relative path -> new text
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Codemod(Protocol):
    name: str
    description: str
    safety: str  # "safe" | "unsafe" | "mixed" (per site, from the catalogue)

    def run(self, context: FixRun) -> CodemodResult: ...

