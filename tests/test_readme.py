"""The README's snippets work as written from this repository: the set-up commands are the
ones CI runs, every ``eventlint`` command line parses (and those of the usage, fixing,
baseline and CI sections run on a copy of the demo with the exit codes they promise), the
settings, suppression and error samples are what eventlint reads and says, the CI example
installs eventlint from this repository (not from a package index, where it is not
published) and the pre-commit snippet, with its two marked values filled in, runs the hook.
Everything runs offline: pip and pre-commit install from a local clone."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from eventlint.cli import cli, main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCKS = [(language, body) for language, body in BLOCK.findall(README)]
PLACEHOLDER_REV = "COMMIT"
GIT_IDENTITY = ["-c", "user.name=eventlint tests", "-c", "user.email=tests@example.invalid", "-c", "commit.gpgsign=false"]
needs_git_checkout = pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(),
                                        reason="needs git and a git checkout of this repository")


def section(title: str) -> str:
    """The README text under ``## title`` up to the next heading of that level."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def blocks_in(text: str, *languages: str) -> list[str]:
    return [body for language, body in BLOCK.findall(text) if language in languages]


def command_lines(body: str) -> list[str]:
    """The command lines of a shell or console block, prompts and comments dropped."""
    lines = []
    for line in body.splitlines():
        line = line.removeprefix("$ ")
        code = shlex.split(line, comments=True)
        if code:
            lines.append(shlex.join(code))
    return lines


def eventlint_commands() -> list[list[str]]:
    """Every ``eventlint ...`` of the README: in shell, console and YAML blocks, and in
    inline code (a placeholder such as ``CODE`` or ``[PATHS]`` stands as written)."""
    found = []
    for language, body in BLOCKS:
        if language in ("sh", "console"):
            found += [shlex.split(line) for line in command_lines(body) if line.startswith("eventlint ")]
        if language == "yaml":
            found += [shlex.split(m) for m in re.findall(r"run: (eventlint .*)$", body, re.MULTILINE)]
    prose = BLOCK.sub("", README)
    for span in re.findall(r"`(eventlint [^`]+)`", prose):
        words = shlex.split(span)
        choices = [i for i, word in enumerate(words) if "|" in word]  # `--format dot|mermaid|json`: each
        if not choices:
            found.append(words)
            continue
        (at,) = choices
        found += [words[:at] + [choice] + words[at + 1:] for choice in words[at].split("|")]
    return found


def parse(args: list[str]) -> None:
    """What click makes of ``args``: the subcommand and its options, without running it."""
    assert args[0] == "eventlint"
    parent = click.Context(cli, info_name="eventlint")
    command = cli.get_command(parent, args[1])
    assert command is not None, f"no command {args[1]!r}"
    command.make_context(args[1], list(args[2:]), parent=parent)


