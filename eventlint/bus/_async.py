"""AsyncEventBus: every subscription gets an asyncio task and its own queue."""

from __future__ import annotations

import asyncio
import types
from collections import deque
from contextvars import Context
from threading import get_ident
from types import CoroutineType
from typing import Any, Generator

from ._core import (
    CLOSED,
    FULL,
    OK,
    BusBase,
    Subscription,
    backoff,
    describe,
)


class _Failed:
    """What the driver yields when a handler call raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


@types.coroutine
def _driver(handler: Any) -> Generator[Any, Any, None]:
    """A long-lived generator that runs one handler call per ``send(event)``.

    The worker calls ``ctx.run(driver.send, event)``, so the handler, and
    every later step of it, runs inside the publisher's context. The call
    ends by yielding ``_DONE`` or a ``_Failed``, never by returning, which
    saves raising StopIteration for every event; anything else it yields
    comes from the handler (a future, or None for a bare yield) and is for
    the task to wait on. ``types.coroutine`` lets it ``yield from`` a
    coroutine.
    """
    event = yield
    while True:
        try:
            call = handler(event)
            if type(call) is CoroutineType:
                yield from call
            elif hasattr(call, "__await__"):
                yield from call.__await__()
            else:
                raise TypeError(
                    f"handler returned {type(call).__name__}, not an awaitable: "
                    "AsyncEventBus handlers must be async functions"
                )
        except GeneratorExit:
            raise
        except BaseException as exc:
            outcome: Any = _Failed(exc)
        else:
            outcome = _DONE
        call = None
        event = yield outcome
        outcome = None


def _new_driver(handler: Any) -> Any:
    driver = _driver(handler)
    driver.send(None)
    return driver


@types.coroutine
def _finish(ctx: Context, driver: Any, outcome: Any) -> Generator[Any, Any, None]:
    """Carry a handler call that suspended through to its end.

    What the handler yields is passed up to the awaiting task, and what the
    task sends or throws back (results, cancellation) is passed down, each
    step inside ``ctx``; so the handler behaves as if awaited directly.
    Raises the handler's exception if it failed.
    """
    while True:
        if outcome is _DONE:
            return
        if type(outcome) is _Failed:
            raise outcome.error
        try:
            value = yield outcome
        except GeneratorExit:
            ctx.run(driver.close)
            raise
        except BaseException as exc:
            outcome = ctx.run(driver.throw, exc)
        else:
            outcome = ctx.run(driver.send, value)


def _cancel_requested() -> bool:
    """True if the running task itself was cancelled (not just a handler raising it)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    # Python 3.10 can't tell the two apart; treat it as a real cancellation.
    return cancelling is None or cancelling() > 0


