"""SQLiteEventStore: append/replay, durability settings, codec, and use from the buses."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from bus_sample_events import (
    Base,
    Child,
    Color,
    Everything,
    Holder,
    Level,
    Line,
    NotADataclass,
    Ping,
    Point,
    WithComputed,
)
from bus_helpers import HERE, REPO

from eventlint.bus import AsyncEventBus, EventBus, SQLiteEventStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteEventStore(tmp_path / "events.db")
    yield s
    s.close()


def sample_everything() -> Everything:
    return Everything(
        text="héllo \u2603",
        number=2**70,
        ratio=0.1,
        flag=False,
        nothing=None,
        pair=(1, ("nested", b"\x00"), []),
        items=[(1, 2), {"k": (3,)}, Point(1, 2)],
        mapping={"a": 1, 2: "two", (3, 4): [Decimal("1.50")], "$": {"$": "not a tag"}},
        blob=bytes(range(256)),
        when=datetime(2024, 3, 31, 2, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        day=date(1999, 12, 31),
        color=Color.GREEN,
        level=Level.HIGH,
        ident=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        amount=Decimal("-0.000001"),
        line=Line(Point(0, 0), Point(3, 4), label="diag"),
    )


# -- append and replay ------------------------------------------------------------


def test_offsets_start_at_one_and_replay_is_in_order(store):
    assert [store.append(Ping(i)) for i in range(5)] == [1, 2, 3, 4, 5]
    assert list(store.replay()) == [Ping(i) for i in range(5)]
    assert list(store.replay(since=0)) == [Ping(i) for i in range(5)]
    assert list(store.replay(since=3)) == [Ping(3), Ping(4)]
    assert list(store.replay(since=5)) == []
    assert list(store.replay(since=99)) == []


def test_replay_of_an_empty_store(store):
    assert list(store.replay()) == []


def test_replay_rejects_a_bad_since(store):
    for bad in (-1, "1", 1.0, True):
        with pytest.raises(ValueError):
            store.replay(since=bad)


def test_replay_spans_batches_and_ignores_later_appends(store):
    for i in range(600):
        store.append(Ping(i))
    replayed = []
    for event in store.replay(since=10):
        replayed.append(event)
        if len(replayed) % 100 == 0:
            store.append(Ping(-1))  # not part of this replay
    assert replayed == [Ping(i) for i in range(10, 600)]


def test_wal_mode_is_on(store, tmp_path):
    assert store.journal_mode == "wal"
    store.append(Ping(1))
    other = sqlite3.connect(tmp_path / "events.db")
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = other.execute("SELECT id, type, data FROM events").fetchone()
    finally:
        other.close()
    assert row == (1, "bus_sample_events:Ping", '{"n":1}')


def test_reopen_replays_everything_with_types(tmp_path):
    path = tmp_path / "events.db"
    with SQLiteEventStore(path) as first:
        first.append(Base(1))
        first.append(Child(2, "y"))
        first.append(sample_everything())
    with SQLiteEventStore(path) as second:
        events = list(second.replay())
        assert second.append(Ping(4)) == 4
    assert [type(e) for e in events] == [Base, Child, Everything]
    assert events == [Base(1), Child(2, "y"), sample_everything()]


def test_reopen_in_a_fresh_interpreter(tmp_path):
    path = tmp_path / "events.db"
    with SQLiteEventStore(path) as s:
        s.append(Child(1, "a"))
        s.append(sample_everything())
    script = textwrap.dedent(f"""
        from eventlint.bus import SQLiteEventStore
        import bus_sample_events as m
        with SQLiteEventStore({str(path)!r}) as s:
            events = list(s.replay())
        assert [type(e) for e in events] == [m.Child, m.Everything], events
        assert events[1].line.end == m.Point(3, 4)
        print("ok", len(events))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, HERE]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok 2"


def test_closed_store_refuses_work(tmp_path):
    s = SQLiteEventStore(tmp_path / "e.db")
    s.close()
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.append(Ping(1))
    with pytest.raises(ValueError, match="closed"):
        s.replay()


