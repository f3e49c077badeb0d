"""EVT000: a file that could not be read, decoded or parsed, or whose analysis failed."""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding, Span
from . import Fixable, Rule

CODE = "EVT000"
NAME = "unanalyzable-file"
_START = Span(1, 1, 1, 1)


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    for facts in graph.files:
        if facts.problem is not None:
            yield Finding(CODE, NAME, f"cannot analyse this file: {facts.problem.reason}", facts.path, facts.problem.span)
    yield from failures(graph)


def failures(graph: EventGraph) -> list[Finding]:
    """One finding per module whose analysis stopped on an unexpected error.  Some are only
    met while a rule asks the graph its questions, so they are collected after every rule."""
    return [Finding(CODE, NAME, f"internal error while analysing this module ({failure.stage}): {failure.error}",
                    failure.path, _START, symbol=failure.module)
            for failure in getattr(graph, "failures", ())]


def rule_failure(graph: EventGraph, rule: Rule, error: Exception) -> list[Finding]:
    """A rule that stopped on an unexpected error, reported at the first analysed file: its
    findings (for every file) are incomplete, and the run goes on with the other rules."""
    if not graph.files:
        return []
    text = " ".join(str(error).split())[:200]
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return [Finding(CODE, NAME, f"internal error in rule {rule.code} ({rule.name}); its findings are incomplete: {reason}",
                    graph.files[0].path, _START, symbol=rule.code)]


RULE = Rule(CODE, NAME, "The file could not be read, decoded or parsed; every other file is still checked.", Fixable.NO, check)
