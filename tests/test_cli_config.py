"""``[tool.eventlint]`` and ``--config``: a bad setting is one clear line naming the file
and the key, exit 2; ``per-file-ignores`` globs are relative to the project root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventlint import api
from eventlint.cli import main

FLAGGED = "import queue\nEVENTS = queue.Queue()\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.py").write_text(FLAGGED)
    return tmp_path


def settings(project, body: str) -> None:
    (project / "pyproject.toml").write_text(f"[project]\nname = 'p'\n\n[tool.eventlint]\n{body}\n")


def codes_found(capsys, *args) -> list[tuple[str, str]]:
    main(["check", "--no-cache", "--jobs", "1", "--format", "json", *args])
    return [(f["code"], f["path"]) for f in json.loads(capsys.readouterr().out)["findings"]]


@pytest.mark.parametrize(
    "body,message",
    [
        ('selct = ["EVT001"]', "pyproject.toml: [tool.eventlint] unknown setting `selct` (did you mean `select`?)"),
        ("colour = true", "pyproject.toml: [tool.eventlint] unknown setting `colour` (known: select, ignore, "),
        ('select = "EVT001"\nignore = 3', "pyproject.toml: [tool.eventlint] `ignore` must be a list of rule codes"),
        ('select = ["queue"]', "pyproject.toml: [tool.eventlint] `select`: 'QUEUE' is not a rule code or prefix"),
        ('per-file-ignores = ["tests/*"]', "`per-file-ignores` must be a table of glob = [codes]"),
        ('per-file-ignores = {"tests/*" = [1]}', "`per-file-ignores.tests/*` must be a list of rule codes"),
        ('exclude = "build"', "`exclude` must be a list of strings"),
        ("extend-exclude = [1]", "`extend-exclude` must be a list of strings"),
        ("src = [true]", "`src` must be a list of strings"),
        ('tag-keys = "type"', "`tag-keys` must be a list of strings"),
        ("default-timeout = 0", "`default-timeout` must be a finite number greater than 0, not 0"),
        ('max-default-timeout = "60s"', '`max-default-timeout` must be a finite number greater than 0, not "60s"'),
        ("default-timeout = nan", "`default-timeout` must be a finite number greater than 0, not nan"),
        ("default-timeout = inf", "`default-timeout` must be a finite number greater than 0, not inf"),
        ("max-default-timeout = -inf", "`max-default-timeout` must be a finite number greater than 0, not -inf"),
        ("jobs = -1", "`jobs` must be a whole number from 1 to 256 (0 = one per core), not -1"),
        ("jobs = true", "`jobs` must be a whole number from 1 to 256 (0 = one per core), not true"),
        ("jobs = 100000", "`jobs` must be a whole number from 1 to 256 (0 = one per core), not 100000"),
        ("jobs = 257", "`jobs` must be a whole number from 1 to 256"),
        ("jobs = 2.0", "`jobs` must be a whole number from 1 to 256 (0 = one per core), not 2.0"),
        ('cache-dir = ""', "`cache-dir` must be a path"),
        ('catalog = ["x"]', "`catalog` must be a table of catalogue sections"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key_and_exit_2(project, capsys, body, message):
    settings(project, body)
    assert main(["check", "--no-cache", "--jobs", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("eventlint: error: ")
    assert message in lines[0]


def test_invalid_toml_and_non_table_section(project, capsys):
    (project / "pyproject.toml").write_text("[tool.eventlint\n")
    assert main(["check", "--no-cache"]) == 2
    assert capsys.readouterr().err.startswith("eventlint: error: pyproject.toml: invalid TOML: ")
    (project / "pyproject.toml").write_text("[tool]\neventlint = 3\n")
    assert main(["check", "--no-cache"]) == 2
    assert capsys.readouterr().err == "eventlint: error: pyproject.toml: [tool.eventlint] must be a table\n"


@pytest.mark.parametrize(
    "content,message",
    [
        (b'tool = "x"\n', 'pyproject.toml: `tool` must be a table ([tool.eventlint]), not "x"'),
        (b"tool = [1]\n", "pyproject.toml: `tool` must be a table ([tool.eventlint]), not an array"),
        (b"[tool]\neventlint = 1\n", "pyproject.toml: [tool.eventlint] must be a table"),
        (b'[tool]\neventlint = "strict"\n', "pyproject.toml: [tool.eventlint] must be a table"),
        (b"[tool.eventlint]\ncatalog = 3\n", "`catalog` must be a table of catalogue sections"),
        (b"[tool.eventlint.catalog]\nchannel = 3\n", "`channel` must be an array of tables"),
        (b"[tool.eventlint.catalog]\nchannel = [3]\n", "[[channel]] #1: expected a table"),
        (b"[tool.eventlint]\nper-file-ignores = {x = 3}\n", "`per-file-ignores.x` must be a list of rule codes"),
        (b"[tool.eventlint]\n# caf\xe9\n", "pyproject.toml: not UTF-8 (TOML files must be): byte 23 is b'\\xe9'"),
    ],
    ids=["tool-string", "tool-array", "eventlint-number", "eventlint-string", "catalog-number", "section-number",
         "entry-number", "per-file-ignores-number", "not-utf8"],
)
def test_a_pyproject_of_the_wrong_shape_is_one_line_and_exit_2(project, capsys, content, message):
    (project / "pyproject.toml").write_bytes(content)
    for command in ("check", "fix"):
        assert main([command, "--no-cache", "--jobs", "1"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("eventlint: error: ") and message in lines[0]
    assert (project / "events.py").read_text() == FLAGGED


@pytest.mark.parametrize("nested", [b"[" * 3000 + b"]" * 3000, b"{a = " * 3000 + b"1" + b"}" * 3000],
                         ids=["arrays", "inline-tables"])
def test_a_pyproject_nested_too_deeply_for_tomllib_is_a_config_error(project, nested):
    # a fresh interpreter, as from a shell: tomllib recurses once per level and fails at
    # the default recursion limit (1000)
    (project / "pyproject.toml").write_bytes(b"x = " + nested + b"\n")
    done = subprocess.run([sys.executable, "-m", "eventlint", "check", "--no-cache", "--jobs", "1"], cwd=project,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == "eventlint: error: pyproject.toml: invalid TOML: arrays or tables nested too deeply to read\n"


@pytest.mark.parametrize("command", ["check", "fix", "graph"])
@pytest.mark.parametrize("jobs", ["0", "257", "100000"])
def test_jobs_option_is_bounded(project, capsys, command, jobs):
    assert main([command, "--no-cache", "--jobs", jobs]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--jobs'" in err and "1<=x<=256" in err


def test_api_fix_refuses_unbounded_jobs_and_timeouts(project):
    for options, message in [({"jobs": 100000}, "--jobs must be a whole number from 1 to 256, not 100000"),
                             ({"jobs": 0}, "--jobs must be a whole number from 1 to 256, not 0"),
                             ({"timeout": float("nan")}, "--timeout must be a finite number of seconds"),
                             ({"timeout": float("inf")}, "--timeout must be a finite number of seconds")]:
        with pytest.raises(api.UsageError, match=message.replace("(", r"\(")):
            api.fix(["."], use_cache=False, **options)
    assert (project / "events.py").read_text() == FLAGGED


def test_bad_catalogue_extension_is_exit_2(project, capsys):
    settings(project, "[[tool.eventlint.catalog.channel]]\nname = 'corp.Bus'\nflavour = 'x'\n")
    assert main(["check", "--no-cache", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eventlint: error: catalogue: [tool.eventlint.catalog]") and "`flavour`" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "entry, message",
    [
        ("[[tool.eventlint.catalog.blocking]]\nname = 'corp.wait'\ndefault = nan\n",
         "[[blocking]] #1: default must be a finite number of seconds, at least 0 (got nan)"),
        ("[[tool.eventlint.catalog.client]]\nname = 'corp.Client'\ndefault = -5\n",
         "[[client]] #1: default must be a finite number of seconds, at least 0 (got -5)"),
        ("[[tool.eventlint.catalog.blocking]]\nname = 'corp.wait'\ndefault = 'ten'\n",
         "[[blocking]] #1: default must be a finite number of seconds, at least 0 (got 'ten')"),
        ("[[tool.eventlint.catalog.channel]]\nname = 'corp.Bus'\nput = 3\n",
         "[[channel]] #1: put must be a list of names, like put = [\"name\"] (got 3)"),
        ("[[tool.eventlint.catalog.channel]]\nname = 'corp.Bus'\nget = 'pop'\n",
         "[[channel]] #1: get must be a list of names, like get = [\"name\"] (got 'pop')"),
        ("[[tool.eventlint.catalog.channel]]\nname = 'corp.pipe'\nends = ['send', 'recv']\n",
         "[[channel]] #1: ends must name 'send', 'receive', 'both' (got 'recv')"),
    ],
    ids=["nan-default", "negative-default", "string-default", "put-number", "get-string", "unknown-end"],
)
def test_catalogue_values_of_the_wrong_kind_are_one_line_and_exit_2(project, capsys, entry, message):
    settings(project, entry)
    assert main(["check", "--no-cache", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"eventlint: error: catalogue: [tool.eventlint.catalog]: {message}\n"


def test_good_settings_take_effect(project, capsys):
    (project / "broken.py").write_text("def f(:\n")
    (project / "skipped").mkdir()
    (project / "skipped" / "m.py").write_text(FLAGGED)
    settings(project, 'ignore = ["EVT000"]\nextend-exclude = ["skipped"]\njobs = 1\ncache-dir = ".cache-here"')
    assert codes_found(capsys) == [("EVT001", "events.py")]
    main(["check", "--jobs", "1"])
    capsys.readouterr()
    assert (project / ".cache-here").is_dir()


def test_select_setting_and_cli_select(project, capsys):
    (project / "broken.py").write_text("def f(:\n")
    settings(project, 'select = ["EVT000"]')
    assert codes_found(capsys) == [("EVT000", "broken.py")]
    assert codes_found(capsys, "--select", "EVT001") == [("EVT001", "events.py")]


def test_config_option_reads_a_standalone_file(project, capsys):
    settings(project, "")
    (project / "eventlint.toml").write_text('ignore = ["EVT001"]\n')
    assert codes_found(capsys) == [("EVT001", "events.py")]
    assert codes_found(capsys, "--config", "eventlint.toml") == []


def test_config_option_reads_tool_table_of_another_pyproject(project, capsys, tmp_path_factory):
    settings(project, "")
    other = tmp_path_factory.mktemp("elsewhere") / "pyproject.toml"
    other.write_text('[tool.eventlint]\nper-file-ignores = {"events.py" = ["EVT001"]}\n')
    assert codes_found(capsys, "--config", str(other)) == []


def test_config_option_errors(project, capsys):
    settings(project, "")
    assert main(["check", "--config", "missing.toml"]) == 2
    assert capsys.readouterr().err == "eventlint: error: config file not found: missing.toml\n"
    (project / "bad.toml").write_text("jobs = 'many'\n")
    assert main(["check", "--config", "bad.toml"]) == 2
    assert capsys.readouterr().err == (
        "eventlint: error: bad.toml: `jobs` must be a whole number from 1 to 256 (0 = one per core), not \"many\"\n")


def _nested_project(root):
    (root / "pyproject.toml").write_text(
        "[tool.eventlint]\nper-file-ignores = { \"pkg/legacy.py\" = [\"EVT001\"], \"pkg/gen/**\" = [\"ALL\"] }\n")
    (root / "pkg" / "gen").mkdir(parents=True)
    for name in ("pkg/legacy.py", "pkg/new.py", "pkg/gen/out.py", "legacy.py"):
        (root / name).write_text(FLAGGED)


def test_per_file_ignores_are_relative_to_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    _nested_project(root)
    expected_root_relative = {"legacy.py", "pkg/new.py"}
    # from the project root
    monkeypatch.chdir(root)
    result = api.check(["."], jobs=1, use_cache=False)
    assert {f.path for f in result.findings} == expected_root_relative
    # from above the project: output paths gain the prefix, the globs still match
    monkeypatch.chdir(tmp_path)
    result = api.check(["proj"], jobs=1, use_cache=False)
    assert {f.path for f in result.findings} == {"proj/legacy.py", "proj/pkg/new.py"}
    # from inside a package: "pkg/legacy.py" is shown as "legacy.py" but stays ignored,
    # while the root's own legacy.py (shown as ../legacy.py) is not ignored
    monkeypatch.chdir(root / "pkg")
    result = api.check([".", "../legacy.py"], jobs=1, use_cache=False)
    assert sorted(f.path for f in result.findings) == [str((root / "legacy.py").resolve().as_posix()), "new.py"]
