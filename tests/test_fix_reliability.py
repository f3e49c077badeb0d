"""``eventlint fix`` never writes half a fix and never reports more than it wrote: a file
or folder that can't be written is an error (exit 2) and nothing of its fix is written;
the files of a rename are written all or nothing; the summary counts what is on disk;
the patch of ``--diff`` applies with ``git apply``; libcst's lossy printing of a
``\\r``-only file is caught; a codemod that fails while a report spells out its edits is
reported, not swallowed."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from eventlint import api, fixer
from eventlint.cli import main
from eventlint.codemods import CodemodResult
from eventlint.codemods.add_timeouts import AddTimeouts

ROOT = Path(__file__).resolve().parent.parent
CROSS_FILE = ROOT / "fixtures" / "codemods" / "privatize-queues" / "cross_file.before"

HANDLER = (
    "import requests\n"
    "from blinker import signal\n"
    "\n"
    "saved = signal(\"saved\")\n"
    "\n"
    "\n"
    "def push(sender, **extra):\n"
    "    requests.post(\"https://example.com\", json=extra)\n"
    "\n"
    "\n"
    "saved.connect(push)\n"
)
FIXED = HANDLER.replace("json=extra)", "json=extra, timeout=10.0)")
FOUR_CALLS = HANDLER.replace(
    "    requests.post(\"https://example.com\", json=extra)\n",
    "".join(f"    requests.post(\"https://example.com/{n}\", json=extra)\n" for n in range(4)))


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> int:
    return main(["fix", *args, "--no-cache", "-j", "1"])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".eventlint-tmp", ".eventlint-orig")))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Bytes, mode and inode of every Python file: a rollback must restore all three."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_ino)
            for p in sorted(folder.rglob("*.py"))}


# ---- a file or folder that can't be written -----------------------------------------------


def test_a_folder_that_cannot_be_written_is_an_error_and_nothing_is_written(project, monkeypatch, capsys):
    # Tests run as root, where mode bits don't stop a write; the operating system's answer
    # for a folder without write permission is what creating the temporary file raises.
    (project / "app.py").write_text(HANDLER, encoding="utf-8")
    real_mkstemp = tempfile.mkstemp

    def mkstemp_in_a_read_only_folder(*args, **kwargs):
        if Path(kwargs["dir"]) == project:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(fixer.tempfile, "mkstemp", mkstemp_in_a_read_only_folder)
    assert run() == 2
    captured = capsys.readouterr()
    assert "eventlint: error: app.py: cannot write: Permission denied\n" in captured.err
    assert "Fixed 0 findings in 0 files." in captured.out
    assert "1 finding remains (EVT003)" in captured.out
    assert (project / "app.py").read_text(encoding="utf-8") == HANDLER
    assert leftovers(project) == []


def test_a_read_only_file_is_an_error_and_is_left_alone(project, monkeypatch, capsys):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    os.chmod(path, 0o444)
    real_access = os.access
    # as root os.access says yes to everything: answer as it would for a normal user
    monkeypatch.setattr(fixer.os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    assert run() == 2
    assert "eventlint: error: app.py: cannot write: the file is read-only\n" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == HANDLER
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert leftovers(project) == []


def _limit_file_size(size: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_write_the_operating_system_refuses_is_exit_2_with_the_file_untouched(project):
    # A real refusal, whoever runs the tests: the process may not write files larger than
    # the original, so the temporary file with the fix can't be written.
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "eventlint", "fix", "--no-cache", "-j", "1"], cwd=project,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          preexec_fn=_limit_file_size(len(HANDLER.encode()) + 4))
    assert done.returncode == 2, done.stderr
    assert "eventlint: error: app.py: cannot write: File too large" in done.stderr
    assert "Fixed 0 findings in 0 files." in done.stdout
    assert path.read_text(encoding="utf-8") == HANDLER
    assert leftovers(project) == []


# ---- a rename across files: all or nothing ---------------------------------------------------


@pytest.fixture
def cross_file(project):
    shutil.copytree(CROSS_FILE / "app", project / "app")
    os.chmod(project / "app" / "hub.py", 0o640)
    os.chmod(project / "app" / "web.py", 0o604)
    return project


def test_a_rename_whose_third_file_cannot_be_replaced_is_rolled_back(cross_file, monkeypatch, capsys):
    before = snapshot(cross_file)
    real_replace = os.replace
    replaced = []

    def replace_but_not_the_worker(source, target):
        if Path(target).name == "worker.py" and str(source).endswith(".eventlint-tmp"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        replaced.append(Path(target).name)
        return real_replace(source, target)

    monkeypatch.setattr(fixer.os, "replace", replace_but_not_the_worker)
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 2
    # two files were replaced, then put back: bytes, mode and the very same inode
    assert replaced[:2] == ["hub.py", "web.py"]
    assert snapshot(cross_file) == before
    assert leftovers(cross_file) == []
    captured = capsys.readouterr()
    assert "eventlint: error: app/worker.py: cannot write: Permission denied\n" in captured.err
    assert "eventlint: error: app/hub.py: left unchanged: its fix also edits app/worker.py, which cannot be written\n" \
        in captured.err
    assert "eventlint: error: app/web.py: left unchanged: its fix also edits app/worker.py, which cannot be written\n" \
        in captured.err
    assert "Fixed 0 findings in 0 files." in captured.out
    assert "1 finding remains (EVT001)" in captured.out


def test_a_rename_whose_folder_cannot_be_written_changes_no_file(cross_file, monkeypatch, capsys):
    before = snapshot(cross_file)
    real_mkstemp = tempfile.mkstemp

    def mkstemp_failing_for_the_worker(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(".worker.py."):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(fixer.tempfile, "mkstemp", mkstemp_failing_for_the_worker)
    real_replace = os.replace
    replaced = []
    monkeypatch.setattr(fixer.os, "replace", lambda s, t: (replaced.append(t), real_replace(s, t))[1])
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 2
    assert replaced == []  # checked before anything was replaced
    assert snapshot(cross_file) == before
    assert leftovers(cross_file) == []
    assert "app/worker.py: cannot write: Permission denied" in capsys.readouterr().err


def test_a_rename_is_written_whole_when_every_file_can_be(cross_file, capsys):
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 0
    after = ROOT / "fixtures" / "codemods" / "privatize-queues" / "cross_file.after" / "app"
    for name in ("hub.py", "web.py", "worker.py"):
        assert (cross_file / "app" / name).read_text(encoding="utf-8") == (after / name).read_text(encoding="utf-8")
    assert stat.S_IMODE((cross_file / "app" / "hub.py").stat().st_mode) == 0o640
    assert stat.S_IMODE((cross_file / "app" / "web.py").stat().st_mode) == 0o604
    assert leftovers(cross_file) == []
    assert "Fixed 1 finding in 3 files." in capsys.readouterr().out


def test_a_group_that_fails_while_another_is_written_keeps_the_other(tmp_path, monkeypatch):
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    workspace = fixer.Workspace((name, tmp_path / name) for name in ("a.py", "b.py", "c.py"))
    assert workspace.propose({"a.py": "y = 1\n", "b.py": "y = 1\n"}, "rename") == []
    assert workspace.propose({"c.py": "y = 1\n"}, "other") == []
    real_replace = os.replace

    def refuse_b(source, target):
        if Path(target).name == "b.py" and str(source).endswith(".eventlint-tmp"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_replace(source, target)

    monkeypatch.setattr(fixer.os, "replace", refuse_b)
    outcome = workspace.write()
    assert outcome.written == ["c.py"]
    assert [(e.path, e.reason) for e in outcome.errors] == [
        ("b.py", "cannot write: Read-only file system"),
        ("a.py", "left unchanged: its fix also edits b.py, which cannot be written")]
    assert [(tmp_path / n).read_text(encoding="utf-8") for n in ("a.py", "b.py", "c.py")] == ["x = 1\n", "x = 1\n",
                                                                                            "y = 1\n"]
    assert leftovers(tmp_path) == []


def test_a_rollback_that_fails_keeps_the_original_beside_the_file_and_says_so(tmp_path, monkeypatch):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    workspace = fixer.Workspace((name, tmp_path / name) for name in ("a.py", "b.py"))
    assert workspace.propose({"a.py": "y = 1\n", "b.py": "y = 1\n"}, "rename") == []
    real_replace = os.replace

    def refuse_b_and_the_way_back(source, target):
        if Path(target).name == "b.py" or str(source).endswith(".eventlint-orig"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_replace(source, target)

    monkeypatch.setattr(fixer.os, "replace", refuse_b_and_the_way_back)
    outcome = workspace.write()
    assert outcome.written == []
    assert [e.path for e in outcome.errors] == ["b.py", "a.py", "a.py"]
    assert "could not be put back" in outcome.errors[2].reason
    (kept,) = [p for p in tmp_path.iterdir() if p.name.endswith(".eventlint-orig")]
    assert kept.name.startswith(".a.py.") and kept.read_text(encoding="utf-8") == "x = 1\n"


def test_an_interrupt_between_two_replacements_puts_the_first_back(cross_file, monkeypatch):
    before = snapshot(cross_file)
    real_replace = os.replace

    def interrupted_at_the_worker(source, target):
        if Path(target).name == "worker.py" and str(source).endswith(".eventlint-tmp"):
            raise KeyboardInterrupt
        return real_replace(source, target)

    monkeypatch.setattr(fixer.os, "replace", interrupted_at_the_worker)
    with pytest.raises(KeyboardInterrupt):
        api.fix(["."], jobs=1, use_cache=False, unsafe=True, codemods=("privatize-queues",))
    assert snapshot(cross_file) == before
    assert leftovers(cross_file) == []


# ---- the summary counts what was written -----------------------------------------------------


def test_a_file_changed_mid_run_is_not_counted_as_fixed_and_fails_the_run(project, monkeypatch, capsys):
    path = project / "app.py"
    path.write_text(FOUR_CALLS, encoding="utf-8")
    edited = FOUR_CALLS + "# saved again by an editor meanwhile\n"
    original_run = AddTimeouts.run

    def run_while_someone_edits(self, context):
        result = original_run(self, context)
        path.write_text(edited, encoding="utf-8")
        return result

    monkeypatch.setattr(AddTimeouts, "run", run_while_someone_edits)
    assert run() == 1
    out = capsys.readouterr().out
    assert "app.py: skipped: changed on disk since it was read; left unchanged" in out
    assert "Fixed 0 findings in 0 files." in out
    assert "4 findings remain (EVT003)" in out
    assert path.read_text(encoding="utf-8") == edited


def test_api_fix_counts_only_written_files(project, monkeypatch):
    path = project / "app.py"
    path.write_text(FOUR_CALLS, encoding="utf-8")
    monkeypatch.setattr(fixer, "changed_on_disk", lambda original: True)
    result = api.fix(["."], jobs=1, use_cache=False)
    assert result.changed == [] and result.fixed == {} and result.errors == []
    assert len(result.remaining) == 4


# ---- --diff applies with git ------------------------------------------------------------------


def _git_apply(project: Path, patch: str) -> subprocess.CompletedProcess:
    for command in (["git", "init", "-q"], ["git", "apply", "--check", "-"], ["git", "apply", "-"]):
        done = subprocess.run(command, cwd=project, input=patch if "apply" in command else None,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            return done
    return done


@pytest.mark.parametrize("original,expected", [
    # a form feed between functions, as PEP 8 allows; str.splitlines would break the line there
    (HANDLER.replace("\n\n\ndef push", "\n\f\ndef push"), FIXED.replace("\n\n\ndef push", "\n\f\ndef push")),
    (HANDLER.replace("saved = signal", "# \x1c\x1d\x1e\x85\u2028\u2029\v\nsaved = signal"),
     FIXED.replace("saved = signal", "# \x1c\x1d\x1e\x85\u2028\u2029\v\nsaved = signal")),
    (HANDLER.replace("\n", "\r\n"), FIXED.replace("\n", "\r\n")),
    (HANDLER.replace("\n", "\r"), FIXED.replace("\n", "\r")),
    (HANDLER.rstrip("\n"), FIXED.rstrip("\n")),
], ids=["form-feed", "other-breaks", "crlf", "cr-only", "no-final-newline"])
def test_the_diff_applies_with_git(project, capsys, original, expected):
    path = project / "app.py"
    path.write_bytes(original.encode())
    assert run("--diff") == 1
    patch = capsys.readouterr().out
    if original.endswith("\n"):  # patch tools end lines at \n only: a \r-only file is one line to them
        assert "\\ No newline at end of file" not in patch
    done = _git_apply(project, patch)
    assert done.returncode == 0, done.stderr + patch
    assert path.read_bytes() == expected.encode()


def test_the_diff_of_a_form_feed_file_has_one_hunk_line_per_python_line(project, capsys):
    (project / "app.py").write_text(HANDLER.replace("\n\n\ndef push", "\n\f\ndef push"), encoding="utf-8")
    run("--diff")
    patch = capsys.readouterr().out
    assert "\\ No newline" not in patch
    assert "@@ -4,7 +4,7 @@" in patch  # the call is on line 7 as Python numbers it (8 for str.splitlines)


# ---- the round trip through libcst is checked ------------------------------------------------


def test_a_cr_only_file_keeps_its_final_newline(project):
    path = project / "app.py"
    path.write_bytes(HANDLER.replace("\n", "\r").encode())
    assert run() == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r").encode()
    assert run() == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r").encode()  # fixing twice equals fixing once


def test_sarif_edits_of_a_cr_only_file_do_not_delete_its_final_newline(project, capsys):
    (project / "app.py").write_bytes(HANDLER.replace("\n", "\r").encode())
    main(["check", "--format", "sarif", "--no-cache", "-j", "1"])
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    assert [r["insertedContent"]["text"] for r in change["replacements"]] == [", timeout=10.0"]


@pytest.mark.parametrize("text", ["x = 1\r", "x = 1\r\r", "if x:\r    y = 2\r\r# end\r", "x = 1\n\r", "x = (1,\r 2)\r"])
def test_codemods_parse_a_cr_only_file_so_that_it_prints_back_byte_for_byte(text):
    from eventlint.codemods._cst import parse

    assert parse(text).module.code == text
    assert fixer.faithful(text, text.replace("1", "2")) == (text.replace("1", "2"), None)


def test_a_codemod_that_drops_the_final_newline_is_refused(project, monkeypatch):
    path = project / "app.py"
    path.write_bytes(HANDLER.replace("\n", "\r").encode())
    monkeypatch.setattr(AddTimeouts, "run", lambda self, context: CodemodResult(
        changes={"app.py": FIXED.replace("\n", "\r").rstrip("\r")}))
    result = api.fix(["."], jobs=1, use_cache=False)
    assert path.read_bytes() == HANDLER.replace("\n", "\r").encode()
    (skip,) = result.skipped
    assert skip.path == "app.py" and skip.reason.startswith("the fix would remove the file's final line end")


def test_a_file_libcst_does_not_print_back_is_never_rewritten(tmp_path, monkeypatch):
    from eventlint.codemods import _cst

    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    workspace = fixer.Workspace([("a.py", tmp_path / "a.py")])
    real_parse = _cst.parse_module
    monkeypatch.setattr(_cst, "parse_module", lambda text: real_parse("# lost in printing\n" + text))
    (refused,) = workspace.propose({"a.py": "x = 2\n"}, "rename")
    assert refused.path == "a.py" and "does not print this file back byte for byte" in refused.reason
    assert workspace.changed() == []


def test_the_round_trip_check_prints_the_tree_the_codemod_parsed_when_it_is_of_that_text(tmp_path, monkeypatch):
    from eventlint.codemods import _cst

    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    workspace = fixer.Workspace([("a.py", tmp_path / "a.py")])
    lossy = ("x = 1\n", _cst.parse("# lost in printing\nx = 1\n"))  # a tree that does not print back
    stale = ("x = 0\n", _cst.parse("x = 0\n"))  # parsed from other text: parsed again
    calls = []
    real_parse = _cst.parse_module
    monkeypatch.setattr(_cst, "parse_module", lambda text: calls.append(text) or real_parse(text))
    (refused,) = workspace.propose({"a.py": "x = 2\n"}, "rename", parsed={"a.py": lossy})
    assert "does not print this file back byte for byte" in refused.reason and calls == []
    assert workspace.propose({"a.py": "x = 2\n"}, "rename", parsed={"a.py": stale}) == []
    assert calls == ["x = 1\n"] and workspace.read("a.py") == "x = 2\n"


@pytest.mark.parametrize(("text", "error"), [
    ("x = (1,\n     2)\n", None),
    ("def first[T](items: list[T]) -> T:\n    return items[0]\n", None),  # newer than 3.11: libcst decides there
    ("def f(:\n    pass\n", "line 2: parser error: error at 2:4: expected one of ), *, **, NAME"),
])
def test_parse_error_asks_cpython_and_then_libcst(text, error):
    assert fixer.parse_error(text) == error


# ---- privatize-queues and an unresolvable receiver; codemod errors are reported ---------------


TWO_INBOXES = """\
import queue


