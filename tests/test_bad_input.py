"""Files a repository under review may hold: special files, links out of the project,
names and encodings Python can't show, files too large or too deep for the parser.  Each
is reported (EVT000 with the reason) and every other file is still checked; none is an
internal error, none blocks the run, none is read twice."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventlint import api, engine
from eventlint.cli import main
from eventlint.source import MAX_NESTING, nesting_problem

QUEUE_MODULE = "import queue\nQ = queue.Queue()\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "good.py").write_text(QUEUE_MODULE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rows(result) -> list[tuple[str, str, str]]:
    return [(f.code, f.path, f.message) for f in result.findings]


# Subprocesses run the eventlint under test, not whichever one is installed.
UNDER_TEST = {**os.environ, "PYTHONPATH": str(Path(engine.__file__).resolve().parent.parent)}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eventlint", *args], capture_output=True, text=True,
                          timeout=timeout, env=UNDER_TEST)


def test_symlink_loop_named_like_a_module(project):
    os.symlink("loop.py", project / "loop.py")
    result = api.check(["."], jobs=1, use_cache=False)
    assert rows(result) == [("EVT001", "good.py", rows(result)[0][2]),
                            ("EVT000", "loop.py", "cannot analyse this file: a symbolic link loop: not followed")]


def test_symlink_to_a_device_outside_the_project(project):
    os.symlink("/dev/zero", project / "zero.py")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT001", "good.py"), ("EVT000", "zero.py")]
    assert "a symbolic link to a file outside the project: not followed" in result.findings[1].message


def test_symlinked_folder_outside_the_project_is_not_followed(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "far.py").write_text(QUEUE_MODULE)
    os.symlink(outside, project / "linked", target_is_directory=True)
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT001", "good.py")]


def test_fifo_does_not_block_the_run(project):
    os.mkfifo(project / "pipe.py")
    completed = run_cli("check", ".", "--no-cache", "--format", "json", timeout=120)
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    assert [(f["code"], f["path"]) for f in report["findings"]] == [("EVT001", "good.py"), ("EVT000", "pipe.py")]
    assert "not a regular file (a FIFO)" in report["findings"][1]["message"]


def test_file_name_that_is_not_utf8(project):
    name = os.fsdecode(b"bad\xff.py")
    (project / name).write_text(QUEUE_MODULE)
    completed = run_cli("check", ".", "--no-cache")
    assert completed.returncode == 1, completed.stderr
    assert "bad\\xff.py:2:1: EVT001" in completed.stdout
    as_json = run_cli("check", ".", "--no-cache", "--format", "json")
    assert as_json.returncode == 1, as_json.stderr
    assert sorted(f["path"] for f in json.loads(as_json.stdout)["findings"]) == ["bad\\xff.py", "good.py"]


def test_file_larger_than_the_limit(project):
    (project / "pyproject.toml").write_text("[tool.eventlint]\nmax-file-size = 1000\n")
    (project / "big.py").write_text(QUEUE_MODULE + "# padding\n" * 200)
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT000", "big.py"), ("EVT001", "good.py")]
    assert "larger than max-file-size (2,031 > 1,000 bytes)" in result.findings[0].message


@pytest.mark.parametrize("codec", ["punycode"])
def test_coding_cookie_whose_codec_fails(project, codec):
    (project / "odd.py").write_bytes(f"# coding: {codec}\nx = 1\n".encode())
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT001", "good.py"), ("EVT000", "odd.py")]
    assert f"cannot decode as {codec}" in result.findings[1].message


def test_long_operator_chain_is_reported_before_libcst_sees_it(project, monkeypatch):
    """8,000 terms: libcst would take tens of seconds and then crash its process; the
    stdlib parser's own limit reports it at once."""
    (project / "chain.py").write_text("x = " + " + ".join(["1"] * 8000) + "\n")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT000", "chain.py"), ("EVT001", "good.py")]
    assert "too deeply nested or too long an expression for the parser" in result.findings[0].message


def test_brackets_inside_strings_and_comments_do_not_count_as_nesting(project):
    """A terminal library's escape codes (``"\\x1b["``) open no bracket: the file is
    analysed (its queue is found), not reported as too deeply nested."""
    escapes = "".join(f'    "{name}": "\\x1b[{n}m",  # ([{{\n' for n, name in enumerate(f"c{i}" for i in range(260)))
    (project / "colours.py").write_text("import queue\n\nCODES = {\n" + escapes + "}\nEVENTS = queue.Queue()\n")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path, f.span.line) for f in result.findings for code, path in [(f.code, f.path)]] == [
        ("EVT001", "colours.py", 265), ("EVT001", "good.py", 2)]


@pytest.mark.parametrize("head,line", [("", 1), ("type Pair = tuple[int, int]\n", 2)], ids=["plain", "newer-syntax"])
def test_brackets_nested_deeper_than_the_parser_allows(project, head, line):
    """Also where ``ast`` rejects the file for other reasons first (``type`` statements
    are newer than Python 3.11's): the count then runs itself."""
    (project / "deep.py").write_text(head + "x = " + "[" * 250 + "]" * 250 + "\n")
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT000", "deep.py"), ("EVT001", "good.py")]
    assert "too deeply nested for the parser (more than 200 brackets)" in result.findings[0].message
    assert (result.findings[0].span.line, result.findings[0].span.column) == (line, 205)


