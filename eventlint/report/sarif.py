"""``--format sarif``: one SARIF 2.1.0 log, valid against the OASIS schema.

Artifact URIs are the report's paths (relative to the current directory) under the base
id ``%SRCROOT%``, which ``originalUriBaseIds`` maps to the current directory; run from the
repository root, they are what GitHub code scanning expects.  Columns are code points
(``columnKind``) and ``endColumn`` is exclusive, as in ``Finding.span``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..catalog import rules_dir
from ..checks import Rule
from ..model import Finding, Location, Span, TextEdit

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/eventlint/"
BASE_ID = "%SRCROOT%"


def rule_page(code: str) -> str | None:
    try:
        return (rules_dir() / f"{code}.md").read_text(encoding="utf-8")
    except OSError:
        return None


def _section(page: str, heading: str) -> str:
    """The first paragraph under ``## heading``, on one line."""
    match = re.search(rf"^## {re.escape(heading)}\n+(.+?)(?:\n\n|\n#|\Z)", page, re.S | re.M)
    return " ".join(match.group(1).split()) if match else ""


def _rule(rule: Rule) -> dict:
    page = rule_page(rule.code)
    entry: dict = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": (_section(page, "What it does") if page else "") or rule.summary},
        "defaultConfiguration": {"level": "error"},
        "properties": {"fixable": rule.fixable},
    }
    if page is not None:
        entry["help"] = {"text": page, "markdown": page}
    return entry


def _artifact(path: str) -> dict:
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": BASE_ID}


def _region(span: Span) -> dict:
    return {"startLine": span.line, "startColumn": span.column, "endLine": span.end_line,
            "endColumn": span.end_column}


def _location(path: str, span: Span) -> dict:
    return {"physicalLocation": {"artifactLocation": _artifact(path), "region": _region(span)}}


def _related(number: int, location: Location) -> dict:
    entry = {"id": number, **_location(location.path, location.span)}
    if location.message:
        entry["message"] = {"text": location.message}
    return entry


def _fix(finding: Finding) -> dict:
    by_path: dict[str, list[TextEdit]] = defaultdict(list)
    for edit in finding.fix.edits:
        by_path[edit.path].append(edit)
    return {
        "description": {"text": f"{finding.fix.description} ({finding.fix.safety})"},
        "artifactChanges": [
            {
                "artifactLocation": _artifact(path),
                "replacements": [{"deletedRegion": _region(e.span), "insertedContent": {"text": e.replacement}}
                                 for e in edits],
            }
            for path, edits in by_path.items()
        ],
    }


def _result(finding: Finding, index: dict[str, int]) -> dict:
    result: dict = {
        "ruleId": finding.code,
        "level": "error",
        "message": {"text": finding.message},
        "locations": [_location(finding.path, finding.span)],
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    if finding.related:
        result["relatedLocations"] = [_related(number, r) for number, r in enumerate(finding.related, 1)]
    if finding.fix is not None and finding.fix.edits:
        result["fixes"] = [_fix(finding)]
    if finding.symbol:
        result["properties"] = {"symbol": finding.symbol}
    return result


def render(findings: list[Finding], rules: list[Rule], *, base: Path) -> str:
    """``rules``: the rules that ran (and any other rule a finding names); ``base``: the
    folder the report's relative paths start from."""
    described = list({rule.code: rule for rule in rules}.values())
    index = {rule.code: number for number, rule in enumerate(described)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "eventlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule) for rule in described],
                    }
                },
                "originalUriBaseIds": {BASE_ID: {"uri": base.resolve().as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
