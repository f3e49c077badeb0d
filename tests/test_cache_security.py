"""A cache folder that comes with a repository cannot run code or change the findings.

The cache holds plain data (JSON of the model's records) authenticated with an HMAC whose
key lives outside the project. These tests plant what an attacker could commit under the
exact names eventlint computes: a pickle that would create a marker file when loaded (with
the digest the old pickle format checked), JSON entries with a wrong HMAC, entries written
with another user's key. Each run must report what a run without cache reports, and the
marker must never appear.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from eventlint import api, cache
from eventlint.catalog import load_catalog
from eventlint.config import Config
from eventlint.model import FileFacts, Finding, Fix, Location, Problem, Span, TextEdit
from eventlint.source import analyze_source

from .test_cache_and_jobs import inside

PACKAGE = Path(__file__).resolve().parent.parent / "eventlint"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

PROJECT = {
    "pyproject.toml": "[project]\nname = 'p'\n",
    "app/__init__.py": "",
    "app/hub.py": "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self.inbox = queue.Queue()\n",
    "app/net.py": "import requests\n\n\ndef fetch(url):\n    return requests.get(url)\n",
    "app/worker.py": ("import threading\n\nfrom app.net import fetch\n\n\ndef work():\n    fetch('https://example.com')\n"
                      "\n\nthreading.Thread(target=work).start()\n"),
    "app/clean.py": "def add(a, b):\n    return a + b\n",
}


class _CreatesMarker:
    """Unpickling this object opens (creates) the marker file: what a crafted entry does."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _old_style_entry(payload: bytes) -> bytes:
    """An entry as the pickle cache wrote and checked it: magic, unkeyed digest, pickle."""
    return b"eventlint-facts-1\n" + hashlib.blake2b(payload, digest_size=16).digest() + payload


@pytest.fixture(autouse=True)
def key_folder(tmp_path, monkeypatch):
    folder = tmp_path / "user-cache"
    monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(folder))
    return folder


def write_project(root: Path) -> Path:
    for rel, text in PROJECT.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def rows(result: api.CheckResult) -> list[tuple]:
    return [(f.code, f.path, f.span.line, f.span.column, f.message,
             tuple((r.path, r.span.line, r.message) for r in f.related)) for f in result.findings]


def entry_names(root: Path) -> tuple[list[Path], list[Path]]:
    """(facts entries, stored runs) of a project's cache folder, relative to it."""
    folder = root / ".eventlint_cache"
    facts = sorted(p.relative_to(folder) for p in folder.glob("??/*") if not p.name.startswith(".tmp-"))
    runs = sorted(p.relative_to(folder) for p in folder.glob("runs/*") if not p.name.startswith(".tmp-"))
    return facts, runs


def computed_names(tmp_path: Path) -> tuple[list[Path], list[Path], list[tuple]]:
    """The entry names eventlint computes for PROJECT and the findings of a run without
    cache: what an attacker can compute offline from the repository alone."""
    scratch = write_project(tmp_path / "scratch")
    with inside(scratch):
        plain = rows(api.check(["."], jobs=1, use_cache=False))
        api.check(["."], jobs=1)
    facts, runs = entry_names(scratch)
    assert len(facts) == 5 and len(runs) == 1
    return facts, runs, plain


def test_a_planted_pickle_never_runs_and_forged_entries_are_misses(tmp_path):
    marker = tmp_path / "marker"
    crafted = pickle.dumps(_CreatesMarker(marker))
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_CreatesMarker(probe)))
    assert probe.exists()  # the planted payload really runs code when unpickled
    facts, runs, plain = computed_names(tmp_path)

    project = write_project(tmp_path / "project")
    folder = project / ".eventlint_cache"
    forged = FileFacts("app/clean.py", "app.clean", (), problem=Problem("planted", Span(1, 1, 1, 1)))
    for number, name in enumerate(facts + runs):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if number % 2 == 0:
            (folder / name).write_bytes(_old_style_entry(crafted))
        else:  # the current format with a valid-looking body and a made-up HMAC
            body = cache.encode(forged if name.parent.name != "runs" else ([forged], []))
            (folder / name).write_bytes(cache._ENTRY_MAGIC + b"\x07" * cache._ENTRY_MAC + body)

    with inside(project):
        checked = api.check(["."], jobs=1)
        assert checked.cache_hits == 0
        assert rows(checked) == plain
        again = api.check(["."], jobs=1)  # the entries were replaced by authenticated ones
        assert again.cache_hits == 5 and rows(again) == plain
    assert not marker.exists()


