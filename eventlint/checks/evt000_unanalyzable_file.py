"""EVT000: a file that could not be read, decoded or parsed."""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding
from . import Rule

CODE = "EVT000"
NAME = "unanalyzable-file"


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    for facts in graph.files:
        if facts.problem is not None:
            yield Finding(CODE, NAME, f"cannot analyse this file: {facts.problem.reason}", facts.path, facts.problem.span)


RULE = Rule(CODE, NAME, "The file could not be read, decoded or parsed; every other file is still checked.", "no", check)
