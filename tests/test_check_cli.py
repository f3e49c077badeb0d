"""``eventlint check`` end to end: exit codes, output formats, EVT000 handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eventlint import __version__, api, engine
from eventlint.cli import main


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args):
    return main([*args])


def test_clean_file_exits_zero(project, capsys):
    (project / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    assert run("check", "clean.py", "--no-cache") == 0
    assert "All checks passed (1 file checked)." in capsys.readouterr().out


def test_missing_path_is_one_clear_line(project, capsys):
    assert run("check", "no/such/path") == 2
    err = capsys.readouterr().err
    assert err == "eventlint: error: path not found: no/such/path\n"


def test_syntax_error_and_exposed_queue(project, capsys):
    folder = project / "pkg"
    folder.mkdir()
    (folder / "broken.py").write_text("def f(:\n    pass\n")
    (folder / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    assert run("check", "pkg", "--no-cache", "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    got = [(f["code"], f["path"], f["line"]) for f in report["findings"]]
    assert got == [("EVT000", "pkg/broken.py", 1), ("EVT001", "pkg/events.py", 2)]
    assert report["summary"] == {"files": 2, "findings": 2, "by_code": {"EVT000": 1, "EVT001": 1}, "unanalyzable": 1}
    first = report["findings"][1]
    assert set(first) >= {"code", "name", "message", "path", "line", "column", "end_line", "end_column", "related", "fix"}
    assert (first["column"], first["end_line"], first["end_column"]) == (1, 2, 23)
    assert first["fix"] == {"safety": "unsafe", "description": "privatize-queues: rename to a private name and add methods"}


def test_text_output_has_location_excerpt_and_summary(project, capsys):
    (project / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    assert run("check", "events.py", "--no-cache") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("events.py:2:1: EVT001 module global `EVENTS`")
    assert out[1] == "     2 | EVENTS = queue.Queue()"
    assert out[-1] == "Found 1 finding in 1 file checked; 1 fixable with `eventlint fix --unsafe-fixes`."


def test_select_and_ignore(project, capsys):
    (project / "a.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    (project / "b.py").write_text("x = (\n")
    run("check", ".", "--no-cache", "--format", "json", "--select", "EVT001")
    assert [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["EVT001"]
    run("check", ".", "--no-cache", "--format", "json", "--ignore", "EVT001")
    assert [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["EVT000"]


def test_paths_are_relative_to_cwd(project, monkeypatch, capsys):
    sub = project / "src" / "app"
    sub.mkdir(parents=True)
    (sub / "hub.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    monkeypatch.chdir(sub)
    run("check", ".", "--no-cache", "--format", "json")
    assert json.loads(capsys.readouterr().out)["findings"][0]["path"] == "hub.py"


@pytest.mark.parametrize(
    "content,reason,line",
    [
        (b"x = '\xff'\n", "cannot decode as utf-8: invalid byte 0xff", 1),
        (b"# -*- coding: made-up -*-\nx = 1\n", "cannot decode: unknown encoding: made-up", 1),
        (b"x = " + b"(" * 300 + b")" * 300 + b"\n", "too deeply nested for the parser", 1),
        (b"a = 1\nb = = 2\n", "syntax error: invalid syntax", 2),
    ],
)
def test_unanalyzable_reasons(project, content, reason, line):
    (project / "bad.py").write_bytes(content)
    (project / "good.py").write_text("import queue\nQ = queue.Queue()\n")
    result = api.check(["."], jobs=1, use_cache=False)
    got = [(f.code, f.path, f.span.line) for f in result.findings]
    assert got == [("EVT000", "bad.py", line), ("EVT001", "good.py", 2)]
    assert reason in result.findings[0].message


def test_coding_cookie_and_bom_are_respected(project):
    (project / "latin.py").write_bytes("# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n".encode("latin-1"))
    (project / "bom.py").write_bytes(b"\xef\xbb\xbfimport queue\nQ = queue.Queue()\n")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(f.code, f.path, f.span.line, f.span.column) for f in result.findings] == [("EVT001", "bom.py", 2, 1)]


def test_worker_crash_becomes_evt000_and_run_goes_on(project, monkeypatch):
    """A parser crash kills only its worker: the file is reported, the rest checked."""
    real = engine._analyze

    def crashing(job, raw=None):
        if job.rel.endswith("boom.py"):
            os._exit(3)
        return real(job, raw)

    monkeypatch.setattr(engine, "_analyze", crashing)
    for name in ("a.py", "boom.py", "c.py"):
        (project / name).write_text("import queue\nQ = queue.Queue()\n")
    result = api.check(["."], jobs=2, use_cache=False)
    got = [(f.code, f.path) for f in result.findings]
    assert got == [("EVT001", "a.py"), ("EVT000", "boom.py"), ("EVT001", "c.py")]
    assert "parser crashed" in result.findings[1].message


def test_a_crash_is_not_cached(project, monkeypatch):
    """The next run analyses the file again: a crash (a worker killed for memory, say)
    need not recur, and neither the file's facts nor the run's results keep it."""
    real = engine._analyze

    def crashing(job, raw=None):
        if job.rel.endswith("boom.py"):
            os._exit(3)
        return real(job, raw)

    for name in ("a.py", "boom.py"):
        (project / name).write_text("import queue\nQ = queue.Queue()\n")
    monkeypatch.setattr(engine, "_analyze", crashing)
    first = api.check(["."], jobs=1)
    assert [(f.code, f.path) for f in first.findings] == [("EVT001", "a.py"), ("EVT000", "boom.py")]
    monkeypatch.setattr(engine, "_analyze", real)
    second = api.check(["."], jobs=1)
    assert [(f.code, f.path) for f in second.findings] == [("EVT001", "a.py"), ("EVT001", "boom.py")]


def test_skips_hidden_virtualenv_build_and_symlink_loops(project):
    for folder in (".hidden", "venv", "build", "dist", "__pycache__", "pkg"):
        (project / folder).mkdir()
        (project / folder / "m.py").write_text("import queue\nQ = queue.Queue()\n")
    (project / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (project / "pkg" / "loop").symlink_to(project / "pkg")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [f.path for f in result.findings] == ["pkg/m.py"]


def test_version_and_module_entry_point(project):
    out = subprocess.run([sys.executable, "-m", "eventlint", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_bad_option_is_usage_error(project, capsys):
    assert run("check", "--format", "xml") == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err


def test_blocking_calls_are_named_as_people_write_them(project):
    """An instance reads as its class, a function's result as a call, an unpacked item by
    its index: never the analysis's own notation."""
    (project / "worker.py").write_text(
        "import asyncio\nimport socket\nimport threading\nfrom concurrent.futures import ThreadPoolExecutor\n\n"
        "ready = threading.Event()\npool = ThreadPoolExecutor(2)\n\n\n"
        "def work():\n"
        "    conn = socket.create_connection(('example.com', 80), timeout=3)\n"
        "    conn.settimeout(None)\n"
        "    ready.wait()\n"
        "    pool.submit(print).result()\n\n\n"
        "async def read():\n"
        "    reader, writer = await asyncio.wait_for(asyncio.open_connection('example.com', 80), 5)\n"
        "    await reader.read(100)\n\n\n"
        "threading.Thread(target=work).start()\nasyncio.get_event_loop().create_task(read())\n")
    result = api.check(["."], jobs=1, use_cache=False)
    named = [f.message.split("`")[1] for f in result.findings if f.code == "EVT003"]
    assert named == ["threading.Event.wait()", "concurrent.futures.ThreadPoolExecutor.submit().result()",
                     "asyncio.open_connection()[0].read()"]
