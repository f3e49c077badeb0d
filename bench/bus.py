"""Throughput of eventlint.bus against the raw queue + worker it replaces.

Run with ``python bench/bus.py [--events N] [--rounds R]``. Each case
publishes N events to one handler doing the same small piece of work and
waits until all were handled; the best of R rounds is reported. blinker and
pyee (synchronous, direct dispatch: no queue, no thread) are shown for
reference when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eventlint.bus import AsyncEventBus, EventBus  # noqa: E402


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


@dataclass(frozen=True, slots=True)
class Tick:
    n: int


class Work:
    """The handler's work: a little arithmetic on the event, same everywhere."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, event: Tick) -> None:
        self.total += event.n * 3 + 1


class AsyncWork(Work):
    async def __call__(self, event: Tick) -> None:  # type: ignore[override]
        self.total += event.n * 3 + 1


def expected(n: int) -> int:
    return sum(i * 3 + 1 for i in range(n))


# -- threaded ------------------------------------------------------------------


def raw_thread(events: list[Tick], maxsize: int = 0) -> float:
    work = Work()
    q: queue.Queue[Tick | None] = queue.Queue(maxsize)

    def worker() -> None:
        while True:
            item = q.get()
            if item is None:
                return
            try:
                work(item)
            except Exception:
                pass

    start = time.perf_counter()
    t = threading.Thread(target=worker)
    t.start()
    put = q.put
    for e in events:
        put(e)
    put(None)
    t.join()
    elapsed = time.perf_counter() - start
    assert work.total == expected(len(events))
    return elapsed


def bus_thread(events: list[Tick], maxsize: int = 0, overflow: str = "drop",
               with_context: bool = False) -> float:
    # the variable is set for this run only (left set, it would slow every later case)
    token = request_id.set("req-1") if with_context else None
    try:
        work = Work()
        start = time.perf_counter()
        bus = EventBus()
        sub = bus.subscribe(Tick, work, maxsize=maxsize, overflow=overflow)
        publish = bus.publish
        for e in events:
            publish(e)
        bus.close()
        elapsed = time.perf_counter() - start
    finally:
        if token is not None:
            request_id.reset(token)
    assert work.total == expected(len(events)), sub.stats()
    return elapsed


# -- asyncio -------------------------------------------------------------------


def raw_async(events: list[Tick]) -> float:
    async def main() -> float:
        work = AsyncWork()
        q: asyncio.Queue[Tick | None] = asyncio.Queue()

        async def worker() -> None:
            while True:
                item = await q.get()
                if item is None:
                    return
                try:
                    await work(item)
                except Exception:
                    pass

        start = time.perf_counter()
        task = asyncio.get_running_loop().create_task(worker())
        put = q.put_nowait
        for e in events:
            put(e)
        put(None)
        await task
        elapsed = time.perf_counter() - start
        assert work.total == expected(len(events))
        return elapsed

    return asyncio.run(main())


def bus_async(events: list[Tick], with_context: bool = False) -> float:
    async def main() -> float:
        if with_context:
            request_id.set("req-1")
        work = AsyncWork()
        start = time.perf_counter()
        async with AsyncEventBus() as bus:
            bus.subscribe(Tick, work, maxsize=0)
            publish = bus.publish
            for e in events:
                publish(e)
        elapsed = time.perf_counter() - start
        assert work.total == expected(len(events))
        return elapsed

    return asyncio.run(main())


def raw_async_interleaved(events: list[Tick], batch: int = 64) -> float:
    """Publisher yields to the loop every ``batch`` events, as real code does."""
    async def main() -> float:
        work = AsyncWork()
        q: asyncio.Queue[Tick | None] = asyncio.Queue()

        async def worker() -> None:
            while True:
                item = await q.get()
                if item is None:
                    return
                try:
                    await work(item)
                except Exception:
                    pass

        start = time.perf_counter()
        task = asyncio.get_running_loop().create_task(worker())
        put = q.put_nowait
        for i, e in enumerate(events):
            put(e)
            if i % batch == 0:
                await asyncio.sleep(0)
        put(None)
        await task
        elapsed = time.perf_counter() - start
        assert work.total == expected(len(events))
        return elapsed

    return asyncio.run(main())


