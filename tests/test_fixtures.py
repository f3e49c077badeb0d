"""Every fixture case: the findings of its rule must be exactly its ``# expect:`` lines."""

from __future__ import annotations

import os

import pytest

from eventlint import api

from .fixture_cases import FIXTURES, cases, expected

RULES = ["EVT001", "EVT002", "EVT003"]


def _run(case, code):
    cwd = os.getcwd()
    os.chdir(FIXTURES)
    try:
        result = api.check([case.relative_to(FIXTURES).as_posix()], select=(code,), jobs=1, use_cache=False)
    finally:
        os.chdir(cwd)
    return result


@pytest.mark.parametrize(
    "code,case", [(code, case) for code in RULES for case in cases(code)], ids=lambda v: getattr(v, "name", v)
)
def test_fixture(code, case):
    result = _run(case, code)
    found = {(f.path, f.span.line, f.code) for f in result.findings}
    want = expected(case)
    assert not [f for f in result.files if f.problem], "fixture does not parse"
    missing, extra = sorted(want - found), sorted(found - want)
    assert not missing and not extra, f"missing: {missing}\nextra: {extra}"
