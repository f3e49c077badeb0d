"""What a new user meets in the first hour: the command list of ``--help``, ``check --fix``,
the count of fixes ``--unsafe-fixes`` would add, and the fixable count in the summary."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventlint.cli import cli, main

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """A copy of the demo project (without any cache folder), as the current folder."""
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns(".eventlint_cache", "__pycache__"))
    monkeypatch.chdir(target)
    return target


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))}


# ---- --help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_help_lists_every_command_with_a_whole_sentence_on_one_line(columns):
    result = CliRunner().invoke(cli, ["--help"], terminal_width=columns, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    listing = result.output.split("Commands:\n", 1)[1].splitlines()
    names = {name for name in cli.commands}
    rows = [line.split(None, 1) for line in listing if line.strip()]
    assert {row[0] for row in rows} == names  # one line per command: no line wrapped onto the next
    for name, text in rows:
        assert text.endswith(".") and not text.endswith("..."), (name, text)
    # ``[ARGS]...`` of the usage line is click's notation for "repeatable", not a cut
    assert not any(line.rstrip().endswith("...") for line in result.output.splitlines()[1:])


@pytest.mark.parametrize("command", ["check", "fix", "codemods", "rules", "explain", "graph"])
def test_no_help_text_is_cut(command):
    result = CliRunner().invoke(cli, [command, "--help"], prog_name="eventlint", terminal_width=80,
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Usage: eventlint {command} ")
    assert not [line for line in lines[1:] if line.rstrip().endswith("...")]


# ---- check --fix ----------------------------------------------------------------------------


def test_check_fix_is_fix(demo, tmp_path, monkeypatch, capsys):
    other = tmp_path / "other"
    shutil.copytree(demo, other)
    assert main(["check", "--fix", "--no-cache", "-j", "1"]) == 1
    by_check = capsys.readouterr().out
    fixed_by_check = _tree(demo)
    assert fixed_by_check != _tree(DEMO)
    assert 'json={"to": to, "subject": subject, "body": body}, timeout=10.0)' in fixed_by_check["shop/notify.py"]
    monkeypatch.chdir(other)
    assert main(["fix", "--no-cache", "-j", "1"]) == 1
    assert capsys.readouterr().out == by_check
    assert _tree(other) == fixed_by_check


def test_check_fix_with_unsafe_fixes_and_diff(demo, capsys):
    assert main(["check", "--fix", "--unsafe-fixes", "--diff", "--no-cache", "-j", "1"]) == 1
    by_check = capsys.readouterr()
    assert main(["fix", "--unsafe-fixes", "--diff", "--no-cache", "-j", "1"]) == 1
    by_fix = capsys.readouterr()
    assert (by_check.out, by_check.err) == (by_fix.out, by_fix.err)
    assert "+        self._inbox = queue.Queue()\n" in by_check.out
    assert _tree(demo) == _tree(DEMO)  # --diff writes nothing


def test_check_diff_alone_implies_fix(demo, capsys):
    assert main(["check", "--diff", "--no-cache", "-j", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("--- a/shop/notify.py\n+++ b/shop/notify.py\n")
    assert "Would change 1 file." in captured.err


@pytest.mark.parametrize("option", [["--format", "json"], ["--statistics"], ["--exit-zero"], ["--output", "x.txt"],
                                    ["--baseline", "b.json"], ["--write-baseline", "b.json"],
                                    ["--report-unused-suppressions"]])
def test_check_fix_refuses_the_options_of_a_report(demo, capsys, option):
    assert main(["check", "--fix", *option]) == 2
    assert f"{option[0]} is an option of the report: it cannot be used with --fix or --diff" in capsys.readouterr().err
    assert _tree(demo) == _tree(DEMO)


def test_unsafe_fixes_without_fix_is_a_usage_error(demo, capsys):
    assert main(["check", "--unsafe-fixes"]) == 2
    assert "--unsafe-fixes applies fixes: use it with --fix" in capsys.readouterr().err


# ---- how many more fixes --unsafe-fixes applies ------------------------------------------------


def _fixed(text: str) -> int:
    return sum(int(n) for n in re.findall(r": (?:would fix|fixed) (\d+) findings?$", text, re.MULTILINE))


def test_the_unsafe_count_is_what_unsafe_fixes_applies(demo, capsys):
    assert main(["fix", "--diff", "--no-cache", "-j", "1"]) == 1
    safe = capsys.readouterr().err
    assert "2 more fixes can be applied with --unsafe-fixes." in safe.splitlines()
    more = int(re.search(r"^(\d+) more fix(?:es)? can be applied with --unsafe-fixes\.$", safe, re.MULTILINE)[1])
    assert main(["fix", "--unsafe-fixes", "--no-cache", "-j", "1"]) == 1
    applied = capsys.readouterr().out
    assert "Fixed 4 findings in 6 files." in applied
    assert _fixed(safe) + more == _fixed(applied) == 4


def test_no_unsafe_count_when_unsafe_fixes_would_skip_every_site(tmp_path, monkeypatch, capsys):
    """A bounded asyncio queue is left alone by migrate-to-bus: no more fixes to announce."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    (tmp_path / "feed.py").write_text(
        "import asyncio\n\n\nclass Feed:\n    def __init__(self):\n        self._queue = asyncio.Queue(maxsize=10)\n\n"
        "    async def user(self, name):\n        await self._queue.put({'type': 'user', 'name': name})\n\n"
        "    async def payment(self, amount):\n        await self._queue.put({'type': 'payment', 'amount': amount})\n\n"
        "    async def consume(self):\n        event = await self._queue.get()\n"
        "        if event['type'] == 'user':\n            return 1\n        elif event['type'] == 'payment':\n"
        "            return 2\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "-j", "1"]) == 1
    assert "EVT002" in capsys.readouterr().out
    assert main(["fix", "--no-cache", "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert "1 finding remains (EVT002)" in out
    assert "--unsafe-fixes" not in out


# ---- the summary line -----------------------------------------------------------------------


def test_summary_says_how_many_findings_are_fixable(demo, capsys):
    assert main(["check", "--no-cache", "-j", "1"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Found 6 findings in 8 files checked; 2 fixable with `eventlint fix` (4 more with --unsafe-fixes).")
    assert main(["check", "--no-cache", "-j", "1", "--select", "EVT003"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Found 2 findings in 8 files checked; 2 fixable with `eventlint fix`.")
    assert main(["check", "--no-cache", "-j", "1", "--select", "EVT001"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Found 2 findings in 8 files checked; 2 fixable with `eventlint fix --unsafe-fixes`.")
    assert main(["check", "--no-cache", "-j", "1", "--format", "json"]) == 1
    assert set(__import__("json").loads(capsys.readouterr().out)["summary"]) == {
        "files", "findings", "by_code", "unanalyzable"}
