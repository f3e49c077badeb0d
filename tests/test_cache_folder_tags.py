"""The cache folder never shows in ``git status``: it carries a ``.gitignore`` (``*``) and a
``CACHEDIR.TAG`` whenever eventlint uses it — created now, left by an older eventlint,
deleted between two runs of one process, or moved with ``--cache-dir`` — and a folder
that holds anything else (``--cache-dir`` pointed at the project's code) gets neither."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from eventlint import cache
from eventlint.cli import main

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(tmp_path / "user-cache"))
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    (root / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n", encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def status(root) -> set[str]:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True,
                          text=True, check=True)
    return {line[3:] for line in done.stdout.splitlines()}


def assert_tagged(folder) -> None:
    assert (folder / ".gitignore").read_text(encoding="ascii").splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").read_text(encoding="ascii").startswith(SIGNATURE + "\n")


def test_the_default_cache_folder_is_not_in_git_status(repo):
    assert main(["check", "-j", "1"]) == 1
    assert_tagged(repo / ".eventlint_cache")
    assert status(repo) == {"pyproject.toml", "events.py"}


def test_a_cache_dir_given_on_the_command_line_is_tagged_too(repo):
    assert main(["check", "-j", "1", "--cache-dir", "build/lint-cache"]) == 1
    assert_tagged(repo / "build" / "lint-cache")
    assert not (repo / ".eventlint_cache").exists()
    assert status(repo) == {"pyproject.toml", "events.py"}


def test_the_folder_of_an_older_version_gets_its_tags(repo):
    old = repo / ".eventlint_cache"
    (old / "ab").mkdir(parents=True)
    (old / "ab" / "ab12").write_bytes(b"an entry of an older eventlint")
    (old / "runs").mkdir()
    (old / "runs" / "0f").write_bytes(b"a run of an older eventlint")
    assert main(["check", "-j", "1"]) == 1
    assert_tagged(old)
    assert status(repo) == {"pyproject.toml", "events.py"}


def test_a_folder_deleted_between_two_runs_of_one_process_is_tagged_again(repo):
    assert main(["check", "-j", "1"]) == 1
    shutil.rmtree(repo / ".eventlint_cache")
    assert main(["check", "-j", "1"]) == 1
    assert_tagged(repo / ".eventlint_cache")
    assert status(repo) == {"pyproject.toml", "events.py"}


def test_a_run_served_from_the_stored_results_restores_a_missing_tag(repo):
    assert main(["check", "-j", "1"]) == 1
    (repo / ".eventlint_cache" / ".gitignore").unlink()
    assert main(["check", "-j", "1"]) == 1  # nothing changed: the stored findings, nothing written
    assert_tagged(repo / ".eventlint_cache")
    assert status(repo) == {"pyproject.toml", "events.py"}


def test_a_gitignore_of_the_user_is_kept(repo):
    folder = repo / ".eventlint_cache"
    folder.mkdir()
    (folder / ".gitignore").write_text("# mine\n*\n", encoding="ascii")
    assert main(["check", "-j", "1"]) == 1
    assert (folder / ".gitignore").read_text(encoding="ascii") == "# mine\n*\n"
    assert (folder / "CACHEDIR.TAG").read_text(encoding="ascii").startswith(SIGNATURE)


def test_a_folder_holding_other_files_is_not_hidden_from_git(repo):
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("x = 1\n", encoding="utf-8")
    assert main(["check", "-j", "1", "--cache-dir", "src"]) == 1
    assert not (repo / "src" / ".gitignore").exists() and not (repo / "src" / "CACHEDIR.TAG").exists()
    assert "src/app.py" in status(repo)
