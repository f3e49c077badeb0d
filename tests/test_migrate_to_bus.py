"""migrate-to-bus: every ``fixtures/codemods/migrate-to-bus`` case, plus the skips that
need no program of their own.

A case is ``<case>.before.py`` / ``<case>.after.py`` (folders ``<case>.before/`` /
``<case>.after/`` with a ``main.py`` for several files).  Lines marked
``# expect-skip: <reason>`` are where the codemod must report a skipped channel, with that
text in the reason; a case whose after equals its before is a pure skip case.  Each case is
also a program: its before and after must print the same lines per kind (the text before
the first ``:``), since only the order across kinds may change.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from eventlint import api
from eventlint.codemods import CodemodResult, FixRun
from eventlint.codemods.migrate_to_bus import MigrateToBus

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "fixtures" / "codemods" / "migrate-to-bus"
EXPECT_SKIP = re.compile(r"#\s*expect-skip:\s*(.+?)\s*$")


def _cases() -> list[str]:
    return sorted({p.name.split(".before")[0] for p in CASES.iterdir() if ".before" in p.name})


def _files(case: str, side: str) -> dict[str, str]:
    """Root-relative path → text of one side of a case; a case without an after side is
    one the codemod must leave unchanged (the convention of ``codemod_cases``)."""
    if side == "after" and not (CASES / f"{case}.after.py").is_file() and not (CASES / f"{case}.after").is_dir():
        side = "before"
    single = CASES / f"{case}.{side}.py"
    if single.is_file():
        return {"case.py": single.read_text(encoding="utf-8")}
    folder = CASES / f"{case}.{side}"
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*.py")) if "__pycache__" not in p.parts}


def _project(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[project]\nname = \"fixture\"\n", encoding="utf-8")
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


def _migrate(root: Path, paths: list[Path] | None = None, **options) -> CodemodResult:
    """Check the project, then run the codemod the way ``eventlint fix`` does: with
    root-relative findings and a reader of the current text."""
    result = api.check([str(p) for p in paths or [root]], keep_graph=True, jobs=1, use_cache=False, **options)
    project = result.project.root

    def rooted(finding):
        absolute = Path(finding.path) if os.path.isabs(finding.path) else Path.cwd() / finding.path
        return dataclasses.replace(finding, path=absolute.resolve().relative_to(project).as_posix())

    context = FixRun(result.graph, [rooted(f) for f in result.findings], result.project.config, project,
                             read=lambda rel: (project / rel).read_bytes().decode("utf-8"), unsafe=True)
    return MigrateToBus().run(context)


@functools.cache
def _before(case: str, base: str) -> CodemodResult:
    return _migrate(_project(Path(base) / case / "before", _files(case, "before")))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("migrate-to-bus"))


def _expected_skips(case: str) -> set[tuple[str, int, str]]:
    found = set()
    for rel, text in _files(case, "before").items():
        for number, line in enumerate(text.splitlines(), 1):
            match = EXPECT_SKIP.search(line)
            if match:
                found.add((rel, number, match.group(1)))
    return found


@pytest.mark.parametrize("case", _cases())
def test_output(case, workdir):
    """The rewrite is exactly the after file, re-parses, and skips only the marked sites."""
    result = _before(case, workdir)
    before, after = _files(case, "before"), _files(case, "after")
    assert set(after) == set(before)
    expected_changes = {rel: text for rel, text in after.items() if text != before[rel]}
    assert result.changes == expected_changes
    for text in result.changes.values():
        cst.parse_module(text)
    skips = {(s.path, s.line) for s in result.skipped}
    assert skips == {(rel, line) for rel, line, _ in _expected_skips(case)}
    for rel, line, reason in _expected_skips(case):
        (found,) = [s.reason for s in result.skipped if (s.path, s.line) == (rel, line)]
        assert reason in found
    if expected_changes:
        assert any("order across kinds is not kept" in note for note in result.notes)


@pytest.mark.parametrize("case", _cases())
def test_idempotent(case, workdir):
    """Migrating the after files changes nothing: the channel is no longer a raw channel."""
    result = _migrate(_project(Path(workdir) / case / "after", _files(case, "after")))
    assert result.changes == {}
    assert {(s.path, s.line) for s in result.skipped} == {(r, n) for r, n, _ in _expected_skips(case)}


def _run(root: Path, files: dict[str, str]) -> str:
    entry = "main.py" if "main.py" in files else next(iter(files))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(root)])}
    done = subprocess.run([sys.executable, entry], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _by_kind(output: str) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for line in output.splitlines():
        kinds.setdefault(line.split(":", 1)[0], []).append(line)
    return kinds


@pytest.mark.parametrize("case", _cases())
def test_behaves_the_same(case, workdir):
    """Before and after print the same lines, in the same order within each kind."""
    outputs = []
    for side in ("before", "after"):
        files = _files(case, side)
        root = Path(workdir) / case / f"run-{side}"
        outputs.append(_run(_project(root, files), files))
    assert outputs[0].strip(), "the fixture program prints nothing"
    assert _by_kind(outputs[1]) == _by_kind(outputs[0])


# ---- skips that need no program of their own --------------------------------------------------

_THREAD_CONSUMER = '''
import {module}
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class A:
    x: int


@dataclass(frozen=True)
class B:
    x: int


EVENTS = {constructor}


def worker():
    while True:
        item = EVENTS.get()
        if isinstance(item, A):
            print("a", item.x)
        elif isinstance(item, B):
            print("b", item.x)


def main():
    threading.Thread(target=worker, daemon=True).start()
    EVENTS.put(A(1))
    EVENTS.put(B(2))
'''


def _skips(tmp_path: Path, files: dict[str, str]) -> list[str]:
    result = _migrate(_project(tmp_path / "project", files))
    assert result.changes == {}
    return [s.reason for s in result.skipped]


@pytest.mark.parametrize("constructor,reason", [
    ("queue.LifoQueue()", "hands items out in another order"),
    ("queue.PriorityQueue()", "hands items out in another order"),
    ("multiprocessing.Queue()", "only queue.Queue, queue.SimpleQueue and asyncio.Queue"),
    ("queue.Queue(SIZE)", "its size is not a literal number"),
])
def test_constructors_without_a_bus(tmp_path, constructor, reason):
    """Queues that order items differently, cross processes or have a computed size stay."""
    module = constructor.split(".")[0]
    text = _THREAD_CONSUMER.format(module=module, constructor=constructor).replace("EVENTS = ", "SIZE = 3\nEVENTS = ")
    (found,) = _skips(tmp_path, {"app.py": text})
    assert reason in found


def test_module_level_asyncio_queue_is_skipped(tmp_path):
    """Nothing can subscribe to an AsyncEventBus at import time: there is no running loop."""
    text = _THREAD_CONSUMER.format(module="asyncio", constructor="asyncio.Queue()")
    (found,) = _skips(tmp_path, {"app.py": text})
    assert "module-level asyncio channel" in found


def test_bounded_asyncio_queue_is_skipped(tmp_path):
    """publish can't wait for room on the asyncio bus, so a bound would become drops."""
    text = _THREAD_CONSUMER.format(module="asyncio", constructor="asyncio.Queue(10)")
    (found,) = _skips(tmp_path, {"app.py": text})
    assert "bounded asyncio.Queue" in found


