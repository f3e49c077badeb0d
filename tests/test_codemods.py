"""Every codemod case: the exact output, that it parses, that fixing again changes nothing,
and that no finding of the fixed kind remains except on ``# remains:`` lines."""

from __future__ import annotations

import os

import libcst as cst
import pytest

from eventlint import api

from .codemod_cases import cases, contents, install

CODEMODS = {"add-timeouts": ("EVT003",), "privatize-queues": ("EVT001",), "migrate-to-bus": ("EVT001", "EVT002")}


def _fix(project, codemod, **options):
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return api.fix(["."], codemods=(codemod,), unsafe=True, jobs=1, use_cache=False, **options)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("case", [c for name in CODEMODS for c in cases(name)], ids=str)
def test_codemod_case(case, tmp_path):
    project = install(case, tmp_path / "project")
    expected = case.expected()
    assert set(expected) == set(case.files(case.before)), "the after side must hold the same files"
    result = _fix(project, case.codemod)
    got = contents(project, expected)
    for rel in expected:
        assert got[rel].decode("utf-8") == expected[rel].decode("utf-8"), f"{rel} differs"
        cst.parse_module(got[rel].decode("utf-8"))
    remaining = {(f.path, f.span.line, f.code) for f in result.remaining if f.code in CODEMODS[case.codemod]}
    assert remaining == case.remaining()
    again = _fix(project, case.codemod)
    assert again.changed == []
    assert contents(project, expected) == got


def test_every_codemod_has_cases():
    for name in CODEMODS:
        assert cases(name), name


def test_add_timeouts_skips_a_callee_that_takes_no_timeout(tmp_path):
    """A timeout is added only where the callee is known to accept it: a queue subclass whose
    own ``get`` takes no timeout is skipped, and the reason says so."""
    (case,) = [c for c in cases("add-timeouts") if c.name == "fix_safety"]
    project = install(case, tmp_path / "project")
    result = _fix(project, "add-timeouts")
    assert result.changed == []
    reasons = [(skip.line, skip.reason) for skip in result.skipped]
    assert reasons == [(43, "`Mailman.inbox.get()`: `Inbox.get` takes no `timeout` argument; not changed")]
