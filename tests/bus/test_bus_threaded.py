"""EventBus: validation, dispatch, overflow, retries, timeouts, context, accounting."""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from collections import Counter
from decimal import Decimal

import pytest
from bus_sample_events import Base, Child, Other, Ping
from bus_helpers import PATIENCE, assert_balanced, wait_until

from eventlint.bus import (
    BusClosed,
    BusFull,
    DeadLetter,
    EventBus,
    Subscription,
    SubscriptionStats,
)


class Recorder:
    """A thread-safe handler that remembers what it got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list = []

    def __call__(self, event) -> None:
        with self.lock:
            self.events.append(event)


class MyDict(dict):
    pass


# -- what may be published and subscribed --------------------------------------


@pytest.mark.parametrize(
    "value",
    [{"a": 1}, [1], (1, 2), "text", b"raw", 3, 2.5, True, None, Decimal("1"), MyDict(), Ping],
    ids=lambda v: type(v).__name__,
)
def test_publishing_plain_data_is_a_type_error(value):
    with EventBus() as bus:
        sub = bus.subscribe(object, Recorder())
        with pytest.raises(TypeError, match="event class"):
            bus.publish(value)
    assert sub.stats().offered == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"event_type": "Ping"}, TypeError, "event_type must be a class"),
        ({"event_type": dict}, TypeError, "not an event type"),
        ({"handler": 42}, TypeError, "handler must be callable"),
        ({"overflow": "spill"}, ValueError, "overflow must be one of"),
        ({"maxsize": -1}, ValueError, "maxsize must be >= 0"),
        ({"maxsize": "10"}, TypeError, "maxsize must be an int"),
        ({"maxsize": True}, TypeError, "maxsize must be an int"),
        ({"retries": -1}, ValueError, "retries must be >= 0"),
        ({"timeout": 0}, ValueError, "timeout must be > 0"),
        ({"timeout": "1"}, TypeError, "timeout must be a number"),
        ({"filter": "yes"}, TypeError, "filter must be callable"),
    ],
)
def test_subscribe_validates_arguments(kwargs, error, match):
    args = {"event_type": Ping, "handler": Recorder()}
    args.update(kwargs)
    with EventBus() as bus:
        with pytest.raises(error, match=match):
            bus.subscribe(args.pop("event_type"), args.pop("handler"), **args)
        assert bus.subscriptions() == ()


# -- dispatch --------------------------------------------------------------------


def test_subscribers_of_a_base_class_receive_subclasses():
    base, child, anything, other = Recorder(), Recorder(), Recorder(), Recorder()
    with EventBus() as bus:
        bus.subscribe(Base, base)
        bus.subscribe(Child, child)
        bus.subscribe(object, anything)
        bus.subscribe(Other, other)
        bus.publish(Base(1))
        bus.publish(Child(2))
    assert base.events == [Base(1), Child(2)]
    assert child.events == [Child(2)]
    assert anything.events == [Base(1), Child(2)]
    assert other.events == []


def test_dispatch_cache_follows_subscribe_and_unsubscribe():
    first, second = Recorder(), Recorder()
    with EventBus() as bus:
        bus.subscribe(Base, first)
        bus.publish(Child(1))  # fills the cache for Child
        sub = bus.subscribe(Base, second)
        bus.publish(Child(2))
        sub.unsubscribe()
        bus.publish(Child(3))
    assert [e.n for e in first.events] == [1, 2, 3]
    assert [e.n for e in second.events] == [2]


def test_events_arrive_in_publish_order():
    rec = Recorder()
    with EventBus() as bus:
        bus.subscribe(Ping, rec, maxsize=0)
        for i in range(1000):
            bus.publish(Ping(i))
    assert [e.n for e in rec.events] == list(range(1000))


def test_handler_may_publish():
    rec = Recorder()
    with EventBus() as bus:
        bus.subscribe(Ping, lambda e: bus.publish(Other(e.n)))
        bus.subscribe(Other, rec)
        bus.publish(Ping(7))
        wait_until(lambda: rec.events)
    assert rec.events == [Other(7)]


# -- overflow --------------------------------------------------------------------


def _fill(bus, gate, overflow, maxsize=2, extra=5):
    """Block the worker on one event, then publish ``extra`` more."""
    def handler(event):
        if event.n == 0:
            gate.wait()

    sub = bus.subscribe(Ping, handler, maxsize=maxsize, overflow=overflow)
    bus.publish(Ping(0))
    assert gate.entered.wait(PATIENCE)
    return sub


def test_drop_overflow_counts_and_warns_once(gate, caplog):
    caplog.set_level(logging.WARNING, logger="eventlint.bus")
    with EventBus() as bus:
        sub = _fill(bus, gate, "drop")
        for i in range(1, 6):
            bus.publish(Ping(i))  # never blocks, never raises
        assert sub.stats() == SubscriptionStats(offered=6, delivered=0, dropped=3, dead_lettered=0)
        gate.open()
    assert sub.stats() == SubscriptionStats(offered=6, delivered=3, dropped=3, dead_lettered=0)
    warnings = [r for r in caplog.records if r.name == "eventlint.bus"]
    assert len(warnings) == 1
    assert "queue full" in warnings[0].getMessage()


def test_drop_warnings_are_rate_limited(gate, caplog):
    caplog.set_level(logging.WARNING, logger="eventlint.bus")
    with EventBus() as bus:
        sub = _fill(bus, gate, "drop", maxsize=1)
        for i in range(1, 2001):
            bus.publish(Ping(i))
        gate.open()
    assert sub.stats().dropped == 1999
    # Publishing 2000 events takes far less than the one-second interval
    # (even on a slow machine there could be at most a handful).
    warnings = [r for r in caplog.records if r.name == "eventlint.bus"]
    assert 1 <= len(warnings) <= 3


def test_error_overflow_raises_bus_full_and_counts_drop(gate):
    rec = Recorder()
    with EventBus() as bus:
        sub = _fill(bus, gate, "error")
        other = bus.subscribe(Ping, rec, maxsize=0)
        bus.publish(Ping(1))
        bus.publish(Ping(2))
        with pytest.raises(BusFull) as info:
            bus.publish(Ping(3))
        assert info.value.subscriptions == (sub,)
        assert sub.stats().dropped == 1
        gate.open()
    assert sub.stats() == SubscriptionStats(offered=4, delivered=3, dropped=1, dead_lettered=0)
    # The other subscription still got everything published after it subscribed.
    assert [e.n for e in rec.events] == [1, 2, 3]
    assert_balanced(other)


def test_block_overflow_waits_for_room(gate):
    with EventBus() as bus:
        sub = _fill(bus, gate, "block", maxsize=1)
        publisher = threading.Thread(target=lambda: [bus.publish(Ping(i)) for i in range(1, 6)])
        publisher.start()
        wait_until(lambda: sub.stats().offered == 3)  # 1 handled, 1 queued, 1 waiting
        publisher.join(0.2)
        assert publisher.is_alive()
        gate.open()
        publisher.join(PATIENCE)
        assert not publisher.is_alive()
    assert sub.stats() == SubscriptionStats(offered=6, delivered=6, dropped=0, dead_lettered=0)


def test_close_releases_a_blocked_publisher(gate):
    errors = []

    def publish_two():
        try:
            bus.publish(Ping(1))
            bus.publish(Ping(2))
        except BusClosed as exc:
            errors.append(exc)

    bus = EventBus()
    sub = _fill(bus, gate, "block", maxsize=1)
    publisher = threading.Thread(target=publish_two)
    publisher.start()
    wait_until(lambda: sub.stats().offered == 3)
    closer = threading.Thread(target=bus.close, kwargs={"drain": False})
    closer.start()
    publisher.join(PATIENCE)
    assert len(errors) == 1
    gate.open()
    closer.join(PATIENCE)
    assert sub.stats() == SubscriptionStats(offered=3, delivered=1, dropped=2, dead_lettered=0)


def test_unbounded_queue_never_drops(gate):
    with EventBus() as bus:
        sub = _fill(bus, gate, "drop", maxsize=0)
        for i in range(1, 5001):
            bus.publish(Ping(i))
        gate.open()
    assert sub.stats() == SubscriptionStats(offered=5001, delivered=5001, dropped=0, dead_lettered=0)


# -- failures --------------------------------------------------------------------


def test_failing_handler_is_retried_then_dead_lettered():
    calls = []

    def handler(event):
        calls.append(event)
        raise ValueError(f"attempt {len(calls)}")

    with EventBus() as bus:
        sub = bus.subscribe(Ping, handler, retries=2)
        bus.publish(Ping(1))
    assert len(calls) == 3
    [letter] = bus.dead_letters
    assert isinstance(letter, DeadLetter)
    assert letter.event == Ping(1)
    assert letter.handler is handler
    assert letter.attempts == 3
    assert isinstance(letter.error, ValueError) and str(letter.error) == "attempt 3"
    assert sub.stats() == SubscriptionStats(offered=1, delivered=0, dropped=0, dead_lettered=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        letter.attempts = 1  # type: ignore[misc]


def test_retry_that_succeeds_is_delivered():
    calls = []

    def handler(event):
        calls.append(event)
        if len(calls) < 3:
            raise RuntimeError("flaky")

    with EventBus() as bus:
        sub = bus.subscribe(Ping, handler, retries=2)
        bus.publish(Ping(1))
    assert len(calls) == 3
    assert bus.dead_letters == ()
    assert sub.stats() == SubscriptionStats(offered=1, delivered=1, dropped=0, dead_lettered=0)


def test_without_retries_one_failure_dead_letters_and_worker_goes_on():
    def handler(event):
        if event.n == 1:
            raise KeyError(event.n)

    with EventBus() as bus:
        sub = bus.subscribe(Ping, handler)
        for i in range(3):
            bus.publish(Ping(i))
    assert [(d.event.n, d.attempts) for d in bus.dead_letters] == [(1, 1)]
    assert sub.stats() == SubscriptionStats(offered=3, delivered=2, dropped=0, dead_lettered=1)


def test_slow_handler_times_out_and_worker_moves_on():
    release = threading.Event()
    seen = []

    def handler(event):
        seen.append(event.n)
        if event.n == 0:
            release.wait(PATIENCE)

    try:
        with EventBus() as bus:
            sub = bus.subscribe(Ping, handler, timeout=0.05)
            bus.publish(Ping(0))
            bus.publish(Ping(1))
            wait_until(lambda: sub.stats().pending == 0)
        [letter] = bus.dead_letters
        assert letter.event == Ping(0)
        assert isinstance(letter.error, TimeoutError)
        assert "abandoned" in str(letter.error)
        assert letter.attempts == 1
        assert seen == [0, 1]
        assert sub.stats() == SubscriptionStats(offered=2, delivered=1, dropped=0, dead_lettered=1)
    finally:
        release.set()


def test_timeouts_count_as_attempts():
    release = threading.Event()
    calls = []

    def handler(event):
        calls.append(event)
        if len(calls) == 1:
            release.wait(PATIENCE)

    try:
        with EventBus() as bus:
            sub = bus.subscribe(Ping, handler, timeout=0.05, retries=1)
            bus.publish(Ping(0))
        assert len(calls) == 2
        assert bus.dead_letters == ()
        assert sub.stats().delivered == 1
    finally:
        release.set()


def test_timeout_with_all_helpers_stuck_still_dead_letters():
    release = threading.Event()
    bus = EventBus()
    bus.timeout_threads = 1
    try:
        sub = bus.subscribe(Ping, lambda e: release.wait(PATIENCE), timeout=0.05)
        for i in range(3):
            bus.publish(Ping(i))
        bus.close()
        assert [type(d.error) for d in bus.dead_letters] == [TimeoutError] * 3
        assert_balanced(sub)
    finally:
        release.set()


def test_raising_filter_dead_letters_without_calling_handler():
    rec = Recorder()

    def bad_filter(event):
        raise ZeroDivisionError

    with EventBus() as bus:
        sub = bus.subscribe(Ping, rec, filter=bad_filter)
        ok = bus.subscribe(Ping, Recorder())
        bus.publish(Ping(1))
    assert rec.events == []
    [letter] = bus.dead_letters
    assert letter.attempts == 0 and isinstance(letter.error, ZeroDivisionError)
    assert sub.stats() == SubscriptionStats(offered=1, delivered=0, dropped=0, dead_lettered=1)
    assert ok.stats().delivered == 1


# -- context propagation -----------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_handler_sees_the_publishers_context_at_publish_time():
    seen = []
    lock = threading.Lock()

    def handler(event):
        with lock:
            seen.append((event.n, request_id.get()))
        request_id.set("changed by handler")  # must not leak anywhere

    with EventBus() as bus:
        bus.subscribe(Ping, handler, maxsize=0)
        bus.subscribe(Ping, handler, maxsize=0, retries=1, timeout=5)  # runs on a helper thread
        for i in range(50):
            request_id.set(f"req-{i}")
            bus.publish(Ping(i))
        request_id.set("-")
        bus.publish(Ping(99))
    assert sorted(seen) == sorted(
        [(i, f"req-{i}") for i in range(50)] * 2 + [(99, "-")] * 2
    )
    assert request_id.get() == "-"


def test_each_retry_starts_from_the_publishers_context():
    seen = []

    def handler(event):
        seen.append(request_id.get())
        request_id.set("dirty")
        raise RuntimeError

    with EventBus() as bus:
        bus.subscribe(Ping, handler, retries=2)
        request_id.set("clean")
        bus.publish(Ping(1))
    assert seen == ["clean"] * 3


def test_context_from_another_publishing_thread():
    seen = {}

    def handler(event):
        seen[event.n] = request_id.get()

    def publish(n):
        request_id.set(f"thread-{n}")
        bus.publish(Ping(n))

    with EventBus() as bus:
        bus.subscribe(Ping, handler)
        threads = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert seen == {n: f"thread-{n}" for n in range(4)}


# -- accounting, unsubscribe, close ----------------------------------------------------


def test_unsubscribe_stops_offers_but_delivers_what_is_queued(gate):
    rec = []

    def handler(event):
        if event.n == 0:
            gate.wait()
        rec.append(event.n)

    with EventBus() as bus:
        sub = bus.subscribe(Ping, handler, maxsize=0)
        bus.publish(Ping(0))
        assert gate.entered.wait(PATIENCE)
        bus.publish(Ping(1))
        bus.publish(Ping(2))
        sub.unsubscribe()
        sub.unsubscribe()  # idempotent
        assert not sub.active
        assert sub not in bus.subscriptions()
        bus.publish(Ping(3))
        gate.open()
    assert rec == [0, 1, 2]
    assert sub.stats() == SubscriptionStats(offered=3, delivered=3, dropped=0, dead_lettered=0)


def test_filtered_out_events_are_not_offered():
    rec = Recorder()
    with EventBus() as bus:
        sub = bus.subscribe(Ping, rec, filter=lambda e: e.n % 3 == 0)
        for i in range(30):
            bus.publish(Ping(i))
    assert [e.n for e in rec.events] == list(range(0, 30, 3))
    assert sub.stats() == SubscriptionStats(offered=10, delivered=10, dropped=0, dead_lettered=0)


def test_close_without_drain_counts_discarded_events_as_dropped(gate):
    def handler(event):
        if event.n == 0:
            gate.wait()

    bus = EventBus()
    sub = bus.subscribe(Ping, handler, maxsize=0)
    for i in range(6):
        bus.publish(Ping(i))
    assert gate.entered.wait(PATIENCE)
    closer = threading.Thread(target=bus.close, kwargs={"drain": False})
    closer.start()
    wait_until(lambda: sub.stats().dropped == 5)
    gate.open()
    closer.join(PATIENCE)
    assert not closer.is_alive()
    assert sub.stats() == SubscriptionStats(offered=6, delivered=1, dropped=5, dead_lettered=0)


def test_close_is_idempotent_and_later_publish_raises():
    bus = EventBus()
    bus.subscribe(Ping, Recorder())
    bus.close()
    bus.close()
    bus.close(drain=False)
    assert bus.closed
    with pytest.raises(BusClosed):
        bus.publish(Ping(1))
    with pytest.raises(BusClosed):
        bus.subscribe(Ping, Recorder())


def test_context_manager_drains_on_exit():
    done = []
    with EventBus() as bus:
        sub = bus.subscribe(Ping, lambda e: done.append(e), maxsize=0)
        for i in range(200):
            bus.publish(Ping(i))
    assert len(done) == 200
    assert bus.closed
    assert_balanced(sub)


def test_close_with_timeout_reports_busy_subscriptions(gate):
    bus = EventBus()
    bus.subscribe(Ping, lambda e: gate.wait())
    bus.publish(Ping(1))
    assert gate.entered.wait(PATIENCE)
    with pytest.raises(TimeoutError, match="still busy"):
        bus.close(timeout=0.05)
    gate.open()
    bus.close()


def test_accounting_holds_after_drain_for_every_kind_of_subscription():
    def flaky(event):
        if event.n % 4 == 0:
            raise RuntimeError

    with EventBus() as bus:
        subs = [
            bus.subscribe(Ping, Recorder(), maxsize=0),
            bus.subscribe(Ping, flaky, maxsize=0),
            bus.subscribe(Ping, flaky, maxsize=3),
            bus.subscribe(Ping, flaky, maxsize=3, overflow="block"),
            bus.subscribe(Ping, Recorder(), filter=lambda e: e.n > 50),
        ]
        for i in range(100):
            bus.publish(Ping(i))
    for sub in subs:
        assert_balanced(sub)
    assert subs[0].stats().delivered == 100
    assert subs[1].stats().dead_lettered == 25
    assert subs[4].stats().offered == 49


def test_subscription_objects():
    with EventBus() as bus:
        sub = bus.subscribe(Ping, Recorder(), maxsize=7, overflow="error", retries=1, timeout=2)
        assert isinstance(sub, Subscription)
        assert (sub.event_type, sub.maxsize, sub.overflow, sub.retries, sub.timeout) == (
            Ping, 7, "error", 1, 2.0)
        assert "Ping" in repr(sub)
        stats = sub.stats()
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.offered = 3  # type: ignore[misc]


# -- load ------------------------------------------------------------------------------


def test_load_100k_events_with_a_slow_subscriber():
    fast = Counter()
    slow_seen = []

    def count(event):
        fast[event.n % 10] += 1

    def slow(event):
        slow_seen.append(event.n)
        threading.Event().wait(0.0002)

    total = 100_000
    with EventBus() as bus:
        subs = [
            bus.subscribe(Ping, count, maxsize=0),
            bus.subscribe(Base, count, maxsize=0),  # never matches Ping
            bus.subscribe(object, lambda e: None),  # default maxsize, may drop
            bus.subscribe(Ping, slow, maxsize=8),
        ]
        for i in range(total):
            bus.publish(Ping(i))
    assert sum(fast.values()) == total
    stats = [s.stats() for s in subs]
    assert stats[0].delivered == total
    assert stats[1].offered == 0
    for sub in subs:
        assert_balanced(sub)
    assert stats[3].offered == total
    assert stats[3].dropped > 0
    assert stats[3].delivered == len(slow_seen)
    assert slow_seen == sorted(slow_seen)


def test_many_publisher_threads_exact_totals():
    threads_n, per_thread = 8, 10_000
    total = threads_n * per_thread
    counted = Counter()
    lock = threading.Lock()
    full_errors = Counter()

    def count(event):
        with lock:
            counted[event.n] += 1

    with EventBus() as bus:
        unbounded = bus.subscribe(Ping, count, maxsize=0)
        dropping = bus.subscribe(Ping, lambda e: None, maxsize=4)
        erroring = bus.subscribe(Ping, lambda e: None, maxsize=4, overflow="error")
        blocking = bus.subscribe(Ping, lambda e: None, maxsize=4, overflow="block")
        start = threading.Barrier(threads_n)

        def publish(t):
            start.wait()
            for i in range(per_thread):
                try:
                    bus.publish(Ping(t * per_thread + i))
                except BusFull:
                    full_errors[t] += 1

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(counted) == total and set(counted.values()) == {1}
    assert unbounded.stats() == SubscriptionStats(total, total, 0, 0)
    for sub in (dropping, erroring, blocking):
        s = sub.stats()
        assert s.offered == total
        assert_balanced(sub)
    assert erroring.stats().dropped == sum(full_errors.values())
    assert blocking.stats().delivered == total