def test_async_owner_made_outside_a_coroutine_is_skipped(tmp_path):
    """The subscriptions go in __init__, which must then run inside the event loop."""
    text = (CASES / "asyncio_room.before.py").read_text(encoding="utf-8")
    text = text.replace("async def main():\n    room = Room()", "ROOM = Room()\n\n\nasync def main():\n    room = ROOM")
    (found,) = _skips(tmp_path, {"case.py": text})
    assert "Room() is made outside a coroutine" in found


def test_public_name_used_by_unanalysed_code_is_skipped(tmp_path):
    """A file of the project that wasn't analysed may import the public global."""
    root = _project(tmp_path / "project", {
        "src/app.py": (CASES / "module_class_dispatch.before.py").read_text(encoding="utf-8"),
        "scripts/replay.py": "from app import EVENTS\n",
    })
    result = _migrate(root, [root / "src"])
    assert result.changes == {}
    (skip,) = result.skipped
    assert "mentioned in scripts/replay.py, which was not analysed" in skip.reason


def test_other_findings_are_ignored(tmp_path):
    """Only EVT001/EVT002 findings name channels to migrate."""
    root = _project(tmp_path / "project", _files("module_class_dispatch", "before"))
    result = _migrate(root, select=("EVT003",))
    assert result.changes == {} and result.skipped == []


def test_windows_newlines_are_kept(tmp_path):
    """The rewrite keeps the file's CRLF line endings, new lines included."""
    text = (CASES / "instance_hub.before.py").read_text(encoding="utf-8").replace("\n", "\r\n")
    root = _project(tmp_path / "project", {})
    (root / "case.py").write_bytes(text.encode("utf-8"))
    result = _migrate(root)
    new = result.changes["case.py"]
    assert "\n" not in new.replace("\r\n", "")
    expected = (CASES / "instance_hub.after.py").read_text(encoding="utf-8").replace("\n", "\r\n")
    assert new == expected


@pytest.mark.parametrize("old,new,reason", [
    ("EVENTS.put(B(2))", "EVENTS.put(Decimal(2))", "publishes a Decimal"),
    ("import threading\n", "import threading\nfrom mylib import EventBus\n", "`EventBus` already means something else"),
    ("        item = EVENTS.get()\n", "        item = EVENTS.get()\n        print(item)\n",
     "the consumer loop does more than dispatch (`print(item)`"),
    ("        if isinstance(item, A):\n            print(\"a\", item.x)\n        elif isinstance(item, B):",
     "        match item:\n            case A(1):\n                print('a one')\n            case B():\n"
     "                print('b')\n        if isinstance(item, B):",
     "a `case` tests more than `Kind(...)` with keyword captures"),
])
def test_unsafe_variants_are_skipped(tmp_path, old, new, reason):
    """Plain data the bus refuses, a name the new import would shadow, a loop that does
    more than dispatch, a dispatch this codemod doesn't read."""
    text = _THREAD_CONSUMER.format(module="queue", constructor="queue.Queue()")
    text = text.replace("import threading\n", "import threading\nfrom decimal import Decimal\n")
    assert old in text
    (found,) = _skips(tmp_path, {"app.py": text.replace(old, new)})
    assert reason in found