class _AsyncSubscription(Subscription):
    """A subscription served by one asyncio task, fed through a deque.

    Everything runs on the loop's thread, so the counters need no lock.
    """

    __slots__ = ("_queue", "_waiter", "_task", "_stopping", "_loop", "_thread_id", "_driver")

    def __init__(self, bus: AsyncEventBus, *args: Any) -> None:
        super().__init__(bus, *args)
        self._queue: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._driver: Any = None
        self._loop = bus._loop
        self._thread_id = bus._thread_id

    def _start(self) -> None:
        self._task = self._loop.create_task(
            self._work(), name=f"eventlint-bus-{describe(self.handler)}"
        )

    def _offer(self, event: Any, ctx: Context) -> int:
        if get_ident() != self._thread_id:
            raise RuntimeError(
                "AsyncEventBus.publish called from another thread; use "
                "loop.call_soon_threadsafe(bus.publish, event)"
            )
        if not self._accepting:
            return CLOSED
        self._offered += 1
        queue = self._queue
        # Event and context are stored flat (two slots each) rather than as
        # a tuple: one less long-lived object per queued event for the GC.
        if self.maxsize and len(queue) >= 2 * self.maxsize:
            self._dropped += 1
            if self.overflow == "error":
                return FULL
            self._note_drop(event)
            return OK
        queue.append(event)
        queue.append(ctx)
        if self._waiter is not None:
            self._wake()
        return OK

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _stop(self, drain: bool) -> None:
        self._accepting = False
        self._stopping = True
        if not drain:
            self._dropped += len(self._queue) // 2
            self._queue.clear()
        self._wake()

    async def _attempt(self, ctx: Context, event: Any) -> None:
        driver = self._driver
        await _finish(ctx, driver, ctx.run(driver.send, event))

    async def _deliver(self, event: Any, ctx: Context) -> None:
        loop = self._loop
        timeout = self.timeout
        attempt = 0
        while True:
            attempt += 1
            started = loop.time()
            try:
                if timeout is None:
                    await self._attempt(ctx.copy(), event)
                else:
                    await asyncio.wait_for(self._attempt(ctx.copy(), event), timeout)
            except asyncio.CancelledError as exc:
                if _cancel_requested():
                    raise
                error: BaseException = exc
            except Exception as exc:
                error = exc
                if (timeout is not None and isinstance(exc, asyncio.TimeoutError)
                        and loop.time() - started >= timeout):
                    error = TimeoutError(
                        f"{describe(self.handler)} did not finish within "
                        f"{timeout:g}s and was cancelled"
                    )
            else:
                self._delivered += 1
                return
            if attempt > self.retries:
                self._dead_letter(event, error, attempt)
                return
            await asyncio.sleep(backoff(attempt))

    async def _work(self) -> None:
        queue = self._queue
        popleft = queue.popleft
        loop = self._loop
        simple = self.timeout is None and self.retries == 0
        driver = self._driver = _new_driver(self.handler)
        send = driver.send
        in_flight = False
        try:
            while True:
                if not queue:
                    if self._stopping:
                        return
                    self._waiter = loop.create_future()
                    await self._waiter
                    continue
                event = popleft()
                ctx = popleft()
                in_flight = True
                if not simple:
                    await self._deliver(event, ctx)
                else:
                    # The per-event hot path: _attempt inlined, and no
                    # coroutine or exception unless the handler suspends
                    # or fails.
                    ctx = ctx.copy()
                    outcome = ctx.run(send, event)
                    if outcome is _DONE:
                        self._delivered += 1
                    else:
                        try:
                            await _finish(ctx, driver, outcome)
                        except asyncio.CancelledError as exc:
                            if _cancel_requested():
                                raise
                            self._dead_letter(event, exc, 1)
                        except Exception as exc:
                            self._dead_letter(event, exc, 1)
                        else:
                            self._delivered += 1
                in_flight = False
        except BaseException:
            # Cancelled by the loop shutting down, or KeyboardInterrupt /
            # SystemExit from a handler: account for what we held.
            self._accepting = False
            self._dropped += len(queue) // 2 + in_flight
            queue.clear()
            raise


class AsyncEventBus(BusBase):
    """An event bus for ``async def`` handlers, each subscription served by a task.

    ``publish`` is a plain method that never blocks or awaits: it queues the
    event for each matching subscription and returns. Handlers of one
    subscription run one at a time, in publish order, in the ``contextvars``
    context the publisher had at ``publish``. All calls must come from the
    thread running the event loop; ``subscribe`` needs a running loop, and
    the bus stays bound to that loop. ``async with`` drains and stops the
    workers on exit, as does ``await bus.aclose()``. A handler exceeding its
    ``timeout`` is cancelled. ``overflow="block"`` is refused because
    ``publish`` must not block the loop.

    With a store, ``publish`` commits to SQLite synchronously, which briefly
    blocks the loop.
    """

    _allow_block = False

    def __init__(self, *, store: Any = None) -> None:
        """Create a bus; ``store`` (e.g. a ``SQLiteEventStore``) records every publish."""
        super().__init__(store=store)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None

    async def __aenter__(self) -> AsyncEventBus:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose(drain=True)

    async def aclose(self, drain: bool = True) -> None:
        """Stop accepting events and wait for the workers; safe to call twice.

        From the moment close begins ``publish`` raises ``BusClosed``
        (counted in ``refused``), handlers publishing while the queues
        drain included. With ``drain=True`` every queued event is handled
        first; with
        ``drain=False`` queued events are discarded and counted as dropped
        (a handler already running still finishes).
        """
        self._begin_close(drain)
        current = asyncio.current_task()
        tasks = [
            s._task for s in self._subscriptions
            if s._task is not None and s._task is not current and not s._task.done()
        ]
        if tasks:
            await asyncio.wait(tasks)

    def _new_subscription(self, *args: Any) -> Subscription:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "AsyncEventBus.subscribe must be called while an event loop is "
                "running (e.g. inside `async with AsyncEventBus() as bus:`)"
            ) from None
        if self._loop is None:
            self._loop = loop
            self._thread_id = get_ident()
        elif self._loop is not loop:
            raise RuntimeError("this AsyncEventBus is bound to another event loop")
        return _AsyncSubscription(self, *args)
