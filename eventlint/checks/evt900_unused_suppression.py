"""EVT900: an eventlint suppression comment that silenced nothing.

Whether a comment was used is only known once every other rule has run and before any
finding is suppressed, so this rule reviews their findings (``Rule.review``) instead of
asking the graph; it runs only with ``--report-unused-suppressions``.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from ..model import FileFacts, Finding, Span
from . import Fixable, Review, Rule, all_rules

CODE = "EVT900"
NAME = "unused-suppression"
_COMMENT = re.compile(r"#\s*(?:eventlint:\s*ignore(?:\[[^\]]*\])?|noqa(?::\s*[A-Z0-9 ,]+)?)")


def review(seen: Review) -> Iterator[Finding]:
    """One finding per suppression comment that silenced nothing, except where a comment
    naming EVT900 silences the report itself.

    Only eventlint's own codes count: ``# noqa: E501`` belongs to another linter and is
    never reported, and a code whose rule did not run (``--select``) can't be judged.
    """
    by_path = {f.path: f for f in seen.files}
    for finding in _unused(seen):
        if not _names_code(finding, by_path.get(finding.path)):
            yield finding


def _unused(seen: Review) -> list[Finding]:
    known = {rule.code for rule in all_rules()}
    by_path = {f.path: f for f in seen.files}
    used: set[tuple[str, int, str]] = set()
    for finding in seen.findings:
        facts = by_path.get(finding.path)
        for s in facts.suppressions if facts is not None else ():
            if finding.span.line in s.applies_to and (not s.codes or finding.code in s.codes):
                used.add((finding.path, s.line, finding.code if s.codes else ""))
    reports: list[Finding] = []
    for facts in seen.files:
        for s in facts.suppressions:
            where = "on this line" if len(s.applies_to) == 1 else "on this or the next line"
            if not s.codes:
                if (facts.path, s.line, "") in used:
                    continue
                message = f"unused suppression: no finding {where} to silence"
            else:
                ours = [c for c in s.codes if c.startswith("EVT") and c != CODE]
                unknown = [c for c in ours if c not in known]
                idle = [c for c in ours if c in seen.ran and c not in unknown and (facts.path, s.line, c) not in used]
                if not unknown and not idle:
                    continue
                parts = []
                if idle:
                    parts.append(f"no {', '.join(idle)} finding {where} to silence")
                if unknown:
                    parts.append(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not an eventlint rule")
                message = "unused suppression: " + "; ".join(parts)
            reports.append(Finding(CODE, NAME, message, facts.path, _comment_span(facts.path, s.line, seen.line_text)))
    return reports


def _names_code(finding: Finding, facts: FileFacts | None) -> bool:
    """Silenced by a comment that names the code: a bare ``# eventlint: ignore`` must not
    hide the report that it is itself unused."""
    return facts is not None and any(
        finding.span.line in s.applies_to and finding.code in s.codes for s in facts.suppressions
    )


def _comment_span(path: str, line: int, line_text: Callable[[str, int], str | None] | None) -> Span:
    text = line_text(path, line) if line_text is not None else None
    match = _COMMENT.search(text) if text else None
    if match is None:
        return Span(line, 1, line, 1)
    return Span(line, match.start() + 1, line, match.end() + 1)


RULE = Rule(CODE, NAME, "A `# eventlint: ignore` or `# noqa: EVTnnn` comment that silences nothing "
            "(only with --report-unused-suppressions).", Fixable.NO, review=review)
