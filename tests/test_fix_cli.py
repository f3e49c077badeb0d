"""``eventlint fix`` and ``eventlint codemods`` on the command line."""

from __future__ import annotations

import json
import shutil

import libcst as cst
import pytest

from eventlint.cli import main
from eventlint.codemods import registry

from .fixture_cases import FIXTURES

HANDLERS = """\
import subprocess

import requests
from blinker import signal

saved = signal("saved")


def push(sender, **extra):
    requests.post("https://example.com", json=extra)


def archive(sender, **extra):
    subprocess.run(["tar", "czf", "out.tgz", "data"])


saved.connect(push)
saved.connect(archive)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> int:
    return main([*args, "--no-cache", "-j", "1"] if args[0] == "fix" else list(args))


def test_safe_fixes_only_by_default(project, capsys):
    (project / "app.py").write_text(HANDLERS, encoding="utf-8")
    assert run("fix") == 1  # the subprocess finding needs --unsafe-fixes
    text = (project / "app.py").read_text(encoding="utf-8")
    assert 'json=extra, timeout=10.0)' in text
    assert 'subprocess.run(["tar", "czf", "out.tgz", "data"])' in text
    out = capsys.readouterr().out
    assert "app.py: fixed 1 finding" in out
    assert "1 finding remains (EVT003)" in out
    assert "1 more fix can be applied with --unsafe-fixes." in out


def test_unsafe_fixes_and_exit_zero_when_nothing_remains(project, capsys):
    (project / "app.py").write_text(HANDLERS, encoding="utf-8")
    assert run("fix", "--unsafe-fixes") == 0
    text = (project / "app.py").read_text(encoding="utf-8")
    assert 'subprocess.run(["tar", "czf", "out.tgz", "data"], timeout=10.0)' in text
    assert "Fixed 2 findings in 1 file." in capsys.readouterr().out


def test_diff_prints_a_patch_writes_nothing_and_exits_1(project, capsys):
    (project / "app.py").write_text(HANDLERS, encoding="utf-8")
    assert run("fix", "--diff") == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("--- a/app.py\n+++ b/app.py\n@@ ")
    assert '+    requests.post("https://example.com", json=extra, timeout=10.0)\n' in captured.out
    assert "Would change 1 file." in captured.err
    assert (project / "app.py").read_text(encoding="utf-8") == HANDLERS


def test_diff_exits_0_when_there_is_nothing_to_change(project, capsys):
    (project / "app.py").write_text("import requests\n\nrequests.get('https://example.com')\n", encoding="utf-8")
    assert run("fix", "--diff") == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Nothing to change." in captured.err


def test_diff_paths_are_relative_to_the_current_folder(project, capsys, monkeypatch):
    (project / "pkg").mkdir()
    (project / "pkg" / "app.py").write_text(HANDLERS, encoding="utf-8")
    monkeypatch.chdir(project / "pkg")
    assert run("fix", "--diff", ".") == 1
    assert capsys.readouterr().out.startswith("--- a/app.py\n+++ b/app.py\n")


def test_timeout_option_and_setting(project, capsys):
    (project / "app.py").write_text(HANDLERS, encoding="utf-8")
    assert run("fix", "--diff", "--timeout", "2.5") == 1
    assert "timeout=2.5)" in capsys.readouterr().out
    (project / "pyproject.toml").write_text("[tool.eventlint]\ndefault-timeout = 3\n", encoding="utf-8")
    assert run("fix", "--diff") == 1
    assert "timeout=3.0)" in capsys.readouterr().out


def test_select_and_ignore(project, capsys):
    (project / "app.py").write_text(HANDLERS + "\nimport queue\nINBOX = queue.Queue()\n", encoding="utf-8")
    assert run("fix", "--unsafe-fixes", "--diff", "--select", "EVT001") == 1
    out = capsys.readouterr().out
    assert "_INBOX = queue.Queue()" in out and "timeout=" not in out
    assert run("fix", "--unsafe-fixes", "--diff", "--ignore", "EVT001") == 1
    out = capsys.readouterr().out
    assert "_INBOX" not in out and "timeout=" in out


def test_an_unsafe_codemod_needs_unsafe_fixes(project, capsys):
    (project / "app.py").write_text("import queue\nINBOX = queue.Queue()\n", encoding="utf-8")
    assert run("fix", "--codemod", "privatize-queues") == 2
    err = capsys.readouterr().err
    assert err.startswith("eventlint: error: codemod privatize-queues is unsafe") and "--unsafe-fixes" in err
    assert err.count("\n") == 1
    assert run("fix", "--codemod", "privatize-queues", "--unsafe-fixes") == 0
    assert (project / "app.py").read_text(encoding="utf-8") == "import queue\n_INBOX = queue.Queue()\n"


def test_unknown_codemod(project, capsys):
    (project / "app.py").write_text("x = 1\n", encoding="utf-8")
    assert run("fix", "--codemod", "make-it-fast") == 2
    assert "unknown codemod 'make-it-fast'" in capsys.readouterr().err


def test_codemod_option_runs_only_that_codemod(project, capsys):
    (project / "app.py").write_text(HANDLERS + "\nimport queue\nINBOX = queue.Queue()\n", encoding="utf-8")
    assert run("fix", "--unsafe-fixes", "--codemod", "add-timeouts") == 0
    text = (project / "app.py").read_text(encoding="utf-8")
    assert "INBOX = queue.Queue()" in text and "_INBOX" not in text and "timeout=10.0" in text


def test_codemods_command_lists_name_safety_and_description(capsys):
    assert main(["codemods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in lines}
    assert rows["add-timeouts"] == "mixed"
    assert rows["privatize-queues"] == "unsafe"


def test_a_missing_codemod_module_is_tolerated(project, monkeypatch, capsys):
    ghost = registry.Entry("ghost", "eventlint.codemods.not_written_yet", "Ghost", ("EVT002",), ("EVT002",))
    monkeypatch.setattr(registry, "ENTRIES", (*registry.ENTRIES, ghost))
    assert "ghost" not in [entry.name for entry, _ in registry.available()]
    (project / "app.py").write_text("x = 1\n", encoding="utf-8")
    assert run("fix", "--codemod", "ghost") == 2
    assert "codemod ghost is not available" in capsys.readouterr().err
    assert run("fix") == 0


def test_json_findings_carry_their_fix(project, capsys):
    (project / "app.py").write_text(HANDLERS + "\nimport queue\nINBOX = queue.Queue()\n", encoding="utf-8")
    assert main(["check", "--no-cache", "--format", "json"]) == 1
    fixes = {(f["code"], f["line"]): f["fix"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert fixes[("EVT001", 21)] == {"safety": "unsafe",
                                      "description": "privatize-queues: rename to a private name and add methods"}
    assert fixes[("EVT003", 10)]["safety"] == "safe"
    assert fixes[("EVT003", 10)]["description"].startswith("pass timeout=10 ")
    assert fixes[("EVT003", 14)]["safety"] == "unsafe"


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.py"))}


def test_demo_project(tmp_path, monkeypatch, capsys):
    demo = tmp_path / "demo"
    shutil.copytree(FIXTURES / "demo", demo)
    monkeypatch.chdir(demo)
    before = _snapshot(demo)
    assert run("fix", "--diff") == 1
    assert "shop/notify.py" in capsys.readouterr().out
    assert _snapshot(demo) == before
    assert run("fix", "--unsafe-fixes") in (0, 1)
    capsys.readouterr()
    after = _snapshot(demo)
    assert after != before
    for content in after.values():
        cst.parse_module(content.decode("utf-8"))
    assert "timeout=10.0" in after["shop/notify.py"].decode()
    assert run("fix", "--unsafe-fixes", "--diff") == 0  # fixing again changes nothing
    assert capsys.readouterr().out == ""
    assert main(["check", "--no-cache", "--format", "json"]) in (0, 1)
    left = json.loads(capsys.readouterr().out)["findings"]
    assert not [f for f in left if f["code"] == "EVT001"]
    assert not [f for f in left if f["code"] == "EVT003" and f["path"] == "shop/notify.py"]
