"""Every fixture case: the findings of its rule must be exactly its ``# expect:`` lines."""

from __future__ import annotations

import os

import pytest

from eventlint import api
from eventlint.checks import all_rules

from .fixture_cases import FIXTURES, cases, expected

# Every rule of the registry is proven by its fixtures, except EVT000: its cases are files
# that can't be read or parsed, made at test time (tests/test_bad_input.py).
GRAPH_RULES = [rule.code for rule in all_rules() if rule.check is not None and rule.code != "EVT000"]
REVIEW_RULES = [rule.code for rule in all_rules() if rule.review is not None]


def test_every_rule_has_fixtures():
    assert [code for code in GRAPH_RULES + REVIEW_RULES if not cases(code)] == []


def _run(case, code):
    cwd = os.getcwd()
    os.chdir(FIXTURES)
    try:
        # a reviewing rule (EVT900) judges the findings of the rules that ran: its cases run every rule
        reviews = code in REVIEW_RULES
        result = api.check([case.relative_to(FIXTURES).as_posix()], select=() if reviews else (code,), jobs=1,
                           use_cache=False, report_unused_suppressions=reviews)
    finally:
        os.chdir(cwd)
    return result


@pytest.mark.parametrize(
    "code,case", [(code, case) for code in GRAPH_RULES + REVIEW_RULES for case in cases(code)],
    ids=lambda v: getattr(v, "name", v),
)
def test_fixture(code, case):
    result = _run(case, code)
    found = {(f.path, f.span.line, f.code) for f in result.findings if f.code == code}
    want = expected(case)
    assert not [f for f in result.files if f.problem], "fixture does not parse"
    missing, extra = sorted(want - found), sorted(found - want)
    assert not missing and not extra, f"missing: {missing}\nextra: {extra}"


@pytest.mark.parametrize(
    "code,case", [(code, case) for code in GRAPH_RULES for case in cases(code) if expected(case)],
    ids=lambda v: getattr(v, "name", v),
)
def test_fixture_expectations_as_suppressions(tmp_path, monkeypatch, code, case):
    """Rewriting every ``# expect: CODE`` into ``# eventlint: ignore[CODE]`` silences the case."""
    import re
    import shutil

    copy = tmp_path / case.name
    if case.is_dir():
        shutil.copytree(case, copy)
    else:
        shutil.copy(case, copy)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'case'\n")
    for path in [copy] if copy.is_file() else copy.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"#\s*expect:\s*([A-Z0-9, ]+)", r"# eventlint: ignore[\1]", text), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = api.check([case.name], select=(code,), jobs=1, use_cache=False)
    assert [(f.path, f.span.line) for f in result.findings] == []
