"""Control pills and dicts told apart by their keys: the facts record neutrally what a
consumer compares the whole item with (``DispatchKind.VALUE``), which keys it tests for
(``DispatchKind.KEY``), the keys of an untagged dict put (``PayloadShape.KEYS``) and a
test of a helper's result (``Dispatch.returned``); EVT002 decides when they are kinds."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from eventlint import api
from eventlint.branching import key_test
from eventlint.model import DispatchKind, PayloadShape, Tag

COMMS = '''\
import queue

STOP = "stop"


class Comms:
    def __init__(self):
        self._inboxes = [queue.Queue() for _ in range(4)]

    def send(self, worker, item):
        self._inboxes[worker].put(item)

    def report(self, worker, task):
        result = {"task": task}
        result["out"] = []
        self._inboxes[worker].put(result)
        self._inboxes[worker].put({"exit": KeyError, "exception": "x"})
        self._inboxes[worker].put("plain")

    def take(self, worker):
        try:
            return self._inboxes[worker].get(timeout=1)
        except queue.Empty:
            return None

    def loop(self, worker):
        item = self.take(worker)
        if item == STOP or item is None:
            return
        if "exit" in item:
            return
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> api.CheckResult:
    root = tmp_path_factory.mktemp("ctl")
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "comms.py").write_text(COMMS)
    return api.check([str(root)], use_cache=False, jobs=1, keep_graph=True)


def test_facts_record_keys_constants_and_results(project):
    facts = next(f for f in project.files if Path(f.path).name == "comms.py")
    payloads = {call.span.line: call.payload for call in facts.calls if call.payload is not None}
    assert (payloads[16].shape, payloads[16].keys) == (PayloadShape.KEYS, ("out", "task"))
    assert (payloads[17].shape, payloads[17].keys) == (PayloadShape.KEYS, ("exception", "exit"))
    assert (payloads[18].shape, payloads[18].tag) == (PayloadShape.TAG, Tag("plain"))
    found = {(d.kind, d.tag, d.returned) for d in facts.dispatches}
    assert (DispatchKind.VALUE, Tag("comms.STOP", named=True), True) in found  # ``None`` is no constant
    assert (DispatchKind.KEY, Tag("exit"), True) in found
    assert len(found) == 2


def test_the_index_reaches_one_channel_of_a_list_and_the_items_a_helper_returns(project):
    graph = project.graph
    (channel,) = list(graph.all_channels())
    assert len(graph.publishers_of(channel.id)) == 4 and len(graph.consumers_of(channel.id)) == 1
    assert {site.dispatch.kind for site in graph.dispatches_on(channel.id)} == {DispatchKind.VALUE, DispatchKind.KEY}


@pytest.mark.parametrize("text, expected", [
    ('"exit" in result', ("result", "exit")),
    ('"exit" not in result', ("result", "exit")),
    ('result.get("exit") is None', ("result", "exit")),
    ('result.get("exit") is not None', ("result", "exit")),
    ('result.get("exit")', ("result", "exit")),
    ('not result.get("exit")', ("result", "exit")),
    ('result.get(name)', None),
    ('result.items()', None),
    ('name in result', None),
    ('result.get("exit") == 3', None),
    ('"a" in "abc"', None),
])
def test_key_tests(text, expected):
    assert key_test(cst.parse_expression(text)) == expected
