"""The progress line: on stderr, only on a terminal, never in CI or when piped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eventlint import cli
from eventlint.cli import main


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for number in range(3):
        (tmp_path / f"m{number}.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli._Progress, "delay", 0.0)  # as if the run took long
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def test_shown_on_a_terminal(project, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["check", "--no-cache", "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "\reventlint: analysed 3/3 files" in err
    assert err.endswith("\r\x1b[K")  # the line is erased before the report


def test_silent_when_stderr_is_not_a_terminal(project, capsys):
    assert not sys.stderr.isatty()
    assert main(["check", "--no-cache", "--jobs", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_silent_in_ci_even_on_a_terminal(project, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("CI", "true")
    assert main(["check", "--no-cache", "--jobs", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_silent_when_piped(project):
    run = subprocess.run([sys.executable, "-m", "eventlint", "check", "--no-cache", "--jobs", "1"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(project)})
    assert (run.returncode, run.stderr) == (0, "")


def test_quick_runs_stay_quiet():
    progress = cli._Progress(True)
    progress(1, 10)
    progress.finish()
    assert not progress.shown
