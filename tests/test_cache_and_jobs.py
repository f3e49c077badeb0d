"""The facts cache and the process pool never change what a check reports: results are
the same with and without the cache, cold or warm, with one worker or two, whatever the
files are called; damaged entries are recomputed; two runs can share a cache folder."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from eventlint import api, engine
from eventlint.cli import main
from eventlint.cache import FactsCache
from eventlint.model import FileFacts

# ---- small projects built from blocks ------------------------------------------------
#
# A block is a few files in a package; it knows which findings (code, file) it causes.
# Each block gets its own module names, so blocks combine freely.

PACKAGES = ("pkg", "pkg/sub", "other")


def _module(package: str, name: str) -> tuple[str, str]:
    """(path of the file, its dotted module name)."""
    return f"{package}/{name}.py", f"{package.replace('/', '.')}.{name}"


def block_queue(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    path, _ = _module(package, names[0])
    return {path: "import queue\n\nEVENTS = queue.Queue()\n"}, {("EVT001", path)}


def block_hub(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    """A class with a public queue attribute, and a put to it from another module."""
    hub, hub_module = _module(package, names[0])
    sender, _ = _module(package, names[1])
    return {
        hub: "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self.inbox = queue.Queue()\n",
        sender: f"from {hub_module} import Hub\n\nhub = Hub()\n\n\ndef send(item):\n    hub.inbox.put(item)\n",
    }, {("EVT001", hub)}


def block_mixed(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    path, _ = _module(package, names[0])
    return {path: (
        "import queue\n\n_channel = queue.Queue()\n\n\nclass Created:\n    pass\n\n\nclass Deleted:\n    pass\n\n\n"
        "def produce():\n    _channel.put(Created())\n    _channel.put(Deleted())\n    _channel.put(None)\n"
    )}, {("EVT002", path)}


def block_thread(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    """A thread target that calls a helper in another module, which calls requests.get
    without a timeout."""
    net, net_module = _module(package, names[0])
    worker, _ = _module(package, names[1])
    return {
        net: "import requests\n\n\ndef fetch(url):\n    return requests.get(url)\n",
        worker: (f"import threading\n\nfrom {net_module} import fetch\n\n\ndef work():\n"
                 "    fetch(\"https://example.com\")\n\n\nthreading.Thread(target=work).start()\n"),
    }, {("EVT003", net)}


def block_broken(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    path, _ = _module(package, names[0])
    return {path: "def broken(:\n    pass\n"}, {("EVT000", path)}


def block_clean(package: str, names: list[str]) -> tuple[dict[str, str], set]:
    path, _ = _module(package, names[0])
    return {path: "import queue\n\n\ndef drain():\n    items = queue.Queue()\n    items.put(1)\n    return items.get()\n"}, set()


BLOCKS = {"queue": block_queue, "hub": block_hub, "mixed": block_mixed, "thread": block_thread,
          "broken": block_broken, "clean": block_clean}


def build(blocks: list[tuple[str, str]], names: list[str]) -> tuple[dict[str, str], set]:
    """Files (root-relative path -> text) and the expected (code, path) pairs."""
    files: dict[str, str] = {"pyproject.toml": "[project]\nname = 'p'\n"}
    for package in PACKAGES:
        files[f"{package}/__init__.py"] = ""
    expected: set = set()
    names = iter(names)
    for kind, package in blocks:
        made, findings = BLOCKS[kind](package, [next(names), next(names)])
        files.update(made)
        expected |= findings
    return files, expected


def write(root: Path, files: dict[str, str], order: list[str] | None = None) -> None:
    for rel in order or sorted(files):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel])


@contextlib.contextmanager
def inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)


def rows(result: api.CheckResult) -> list[tuple]:
    """Everything a finding reports, in output order."""
    return [
        (f.code, f.path, f.span.line, f.span.column, f.span.end_line, f.span.end_column, f.message,
         tuple((r.path, r.span.line, r.span.column, r.message) for r in f.related))
        for f in result.findings
    ]


def python_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.py"))


def entries(cache: Path) -> list[Path]:
    """The per-file facts entries (whole-run results live under ``runs/``; the cache
    folder's own ``.gitignore`` and ``CACHEDIR.TAG`` sit at its top)."""
    return sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
                  and p.parent.name != "runs" and p.parent != cache)


def entry_not_of(cache: Path, rel: str) -> Path:
    """An entry of another file than ``rel`` (an entry's name is a hash: which file the
    first one holds changes with eventlint's own code)."""
    return next(p for p in entries(cache) if f'"{rel}"'.encode() not in p.read_bytes())


