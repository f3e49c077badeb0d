"""Every rule has a page with the standard headings, and every example on it is run:
a ``bad`` example must produce the rule's code, a ``good`` one must not."""

from __future__ import annotations

import re

import pytest

from eventlint import api
from eventlint.catalog import rules_dir
from eventlint.checks import all_rules, rule_by_code

HEADINGS = ["What it does", "Why is this bad", "Example", "Use instead", "Fix and its safety", "Options", "References"]
BLOCK = re.compile(r"^```python (bad|good)\n(.*?)^```", re.S | re.M)


def _examples():
    for rule in all_rules():
        page = (rules_dir() / f"{rule.code}.md").read_text(encoding="utf-8")
        for number, (verdict, code) in enumerate(BLOCK.findall(page), 1):
            yield pytest.param(rule.code, verdict, code, id=f"{rule.code}-{number}-{verdict}")


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_page_has_every_heading(rule):
    page = (rules_dir() / f"{rule.code}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# {rule.code} {rule.name}\n")
    found = re.findall(r"^## (.+)$", page, re.M)
    assert found == HEADINGS
    assert BLOCK.search(page), "a page needs at least one example"


@pytest.mark.parametrize("code,verdict,source", list(_examples()))
def test_page_example(tmp_path, monkeypatch, code, verdict, source):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'example'\n")
    (tmp_path / "example.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    reviews = rule_by_code()[code].review is not None  # it judges the other rules' findings: run them all
    result = api.check(["example.py"], select=() if reviews else (code,), jobs=1, use_cache=False,
                       report_unused_suppressions=reviews)
    codes = [f.code for f in result.findings]
    if verdict == "bad":
        assert code in codes
    else:
        assert codes == []
