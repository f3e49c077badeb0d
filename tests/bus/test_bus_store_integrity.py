"""SQLiteEventStore keeps its promises: what append accepts, replay gives back exactly;
an unreadable row never blocks the others; an acknowledged append survives kill -9."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from bus_sample_events import Bumped, Color, Hidden, Holder, Level, Loose, Perm, Ping, Point
from bus_helpers import HERE, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from eventlint.bus import CorruptEvent, EventBus, ReplayError, SQLiteEventStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteEventStore(tmp_path / "events.db")
    yield s
    s.close()


def rows(store) -> int:
    with closing(sqlite3.connect(store.path)) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


# -- append refuses what replay would not give back exactly ----------------------------

CET = timezone(timedelta(hours=1), "CET")
PARIS = ZoneInfo("Europe/Paris")

REFUSED = {
    "datetime with a named timezone": (
        datetime(2024, 1, 1, 12, tzinfo=CET), ValueError, "would be replayed as"),
    "naive datetime with fold=1": (
        datetime(2024, 1, 1, 12, fold=1), ValueError, "would be replayed as"),
    "lone surrogate": ("bad \udc80 text", ValueError, r"surrogate code point '\udc80' at index 4"),
    "surrogate pair": ("\ud83d\ude00", ValueError, "surrogate"),
    "surrogate in a dict key": ({"k\udcff": 1}, ValueError, "surrogate"),
    "decimal NaN": (Decimal("NaN"), ValueError, "not equal to itself"),
    "decimal signalling NaN": (Decimal("-sNaN12"), ValueError, "not equal to itself"),
    "float NaN": (float("nan"), ValueError, "NaN is not equal to itself"),
    "NaN in a tuple dict key": ({(1, float("nan")): "x"}, ValueError, "NaN"),
    "named timezone in a tuple dict key": (
        {("at", datetime(2024, 1, 1, tzinfo=CET)): 1}, ValueError, "Holder.value key"),
    "dataclass whose __post_init__ changes it": (Bumped(1), ValueError, "Holder.value.n: 2"),
    "compare=False field that would change": (
        Hidden(1, datetime(2024, 1, 1, tzinfo=CET)), ValueError, "Holder.value.note"),
}


ZONE_FILE = "/usr/share/zoneinfo/Europe/Paris"


@pytest.mark.parametrize(
    ("value", "error", "message"), list(REFUSED.values()), ids=list(REFUSED)
)
def test_append_refuses_a_value_that_would_not_round_trip(store, value, error, message):
    store.append(Ping(1))
    with pytest.raises(error) as info:
        store.append(Holder(value))
    assert message in str(info.value)
    assert rows(store) == 1
    assert store.append(Ping(2)) == 2
    assert list(store.replay()) == [Ping(1), Ping(2)]


def test_zoneinfo_from_a_file_without_a_key_is_refused(store):
    with open(ZONE_FILE, "rb") as f:
        value = datetime(2024, 1, 1, tzinfo=ZoneInfo.from_file(f))
    with pytest.raises(TypeError, match="tzinfo"):
        store.append(Holder(value))
    assert rows(store) == 0


def test_zoneinfo_under_a_key_replay_cannot_load_is_refused(store):
    with open(ZONE_FILE, "rb") as f:
        zone = ZoneInfo.from_file(f, key="Nowhere/Atlantis")
    with pytest.raises(ValueError, match="could not be rebuilt"):
        store.append(Holder(datetime(2024, 1, 1, tzinfo=zone)))
    assert rows(store) == 0


def test_publish_of_a_value_that_would_not_round_trip_offers_nothing(store):
    with EventBus(store=store) as bus:
        got = []
        sub = bus.subscribe(Holder, got.append)
        with pytest.raises(ValueError, match="Decimal NaN"):
            bus.publish(Holder(Decimal("NaN")))
    assert got == [] and sub.stats().offered == 0
    assert rows(store) == 0


ACCEPTED = {
    "flag combination": Perm.R | Perm.W,
    "empty flag": Perm(0),
    "single flag": Perm.X,
    "zoneinfo datetime": datetime(2024, 7, 1, 9, tzinfo=PARIS),
    "zoneinfo datetime, second of a fold": datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=PARIS),
    "unnamed offset": datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    "utc": datetime(2024, 1, 1, tzinfo=timezone.utc),
    "tuple dict keys": {(1, "a"): 1, (2, (3, b"x")): 2, (): 3},
    "non-ASCII text": "naïve ☃ 😀 \U0010ffff",
    "negative zero": -0.0,
    "infinity": float("inf"),
    "decimal keeps its exponent": Decimal("1.500"),
    "decimal negative zero": Decimal("-0.00"),
    "one, one point oh and true stay apart": [1, 1.0, True, Decimal(1)],
    "compared by identity": Loose(3),
}


@pytest.mark.parametrize("value", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_values_that_round_trip_exactly_are_accepted(store, value):
    store.append(Holder(value))
    [event] = store.replay()
    assert repr(event) == repr(Holder(value))
    assert type(event.value) is type(value)


def test_a_flag_combination_replays_as_itself(store):
    store.append(Holder(Perm.R | Perm.W))
    [event] = store.replay()
    assert event.value is Perm.R | Perm.W


# -- property: append either refuses, writing nothing, or replay gives back the same -----

texts = st.text(st.characters(exclude_categories=()), max_size=8)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), texts, st.binary(max_size=8),
    st.decimals(), st.dates(), st.uuids(),
    st.sampled_from([Color.RED, Color.GREEN, Level.LOW, Perm.R]),
    st.builds(lambda a, b: a | b, st.sampled_from(list(Perm)), st.sampled_from(list(Perm))),
    st.datetimes(
        timezones=st.one_of(
            st.none(), st.just(timezone.utc), st.just(CET), st.just(PARIS),
            st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
        ),
        allow_imaginary=True,
    ).flatmap(lambda d: st.sampled_from([d, d.replace(fold=1)])),
)
# A signalling NaN can't be hashed, so it can't be a key.
hashable = st.recursive(leaves.filter(lambda v: not (isinstance(v, Decimal) and v.is_snan())),
                        lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(hashable, inner, max_size=3),
        st.builds(Point, inner, inner),
        st.builds(Hidden, inner, inner),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_append_refuses_or_replay_returns_the_same_value(value):
    # In memory: the codec is under test here, not the disk.
    with SQLiteEventStore(":memory:") as s:
        try:
            offset = s.append(Holder(value))
        except (TypeError, ValueError) as exc:
            note_kind(f"refused: {type(exc).__name__}")
            assert list(s.replay()) == []
            return
        note_kind("accepted")
        [event] = s.replay(since=offset - 1)
        # repr shows types (1 / 1.0 / True), float signs, Decimal exponents,
        # time zones with their names and keys, folds and surrogates.
        assert repr(event) == repr(Holder(value))


# -- replay goes past rows it cannot read ------------------------------------------------

DAMAGE = {
    4: "UPDATE events SET data = CAST(X'7bff22fe' AS TEXT) WHERE id = 4",  # not UTF-8
    6: "UPDATE events SET data = X'00010203' WHERE id = 6",                # a blob
    7: "UPDATE events SET data = '{\"n\":' WHERE id = 7",                  # cut-off JSON
    8: "UPDATE events SET data = '{\"n\":{\"$\":\"nope\",\"v\":1}}' WHERE id = 8",
    9: "UPDATE events SET type = 'bus_sample_events:Gone' WHERE id = 9",
    10: "UPDATE events SET data = '{\"m\":1}' WHERE id = 10",            # fields changed
}


def damaged_store(tmp_path, events=14):
    path = tmp_path / "events.db"
    with SQLiteEventStore(path) as s:
        for i in range(1, events + 1):
            assert s.append(Ping(i)) == i
    with closing(sqlite3.connect(path)) as db, db:
        for statement in DAMAGE.values():
            db.execute(statement)
    return path


def test_replay_yields_every_readable_event_then_reports_the_bad_offsets(tmp_path, caplog):
    path = damaged_store(tmp_path)
    got = []
    with SQLiteEventStore(path) as s, caplog.at_level(logging.WARNING, "eventlint.bus"):
        with pytest.raises(ReplayError) as info:
            for event in s.replay():
                got.append(event)
    assert got == [Ping(i) for i in range(1, 15) if i not in DAMAGE]
    assert [bad.offset for bad in info.value.corrupt] == sorted(DAMAGE)
    assert isinstance(info.value, LookupError)
    assert "6 stored events could not be replayed" in str(info.value)
    bad = {c.offset: c for c in info.value.corrupt}
    assert bad[4].data == b'{\xff"\xfe' and "UTF-8" in str(bad[4].error)
    assert bad[6].data == "\x00\x01\x02\x03"
    assert bad[9].type == "bus_sample_events:Gone"
    assert isinstance(bad[9].error, LookupError)
    warned = [r.getMessage() for r in caplog.records if "replay skipped" in r.getMessage()]
    assert [m.split("offset ")[1].split(":")[0] for m in warned] == [str(o) for o in sorted(DAMAGE)]


def test_replay_with_on_corrupt_reports_each_bad_row_as_met_and_ends_normally(tmp_path):
    path = damaged_store(tmp_path)
    seen = []
    with SQLiteEventStore(path) as s:
        for event in s.replay(since=5, on_corrupt=lambda bad: seen.append(("bad", bad.offset))):
            seen.append(event.n)
    assert seen == [("bad", 6), ("bad", 7), ("bad", 8), ("bad", 9), ("bad", 10),
                    11, 12, 13, 14]
    assert all(isinstance(c, tuple) for c in seen[:5])


def test_corrupt_event_record(tmp_path):
    path = damaged_store(tmp_path)
    found = []
    with SQLiteEventStore(path) as s:
        list(s.replay(since=6, on_corrupt=found.append))
    assert isinstance(found[0], CorruptEvent)
    assert found[0].offset == 7 and found[0].type == "bus_sample_events:Ping"
    assert found[0].data == '{"n":'
    assert isinstance(found[0].error, ValueError)


def test_on_corrupt_must_be_callable(store):
    with pytest.raises(TypeError, match="on_corrupt"):
        store.replay(on_corrupt="skip")


# -- acknowledged appends survive the writer being killed -------------------------------

WRITER = textwrap.dedent("""
    import sys
    from eventlint.bus import SQLiteEventStore
    from bus_sample_events import Ping

    store = SQLiteEventStore(sys.argv[1])
    n = int(sys.argv[2])
    while True:
        n += 1
        offset = store.append(Ping(n))
        print(offset, n, flush=True)