SAMPLE = [("queue", "pkg"), ("hub", "pkg/sub"), ("mixed", "other"), ("thread", "pkg"), ("broken", "other"),
          ("clean", "pkg")]


@contextlib.contextmanager
def sample_project(tmp_path: Path, blocks=SAMPLE):
    files, expected = build(blocks, [f"m{i}" for i in range(2 * len(blocks))])
    write(tmp_path, files)
    with inside(tmp_path):
        yield expected


# ---- the property ---------------------------------------------------------------------

module_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(lambda s: "m" + s)
projects = st.lists(st.tuples(st.sampled_from(sorted(BLOCKS)), st.sampled_from(PACKAGES)), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=projects, data=st.data())
def test_cache_and_jobs_never_change_the_findings(blocks, data):
    names = data.draw(st.lists(module_names, min_size=2 * len(blocks), max_size=2 * len(blocks), unique=True),
                      label="module names")
    files, expected = build(blocks, names)
    order = data.draw(st.permutations(sorted(files)), label="write order")
    with tempfile.TemporaryDirectory() as temp, inside(Path(temp)) as root:
        write(root, files, order)
        count = python_files(root)
        plain = api.check(["."], jobs=1, use_cache=False)
        cold = api.check(["."], jobs=2)
        warm = api.check(["."], jobs=2)
        warm_one = api.check(["."], jobs=1)
        assert {(f.code, f.path) for f in plain.findings} == expected
        assert rows(cold) == rows(plain)
        assert rows(warm) == rows(plain)
        assert rows(warm_one) == rows(plain)
        assert [f.path for f in cold.files] == [f.path for f in plain.files]
        assert (plain.cache_hits, cold.cache_hits, warm.cache_hits, warm_one.cache_hits) == (0, 0, count, count)
        assert not (root / ".eventlint_cache").exists() or len(entries(root / ".eventlint_cache")) == count


# ---- the cache ------------------------------------------------------------------------