def test_the_command_line_never_runs_a_planted_pickle(tmp_path, key_folder):
    marker = tmp_path / "marker"
    crafted = _old_style_entry(pickle.dumps(_CreatesMarker(marker)))
    facts, runs, _ = computed_names(tmp_path)
    clean = write_project(tmp_path / "clean")
    project = write_project(tmp_path / "project")
    for name in facts + runs:
        (project / ".eventlint_cache" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / ".eventlint_cache" / name).write_bytes(crafted)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env[cache.KEY_DIR_VARIABLE] = str(key_folder)
    env["PYTHONPATH"] = str(PACKAGE.parent)
    command = [sys.executable, "-m", "eventlint", "check", ".", "--format", "json", "--jobs", "1"]
    expected = subprocess.run(command + ["--no-cache"], cwd=clean, env=env, capture_output=True, timeout=120)
    planted = subprocess.run(command, cwd=project, env=env, capture_output=True, timeout=120)
    assert planted.returncode == expected.returncode == 1, planted.stderr.decode()
    assert json.loads(planted.stdout)["findings"] == json.loads(expected.stdout)["findings"]
    assert not marker.exists()


def test_entries_written_with_another_key_are_not_trusted(tmp_path, monkeypatch):
    project = write_project(tmp_path / "project")
    with inside(project):
        plain = rows(api.check(["."], jobs=1, use_cache=False))
        monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(tmp_path / "someone-else"))
        assert rows(api.check(["."], jobs=1)) == plain
        facts, runs = entry_names(project)
        # someone else's key signs facts and a stored run that would hide every finding
        forged = FileFacts("app/clean.py", "app.clean", ())
        for name in facts:
            cache.FactsCache(project / ".eventlint_cache", "").put(name.name, forged)
        cache.ResultsCache(project / ".eventlint_cache").put(runs[0].name, [forged], [])

        monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(tmp_path / "mine"))
        mine = api.check(["."], jobs=1)
        assert mine.cache_hits == 0 and rows(mine) == plain
        assert cache.ResultsCache(project / ".eventlint_cache").get(runs[0].name) is not None  # now ours
        assert rows(api.check(["."], jobs=1)) == plain

        monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(tmp_path / "someone-else"))
        assert rows(api.check(["."], jobs=1)) == plain


def test_the_stored_run_is_authenticated_too(tmp_path):
    project = write_project(tmp_path / "project")
    with inside(project):
        first = api.check(["."], jobs=1)
        _, runs = entry_names(project)
        entry = project / ".eventlint_cache" / runs[0]
        stored = entry.read_bytes()
        head = len(cache._ENTRY_MAGIC) + cache._ENTRY_MAC
        summaries, findings = json.loads(stored[head:])
        assert findings, "the stored run should hold findings"
        entry.write_bytes(stored[:head] + json.dumps([summaries, []]).encode())  # findings dropped
        assert cache.ResultsCache(project / ".eventlint_cache").get(runs[0].name) is None
        assert rows(api.check(["."], jobs=1)) == rows(first)
        assert cache.ResultsCache(project / ".eventlint_cache").get(runs[0].name) is not None  # rewritten


def test_an_entry_cannot_be_moved_to_another_name(tmp_path):
    """The HMAC covers the entry's name: a valid entry copied over another file's is a miss."""
    project = write_project(tmp_path / "project")
    with inside(project):
        plain = rows(api.check(["."], jobs=1, use_cache=False))
        api.check(["."], jobs=1)
        facts, _ = entry_names(project)
        folder = project / ".eventlint_cache"
        shutil.rmtree(folder / "runs")
        source = (folder / facts[0]).read_bytes()
        for name in facts[1:]:
            (folder / name).write_bytes(source)
        moved = api.check(["."], jobs=1)
        assert moved.cache_hits == 1 and rows(moved) == plain


def test_the_key_is_private_and_the_cache_folder_is_tagged(tmp_path, key_folder):
    project = write_project(tmp_path / "project")
    with inside(project):
        api.check(["."], jobs=1)
    key = key_folder / "cache-key"
    assert key.is_file() and len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not [p for p in key_folder.iterdir() if p.name != "cache-key"]  # no temporary file left
    folder = project / ".eventlint_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_without_a_usable_key_the_cache_is_neither_read_nor_written(tmp_path, monkeypatch):
    project = write_project(tmp_path / "project")
    with inside(project):
        api.check(["."], jobs=1)  # a cache written with a working key
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        monkeypatch.setenv(cache.KEY_DIR_VARIABLE, str(blocker / "keys"))  # cannot be created
        before = sorted((p, p.stat().st_mtime_ns) for p in (project / ".eventlint_cache").rglob("*"))
        result = api.check(["."], jobs=1)
        assert result.cache_hits == 0
        assert sorted((p, p.stat().st_mtime_ns) for p in (project / ".eventlint_cache").rglob("*")) == before


