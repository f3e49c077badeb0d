"""``--format json``: one object with the findings and a summary."""

from __future__ import annotations

import json
from collections import Counter

from ..model import Finding


def finding_dict(f: Finding) -> dict:
    return {
        "code": f.code,
        "name": f.name,
        "message": f.message,
        "path": f.path,
        "line": f.span.line,
        "column": f.span.column,
        "end_line": f.span.end_line,
        "end_column": f.span.end_column,
        "symbol": f.symbol,
        "related": [
            {"path": r.path, "line": r.span.line, "column": r.span.column, "message": r.message} for r in f.related
        ],
        "fix": None if f.fix is None else {"safety": f.fix.safety, "description": f.fix.description},
    }


def render(findings: list[Finding], files: int, unanalyzable: int) -> str:
    summary = {
        "files": files,
        "findings": len(findings),
        "by_code": dict(sorted(Counter(f.code for f in findings).items())),
        "unanalyzable": unanalyzable,
    }
    return json.dumps({"findings": [finding_dict(f) for f in findings], "summary": summary}, indent=2) + "\n"