""")

KILL_ROUNDS = 4


def test_every_acknowledged_append_survives_sigkill_of_the_writer(tmp_path):
    """A writer process appends in a loop, printing each offset ``append`` returned;
    it is killed with SIGKILL at a random point, four times over the same file."""
    path = str(tmp_path / "events.db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, HERE]))
    acknowledged: dict[int, int] = {}
    for round_ in range(KILL_ROUNDS):
        # Each writer numbers its events from its own base, so that a row
        # committed but not yet acknowledged when the kill came stays unique.
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, str(round_ * 1_000_000)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            for _ in range(50 + 40 * round_):
                line = writer.stdout.readline()
                assert line.endswith("\n"), writer.stderr.read()
                offset, n = map(int, line.split())
                acknowledged[offset] = n
            time.sleep(0.001 * round_)
        finally:
            writer.send_signal(signal.SIGKILL)
            out, _ = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        # Lines written before the kill were acknowledged too; a cut-off last
        # line was not.
        for line in out.splitlines(keepends=True):
            if line.endswith("\n"):
                offset, n = map(int, line.split())
                acknowledged[offset] = n
    with SQLiteEventStore(path) as s:
        replayed = {event.n: event for event in s.replay()}  # no ReplayError: no torn row
    stored = {}
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for offset, data in db.execute("SELECT id, data FROM events"):
            stored[offset] = data
    for offset, number in acknowledged.items():
        assert stored.get(offset) == f'{{"n":{number}}}', offset
        assert replayed[number] == Ping(number)
    assert len(acknowledged) >= sum(50 + 40 * r for r in range(KILL_ROUNDS))
