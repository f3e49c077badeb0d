"""One module per rule.  Each exposes ``RULE``, a ``Rule`` whose ``check`` takes the graph
and the settings and yields findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import Finding


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    summary: str
    fixable: str  # "no" | "safe" | "unsafe" | "sometimes"
    check: Callable[[EventGraph, Config], Iterator[Finding]]


def all_rules() -> list[Rule]:
    from . import (
        evt000_unanalyzable_file,
        evt001_exposed_raw_queue,
        evt002_mixed_type_channel,
        evt003_untimed_blocking_handler,
    )

    return [evt000_unanalyzable_file.RULE, evt001_exposed_raw_queue.RULE, evt002_mixed_type_channel.RULE,
            evt003_untimed_blocking_handler.RULE]


def rule_by_code() -> dict[str, Rule]:
    return {rule.code: rule for rule in all_rules()}
