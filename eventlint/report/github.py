"""``--format github``: one workflow command per finding, which GitHub Actions shows as an
annotation on the pull request's diff.

Escaping follows the runner's rules: in the message ``%``, ``\\r`` and ``\\n``; in property
values also ``:`` and ``,`` (they delimit the properties).
"""

from __future__ import annotations

from ..model import Finding


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    span = finding.span
    properties = {
        "file": finding.path,
        "line": span.line,
        "col": span.column,
        "endLine": span.end_line,
        "endColumn": span.end_column,
        "title": f"{finding.code} {finding.name}",
    }
    joined = ",".join(f"{key}={_property(str(value))}" for key, value in properties.items())
    return f"::error {joined}::{_data(finding.message)}"


def render(findings: list[Finding]) -> str:
    return "".join(annotation(f) + "\n" for f in findings)