def test_special_files_at_entry_names_are_misses(tmp_path):
    """A repository can commit a symlink (to /dev/zero, say); a FIFO would block a read."""
    facts, runs, plain = computed_names(tmp_path)
    project = write_project(tmp_path / "project")
    folder = project / ".eventlint_cache"
    for number, name in enumerate(facts + runs):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if number % 2 == 0:
            os.symlink("/dev/zero", folder / name)
        else:
            os.mkfifo(folder / name)
    with inside(project):
        result = api.check(["."], jobs=1)
    assert result.cache_hits == 0 and rows(result) == plain


def test_decoding_accepts_only_the_expected_records():
    facts = FileFacts("a.py", "a", ("b",), problem=Problem("x", Span(1, 2, 3, 4)), all_names=("A",))
    payload = cache.encode(facts)
    assert cache.decode_facts(payload) == facts
    data = json.loads(payload)
    for wrong in ([*data, "extra"], data[:-1] + [True], [1, *data[1:]], {"path": "a.py"}, "a.py", None,
                  [data[0], data[1], ["b"], ["x", 1, 2, 3, "4"]], [data[0], data[1], [["b"]]]):
        with pytest.raises((cache._Invalid, TypeError)):
            cache.decode_facts(json.dumps(wrong).encode())
    with pytest.raises(TypeError):
        cache.encode(FileFacts("a.py", "a", problem=object()))  # type: ignore[arg-type]


# ---- nothing read from disk is executed -------------------------------------------------

UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle", "copyreg"}
UNSAFE_CALLS = {"eval", "exec"}


def test_no_code_running_format_or_eval_in_the_package():
    """No module of eventlint imports pickle, marshal, shelve (or their kin) or calls eval or
    exec. The process pool exchanges jobs and facts with its own workers through
    ``multiprocessing``, which pickles them in memory over a pipe: that is between two
    processes of the same run, never data read from disk, and no eventlint module does it
    itself. ``source.py`` calls ``compile(..., ast.PyCF_ONLY_AST)`` on the analysed file:
    that builds a syntax tree and runs nothing."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                problems += [(path.name, a.name) for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in UNSAFE_MODULES:
                problems.append((path.name, node.module))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in UNSAFE_CALLS:
                problems.append((path.name, node.func.id))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "compile":
                flags = [ast.unparse(a) for a in node.args[3:]] + [ast.unparse(k.value) for k in node.keywords]
                if not any("PyCF_ONLY_AST" in f for f in flags):
                    problems.append((path.name, "compile without PyCF_ONLY_AST"))
            elif isinstance(node, ast.Name) and node.id in {"__import__"}:
                problems.append((path.name, node.id))
    assert problems == []


# ---- round trip -------------------------------------------------------------------------

STDLIB_MODULES = ("queue.py", "threading.py", "asyncio/queues.py", "concurrent/futures/process.py",
                  "json/decoder.py", "logging/handlers.py", "socketserver.py")


def _real_files() -> list[tuple[Path, str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [(stdlib / rel, rel) for rel in STDLIB_MODULES if (stdlib / rel).is_file()]
    files += [(path, path.relative_to(FIXTURES).as_posix()) for path in sorted(FIXTURES.rglob("*.py"))]
    return files


def test_facts_of_real_files_round_trip_exactly():
    catalog = load_catalog(Config().catalog)
    tag_keys = frozenset(Config().tag_keys)
    checked = 0
    for path, rel in _real_files():
        module = rel.removesuffix(".py").replace("/", ".")
        facts = analyze_source(path.read_bytes(), path=rel, module=module, aliases=(), is_package=False,
                               catalog=catalog, tag_keys=tag_keys)
        assert cache.decode_facts(cache.encode(facts)) == facts, rel
        checked += facts.problem is None and bool(facts.calls)
    assert checked >= 20


def test_findings_round_trip_through_the_stored_run(tmp_path, key_folder):
    with inside(FIXTURES):
        result = api.check(["."], jobs=1, use_cache=False)
    assert any(f.fix is not None for f in result.findings) and any(f.related for f in result.findings)
    edited = Finding("EVT003", "untimed-blocking-handler", "m\u00e9ssage \U0001f600", "a.py", Span(1, 2, 3, 4), "f",
                     (Location("b.py", Span(5, 6, 7, 8), "why"),),
                     Fix("safe", "add a timeout", (TextEdit("a.py", Span(1, 2, 1, 9), "get(url, timeout=10)"),)))
    stored = [*result.findings, edited]
    runs = cache.ResultsCache(tmp_path)
    runs.put("0" * 40, result.files, stored)
    summaries, findings = runs.get("0" * 40)
    assert findings == stored
    assert all(isinstance(f, Finding) for f in findings)
    assert [(f.path, f.module, f.problem) for f in summaries] == [(f.path, f.module, f.problem) for f in result.files]
