"""Lines are numbered as Python numbers them (``\\n``, ``\\r\\n``, ``\\r``) wherever positions
meet text: suppressions, EVT900, baseline fingerprints and the text reporter's excerpt.
``str.splitlines`` also breaks at form feeds, ``\\v``, ``\\x1c``-``\\x1e``, ``\\x85`` and
U+2028/2029, which would put every later comment one line too low."""

from __future__ import annotations

import json

import pytest

from eventlint import api
from eventlint.cli import main
from eventlint.model import split_lines

ODD_BREAKS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _source(odd: str, where: str) -> str:
    above = f"NOTE = 'a{odd}b'\n" if where == "string" else f"# a{odd}b\n"
    return f"import queue\n{above}EVENTS = queue.Queue()  # eventlint: ignore[EVT001]\n"


@pytest.mark.parametrize("where", ["string", "comment"])
@pytest.mark.parametrize("odd", ODD_BREAKS, ids=[f"U+{ord(c):04X}" for c in ODD_BREAKS])
def test_suppression_below_an_odd_line_break_still_silences(project, odd, where):
    (project / "m.py").write_text(_source(odd, where), encoding="utf-8")
    result = api.check(["m.py"], jobs=1, use_cache=False, report_unused_suppressions=True)
    assert [(f.code, f.span.line) for f in result.findings] == []


@pytest.mark.parametrize("odd", ODD_BREAKS, ids=[f"U+{ord(c):04X}" for c in ODD_BREAKS])
def test_unused_suppression_is_reported_on_its_own_line(project, odd):
    source = f"import queue\nNOTE = 'a{odd}b'\nx = 1  # eventlint: ignore[EVT001]\n"
    (project / "m.py").write_text(source, encoding="utf-8")
    result = api.check(["m.py"], jobs=1, use_cache=False, report_unused_suppressions=True)
    assert [(f.code, f.span.line, f.span.column) for f in result.findings] == [("EVT900", 3, 8)]


def test_baseline_fingerprint_uses_python_line_numbers(project):
    (project / "m.py").write_text("import queue\nNOTE = 'a\fb'\nEVENTS = queue.Queue()\n", encoding="utf-8")
    assert main(["check", "m.py", "--no-cache", "--write-baseline", "baseline.json"]) == 0  # recording is no failure
    assert json.loads((project / "baseline.json").read_text())
    # the finding's line is unchanged, only the odd character above it went: still hidden
    (project / "m.py").write_text("import queue\nNOTE = 'ab'\nEVENTS = queue.Queue()\n", encoding="utf-8")
    assert main(["check", "m.py", "--no-cache", "--baseline", "baseline.json"]) == 0


def test_text_report_shows_the_finding_line(project, capsys):
    (project / "m.py").write_text("import queue\nNOTE = 'a\fb\x85c'\nEVENTS = queue.Queue()\n", encoding="utf-8")
    assert main(["check", "m.py", "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "m.py:3:1: EVT001" in out
    assert "     3 | EVENTS = queue.Queue()" in out


@pytest.mark.parametrize(
    "text,lines",
    [
        ("", []),
        ("a", ["a"]),
        ("a\n", ["a"]),
        ("a\r\nb\rc\n", ["a", "b", "c"]),
        ("a\fb\x85c\u2028d\n\n", ["a\fb\x85c\u2028d", ""]),
        ("x\r\r\n", ["x", ""]),
    ],
)
def test_split_lines_matches_python(text, lines):
    assert split_lines(text) == lines
    assert "".join(split_lines(text, keepends=True)) == text
    assert len(split_lines(text, keepends=True)) == len(lines)
