"""The memory a run keeps: repeated values of a file's facts are one object, a worker
that grew large is replaced by a fresh one, and two large files are not parsed side by
side, with the same findings every way."""

from __future__ import annotations

import sys

import pytest

from eventlint import api, engine
from eventlint.catalog import load_catalog
from eventlint.model import FileFacts, Span
from eventlint.sharing import share
from eventlint.source import analyze_source

SOURCE = '''\
import queue
import threading


class Hub:
    def __init__(self):
        self.lock = threading.Lock()
        self.inbox = queue.Queue()

    def publish(self, event):
        with self.lock:
            self.inbox.put(("event", event))

    def publish_many(self, events):
        with self.lock:
            for event in events:
                self.inbox.put(("event", event))
'''


def _facts() -> FileFacts:
    return analyze_source(SOURCE.encode(), path="hub.py", module="hub", aliases=(), is_package=False,
                          catalog=load_catalog(), tag_keys=frozenset({"type"}))


def test_shared_facts_equal_the_facts_and_repeat_no_value():
    before = _facts()
    after = share(_facts())
    assert after == before
    puts = [call for call in after.calls if call.callee[-1] == ".put"]
    assert len(puts) == 2
    assert puts[0].callee is puts[1].callee  # ("I:hub.Hub", ".inbox", ".put") once
    assert puts[0].caller is not puts[1].caller  # two functions: two names
    assert puts[0].payload == puts[1].payload and puts[0].payload is puts[1].payload  # ("event", ...)
    assert puts[0].payload is not before.calls[after.calls.index(puts[0])].payload
    locks = [call.callee for call in after.calls if call.callee[-1] == ".Lock"]
    assert locks and all(ref[0] is locks[0][0] for ref in locks)


def test_equal_tuples_and_spans_become_one_but_booleans_never_stand_for_numbers():
    twice = share(FileFacts("b.py", "b", imports=(("x", "y"), ("x", "y"))))
    assert twice.imports[0] is twice.imports[1]
    spans = share((Span(1, 1, 1, 2), Span(1, 1, 1, 2)))
    assert spans[0] is spans[1]
    # (1,) == (True,) in Python: a tuple holding a bool is never merged with one of ints
    mixed = share(((1,), (True,), ((1,),), ((True,),)))
    assert type(mixed[0][0]) is int and type(mixed[1][0]) is bool
    assert type(mixed[2][0][0]) is int and type(mixed[3][0][0]) is bool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a worker's size is read from /proc")
def test_workers_that_grew_are_replaced_and_find_the_same(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for number in range(4):
        (tmp_path / f"hub{number}.py").write_text(SOURCE)
    expected = api.check([str(tmp_path)], use_cache=False, jobs=2)

    started: list[int] = []
    real = engine._Worker.__init__

    def counting(self, *args, **kwargs):
        started.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(engine._Worker, "__init__", counting)
    monkeypatch.setattr(engine, "RETIRE_GROWTH", -1)  # every worker leaves after its first file
    again = api.check([str(tmp_path)], use_cache=False, jobs=2)
    assert len(started) == 2 + 4  # the first two, and one for each file finished
    assert sorted((f.code, f.path, f.span.line) for f in again.findings) == \
        sorted((f.code, f.path, f.span.line) for f in expected.findings)
    assert [f.code for f in again.findings].count("EVT001") == 4


def test_two_large_files_are_never_parsed_side_by_side(tmp_path, monkeypatch):
    """While one worker has a file that fills the byte budget, the other takes small
    files only (the smallest first), and waits rather than take a second large one."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    padding = "\n".join(f"value_{i} = {i}" for i in range(400))
    for number in range(3):  # large, and larger than a small one by far
        (tmp_path / f"big{number}.py").write_text(SOURCE + padding + "\n" + "#" * 100 * number + "\n")
    for number in range(5):
        (tmp_path / f"small{number}.py").write_text(f"VALUE = {number}\n" + "#" * number + "\n")
    expected = api.check([str(tmp_path)], use_cache=False, jobs=1)
    large = len((tmp_path / "big0.py").read_bytes())
    given: list[tuple[str, int, int]] = []  # (file, its size, what the other workers had)
    real = engine._Worker.give

    def recording(self, job, raw, key=None):
        others = sum(w.size for w in workers_seen if w is not self and w.job is not None)
        given.append((job.path.rsplit("/", 1)[-1], len(raw), others))
        return real(self, job, raw, key)

    workers_seen: list = []
    real_init = engine._Worker.__init__

    def tracking(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        workers_seen.append(self)

    monkeypatch.setattr(engine._Worker, "give", recording)
    monkeypatch.setattr(engine._Worker, "__init__", tracking)
    monkeypatch.setattr(engine, "IN_FLIGHT_BYTES", large + 200)  # one large file and small ones
    again = api.check([str(tmp_path)], use_cache=False, jobs=2)
    assert sorted(name for name, _, _ in given) == sorted(p.name for p in tmp_path.glob("*.py"))
    assert given[0][0] == "big2.py"  # the largest first
    for name, size, others in given:
        assert others == 0 or others + size <= large + 200, (name, size, others)
    assert sorted((f.code, f.path, f.span.line) for f in again.findings) == \
        sorted((f.code, f.path, f.span.line) for f in expected.findings)
    assert [f.code for f in again.findings].count("EVT001") == 3


def test_the_cyclic_collector_is_off_while_a_run_lasts_and_back_on_after(tmp_path, monkeypatch):
    import gc

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "hub.py").write_text(SOURCE)
    seen: list[bool] = []
    real = api.run_checks

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "run_checks", recording)
    assert gc.isenabled()
    result = api.check([str(tmp_path)], use_cache=False, jobs=1)
    assert seen == [False] and gc.isenabled()
    assert [f.code for f in result.findings] == ["EVT001"]


def test_a_command_freezes_what_its_run_made_and_the_server_does_not(tmp_path, monkeypatch):
    import gc

    from eventlint import cli

    seen: list[bool] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(api._one_shot) or 0)
    try:
        with pytest.raises(SystemExit) as stop:
            cli.entry()
        assert stop.value.code == 0 and seen == [True]
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
        (tmp_path / "hub.py").write_text(SOURCE)
        gc.unfreeze()
        api.check([str(tmp_path)], use_cache=False, jobs=1)
        assert gc.isenabled() and gc.get_freeze_count() > 0  # the run's objects are out of the collector's way
        gc.unfreeze()
        api.set_one_shot(False)
        api.check([str(tmp_path)], use_cache=False, jobs=1)
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        api.set_one_shot(False)
        gc.unfreeze()