def test_publish_during_construction_is_skipped(tmp_path):
    """Subscribed in __init__, an event published there could reach a handler before
    __init__ has set what the handler needs (the queue would have held it)."""
    text = (CASES / "instance_hub.before.py").read_text(encoding="utf-8")
    text = text.replace("        self.lines = []\n", "        self.inbox.put(Signup('root'))\n        self.lines = []\n")
    (found,) = _skips(tmp_path, {"case.py": text})
    assert "published to while Hub is being built" in found


_URGENT = '''        self._urgent = queue.Queue()
        threading.Thread(target=self._work_urgent, daemon=True).start()

    def urgent(self, image):
        self._urgent.put(Thumbnail(image))
        self._urgent.put(Resize(image, 10))

    def _work_urgent(self):
        while True:
            job = self._urgent.get()
            if isinstance(job, Resize):
                self.done.append(f"urgent resize: {job.image}")
            elif isinstance(job, Thumbnail):
                self.done.append(f"urgent thumbnail: {job.image}")
'''


def test_two_channels_of_one_class_get_their_own_handlers(tmp_path):
    """New handler names never collide, also between channels migrated in one run."""
    text = (CASES / "bounded_queue.before.py").read_text(encoding="utf-8")
    anchor = "        self._worker.start()\n"
    result = _migrate(_project(tmp_path / "project", {"case.py": text.replace(anchor, anchor + _URGENT)}))
    assert result.skipped == []
    new = result.changes["case.py"]
    cst.parse_module(new)
    assert sorted(re.findall(r"def (_on_\w+)", new)) == ["_on_resize", "_on_resize_2", "_on_thumbnail",
                                                         "_on_thumbnail_2"]
    assert "self._urgent.subscribe(Resize, self._on_resize_2, maxsize=0)" in new


def test_codemod_interface():
    codemod = MigrateToBus()
    assert codemod.name == "migrate-to-bus"
    assert codemod.safety == "unsafe"
    assert "\n" not in codemod.description and codemod.description


def test_only_sentinels_the_rewrite_orphaned_are_removed():
    import libcst as cst

    from eventlint.codemods.migrate_to_bus import _drop_orphaned_sentinels

    before = cst.parse_module(
        "_STOP = object()\nDONE = object()\n_SPARE = object()\n_KEPT = object()\n\n\n"
        "def f(q):\n    q.put(_STOP)\n    q.put(DONE)\n    q.put(_KEPT)\n    return _KEPT\n")
    after = cst.parse_module(
        "_STOP = object()\nDONE = object()\n_SPARE = object()\n_KEPT = object()\n\n\n"
        "def f(bus):\n    bus.close(drain=True)\n    return _KEPT\n")
    # _STOP: private, used before and not after; DONE is public (importable elsewhere);
    # _SPARE was unused before the rewrite too; _KEPT is still returned
    assert _drop_orphaned_sentinels(before, after).code == (
        "DONE = object()\n_SPARE = object()\n_KEPT = object()\n\n\n"
        "def f(bus):\n    bus.close(drain=True)\n    return _KEPT\n")


_DICT_CONSUMER = '''
import json
import queue
import threading

EVENTS = queue.Queue()


def worker():
    while True:
        item = EVENTS.get()
        if item["type"] == "user":
            print("user", item["id"])
        elif item["type"] == "order":
            print("order", item["total"])


def main():
    threading.Thread(target=worker, daemon=True).start()
    EVENTS.put({"type": "user", "id": 1})
    EVENTS.put({"type": "order", "total": 3})
'''


@pytest.mark.parametrize("old,new,reason", [
    ('print("user", item["id"])', 'print("user", json.dumps(item))', "uses the dict `item` itself"),
    ('print("order", item["total"])', 'print("order", item["id"])', "reads 'id', which not every order put carries"),
    ('EVENTS.put({"type": "order", "total": 3})', 'EVENTS.put({"type": "order", "total": 3})\n'
     '    EVENTS.put({"type": "order", "sum": 3})', "'order' events are put with different keys"),
    ('EVENTS.put({"type": "user", "id": 1})', 'EVENTS.put({"type": "user", "id": 1, **extra})',
     "publishes a value of unknown kind"),
    ('elif item["type"] == "order":', 'elif item["kind"] == "order":', "the dispatch tests both `type` and `kind`"),
])
def test_dict_tag_channels_that_cannot_become_events_are_skipped(tmp_path, old, new, reason):
    """The dict becomes an event object: every use of it must be a key its puts carry."""
    assert old in _DICT_CONSUMER
    (found,) = _skips(tmp_path, {"app.py": _DICT_CONSUMER.replace(old, new)})
    assert reason in found
