"""Property: whatever the overflow policy, queue size and failures, nothing is lost."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

from bus_sample_events import Ping
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlint.bus import AsyncEventBus, BusFull, EventBus

sub_specs = st.lists(
    st.fixed_dictionaries({
        "overflow": st.sampled_from(["drop", "error", "block"]),
        "maxsize": st.integers(0, 4),
        "retries": st.integers(0, 2),
        # Which (event number + attempt) values make the handler fail.
        "fail_mod": st.integers(1, 5),
        "fail_rem": st.integers(-1, 4),
        "filter_mod": st.integers(1, 3),
    }),
    min_size=1,
    max_size=4,
)

common = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def failing(spec, attempt_of, event) -> bool:
    return (event.n + attempt_of(event)) % spec["fail_mod"] == spec["fail_rem"]


@common
@given(specs=sub_specs, events=st.integers(0, 60), drain=st.booleans())
def test_threaded_bus_accounts_for_every_offered_event(specs, events, drain):
    with mock.patch("eventlint.bus._threaded.backoff", lambda attempt: 0):
        bus = EventBus()
        subs, calls = [], []
        for spec in specs:
            attempts: dict = {}
            ok = []
            lock = threading.Lock()

            def handler(event, spec=spec, attempts=attempts, ok=ok, lock=lock):
                with lock:
                    attempts[event.n] = attempts.get(event.n, 0) + 1
                if failing(spec, lambda e: attempts[e.n], event):
                    raise RuntimeError("planned")
                ok.append(event.n)

            subs.append(bus.subscribe(
                Ping, handler, maxsize=spec["maxsize"], overflow=spec["overflow"],
                retries=spec["retries"], filter=lambda e, m=spec["filter_mod"]: e.n % m == 0,
            ))
            calls.append(ok)
        full = [0] * len(subs)
        for i in range(events):
            try:
                bus.publish(Ping(i))
            except BusFull as exc:
                for sub in exc.subscriptions:
                    full[subs.index(sub)] += 1
        bus.close(drain=drain)
    for spec, sub, ok, n_full in zip(specs, subs, calls, full):
        s = sub.stats()
        assert s.offered == len(range(0, events, spec["filter_mod"]))
        assert s.offered == s.delivered + s.dropped + s.dead_lettered
        assert s.delivered == len(ok)
        if spec["overflow"] == "block" or spec["maxsize"] == 0:
            assert n_full == 0
            if drain:
                assert s.dropped == 0
        if spec["overflow"] == "error" and drain:
            assert s.dropped == n_full
    assert len(bus.dead_letters) == sum(s.stats().dead_lettered for s in subs)


@common
@given(specs=sub_specs, events=st.integers(0, 60), drain=st.booleans(),
       yield_every=st.integers(1, 10))
def test_async_bus_accounts_for_every_offered_event(specs, events, drain, yield_every):
    async def main():
        bus = AsyncEventBus()
        subs, calls = [], []
        for spec in specs:
            if spec["overflow"] == "block":
                spec = dict(spec, overflow="drop")
            attempts: dict = {}
            ok = []

            async def handler(event, spec=spec, attempts=attempts, ok=ok):
                attempts[event.n] = attempts.get(event.n, 0) + 1
                if event.n % 2:
                    await asyncio.sleep(0)
                if failing(spec, lambda e: attempts[e.n], event):
                    raise RuntimeError("planned")
                ok.append(event.n)

            subs.append(bus.subscribe(
                Ping, handler, maxsize=spec["maxsize"], overflow=spec["overflow"],
                retries=spec["retries"], filter=lambda e, m=spec["filter_mod"]: e.n % m == 0,
            ))
            calls.append(ok)
        for i in range(events):
            try:
                bus.publish(Ping(i))
            except BusFull:
                pass
            if i % yield_every == 0:
                await asyncio.sleep(0)
        await bus.aclose(drain=drain)
        return subs, calls

    with mock.patch("eventlint.bus._async.backoff", lambda attempt: 0):
        subs, calls = asyncio.run(main())
    for sub, ok in zip(subs, calls):
        s = sub.stats()
        assert s.offered == s.delivered + s.dropped + s.dead_lettered
        assert s.delivered == len(ok)
