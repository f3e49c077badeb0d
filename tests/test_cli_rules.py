"""``eventlint rules`` and ``eventlint explain CODE``."""

from __future__ import annotations

import json

from eventlint.catalog import rules_dir
from eventlint.checks import all_rules
from eventlint.cli import main


def test_rules_table(capsys):
    assert main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["code", "name", "fixable", "summary"]
    rows = {line.split()[0]: line.split(None, 3) for line in lines[1:]}
    assert set(rows) == {r.code for r in all_rules()} == {"EVT000", "EVT001", "EVT002", "EVT003", "EVT900"}
    assert rows["EVT001"][:3] == ["EVT001", "exposed-raw-queue", "unsafe"]
    assert rows["EVT900"][:3] == ["EVT900", "unused-suppression", "no"]
    summary_column = lines[0].index("summary")
    assert all(line[summary_column - 2:summary_column] == "  " for line in lines)


def test_rules_json(capsys):
    assert main(["rules", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in rows] == ["EVT000", "EVT001", "EVT002", "EVT003", "EVT900"]
    assert set(rows[0]) == {"code", "name", "fixable", "summary"}


def test_explain_prints_the_rule_page(capsys):
    assert main(["explain", "EVT001"]) == 0
    assert capsys.readouterr().out == (rules_dir() / "EVT001.md").read_text(encoding="utf-8")
    assert main(["explain", "evt900"]) == 0
    assert capsys.readouterr().out.startswith("# EVT900 unused-suppression\n\n## What it does\n")


def test_explain_unknown_code_is_one_line_exit_2(capsys):
    assert main(["explain", "EVT999"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "eventlint: error: unknown rule code 'EVT999' (`eventlint rules` lists them)\n"
