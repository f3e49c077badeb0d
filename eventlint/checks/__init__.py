"""The rules.  Each public module (or package) here is one rule and exposes ``RULE``; the
registry finds them, so adding a rule is adding its module, its page ``rules/EVTnnn.md``
and its fixtures ``fixtures/EVTnnn/`` — nothing else.

Two kinds of rule share one record: most answer from the graph (``check``); a rule that
judges the other rules' output, such as EVT900 on suppressions, has ``review`` instead and
runs after every graph rule, on their findings before any is suppressed."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Iterator

from ..config import Config
from ..graph import EventGraph
from ..model import FileFacts, Finding, Named


@dataclass(frozen=True, slots=True)
class Review:
    """What a reviewing rule sees: every graph rule's findings before suppressions and
    per-file ignores, the files' facts, the codes of the rules that ran, and the text of a
    line (``None`` when unknown) for positioning a finding on a comment."""

    findings: tuple[Finding, ...]
    files: tuple[FileFacts, ...]
    ran: tuple[str, ...]
    line_text: Callable[[str, int], str | None] | None = None


class Fixable(Named):
    """Whether a rule's findings come with a fix (``eventlint rules`` shows it)."""

    NO = "no"
    SAFE = "safe"  # always, and the fix is safe
    UNSAFE = "unsafe"  # always, and the fix is unsafe
    SOMETIMES = "sometimes"  # some findings have a fix, safe or unsafe by the API involved


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    summary: str
    fixable: Fixable
    check: Callable[[EventGraph, Config], Iterator[Finding]] | None = None
    review: Callable[[Review], Iterator[Finding]] | None = None


@functools.lru_cache(maxsize=1)
def _registry() -> tuple[Rule, ...]:
    rules = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue  # a rule's private helpers
        rule = getattr(importlib.import_module(f"{__name__}.{module.name}"), "RULE", None)
        if isinstance(rule, Rule):
            rules.append(rule)
    codes = [rule.code for rule in rules]
    if len(set(codes)) != len(codes):
        raise RuntimeError(f"two rules share a code: {sorted(codes)}")
    return tuple(sorted(rules, key=lambda rule: rule.code))


def all_rules() -> list[Rule]:
    """Every rule, by code."""
    return list(_registry())


def rule_by_code() -> dict[str, Rule]:
    return {rule.code: rule for rule in _registry()}
