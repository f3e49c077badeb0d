"""A run after edits gives what a cold run of the same files gives: the server's run with
the last run's facts in memory, and a check on the facts cache of the runs before (read
by the main process, or loaded by the workers), over random sequences of edits to a small
event-driven project."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlint import api, engine

# each file's versions: an edit replaces a file with one of its versions
VERSIONS = {
    "hub.py": [
        "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self.inbox = queue.Queue()\n",
        "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self._inbox = queue.Queue()\n\n"
        "    def publish(self, event):\n        self._inbox.put(event)\n",
        "import queue\n\nEVENTS = queue.Queue()\n\n\nclass Hub:\n    def __init__(self):\n        self.inbox = EVENTS\n",
    ],
    "producer.py": [
        "from hub import Hub\n\n\nclass UserRegistered:\n    pass\n\n\ndef register(hub: Hub):\n"
        "    hub.inbox.put(UserRegistered())\n",
        "from hub import Hub\n\n\nclass UserRegistered:\n    pass\n\n\nclass PaymentSucceeded:\n    pass\n\n\n"
        "def register(hub: Hub):\n    hub.inbox.put(UserRegistered())\n    hub.inbox.put(PaymentSucceeded())\n",
        "def register(hub):\n    return hub\n",
    ],
    "worker.py": [
        "import threading\nimport requests\n\n\ndef fetch(url):\n    return requests.get(url)\n\n\n"
        "def start(url):\n    threading.Thread(target=fetch, args=(url,)).start()\n",
        "import threading\nimport requests\n\n\ndef fetch(url):\n    return requests.get(url, timeout=5)\n\n\n"
        "def start(url):\n    threading.Thread(target=fetch, args=(url,)).start()\n",
        "import threading\nfrom producer import register\n\n\ndef start(hub):\n"
        "    threading.Thread(target=register, args=(hub,)).start()\n",
    ],
    "broken.py": ["def ok():\n    return 1\n", "def broken(:\n    pass\n"],
}
FILES = sorted(VERSIONS)
EDITS = st.lists(st.tuples(st.sampled_from(FILES), st.integers(min_value=0, max_value=2)), min_size=1, max_size=4)


def _write(root: Path, name: str, version: int) -> None:
    versions = VERSIONS[name]
    (root / name).write_text(versions[version % len(versions)])


def _found(findings) -> list[tuple]:
    return sorted((f.code, Path(f.path).name, f.span.line, f.span.column, f.message) for f in findings)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_runs_after_edits_find_what_a_cold_run_finds(tmp_path_factory, edits):
    root = tmp_path_factory.mktemp("project")
    cache = tmp_path_factory.mktemp("cache")
    shared = tmp_path_factory.mktemp("cache-loaded-by-workers")
    threshold = engine.SHARED_LOAD_BYTES
    try:
        (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
        for name in FILES:
            _write(root, name, 0)
        memo: dict = {}
        api.analyse_project(api.load_project([str(root)]), use_cache=False, memo=memo)
        api.check([str(root)], cache_dir=str(cache), jobs=1)
        api.check([str(root)], cache_dir=str(shared), jobs=2)
        for name, version in edits:
            _write(root, name, version)
            project = api.load_project([str(root)])
            in_memory = api.analyse_project(project, use_cache=False, memo=memo)
            cached = api.check([str(root)], cache_dir=str(cache), jobs=1)
            engine.SHARED_LOAD_BYTES = 0  # the workers load every entry
            try:
                loaded = api.check([str(root)], cache_dir=str(shared), jobs=2)
            finally:
                engine.SHARED_LOAD_BYTES = threshold
            cold = api.check([str(root)], use_cache=False, jobs=1)
            assert _found(in_memory.findings) == _found(cached.findings) == _found(loaded.findings) == \
                _found(cold.findings)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(shared, ignore_errors=True)
