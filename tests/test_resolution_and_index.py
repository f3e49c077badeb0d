"""The layers below the checks answer neutral questions with typed records; the checks decide.

Facts say what a put sends and what a consumer branches on (``Payload``, ``Dispatch``,
``Table``), resolution says what a reference holds (``Value``), the index says what is put
on a channel, where it is dispatched and what returns it; EVT001 and EVT002 decide what
counts."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from eventlint import api, cache
from eventlint.checks import evt001_exposed_raw_queue as evt001
from eventlint.checks import evt002_mixed_type_channel as evt002
from eventlint.graph import PayloadSite
from eventlint.model import DispatchKind, FileFacts, PayloadShape, Table, TableKey, Tag
from eventlint.resolution import Value, ValueKind

HUB = '''\
import queue
import kinds
from kinds import Kind

class Event:
    pass

Q = queue.Queue()

def produce(d):
    Q.put(None)
    Q.put(Event())
    Q.put((Kind.USER, d))
    Q.put((kinds.Kind.USER, d))
    Q.put({"type": "pay"})
    try:
        pass
    except ValueError as error:
        Q.put(error)

def publish(event):
    Q.put(event)

HANDLERS = {"user": print, Event: print}

def consume():
    while True:
        item = Q.get()
        if isinstance(item, Event):
            pass
        elif item == "x":
            pass
        HANDLERS[type(item)](item)

class Box:
    def __init__(self):
        self._q = queue.Queue()

    def queue(self):
        return self._q

def outer():
    def inner():
        return Q
    return inner
'''


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> api.CheckResult:
    root = tmp_path_factory.mktemp("hub")
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "kinds.py").write_text("import enum\n\nclass Kind(enum.Enum):\n    USER = 1\n")
    (root / "hub.py").write_text(HUB)
    return api.check([str(root)], use_cache=False, jobs=1, keep_graph=True)


def _facts(result: api.CheckResult, path: str) -> FileFacts:
    return next(f for f in result.files if Path(f.path).name == path)


def test_value_kinds_compare_and_hash_as_their_text():
    assert Value(ValueKind.CLASS, "a.B") == Value("class", "a.B")
    assert len({Value(ValueKind.CLASS, "a.B"), Value("class", "a.B")}) == 1
    assert f"{ValueKind.API}" == "api" and str(DispatchKind.TAG) == "tag"


def test_payloads_are_recorded_by_shape(hub):
    payloads = {call.span.line: call.payload for call in _facts(hub, "hub.py").calls if call.payload is not None}
    assert payloads[11].shape is PayloadShape.NONE
    assert (payloads[12].shape, payloads[12].ref) == (PayloadShape.CALL, ("G:hub.Event",))
    # one constant however it was imported: the facts keep its qualified name
    assert payloads[13].tag == payloads[14].tag == Tag("kinds.Kind.USER", named=True)
    assert (payloads[15].shape, payloads[15].tag) == (PayloadShape.TAGGED, Tag("pay"))
    assert payloads[19].shape is PayloadShape.CAUGHT
    assert (payloads[22].shape, payloads[22].param) == (PayloadShape.PARAM, "event")


def test_dispatches_and_tables_are_records(hub):
    facts = _facts(hub, "hub.py")
    # ``item == "x"`` compares the whole item with a constant: recorded, judged by EVT002
    assert [(d.kind, d.ref, d.tag) for d in facts.dispatches] == [
        (DispatchKind.CLASS, ("G:hub.Event",), None), (DispatchKind.VALUE, (), Tag("x")),
        (DispatchKind.TABLE, ("G:hub.HANDLERS",), None)]
    assert facts.tables == (Table("hub", "HANDLERS", (TableKey(tag=Tag("user")), TableKey(ref=("G:hub.Event",)))),)
    assert hub.graph.table_keys(("G:hub.HANDLERS",)) == facts.tables[0].keys


def test_the_index_answers_what_is_put_and_dispatched_without_judging(hub):
    graph = hub.graph
    shapes = [site.payload.shape for site in graph.payloads_put("hub.Q")]
    # sentinels, caught exceptions and parameters are all there: deciding is the check's part
    assert shapes == [PayloadShape.NONE, PayloadShape.CALL, PayloadShape.TAGGED, PayloadShape.TAGGED,
                      PayloadShape.TAGGED, PayloadShape.CAUGHT, PayloadShape.PARAM]
    assert all(isinstance(site, PayloadSite) for site in graph.payloads_put("hub.Q"))
    assert [site.dispatch.kind for site in graph.dispatches_on("hub.Q")] == [
        DispatchKind.CLASS, DispatchKind.VALUE, DispatchKind.TABLE]
    assert graph.resolve(("G:hub.Q",)) == Value(ValueKind.CHANNEL, "hub.Q")
    assert graph.resolve(("G:hub.Q", ".get", "()")) == Value(ValueKind.ITEM, "hub.Q")


def test_evt002_decides_what_a_kind_is(hub):
    graph = hub.graph
    kinds = sorted(kind for kind, _ in evt002.payload_kinds(graph, "hub.Q"))
    # None and the caught exception are no kinds; Kind.USER is one kind under both spellings
    assert kinds == ["'Kind.USER'", "'Kind.USER'", "'pay'", "Event"]
    assert evt002.spell(Tag("kinds.Kind.USER", named=True)) == "Kind.USER"
    assert evt002.spell(Tag("a.b.c")) == "a.b.c"  # a string's value is never shortened
    (finding,) = [f for f in hub.findings if f.code == "EVT002"]
    # ``item == "x"`` compares the item itself with one string: a sentinel test, as one
    # ``STOP`` beside the data is; two or more such strings in one consumer are kinds
    assert finding.message.startswith("channel Q carries 4 event kinds: 'Kind.USER', 'pay', 'user', Event;")


def test_evt001_decides_which_returns_expose_a_channel(hub):
    graph = hub.graph
    returned = {(r.function.qualname, r.name) for r in graph.channel_returns()}
    assert returned == {("hub.Box.queue", "_q"), ("hub.outer.inner", "Q")}
    # a nested function is reachable by no name from outside: only the method counts
    assert [(fn.qualname, name) for fn, _, name, _ in evt001.returned_channels(graph)] == [("hub.Box.queue", "_q")]


def test_the_cache_stores_enum_fields_as_text_and_refuses_unknown_text(hub):
    facts = _facts(hub, "hub.py")
    payload = cache.encode(facts)
    assert cache.decode_facts(payload) == facts
    data = json.loads(payload)
    assert "tag" in json.dumps(data) and "PayloadShape" not in payload.decode()
    forged = payload.replace(b'"caught"', b'"os.system"')
    assert forged != payload
    with pytest.raises(cache._Invalid):
        cache.decode_facts(forged)


def test_records_cross_the_process_pool(hub):
    facts = _facts(hub, "hub.py")
    assert pickle.loads(pickle.dumps(facts)) == facts


def test_no_module_is_over_800_lines():
    package = Path(api.__file__).parent
    sizes = {str(path.relative_to(package)): len(path.read_text().splitlines()) for path in package.rglob("*.py")}
    assert "facts.py" in sizes and "graph.py" in sizes
    assert {name: lines for name, lines in sizes.items() if lines > 800} == {}



def test_a_class_whose_base_names_itself_is_analysed(tmp_path):
    # resolving ``Proxy.base`` asks for Proxy's own bases: the cycle has no answer yet, which
    # must read as "no bases", not crash the module (EVT000 internal error before)
    (tmp_path / "a.py").write_text(
        "import queue\n\nclass Proxy(Proxy.base):\n    def make(self):\n        return queue.Queue()\n\n\n"
        "class Holder:\n    def __init__(self):\n        self.inbox = Proxy().make()\n")
    result = api.check([str(tmp_path)], use_cache=False, jobs=1)
    assert [(f.code, Path(f.path).name, f.span.line) for f in result.findings] == [("EVT001", "a.py", 10)]