def test_damaged_entries_are_recomputed(tmp_path):
    with sample_project(tmp_path):
        first = api.check(["."], jobs=2)
        count = python_files(tmp_path)
        stored = entries(tmp_path / ".eventlint_cache")
        assert len(stored) == count
        stored[0].write_bytes(stored[0].read_bytes()[: len(stored[0].read_bytes()) // 2])  # truncated
        stored[1].write_bytes(b"\x80\x05garbage\xff\x00" * 7)  # not an entry at all
        stored[2].write_bytes(b"")
        damaged = bytearray(stored[3].read_bytes())
        damaged[-5] ^= 0xFF  # one flipped byte inside the payload
        stored[3].write_bytes(bytes(damaged))
        shutil.rmtree(tmp_path / ".eventlint_cache" / "runs")  # else the stored run answers first
        again = api.check(["."], jobs=2)
        assert rows(again) == rows(first)
        assert again.cache_hits == count - 4
        shutil.rmtree(tmp_path / ".eventlint_cache" / "runs")
        assert api.check(["."], jobs=1).cache_hits == count  # rewritten


def test_stored_run_results_are_reused_only_for_an_identical_run(tmp_path):
    """An unchanged tree reuses the stored findings; a changed file, other settings or a
    damaged entry never do (the findings are recomputed and equal a run without cache)."""
    with sample_project(tmp_path):
        first = api.check(["."], jobs=2)
        runs = tmp_path / ".eventlint_cache" / "runs"
        assert len(list(runs.iterdir())) == 1
        reused = api.check(["."], jobs=1)
        assert rows(reused) == rows(first) and reused.graph is None
        assert len(first.files) == len(reused.files)
        assert [f.problem for f in first.files] == [f.problem for f in reused.files]
        assert rows(api.check(["."], jobs=1, select=("EVT001",))) == [r for r in rows(first) if r[0] == "EVT001"]
        for entry in runs.iterdir():
            entry.write_bytes(entry.read_bytes()[:-3] + b"xyz")
        assert rows(api.check(["."], jobs=1)) == rows(first)
        target = next(tmp_path.rglob("*.py"))
        target.write_text(target.read_text() + "\nimport queue\nLATE = queue.Queue()\n")
        changed = api.check(["."], jobs=1)
        assert rows(changed) == rows(api.check(["."], jobs=1, use_cache=False))
        assert any(r[0] == "EVT001" and "LATE" in r[6] for r in rows(changed))


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(max_size=300), keep=st.integers(min_value=0, max_value=400))
def test_no_bytes_in_an_entry_break_a_run(garbage, keep):
    """Whatever an entry holds, reading it gives facts or nothing: never an exception."""
    with tempfile.TemporaryDirectory() as temp:
        cache = FactsCache(Path(temp), "salt")
        key = "ab" + "0" * 38
        (Path(temp) / "ab").mkdir()
        (Path(temp) / "ab" / key).write_bytes(garbage)
        assert cache.get(key) is None
        cache.put(key, FileFacts("a.py", "a", ()))
        entry = (Path(temp) / "ab" / key).read_bytes()
        (Path(temp) / "ab" / key).write_bytes(entry[:keep] + garbage)
        got = cache.get(key)
        assert got is None or got == FileFacts("a.py", "a", ())


def test_past_a_size_the_workers_load_the_entries_and_share_their_values(tmp_path, monkeypatch):
    """Many entries are loaded by the workers, never by the main process: the same
    findings and hits, a damaged entry and a changed file analysed again, and equal values
    of a file's loaded facts one object (as a fresh analysis makes them)."""
    main_process = os.getpid()
    real_get = FactsCache.get

    def get_in_a_worker(self, key):
        assert os.getpid() != main_process, "the main process decoded an entry"
        return real_get(self, key)

    with sample_project(tmp_path):
        first = api.check(["."], jobs=2)
        count = python_files(tmp_path)
        entry_not_of(tmp_path / ".eventlint_cache", "pkg/m10.py").write_bytes(b"")  # damaged: analysed again
        target = tmp_path / "pkg" / "m10.py"  # changed: analysed again
        target.write_text(target.read_text() + "\nimport queue\nLATE = queue.Queue()\n")
        shutil.rmtree(tmp_path / ".eventlint_cache" / "runs")
        monkeypatch.setattr(engine, "SHARED_LOAD_BYTES", 0)
        monkeypatch.setattr(FactsCache, "get", get_in_a_worker)
        again = api.check(["."], jobs=2)
        assert again.cache_hits == count - 2
        assert ("EVT001", "pkg/m10.py") in {(f.code, f.path) for f in again.findings}
        monkeypatch.setattr(FactsCache, "get", real_get)
        assert rows(again) == rows(api.check(["."], jobs=1, use_cache=False))
        repeated = 0  # calls of a callee called before in the same file
        for facts in again.files:
            callees: dict = {}
            for call in facts.calls:
                if call.callee in callees:
                    assert callees[call.callee] is call.callee
                    repeated += 1
                callees.setdefault(call.callee, call.callee)
        assert repeated
        shutil.rmtree(tmp_path / ".eventlint_cache" / "runs")
        assert api.check(["."], jobs=1).cache_hits == count  # the damaged entry was written again
        assert rows(first) != rows(again)  # m10.py's new queue


@pytest.mark.parametrize("jobs", [1, 2])
def test_entries_are_read_while_the_changed_files_are_analysed(tmp_path, monkeypatch, jobs):
    """The main process reads the cache entries while the workers analyse what changed;
    an entry that proves unusable then is analysed too."""
    with sample_project(tmp_path):
        api.check(["."], jobs=jobs)
        count = python_files(tmp_path)
        entry_not_of(tmp_path / ".eventlint_cache", "pkg/m10.py").write_bytes(b"\x00garbage")
        target = tmp_path / "pkg" / "m10.py"
        target.write_text(target.read_text() + "\nimport queue\nLATE = queue.Queue()\n")
        handed: list[tuple[int, bool]] = []  # (files to analyse, whether entries are read meanwhile)
        real = engine._run_pool

        def recording(pending, *args, **kwargs):
            handed.append((len(pending), args[-1] is not None))
            return real(pending, *args, **kwargs)

        monkeypatch.setattr(engine, "_run_pool", recording)
        changed = api.check(["."], jobs=jobs)
        assert handed == [(1, True)]  # m10.py; the damaged entry is found while reading
        assert changed.cache_hits == count - 2
        assert rows(changed) == rows(api.check(["."], jobs=1, use_cache=False))


def test_a_changed_file_invalidates_only_its_entry(tmp_path):
    with sample_project(tmp_path):
        api.check(["."], jobs=2)
        count = python_files(tmp_path)
        target = tmp_path / "pkg" / "m10.py"  # the clean block
        target.write_text(target.read_text() + "\nimport queue\nLATE = queue.Queue()\n")
        changed = api.check(["."], jobs=2)
        assert changed.cache_hits == count - 1
        assert ("EVT001", "pkg/m10.py") in {(f.code, f.path) for f in changed.findings}
        assert rows(changed) == rows(api.check(["."], jobs=1, use_cache=False))


def test_two_runs_at_once_share_the_cache(tmp_path):
    blocks = SAMPLE * 4
    files, _ = build(blocks, [f"m{i}" for i in range(2 * len(blocks))])
    write(tmp_path, files)
    command = [sys.executable, "-m", "eventlint", "check", ".", "--format", "json", "--jobs", "2"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], [err.decode() for _, err in outputs]
    assert outputs[0][0] == outputs[1][0]
    count = python_files(tmp_path)
    assert json.loads(outputs[0][0])["summary"]["files"] == count
    cache = tmp_path / ".eventlint_cache"
    assert len(entries(cache)) == count
    assert not [p for p in cache.rglob(".tmp-*")]
    with inside(tmp_path):
        warm = api.check(["."], jobs=1)
    assert warm.cache_hits == count


def test_a_warm_run_imports_neither_libcst_nor_networkx(tmp_path):
    """Nothing changed: the stored results are replayed without parsing or a graph."""
    files, _ = build(SAMPLE, [f"m{i}" for i in range(2 * len(SAMPLE))])
    write(tmp_path, files)
    script = ("import sys\nfrom eventlint.cli import main\ntry:\n    main(['check', '.', '--jobs', '1'])\n"
              "except SystemExit:\n    pass\nprint(sorted(m for m in ('libcst', 'networkx') if m in sys.modules))\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    runs = [subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    # a cold run imports libcst before it forks its workers (each worker has it then), and
    # its checks ask the index, never the networkx graph; a warm run needs neither
    assert runs[0].stdout.splitlines()[-1] == "['libcst']"
    assert runs[1].stdout.splitlines()[-1] == "[]"
    assert runs[0].stdout.splitlines()[:-1] == runs[1].stdout.splitlines()[:-1]


# ---- where the cache lives -------------------------------------------------------------


def test_cache_folder_is_at_the_project_root(tmp_path):
    with sample_project(tmp_path):
        with inside(tmp_path / "pkg"):
            result = api.check(["."], jobs=1)
        assert (tmp_path / ".eventlint_cache").is_dir()
        assert not (tmp_path / "pkg" / ".eventlint_cache").exists()
        assert len(entries(tmp_path / ".eventlint_cache")) == len(result.files)


def test_cache_dir_option_and_setting(tmp_path, capsys):
    with sample_project(tmp_path):
        elsewhere = tmp_path.parent / f"{tmp_path.name}-cache"
        assert main(["check", ".", "--jobs", "1", "--cache-dir", str(elsewhere)]) == 1
        assert entries(elsewhere) and not (tmp_path / ".eventlint_cache").exists()
        assert main(["check", ".", "--jobs", "1", "--cache-dir", "here"]) == 1
        assert entries(tmp_path / "here")
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.eventlint]\ncache-dir = 'configured'\n")
        assert main(["check", ".", "--jobs", "1"]) == 1
        assert entries(tmp_path / "configured")
        assert not (tmp_path / ".eventlint_cache").exists()
        capsys.readouterr()


def test_no_cache_neither_reads_nor_writes(tmp_path, capsys):
    with sample_project(tmp_path):
        assert main(["check", ".", "--jobs", "1", "--no-cache"]) == 1
        assert not (tmp_path / ".eventlint_cache").exists()
        api.check(["."], jobs=1)  # fills the cache
        assert api.check(["."], jobs=1, use_cache=False).cache_hits == 0
        assert main(["check", ".", "--jobs", "1", "--no-cache", "--cache-dir", "unused"]) == 1
        assert not (tmp_path / "unused").exists()
        capsys.readouterr()


# ---- deterministic output ----------------------------------------------------------------


def test_output_is_the_same_whatever_the_jobs_and_the_cache(tmp_path, capsys):
    blocks = SAMPLE * 3
    files, _ = build(blocks, [f"m{(i * 7) % (2 * len(blocks))}" for i in range(2 * len(blocks))])
    write(tmp_path, files)
    outputs = {}
    with inside(tmp_path):
        for label, args in (("one worker, no cache", ["--jobs", "1", "--no-cache"]),
                            ("two workers, cold", ["--jobs", "2"]),
                            ("two workers, warm", ["--jobs", "2"]),
                            ("one worker, warm", ["--jobs", "1"])):
            capsys.readouterr()
            assert main(["check", ".", "--format", "json", *args]) == 1
            outputs[label] = capsys.readouterr().out
    assert len(set(outputs.values())) == 1, outputs
    findings = json.loads(outputs["two workers, cold"])["findings"]
    keys = [(f["path"], f["line"], f["column"], f["code"]) for f in findings]
    assert keys == sorted(keys)
