"""How ``eventlint fix`` writes: encoding, newlines and permissions kept, nothing written
that does not parse, nothing written over a file that changed since it was read."""

from __future__ import annotations

import os
import stat

import pytest

from eventlint import api
from eventlint.codemods import CodemodResult
from eventlint.codemods.add_timeouts import AddTimeouts

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


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fix(**options):
    return api.fix(["."], jobs=1, use_cache=False, **options)


def test_crlf_newlines_are_kept(project):
    (project / "app.py").write_bytes(HANDLER.replace("\n", "\r\n").encode())
    fix()
    assert (project / "app.py").read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_latin1_cookie_keeps_its_encoding(project):
    header = "# -*- coding: latin-1 -*-\nGREETING = \"h\u00e9llo\"\n"
    (project / "app.py").write_bytes((header + HANDLER).encode("latin-1"))
    fix()
    raw = (project / "app.py").read_bytes()
    assert raw == (header + FIXED).encode("latin-1")
    assert b"h\xe9llo" in raw


def test_byte_order_mark_is_kept(project):
    (project / "app.py").write_bytes(b"\xef\xbb\xbf" + HANDLER.encode())
    fix()
    assert (project / "app.py").read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


def test_permissions_are_kept_and_no_temporary_file_is_left(project):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    os.chmod(path, 0o640)
    fix()
    assert path.read_text(encoding="utf-8") == FIXED
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(p.name for p in project.iterdir()) == ["app.py", "pyproject.toml"]


def test_a_file_changed_after_it_was_read_is_left_alone(project, monkeypatch):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    edited = HANDLER + "# edited by someone else meanwhile\n"
    original_run = AddTimeouts.run

    def run_while_someone_edits(self, context):
        result = original_run(self, context)
        path.write_text(edited, encoding="utf-8")
        return result

    monkeypatch.setattr(AddTimeouts, "run", run_while_someone_edits)
    result = fix()
    assert path.read_text(encoding="utf-8") == edited
    assert result.changed == []
    assert [s.reason for s in result.skipped] == ["changed on disk since it was read; left unchanged"]


def test_code_that_does_not_parse_is_never_written(project, monkeypatch):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    monkeypatch.setattr(AddTimeouts, "run", lambda self, context: CodemodResult(changes={"app.py": "def (:\n"}))
    result = fix()
    assert path.read_text(encoding="utf-8") == HANDLER
    assert result.changed == []
    (skip,) = result.skipped
    assert skip.path == "app.py" and "does not parse" in skip.reason


def test_text_the_file_encoding_cannot_hold_is_never_written(project, monkeypatch):
    path = project / "app.py"
    path.write_bytes(("# -*- coding: latin-1 -*-\n" + HANDLER).encode("latin-1"))
    before = path.read_bytes()

    def add_a_snowman(self, context):
        return CodemodResult(changes={"app.py": context.read("app.py") + "SNOW = \"\u2603\"\n"})

    monkeypatch.setattr(AddTimeouts, "run", add_a_snowman)
    result = fix()
    assert path.read_bytes() == before
    assert "can't be encoded as iso-8859-1" in result.skipped[0].reason


def test_diff_writes_nothing(project):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    result = fix(diff=True)
    assert path.read_text(encoding="utf-8") == HANDLER
    assert result.changed == ["app.py"]
    assert result.diff.startswith("--- a/app.py\n+++ b/app.py\n")
    assert "+    requests.post(\"https://example.com\", json=extra, timeout=10.0)\n" in result.diff


def test_fixing_twice_changes_nothing_more(project):
    path = project / "app.py"
    path.write_text(HANDLER, encoding="utf-8")
    fix()
    again = fix()
    assert again.changed == [] and path.read_text(encoding="utf-8") == FIXED


@pytest.mark.parametrize("independent,written", [(False, []), (True, ["b.py"])])
def test_files_edited_together_are_held_back_together(tmp_path, independent, written):
    from eventlint.fixer import Workspace

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    workspace = Workspace((name, tmp_path / name) for name in ("a.py", "b.py"))
    assert workspace.propose({"a.py": "y = 1\n", "b.py": "y = 1\n"}, "rename", independent=independent) == []
    (tmp_path / "a.py").write_text("x = 2\n", encoding="utf-8")
    outcome = workspace.write()
    done, refused = outcome.written, outcome.skipped
    assert done == written and outcome.errors == []
    assert (tmp_path / "a.py").read_text(encoding="utf-8") == "x = 2\n"
    assert (tmp_path / "b.py").read_text(encoding="utf-8") == ("y = 1\n" if written else "x = 1\n")
    assert refused[0].path == "a.py" and "changed on disk" in refused[0].reason
