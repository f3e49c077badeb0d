"""The pre-commit hook, for real: a throw-away git repository whose
``.pre-commit-config.yaml`` points at this checkout, and ``pre-commit run --all-files``.

pre-commit clones the hook repository at ``rev`` and pip-installs it into its own
virtualenv, so this takes a minute and needs the package index.  It uses HEAD; when HEAD
doesn't have ``.pre-commit-hooks.yaml`` yet (it is being added in the working tree), a
snapshot of the working tree is committed to a temporary repository and used instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed"),
    pytest.mark.skipif(not (REPO / ".git").exists(), reason="not run from a git checkout"),
]

GIT_IDENTITY = ["-c", "user.name=eventlint tests", "-c", "user.email=tests@example.invalid", "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def hook_repository(tmp_path: Path) -> tuple[Path, str]:
    head = git("rev-parse", "HEAD", cwd=REPO)
    has_hooks = subprocess.run(["git", "cat-file", "-e", f"{head}:.pre-commit-hooks.yaml"], cwd=REPO,
                               capture_output=True).returncode == 0
    if has_hooks:
        return REPO, head
    snapshot = tmp_path / "hook-repo"
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot, git("rev-parse", "HEAD", cwd=snapshot)


def test_precommit_hook_fails_on_findings_and_passes_when_clean(tmp_path):
    hook_repo, rev = hook_repository(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    git("init", "-q", cwd=project)
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo.as_posix()}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: eventlint\n"
    )
    (project / ".gitignore").write_text(".eventlint_cache/\n")
    (project / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    git("add", "-A", cwd=project)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("CI", None)

    def run_hooks() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
                              cwd=project, env=env, capture_output=True, text=True, timeout=900)

    flagged = run_hooks()
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert "eventlint" in flagged.stdout and "Failed" in flagged.stdout
    assert "events.py:2:1: EVT001" in flagged.stdout

    (project / "events.py").write_text("import queue\n_events = queue.Queue()\n")
    git("add", "-A", cwd=project)
    clean = run_hooks()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