def test_concurrent_appends_get_unique_offsets(store):
    offsets = []
    lock = threading.Lock()

    def append(t):
        mine = [store.append(Ping(t * 1000 + i)) for i in range(100)]
        with lock:
            offsets.extend(mine)

    threads = [threading.Thread(target=append, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(offsets) == list(range(1, 601))
    assert len(list(store.replay())) == 600


# -- codec ----------------------------------------------------------------------------

ROUND_TRIPS = {
    "tuple": (1, "a", (2.5, None)),
    "empty tuple": (),
    "nested dataclass": Line(Point(1, 2), Point(3, 4)),
    "naive datetime": datetime(2020, 1, 2, 3, 4, 5, 678901),
    "utc datetime": datetime(2020, 1, 2, tzinfo=timezone.utc),
    "offset datetime": datetime(2020, 1, 2, tzinfo=timezone(timedelta(hours=-7))),
    "zoneinfo datetime, DST fold": datetime(2021, 11, 7, 1, 30, fold=1,
                                            tzinfo=ZoneInfo("America/New_York")),
    "date": date(2000, 2, 29),
    "enum": Color.RED,
    "int enum": Level.LOW,
    "uuid": uuid.uuid4(),
    "decimal": Decimal("3.14159265358979323846264338327950288"),
    "decimal special": Decimal("-Infinity"),
    "bytes": b"\xff\x00binary",
    "list": [1, [2, [3]]],
    "dict with odd keys": {1: "a", (1, 2): "b", None: "c", "$": "d"},
    "big int": -(2**100),
    "float": 1e-300,
    "bool": True,
    "str": "",
    "none": None,
}


@pytest.mark.parametrize("value", list(ROUND_TRIPS.values()), ids=list(ROUND_TRIPS))
def test_codec_round_trip(store, value):
    store.append(Holder(value))
    [event] = store.replay()
    assert event == Holder(value)
    assert type(event.value) is type(value)
    if isinstance(value, datetime):
        assert event.value.tzinfo == value.tzinfo
        assert event.value.fold == value.fold
        assert event.value.utcoffset() == value.utcoffset()


def test_codec_round_trip_everything(store):
    original = sample_everything()
    store.append(original)
    [event] = store.replay()
    assert event == original
    assert type(event.pair[1]) is tuple and type(event.items[0]) is tuple
    assert type(event.items[2]) is Point
    assert type(event.mapping[(3, 4)][0]) is Decimal
    assert event.mapping["$"] == {"$": "not a tag"}


def test_init_false_fields_are_restored(store):
    store.append(WithComputed(4))
    [event] = store.replay()
    assert event.doubled == 8 and event == WithComputed(4)


class Unlisted:
    pass


@pytest.mark.parametrize(
    "value",
    [{1, 2}, frozenset(), object(), 1j, Unlisted(), timedelta(1), bytearray(b"x"),
     datetime.now().time(), [1, {2}], {"k": object()}],
    ids=lambda v: type(v).__name__,
)
def test_unsupported_field_is_a_type_error_at_publish_with_nothing_stored(store, value):
    got = []
    with EventBus(store=store) as bus:
        sub = bus.subscribe(Holder, got.append)
        with pytest.raises(TypeError, match="cannot store"):
            bus.publish(Holder(value))
    assert got == [] and sub.stats().offered == 0
    assert list(store.replay()) == []


def test_non_dataclass_event_with_a_store_is_a_type_error(store):
    with EventBus(store=store) as bus:
        sub = bus.subscribe(object, lambda e: None)
        with pytest.raises(TypeError, match="dataclass"):
            bus.publish(NotADataclass(1))
    assert sub.stats().offered == 0
    assert list(store.replay()) == []


def test_local_event_class_is_refused(store):
    @dataclass(frozen=True)
    class Local:
        n: int

    with pytest.raises(TypeError, match="importable"):
        store.append(Local(1))
    assert list(store.replay()) == []


def test_unknown_type_on_replay_is_a_clear_error(store, tmp_path):
    for i in range(3):
        store.append(Ping(i))
    with closing(sqlite3.connect(tmp_path / "events.db")) as db, db:
        db.execute("UPDATE events SET type = 'app.events:Gone' WHERE id = 3")
    replay = store.replay()
    assert next(replay) == Ping(0)
    assert next(replay) == Ping(1)
    with pytest.raises(LookupError) as info:
        next(replay)
    [bad] = info.value.corrupt
    assert bad.offset == 3 and bad.type == "app.events:Gone"
    assert str(bad.error) == "cannot import event type 'app.events:Gone' stored at offset 3"
    assert str(info.value).endswith(
        "offset 3: cannot import event type 'app.events:Gone' stored at offset 3"
    )


def test_unknown_nested_type_names_it_and_the_offset(store, tmp_path):
    store.append(Holder(Color.RED))
    with closing(sqlite3.connect(tmp_path / "events.db")) as db, db:
        db.execute("UPDATE events SET data = replace(data, 'bus_sample_events:Color', "
                   "'bus_sample_events:Colour')")
    with pytest.raises(LookupError, match="'bus_sample_events:Colour' stored at offset 1"):
        list(store.replay())


# -- with the buses ----------------------------------------------------------------------


def test_publish_appends_before_offering(store):
    seen_in_store = []

    def handler(event):
        seen_in_store.append(event in list(store.replay()))

    with EventBus(store=store) as bus:
        bus.subscribe(Ping, handler)
        for i in range(3):
            bus.publish(Ping(i))
    assert seen_in_store == [True, True, True]
    assert list(store.replay()) == [Ping(0), Ping(1), Ping(2)]


def test_failed_append_offers_nothing():
    class BrokenStore:
        def append(self, event):
            raise OSError("disk full")

    with EventBus(store=BrokenStore()) as bus:
        sub = bus.subscribe(Ping, lambda e: None)
        with pytest.raises(OSError):
            bus.publish(Ping(1))
    assert sub.stats().offered == 0


def test_events_without_subscribers_are_still_stored(store):
    with EventBus(store=store) as bus:
        bus.publish(Ping(1))
    assert list(store.replay()) == [Ping(1)]
    assert store.append(Ping(2)) == 2


def test_replay_into_a_new_bus(store):
    with EventBus(store=store) as bus:
        for i in range(5):
            bus.publish(Ping(i))
    got = []
    with EventBus() as replica:
        replica.subscribe(Ping, got.append)
        for event in store.replay(since=2):
            replica.publish(event)
    assert got == [Ping(2), Ping(3), Ping(4)]


def test_async_bus_with_store(store):
    async def main():
        got = []

        async def handler(event):
            got.append(event)

        async with AsyncEventBus(store=store) as bus:
            bus.subscribe(Base, handler)
            bus.publish(Base(1))
            bus.publish(Child(2))
            with pytest.raises(TypeError):
                bus.publish(Holder({1}))
        return got

    assert asyncio.run(main()) == [Base(1), Child(2)]
    assert list(store.replay()) == [Base(1), Child(2)]
