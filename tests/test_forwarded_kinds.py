"""Kinds that travel through parameters, helpers and callbacks: the facts record the
shapes neutrally (``Payload``, ``CallFact.passed``, shaped returns, hand-offs), the index
follows callers, and EVT002 decides what a kind is."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from eventlint import api
from eventlint.branching import Through, method_lookup
from eventlint.checks import evt002_mixed_type_channel as evt002
from eventlint.model import DispatchKind, FileFacts, PayloadShape, Tag

CHAN = '''\
import functools
import queue


def _msg(kind, **data):
    return {"type": kind, **data}


class Chan:
    def __init__(self):
        self._q = queue.Queue()

    def enqueue(self, name, *args):
        self._q.put((name, args))

    def emit(self, event_cls, *args):
        self._q.put(event_cls(*args))

    def send(self, kind, **data):
        self._q.put(_msg(kind, **data))

    def later(self, item):
        return functools.partial(self._q.put, item)

    def loop(self):
        name, args = self._q.get()
        getattr(self, "on_" + name)(*args)

    def on_ping(self):
        pass

    def on_pong(self):
        pass
'''

USE = '''\
from chan import Chan


class Joined:
    pass


def relay(chan: Chan, name):
    chan.enqueue(name, 1)


def main(chan: Chan):
    chan.enqueue("connect", 1)
    relay(chan, "data")
    chan.emit(Joined)
    chan.send("hello", text="hi")
    chan.enqueue("not a tag", 2)
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> api.CheckResult:
    root = tmp_path_factory.mktemp("fwd")
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "chan.py").write_text(CHAN)
    (root / "use.py").write_text(USE)
    return api.check([str(root)], use_cache=False, jobs=1, keep_graph=True)


def _facts(result: api.CheckResult, name: str) -> FileFacts:
    return next(f for f in result.files if Path(f.path).name == name)


def test_payload_shapes_of_parameters_and_helpers(project):
    facts = _facts(project, "chan.py")
    payloads = {call.span.line: call.payload for call in facts.calls if call.payload is not None}
    assert (payloads[14].shape, payloads[14].param) == (PayloadShape.TAG_PARAM, "name")
    assert (payloads[17].shape, payloads[17].param) == (PayloadShape.NEW_PARAM, "event_cls")
    assert payloads[20].shape is PayloadShape.CALL and payloads[20].arguments == (("0", None, "kind"),)
    (returned,) = [r for r in facts.returns if r.payload is not None]
    assert (returned.value, returned.payload.shape, returned.payload.param) == ((), PayloadShape.TAG_PARAM, "kind")
    (handoff,) = facts.handoffs
    assert handoff.callee[-1] == ".put" and handoff.payload.shape is PayloadShape.PARAM
    (dispatch,) = facts.dispatches
    assert (dispatch.kind, dispatch.tag) == (DispatchKind.METHOD, Tag("on_"))


def test_arguments_passed_are_recorded_sparsely(project):
    calls = {call.span.line: call for call in _facts(project, "use.py").calls}
    assert dict(calls[13].passed)["0"].tag == Tag("connect")
    assert dict(calls[9].passed)["0"].shape is PayloadShape.PARAM
    assert "0" not in dict(calls[17].passed)  # a message, not a tag


def test_the_index_follows_callers_and_the_check_names_the_kinds(project):
    graph = project.graph
    kinds = sorted({kind for kind, _ in evt002.payload_kinds(graph, "chan.Chan._q")})
    assert kinds == ["'connect'", "'data'", "'hello'", "Joined"]
    dispatched = sorted({kind for kind, _ in evt002.dispatch_kinds(graph, "chan.Chan._q")})
    assert dispatched == ["'ping'", "'pong'"]


@pytest.mark.parametrize("text,prefix,through", [
    ('getattr(self, "on_" + kind)', "on_", Through.VALUE),
    ('getattr(self, f"handle_{msg[0]}", None)', "handle_", Through.INDEX),
    ('getattr(self, "do_%s" % item.kind)', "do_", Through.ATTRIBUTE),
    ("getattr(self, name)", "", Through.VALUE),
])
def test_method_lookups_are_read_by_the_one_dispatch_reader(text, prefix, through):
    found = method_lookup(cst.parse_expression(text))
    assert found is not None and (found.prefix, found.through) == (prefix, through)


@pytest.mark.parametrize("text", ['getattr(self, "on_" + a + b)', 'getattr(self, f"on_{a}_{b}")', "getattr(self)",
                                  'getattr(self, "%s_%s" % (a, b))'])
def test_other_getattr_calls_are_not_lookups(text):
    assert method_lookup(cst.parse_expression(text)) is None
