"""AsyncEventBus: the same contract with asyncio tasks and async handlers."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading

import pytest
from bus_sample_events import Base, Child, Other, Ping
from bus_helpers import PATIENCE, assert_balanced

from eventlint.bus import AsyncEventBus, BusClosed, BusFull, DeadLetter, SubscriptionStats


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, PATIENCE))


class Recorder:
    def __init__(self) -> None:
        self.events: list = []

    async def __call__(self, event) -> None:
        self.events.append(event)


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


# -- what may be published and subscribed --------------------------------------


@pytest.mark.parametrize("value", [{"a": 1}, (1,), "s", 1, None, [1]], ids=repr)
def test_publishing_plain_data_is_a_type_error(value):
    async def main():
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(object, Recorder())
            with pytest.raises(TypeError):
                bus.publish(value)
        return sub

    assert run(main()).stats().offered == 0


def test_block_overflow_is_refused():
    async def main():
        async with AsyncEventBus() as bus:
            with pytest.raises(ValueError, match="block"):
                bus.subscribe(Ping, Recorder(), overflow="block")
            with pytest.raises(ValueError, match="overflow"):
                bus.subscribe(Ping, Recorder(), overflow="nope")
            with pytest.raises(TypeError):
                bus.subscribe(Ping, "not callable")

    run(main())


def test_subscribe_needs_a_running_loop():
    bus = AsyncEventBus()
    with pytest.raises(RuntimeError, match="event loop"):
        bus.subscribe(Ping, Recorder())


def test_publish_is_synchronous_and_delivery_follows():
    async def main():
        base, child = Recorder(), Recorder()
        async with AsyncEventBus() as bus:
            bus.subscribe(Base, base)
            bus.subscribe(Child, child)
            assert bus.publish(Base(1)) is None
            bus.publish(Child(2))
            bus.publish(Other(3))
            assert base.events == []  # nothing ran yet: publish doesn't await
        assert base.events == [Base(1), Child(2)]
        assert child.events == [Child(2)]

    run(main())


def test_publish_from_another_thread_is_refused():
    async def main():
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, Recorder())
            errors = []

            def publish():
                try:
                    bus.publish(Ping(1))
                except RuntimeError as exc:
                    errors.append(exc)

            t = threading.Thread(target=publish)
            t.start()
            t.join()
            assert "call_soon_threadsafe" in str(errors[0])
            asyncio.get_running_loop().call_soon_threadsafe(bus.publish, Ping(2))
            await asyncio.sleep(0.01)
        assert sub.stats().delivered == 1

    run(main())


def test_handlers_that_suspend_keep_order_and_get_results():
    async def main():
        seen = []

        async def handler(event):
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(fut.set_result, event.n * 10)
            value = await fut
            await asyncio.sleep(0)
            seen.append(value)

        async with AsyncEventBus() as bus:
            bus.subscribe(Ping, handler, maxsize=0)
            for i in range(20):
                bus.publish(Ping(i))
        assert seen == [i * 10 for i in range(20)]

    run(main())


# -- overflow --------------------------------------------------------------------


def test_drop_overflow(caplog):
    caplog.set_level(logging.WARNING, logger="eventlint.bus")

    async def main():
        rec = Recorder()
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, rec, maxsize=2)
            for i in range(5):
                bus.publish(Ping(i))
            assert sub.stats().dropped == 3
        assert [e.n for e in rec.events] == [0, 1]
        return sub

    sub = run(main())
    assert sub.stats() == SubscriptionStats(offered=5, delivered=2, dropped=3, dead_lettered=0)
    assert len([r for r in caplog.records if r.name == "eventlint.bus"]) == 1


def test_error_overflow():
    async def main():
        rec, other = Recorder(), Recorder()
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, rec, maxsize=1, overflow="error")
            bus.subscribe(Ping, other)
            bus.publish(Ping(0))
            with pytest.raises(BusFull):
                bus.publish(Ping(1))
            await asyncio.sleep(0.01)
            bus.publish(Ping(2))  # room again
        assert [e.n for e in rec.events] == [0, 2]
        assert [e.n for e in other.events] == [0, 1, 2]
        return sub

    assert run(main()).stats() == SubscriptionStats(3, 2, 1, 0)


def test_unbounded_never_drops():
    async def main():
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, Recorder(), maxsize=0)
            for i in range(10_000):
                bus.publish(Ping(i))
        return sub

    assert run(main()).stats() == SubscriptionStats(10_000, 10_000, 0, 0)


# -- failures --------------------------------------------------------------------


def test_retries_then_dead_letter():
    async def main():
        calls = []

        async def handler(event):
            calls.append(event)
            await asyncio.sleep(0)
            raise ValueError(f"attempt {len(calls)}")

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler, retries=2)
            bus.publish(Ping(1))
        assert len(calls) == 3
        [letter] = bus.dead_letters
        assert isinstance(letter, DeadLetter)
        assert (letter.event, letter.handler, letter.attempts) == (Ping(1), handler, 3)
        assert str(letter.error) == "attempt 3"
        assert sub.stats() == SubscriptionStats(1, 0, 0, 1)

    run(main())


def test_failure_without_retries_and_before_suspending():
    async def main():
        async def handler(event):
            if event.n == 1:
                raise KeyError(1)

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler)
            for i in range(3):
                bus.publish(Ping(i))
        assert [(d.event.n, d.attempts) for d in bus.dead_letters] == [(1, 1)]
        assert sub.stats() == SubscriptionStats(3, 2, 0, 1)

    run(main())


def test_retry_that_succeeds():
    async def main():
        calls = []

        async def handler(event):
            calls.append(1)
            if len(calls) < 2:
                raise RuntimeError

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler, retries=3)
            bus.publish(Ping(1))
        assert len(calls) == 2 and bus.dead_letters == ()
        assert sub.stats().delivered == 1

    run(main())


def test_timeout_cancels_the_handler():
    async def main():
        cancelled = []

        async def handler(event):
            try:
                await asyncio.sleep(PATIENCE)
            except asyncio.CancelledError:
                cancelled.append(event.n)
                raise

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler, timeout=0.02, retries=1)
            bus.publish(Ping(7))
        assert cancelled == [7, 7]
        [letter] = bus.dead_letters
        assert isinstance(letter.error, TimeoutError) and letter.attempts == 2
        assert "cancelled" in str(letter.error)
        assert sub.stats() == SubscriptionStats(1, 0, 0, 1)

    run(main())


def test_non_async_handler_is_dead_lettered_with_a_clear_error():
    async def main():
        async with AsyncEventBus() as bus:
            bus.subscribe(Ping, lambda e: None)
            bus.publish(Ping(1))
        [letter] = bus.dead_letters
        assert isinstance(letter.error, TypeError)
        assert "async" in str(letter.error)

    run(main())


def test_handler_returning_another_awaitable_is_awaited():
    async def main():
        got = []

        def handler(event):
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            got.append(event.n)
            return fut

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler)
            bus.publish(Ping(1))
        assert got == [1] and sub.stats().delivered == 1

    run(main())


def test_handler_raising_cancelled_error_itself_is_a_failure():
    if not hasattr(asyncio.Task, "cancelling"):
        pytest.skip("needs Task.cancelling (Python 3.11+)")

    async def main():
        async def handler(event):
            await asyncio.sleep(0)
            raise asyncio.CancelledError

        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, handler)
            bus.publish(Ping(1))
            bus.publish(Ping(2))
        assert sub.stats() == SubscriptionStats(2, 0, 0, 2)

    run(main())


# -- context ----------------------------------------------------------------------


def test_handler_runs_in_the_publishers_context_across_awaits():
    async def main():
        seen = []

        async def handler(event):
            before = request_id.get()
            await asyncio.sleep(0)
            request_id.set("changed by handler")
            await asyncio.sleep(0)
            seen.append((event.n, before, request_id.get()))

        async with AsyncEventBus() as bus:
            bus.subscribe(Ping, handler, maxsize=0)
            bus.subscribe(Ping, handler, maxsize=0, timeout=5, retries=1)
            for i in range(10):
                request_id.set(f"req-{i}")
                bus.publish(Ping(i))
            request_id.set("-")
            bus.publish(Ping(10))
        expected = [(i, f"req-{i}", "changed by handler") for i in range(10)]
        expected.append((10, "-", "changed by handler"))
        assert sorted(seen) == sorted(expected * 2)
        assert request_id.get() == "-"

    run(main())


def test_context_of_each_publishing_task():
    async def main():
        seen = {}

        async def handler(event):
            seen[event.n] = request_id.get()

        async def publisher(n):
            request_id.set(f"task-{n}")
            await asyncio.sleep(0)
            bus.publish(Ping(n))

        async with AsyncEventBus() as bus:
            bus.subscribe(Ping, handler)
            await asyncio.gather(*(publisher(n) for n in range(5)))
        assert seen == {n: f"task-{n}" for n in range(5)}

    run(main())


# -- accounting, unsubscribe, close ----------------------------------------------------


def test_unsubscribe_delivers_what_is_queued():
    async def main():
        rec = Recorder()
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, rec)
            bus.publish(Ping(1))
            bus.publish(Ping(2))
            sub.unsubscribe()
            sub.unsubscribe()
            bus.publish(Ping(3))
        assert [e.n for e in rec.events] == [1, 2]
        assert sub.stats() == SubscriptionStats(2, 2, 0, 0)

    run(main())


def test_filter_rejections_are_not_offered():
    async def main():
        rec = Recorder()
        async with AsyncEventBus() as bus:
            sub = bus.subscribe(Ping, rec, filter=lambda e: e.n % 2 == 0)
            for i in range(10):
                bus.publish(Ping(i))
        assert [e.n for e in rec.events] == [0, 2, 4, 6, 8]
        assert sub.stats() == SubscriptionStats(5, 5, 0, 0)

    run(main())


def test_aclose_without_drain_counts_discards():
    async def main():
        started = asyncio.Event()
        release = asyncio.Event()

        async def handler(event):
            started.set()
            await release.wait()

        bus = AsyncEventBus()
        sub = bus.subscribe(Ping, handler)
        for i in range(5):
            bus.publish(Ping(i))
        await started.wait()
        closing = asyncio.ensure_future(bus.aclose(drain=False))
        await asyncio.sleep(0)
        assert sub.stats().dropped == 4
        release.set()
        await closing
        assert sub.stats() == SubscriptionStats(5, 1, 4, 0)
        await bus.aclose()  # idempotent
        with pytest.raises(BusClosed):
            bus.publish(Ping(9))
        with pytest.raises(BusClosed):
            bus.subscribe(Ping, handler)

    run(main())


def test_worker_cancelled_under_us_accounts_for_its_events():
    async def main():
        async def handler(event):
            await asyncio.sleep(PATIENCE)

        bus = AsyncEventBus()
        sub = bus.subscribe(Ping, handler)
        for i in range(3):
            bus.publish(Ping(i))
        await asyncio.sleep(0)
        sub._task.cancel()
        await asyncio.sleep(0.01)
        assert sub.stats() == SubscriptionStats(3, 0, 3, 0)
        await bus.aclose()

    run(main())


def test_accounting_invariant_after_async_with():
    async def main():
        async def flaky(event):
            if event.n % 3 == 0:
                raise RuntimeError
            if event.n % 5 == 0:
                await asyncio.sleep(0)

        async with AsyncEventBus() as bus:
            subs = [
                bus.subscribe(Ping, flaky, maxsize=0),
                bus.subscribe(Ping, flaky, maxsize=4),
                bus.subscribe(Ping, flaky, maxsize=4, overflow="error", retries=1),
                bus.subscribe(object, flaky, maxsize=2),
            ]
            for i in range(300):
                try:
                    bus.publish(Ping(i))
                except BusFull:
                    pass
                if i % 7 == 0:
                    await asyncio.sleep(0)
        for sub in subs:
            assert_balanced(sub)
            assert sub.stats().offered == 300

    run(main())


def test_load_100k_events_with_a_slow_subscriber():
    async def main():
        counted = [0]

        async def count(event):
            counted[0] += 1

        async def slow(event):
            await asyncio.sleep(0)

        total = 100_000
        async with AsyncEventBus() as bus:
            subs = [
                bus.subscribe(Ping, count, maxsize=0),
                bus.subscribe(Ping, count, maxsize=0, filter=lambda e: e.n % 2),
                bus.subscribe(Ping, slow, maxsize=4),
            ]
            for i in range(total):
                bus.publish(Ping(i))
                if i % 100 == 0:
                    await asyncio.sleep(0)
        assert counted[0] == total + total // 2
        for sub in subs:
            assert_balanced(sub)
        assert subs[2].stats().dropped > 0

    run(main())