def bus_async_interleaved(events: list[Tick], batch: int = 64) -> float:
    async def main() -> float:
        work = AsyncWork()
        start = time.perf_counter()
        async with AsyncEventBus() as bus:
            bus.subscribe(Tick, work, maxsize=0)
            publish = bus.publish
            for i, e in enumerate(events):
                publish(e)
                if i % batch == 0:
                    await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
        assert work.total == expected(len(events))
        return elapsed

    return asyncio.run(main())


# -- references ------------------------------------------------------------------


def blinker_direct(events: list[Tick]) -> float | None:
    try:
        import blinker
    except ImportError:
        return None
    work = Work()
    signal = blinker.Signal()

    def receiver(sender: object, event: Tick) -> None:
        work(event)

    signal.connect(receiver)
    start = time.perf_counter()
    send = signal.send
    for e in events:
        send(None, event=e)
    elapsed = time.perf_counter() - start
    assert work.total == expected(len(events))
    return elapsed


def pyee_direct(events: list[Tick]) -> float | None:
    try:
        from pyee import EventEmitter
    except ImportError:
        return None
    work = Work()
    ee = EventEmitter()
    ee.on("tick", work)
    start = time.perf_counter()
    emit = ee.emit
    for e in events:
        emit("tick", e)
    elapsed = time.perf_counter() - start
    assert work.total == expected(len(events))
    return elapsed


def best(fn, events: list[Tick], rounds: int, **kw) -> float | None:
    times = []
    for _ in range(rounds):
        t = fn(events, **kw)
        if t is None:
            return None
        times.append(t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = [Tick(i) for i in range(args.events)]
    n, r = args.events, args.rounds

    rows: list[tuple[str, float | None, float | None]] = []

    def pair(label: str, ours_fn, raw_fn, ours_kw=None, raw_kw=None) -> None:
        # Alternate the two so drift in machine load hits both alike.
        ours_t, raw_t = [], []
        for _ in range(r):
            raw_t.append(raw_fn(events, **(raw_kw or {})))
            ours_t.append(ours_fn(events, **(ours_kw or {})))
        rows.append((label, n / min(ours_t), n / min(raw_t)))

    pair("EventBus vs queue.Queue+thread (unbounded)", bus_thread, raw_thread)
    pair("  same, publisher has a ContextVar set", bus_thread, raw_thread,
         ours_kw={"with_context": True})
    pair("EventBus block maxsize=1024 vs Queue(1024)", bus_thread, raw_thread,
         ours_kw={"maxsize": 1024, "overflow": "block"}, raw_kw={"maxsize": 1024})
    pair("AsyncEventBus vs asyncio.Queue+task", bus_async, raw_async)
    pair("  same, publisher has a ContextVar set", bus_async, raw_async,
         ours_kw={"with_context": True})
    pair("AsyncEventBus vs asyncio.Queue, yield/64", bus_async_interleaved,
         raw_async_interleaved)

    refs = [("blinker Signal.send (direct)", best(blinker_direct, events, r)),
            ("pyee EventEmitter.emit (direct)", best(pyee_direct, events, r))]

    print(f"python {sys.version.split()[0]}, {n} events, best of {r}\n")
    print(f"{'case':<46} {'bus ev/s':>12} {'raw ev/s':>12} {'ratio':>7}")
    print("-" * 80)
    for label, ours, raw in rows:
        print(f"{label:<46} {ours:>12,.0f} {raw:>12,.0f} {ours / raw:>6.2f}x")
    for label, t in refs:
        if t is None:
            print(f"{label:<46} {'not installed':>12}")
        else:
            print(f"{label:<46} {n / t:>12,.0f}")


if __name__ == "__main__":
    main()
