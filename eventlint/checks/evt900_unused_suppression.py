"""EVT900: an eventlint suppression comment that silenced nothing.

Whether a comment was used is only known once every rule has run and before any finding
is suppressed, so the engine decides (``engine.unused_suppressions``) and only when
``--report-unused-suppressions`` is given.  This module gives the rule its code, name and
summary for ``eventlint rules``, ``explain`` and SARIF; its graph check yields nothing.
"""

from __future__ import annotations

from typing import Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding
from . import Rule

CODE = "EVT900"
NAME = "unused-suppression"


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    return iter(())


RULE = Rule(CODE, NAME, "A `# eventlint: ignore` or `# noqa: EVTnnn` comment that silences nothing "
            "(only with --report-unused-suppressions).", "no", check)
