"""Inline suppressions (``# eventlint: ignore[...]``, ``# noqa: EVTnnn``) and EVT900
unused-suppression, which is reported only with ``--report-unused-suppressions``."""

from __future__ import annotations

import json

import pytest

from eventlint import api
from eventlint.cli import main


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def findings(project, source: str, **options) -> list[tuple[str, int]]:
    (project / "m.py").write_text(source)
    result = api.check(["m.py"], jobs=1, use_cache=False, **options)
    return [(f.code, f.span.line) for f in result.findings]


@pytest.mark.parametrize(
    "source",
    [
        "import queue\nEVENTS = queue.Queue()  # eventlint: ignore[EVT001]\n",
        "import queue\nEVENTS = queue.Queue()  # eventlint: ignore[EVT000, EVT001]\n",
        "import queue\nEVENTS = queue.Queue()  # eventlint:ignore[EVT002,EVT001]\n",
        "import queue\nEVENTS = queue.Queue()  # eventlint: ignore\n",
        "import queue\n# eventlint: ignore[EVT001]\nEVENTS = queue.Queue()\n",
        "import queue\n    # eventlint: ignore\nEVENTS = queue.Queue()\n",
        "import queue\nEVENTS = queue.Queue()  # noqa: EVT001\n",
        "import queue\nEVENTS = queue.Queue()  # noqa: E501, EVT001\n",
    ],
    ids=["code", "two-codes", "no-space", "bare", "line-above", "bare-line-above", "noqa", "noqa-mixed"],
)
def test_suppression_silences(project, source):
    assert findings(project, source) == []


@pytest.mark.parametrize(
    "source,line",
    [
        ("import queue\nEVENTS = queue.Queue()  # eventlint: ignore[EVT002]\n", 2),
        ("import queue\nEVENTS = queue.Queue()  # noqa\n", 2),
        ("import queue\nEVENTS = queue.Queue()  # noqa: E501\n", 2),
        ("import queue\nEVENTS = queue.Queue()  # noqa:EVT\n", 2),
        ("import queue  # eventlint: ignore\nEVENTS = queue.Queue()\n", 2),
        ("import queue\n# eventlint: ignore[EVT001]\n\nEVENTS = queue.Queue()\n", 4),
        ("# eventlint: ignore[EVT001]\nimport queue\nEVENTS = queue.Queue()\n", 3),
    ],
    ids=["other-code", "bare-noqa-is-another-linters", "noqa-other-linter", "noqa-needs-a-full-code",
         "trailing-comment-above",
         "blank-line-between", "two-lines-above"],
)
def test_suppression_does_not_silence(project, source, line):
    assert findings(project, source) == [("EVT001", line)]


def test_suppression_on_one_finding_leaves_the_other(project):
    source = ("import queue\n"
              "A = queue.Queue()  # eventlint: ignore[EVT001]\n"
              "B = queue.Queue()\n")
    assert findings(project, source) == [("EVT001", 3)]


UNUSED = (
    "import queue\n"
    "EVENTS = queue.Queue()  # eventlint: ignore[EVT001]\n"          # used
    "_private = queue.Queue()  # eventlint: ignore[EVT001]\n"        # 3: unused
    "# eventlint: ignore\n"                                          # 4: unused (covers 4 and 5)
    "x = 1\n"
    "y = 2  # noqa: E501\n"                                          # another linter's: never reported
    "LOG = queue.Queue()  # noqa: E501, EVT001, EVT01\n"             # 7: EVT001 used, EVT01 unknown
    "z = 3  # eventlint: ignore[EVT001, EVT002]\n"                   # 8: both unused
)


def test_unused_suppressions_only_with_the_flag(project):
    assert findings(project, UNUSED) == []
    assert findings(project, UNUSED, report_unused_suppressions=True) == [
        ("EVT900", 3), ("EVT900", 4), ("EVT900", 7), ("EVT900", 8)]


def test_unused_suppression_messages_and_columns(project, capsys):
    (project / "m.py").write_text(UNUSED)
    assert main(["check", "m.py", "--no-cache", "-j", "1", "--format", "json", "--report-unused-suppressions"]) == 1
    report = json.loads(capsys.readouterr().out)["findings"]
    got = [(f["line"], f["column"], f["end_column"], f["message"]) for f in report]
    assert got == [
        (3, 27, 54, "unused suppression: no EVT001 finding on this line to silence"),
        (4, 1, 20, "unused suppression: no finding on this or the next line to silence"),
        (7, 22, 49, "unused suppression: EVT01 is not an eventlint rule"),
        (8, 8, 43, "unused suppression: no EVT001, EVT002 finding on this line to silence"),
    ]
    assert {f["name"] for f in report} == {"unused-suppression"}


def test_unused_suppressions_judge_only_rules_that_ran(project):
    source = "import queue\n_q = queue.Queue()  # eventlint: ignore[EVT001]\n"
    assert findings(project, source, report_unused_suppressions=True) == [("EVT900", 2)]
    assert findings(project, source, report_unused_suppressions=True, select=("EVT000",)) == []


def test_unused_suppressions_can_be_ignored_and_suppressed(project):
    source = "import queue\n_q = queue.Queue()  # eventlint: ignore[EVT001]\n"
    assert findings(project, source, report_unused_suppressions=True, ignore=("EVT900",)) == []
    source = "import queue\n_q = queue.Queue()  # eventlint: ignore[EVT001, EVT900]\n"
    assert findings(project, source, report_unused_suppressions=True) == []
    (project / "pyproject.toml").write_text("[tool.eventlint]\nper-file-ignores = {\"m.py\" = [\"EVT900\"]}\n")
    source = "import queue\n_q = queue.Queue()  # eventlint: ignore[EVT001]\n"
    assert findings(project, source, report_unused_suppressions=True) == []


def test_bare_unused_suppression_does_not_hide_its_own_report(project):
    assert findings(project, "x = 1  # eventlint: ignore\n", report_unused_suppressions=True) == [("EVT900", 1)]


def test_unused_suppression_on_a_finding_silenced_twice_counts_both_as_used(project):
    source = "import queue\n# eventlint: ignore[EVT001]\nEVENTS = queue.Queue()  # noqa: EVT001\n"
    assert findings(project, source, report_unused_suppressions=True) == []


def test_cli_flag_exit_code(project, capsys):
    (project / "m.py").write_text("x = 1  # eventlint: ignore[EVT001]\n")
    assert main(["check", "m.py", "--no-cache", "-j", "1"]) == 0
    assert main(["check", "m.py", "--no-cache", "-j", "1", "--report-unused-suppressions"]) == 1
    out = capsys.readouterr().out
    assert "m.py:1:8: EVT900 unused suppression: no EVT001 finding on this line to silence" in out



def test_suppression_after_another_linters_comment(tmp_path, monkeypatch):
    """``# noqa: E501  # eventlint: ignore[EVT001]``: both comments are read."""
    from eventlint import api

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "m.py").write_text("import queue\nEVENTS = queue.Queue()  # noqa: E501  # eventlint: ignore[EVT001]\n")
    monkeypatch.chdir(tmp_path)
    assert api.check(["m.py"], jobs=1, use_cache=False).findings == []