class Hub:
    def __init__(self) -> None:
        self.inbox = queue.Queue()


class Relay:
    def __init__(self) -> None:
        self.inbox = queue.Queue()
"""
SENDER = "def send(target, item):\n    target.inbox.put(item)\n"


@pytest.fixture
def two_inboxes(project):
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "hub.py").write_text(TWO_INBOXES)
    (project / "app" / "user.py").write_text(SENDER)
    return project


def test_a_use_taken_to_be_the_channel_by_its_name_alone_says_so_when_it_stops_the_rename(project, capsys):
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    results = "import queue\n\n\nclass Results:\n    def __init__(self) -> None:\n        self.queue = queue.Queue()\n"
    (project / "app" / "results.py").write_text(results + "\n\ndef collect(results: Results, item) -> None:\n"
                                                "    results.queue.put(item)\n")
    (project / "app" / "pool.py").write_text("def reset(executor) -> None:\n    executor._work_queue.queue.clear()\n")
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 1
    assert ("app/results.py:6: skipped: `executor._work_queue.queue` at app/pool.py:2 (taken to be this channel by "
            "its name alone: the receiver's type is unknown) is used outside its owner by `.clear()`, which no method "
            "can stand in for; nothing was changed") in capsys.readouterr().out
    assert (project / "app" / "results.py").read_text().startswith(results)


def test_renames_of_two_classes_of_one_name_each_say_their_module(project, capsys):
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    for name in ("sync_client", "async_client"):
        (project / "app" / f"{name}.py").write_text(
            "import queue\n\n\nclass Subscriber:\n    def __init__(self) -> None:\n        self.messages = queue.Queue()\n"
            "\n\ndef deliver(subscriber: Subscriber, message: str) -> None:\n    subscriber.messages.put(message)\n")
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 0
    note = ("note: renamed `Subscriber.messages` to `Subscriber._messages` and added `publish()`; code outside the "
            "analysed paths that uses it must be updated too")
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == [f"{note} (module app.async_client)", f"{note} (module app.sync_client)"]


def test_privatize_queues_skips_a_channel_reached_through_an_unknown_receiver(two_inboxes, capsys):
    assert run("--unsafe-fixes", "--codemod", "privatize-queues") == 1
    out = capsys.readouterr().out
    reason = "can't tell whether `.inbox` at app/user.py:2 is this channel (unknown receiver type); left unchanged"
    assert f"app/hub.py:6: skipped: {reason}" in out
    assert f"app/hub.py:11: skipped: {reason}" in out
    assert (two_inboxes / "app" / "hub.py").read_text() == TWO_INBOXES
    assert (two_inboxes / "app" / "user.py").read_text() == SENDER


def test_sarif_reports_the_same_site_without_edits_and_without_warnings(two_inboxes, capsys):
    assert main(["check", "--format", "sarif", "--no-cache", "-j", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    results = json.loads(captured.out)["runs"][0]["results"]
    assert len(results) == 2 and all("fixes" not in r or not r["fixes"][0]["artifactChanges"] for r in results)


def test_a_failing_codemod_in_sarif_output_is_a_warning_not_silence(project, monkeypatch, capsys):
    (project / "app.py").write_text(HANDLER, encoding="utf-8")

    def broken(self, context):
        raise RuntimeError("boom")

    monkeypatch.setattr(AddTimeouts, "run", broken)
    assert main(["check", "--format", "sarif", "--no-cache", "-j", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ("eventlint: warning: codemod add-timeouts failed on app.py:8 (EVT003), so its fix has no "
                            "edits: RuntimeError: boom\n")
    (result,) = json.loads(captured.out)["runs"][0]["results"]
    assert not result.get("fixes") or not result["fixes"][0].get("artifactChanges")
    assert main(["check", "--format", "sarif", "--no-cache", "-j", "1", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("boom")' in err
    assert err.endswith("RuntimeError: boom\n")


def test_check_result_carries_the_warning(project, monkeypatch):
    (project / "app.py").write_text(HANDLER, encoding="utf-8")
    monkeypatch.setattr(AddTimeouts, "run", lambda self, context: 1 / 0)
    result = api.check(["."], jobs=1, use_cache=False, fix_edits=True)
    (warning,) = result.warnings
    assert "codemod add-timeouts failed on app.py:8" in warning.message and "ZeroDivisionError" in warning.details


# ---- numeric options ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "0", "-1"])
def test_timeout_option_must_be_finite_and_positive(project, capsys, value):
    (project / "app.py").write_text(HANDLER, encoding="utf-8")
    assert run(f"--timeout={value}") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("eventlint: error: --timeout must be a finite number of seconds greater than 0")
    assert len(captured.err.splitlines()) == 1
    assert (project / "app.py").read_text(encoding="utf-8") == HANDLER


@pytest.mark.parametrize("setting", ["nan", "inf"])
def test_default_timeout_setting_must_be_finite(project, capsys, setting):
    (project / "pyproject.toml").write_text(f"[tool.eventlint]\ndefault-timeout = {setting}\n", encoding="utf-8")
    (project / "app.py").write_text(HANDLER, encoding="utf-8")
    assert run() == 2
    assert capsys.readouterr().err == (f"eventlint: error: pyproject.toml: [tool.eventlint] `default-timeout` must be "
                                       f"a finite number greater than 0, not {setting}\n")
    assert (project / "app.py").read_text(encoding="utf-8") == HANDLER
