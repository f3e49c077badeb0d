"""Codemods: libcst rewrites that migrate code found by the checks.

A codemod reads the graph and the findings and returns new file contents; it never
writes.  ``eventlint.fixer`` verifies and writes them (re-parse, atomic rename, skip
files changed since they were read, keep encoding and newlines).
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
class CodemodContext:
    graph: object  # eventlint.graph.EventGraph
    findings: list[Finding]  # root-relative paths
    config: Config
    root: Path
    read: Callable[[str], str]  # root-relative path -> current text (already edited by earlier codemods)
    unsafe: bool = False
    timeout: float = 10.0


@dataclass
class CodemodResult:
    changes: dict[str, str] = field(default_factory=dict)  # root-relative path -> new text
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Codemod(Protocol):
    name: str
    description: str
    safety: str  # "safe" | "unsafe" | "mixed" (per site, from the catalogue)

    def run(self, context: CodemodContext) -> CodemodResult: ...