@pytest.mark.parametrize("depth", [MAX_NESTING, MAX_NESTING + 1])
def test_the_stdlib_parser_refuses_exactly_the_nesting_eventlint_reports(depth):
    """A file ``ast`` accepts is not counted again (``nesting_problem`` tokenizes in
    Python): that holds only while CPython's bracket limit is ``MAX_NESTING``."""
    text = "x = " + "(" * depth + "1" + ")" * depth + "\n"
    try:
        ast.parse(text)
        accepted = True
    except SyntaxError:
        accepted = False
    assert accepted == (depth <= MAX_NESTING)
    assert (nesting_problem(text) is None) == accepted


def _counting_analyze(marker: Path, slow_name: str, action):
    real = engine._analyze

    def analyze(job, raw):
        with open(marker, "a") as out:
            out.write(job.rel + "\n")
        if job.rel == slow_name:
            action()
        return real(job, raw)

    return analyze


def test_file_over_the_time_limit_is_reported_once(project, monkeypatch):
    (project / "pyproject.toml").write_text("[tool.eventlint]\nfile-time-limit = 1.5\n")
    (project / "slow.py").write_text(QUEUE_MODULE)
    marker = project.parent / "analysed.txt"
    monkeypatch.setattr(engine, "_analyze", _counting_analyze(marker, "slow.py", lambda: time.sleep(600)))
    result = api.check(["."], jobs=1, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [("EVT001", "good.py"), ("EVT000", "slow.py")]
    assert "analysis took longer than file-time-limit (1.5 s)" in result.findings[1].message
    assert sorted(marker.read_text().split()) == ["good.py", "slow.py"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_crashing_file_is_parsed_once(project, monkeypatch, jobs):
    (project / "boom.py").write_text(QUEUE_MODULE)
    (project / "other.py").write_text(QUEUE_MODULE)
    marker = project.parent / f"analysed-{jobs}.txt"
    monkeypatch.setattr(engine, "_analyze", _counting_analyze(marker, "boom.py", lambda: os._exit(3)))
    result = api.check(["."], jobs=jobs, use_cache=False)
    assert [(code, path) for code, path, _ in rows(result)] == [
        ("EVT000", "boom.py"), ("EVT001", "good.py"), ("EVT001", "other.py")]
    assert sorted(marker.read_text().split()) == ["boom.py", "good.py", "other.py"]


def test_unexpected_error_in_the_facts_pass_names_the_file(project, monkeypatch):
    def broken(job, raw):
        raise ValueError("surprise")

    monkeypatch.setattr(engine, "_analyze", broken)
    result = api.check(["."], jobs=1, use_cache=False)
    assert rows(result) == [("EVT000", "good.py",
                             "cannot analyse this file: internal error while analysing this file: ValueError: surprise")]


def test_jobs_beyond_the_machine_start_a_bounded_pool(project):
    assert engine.worker_count(100_000, 3) == 3
    assert engine.worker_count(100_000, 10_000) <= min(engine.MAX_WORKERS, 4 * (os.cpu_count() or 1))
    assert engine.worker_count(0, 5) == 1


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_die_with_the_main_process(project, sig):
    """What a CI job's timeout sends: no worker may go on after the main process."""
    (project / "pyproject.toml").write_text("[tool.eventlint]\nfile-time-limit = 600\n")
    (project / "other.py").write_text(QUEUE_MODULE)
    (project / "third.py").write_text(QUEUE_MODULE)
    started = project.parent / f"started-{sig}.txt"
    # every file takes the workers five minutes: they are busy when the signal comes
    slow = ("import sys, time\nfrom eventlint import engine\nreal = engine._analyze\n"
            "def analyze(job, raw):\n"
            f"    with open({str(started)!r}, 'a') as out:\n"
            "        out.write(job.rel + '\\n')\n"
            "    time.sleep(300)\n"
            "    return real(job, raw)\n"
            "engine._analyze = analyze\n"
            "from eventlint.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    process = subprocess.Popen([sys.executable, "-c", slow, "check", ".", "--no-cache", "--jobs", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=UNDER_TEST)
    try:
        deadline = time.monotonic() + 60
        while (not started.exists() or len(started.read_text().split()) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(process.pid)
        assert len(workers) == 2 and len(started.read_text().split()) == 2, "the workers did not start"
        process.send_signal(sig)
        process.wait(timeout=60)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_class_whose_keywords_are_unpacked_is_analysed():
    """``class A(**options)`` hands its keywords over unpacked: the facts pass read every
    keyword's name, and the file was lost to an internal error (the standard library's
    ``test_class.py`` has one)."""
    from eventlint.catalog import load_catalog
    from eventlint.source import analyze_source

    text = "import queue\n\nd = {}\n\n\nclass A(**d):\n    pass\n\n\nclass B(metaclass=type):\n    inbox = queue.Queue()\n"
    facts = analyze_source(text.encode(), path="m.py", module="m", aliases=(), is_package=False,
                           catalog=load_catalog({}), tag_keys=frozenset())
    assert facts.problem is None
    assert [(c.qualname, c.metaclass) for c in facts.classes] == [("m.A", None), ("m.B", ("G:builtins.type",))]