@pytest.fixture
def demo_project(tmp_path, monkeypatch):
    """The demo as a project whose code is under ``src/``, as the README's examples have it."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "fixtures" / "demo" / "shop", root / "src" / "shop",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "fixtures" / "demo" / "pyproject.toml", root / "pyproject.toml")
    monkeypatch.chdir(root)
    return root


def run_eventlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "eventlint", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


# ---- the two commands at the top --------------------------------------------------------------


def test_the_set_up_commands_are_the_ones_ci_runs():
    language, body = BLOCKS[0]
    assert language == "sh"
    assert body.splitlines() == ["pip install . && eventlint check fixtures/demo",
                                 "pip install '.[test]' && python -m pytest"]
    ci = [shlex.split(line) for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.startswith('"$PY"')]
    ran = [[word for word in line[1:] if word != "--quiet"] for line in ci]
    assert ["-m", "pip", "install", ".[test]"] in ran  # what `pip install '.[test]'` runs
    assert ran[-1] == ["-m", "pytest"]  # and `python -m pytest`, last


def test_the_first_command_gives_the_summary_the_readme_shows(tmp_path):
    shutil.copytree(REPO / "fixtures" / "demo", tmp_path / "fixtures" / "demo",
                    ignore=shutil.ignore_patterns(".eventlint_cache", "__pycache__"))
    command = shlex.split(BLOCKS[0][1].splitlines()[0].split("&&")[1])
    assert command == ["eventlint", "check", "fixtures/demo"]
    done = run_eventlint(*command[1:], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    shown = blocks_in(section("Usage"), "text")
    assert len(shown) == 1
    assert done.stdout.splitlines()[-1] == shown[0].strip()
    assert done.stdout.startswith("fixtures/demo/shop/async_feed.py:12:9: EVT001 ")


# ---- every eventlint command line -------------------------------------------------------------


def test_the_readme_has_the_commands_it_should():
    commands = [shlex.join(c) for c in eventlint_commands()]
    for expected in ("eventlint check src/ --format json", "eventlint fix src/ --unsafe-fixes",
                     "eventlint check --fix src/", "eventlint explain CODE",
                     "eventlint check --baseline .eventlint-baseline.json", "eventlint check --format github"):
        assert expected in commands
    assert not any(re.search(r"\bpip install eventlint\b", body) for _, body in BLOCKS)


@pytest.mark.parametrize("args", eventlint_commands(), ids=shlex.join)
def test_every_eventlint_command_line_parses(args):
    parse(args)


def test_a_wrong_option_does_not_parse():
    with pytest.raises(click.NoSuchOption):
        parse(["eventlint", "check", "--fixes"])


@pytest.mark.parametrize("title", ["Usage", "Fixing: `eventlint fix`", "Baseline: adopting eventlint on an existing "
                                   "code base"])
def test_the_command_blocks_run_on_the_demo(demo_project, capsys, title):
    lines = [line for body in blocks_in(section(title), "sh", "console") for line in command_lines(body)]
    assert lines
    for line in lines:
        args = [word for word in shlex.split(line) if word != "[PATHS...]"]
        code = main([*args[1:], "-j", "1"] if args[1] in ("check", "fix") else args[1:])
        out = capsys.readouterr()
        if "--write-baseline" in args or "--baseline" in args:
            assert code == 0, (line, out.out, out.err)  # recorded; then nothing new
        else:
            assert code in (0, 1), (line, out.out, out.err)
        assert "Error" not in out.err and "internal error" not in out.err, (line, out.err)


# ---- samples: settings, suppressions, the error line ------------------------------------------


def test_the_settings_sample_is_read_as_written(demo_project, capsys):
    (settings,) = blocks_in(section("Configuration"), "toml")
    (demo_project / "pyproject.toml").write_text(settings, encoding="utf-8")
    assert main(["check", "--no-cache", "-j", "1"]) == 1
    out = capsys.readouterr()
    assert out.err == ""
    assert "EVT003" in out.out


def test_the_error_sample_is_what_eventlint_says(demo_project, capsys):
    (sample,) = [body for language, body in BLOCKS if body.startswith("eventlint: error: pyproject.toml")]
    (demo_project / "pyproject.toml").write_text('[tool.eventlint]\nselct = ["EVT"]\n', encoding="utf-8")
    assert main(["check", "--no-cache"]) == 2
    assert capsys.readouterr().err == sample


def test_the_suppression_sample_silences_its_findings(tmp_path, monkeypatch, capsys):
    (sample,) = blocks_in(section("Suppressing a finding"), "python")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    (tmp_path / "events.py").write_text(sample, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "-j", "1"]) == 0
    (tmp_path / "events.py").write_text(re.sub(r"#.*", "", sample), encoding="utf-8")
    assert main(["check", "--no-cache", "-j", "1"]) == 1
    assert capsys.readouterr().out.count(": EVT001 ") == 3


@pytest.mark.parametrize("line", [line for body in blocks_in(README, "sh") for line in command_lines(body)
                                  if line.startswith("python bench/")])
def test_the_bench_command_lines_name_options_that_exist(line):
    words = shlex.split(line)
    script = REPO / words[1]
    assert script.is_file()
    subcommand = [words[2]] if len(words) > 2 and not words[2].startswith("-") and script.parent.name == "ecosystem" \
        else []
    done = subprocess.run([sys.executable, str(script), *subcommand, "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for option in (word for word in words[2:] if word.startswith("--")):
        assert option in done.stdout, (line, option)


# ---- GitHub Actions ---------------------------------------------------------------------------


def actions_workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    (body,) = [b for b in blocks_in(README, "yaml") if b.startswith("# .github/workflows/eventlint.yml")]
    return yaml.safe_load(body)


def test_the_workflow_installs_eventlint_from_this_repository():
    job = actions_workflow()["jobs"]["eventlint"]
    requirement = job["env"]["EVENTLINT"]
    assert requirement == f"git+https://github.com/OWNER/eventlint@{PLACEHOLDER_REV}"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[0] == 'pip install "$EVENTLINT"'
    assert [step["uses"] for step in job["steps"] if "uses" in step][0] == "actions/checkout@v4"


@needs_git_checkout
def test_the_workflow_install_step_works_with_this_repository(tmp_path):
    """``pip install "$EVENTLINT"`` with the variable pointing at this repository (a local
    clone, at HEAD): eventlint is installed from it (dependencies and the build backend are
    the test environment's, so nothing is downloaded)."""
    job = actions_workflow()["jobs"]["eventlint"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    requirement = f"git+{REPO.as_uri()}@{head.strip()}"
    command = shlex.split(job["steps"][2]["run"].replace("$EVENTLINT", requirement))
    assert command[:2] == ["pip", "install"]
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", *command, "--no-deps", "--no-build-isolation", "--target", str(target),
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import eventlint; print(eventlint.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(target)
    version = subprocess.run([sys.executable, "-m", "eventlint", "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("eventlint, version ")


def test_the_workflow_eventlint_steps_run_as_promised(demo_project):
    job = actions_workflow()["jobs"]["eventlint"]
    runs = [step["run"] for step in job["steps"] if str(step.get("run", "")).startswith("eventlint ")]
    assert len(runs) == 2
    sarif = run_eventlint(*shlex.split(runs[0])[1:], cwd=demo_project)
    assert sarif.returncode == 0, sarif.stderr  # --exit-zero: the upload step still runs
    report = json.loads((demo_project / "eventlint.sarif").read_text(encoding="utf-8"))
    assert len(report["runs"][0]["results"]) == 6
    gate = run_eventlint(*shlex.split(runs[1])[1:], cwd=demo_project)
    assert gate.returncode == 1
    assert gate.stdout.count("::error file=src/shop/") == 6


# ---- pre-commit -------------------------------------------------------------------------------


def precommit_snippet() -> str:
    (body,) = [b for b in blocks_in(section("pre-commit"), "yaml")]
    return body


def test_the_precommit_snippet_names_hooks_this_repository_has():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(precommit_snippet())
    (entry,) = config["repos"]
    assert entry["repo"] == "https://github.com/OWNER/eventlint" and entry["rev"] == PLACEHOLDER_REV
    hooks = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert [hook["id"] for hook in entry["hooks"]] == ["eventlint"]
    assert {"eventlint", "eventlint-fix"} <= hooks
    assert "# - id: eventlint-fix" in precommit_snippet()


@needs_git_checkout
@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed (test extra)")
def test_the_precommit_snippet_runs_the_hook(tmp_path):
    """The snippet as written, with ``repo:`` and ``rev:`` set to this repository and its
    HEAD, as the README says; pre-commit installs the hook from the clone (the package
    index it needs for the build is the one pip is configured with)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    snippet = precommit_snippet()
    config = snippet.replace("https://github.com/OWNER/eventlint ", f"{REPO.as_posix()} ") \
        .replace(f"rev: {PLACEHOLDER_REV} ", f"rev: {head.strip()} ")
    assert config.count(REPO.as_posix()) == 1 and config.count(head.strip()) == 1
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    (project / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n", encoding="utf-8")
    subprocess.run(["git", *GIT_IDENTITY, "add", "-A"], cwd=project, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "events.py:2:1: EVT001" in done.stdout
    assert re.search(r"^eventlint\.+Failed$", done.stdout, re.MULTILINE), done.stdout
    # the cache folder the hook made carries its own .gitignore: nothing new for git
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                            capture_output=True, text=True, check=True).stdout
    assert ".eventlint_cache" not in status
