"""EventBus: every subscription gets a worker thread and its own queue."""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
import time
import weakref
from typing import Any, Callable

from ._core import (
    CLOSED,
    FULL,
    OK,
    BusBase,
    Subscription,
    backoff,
    describe,
    logger,
)

_STOP = object()
_names = itertools.count(1)


class _ThreadSubscription(Subscription):
    """A subscription served by one worker thread.

    The queue is a ``SimpleQueue`` (C, lock-free for the caller) and the
    bound is enforced with two counters: ``_enqueued`` written by
    publishers under the lock, ``_dequeued`` written only by the worker.
    A stale read of ``_dequeued`` only makes the queue look fuller, so the
    bound is never exceeded.
    """

    __slots__ = ("_queue", "_room", "_enqueued", "_dequeued", "_thread")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Condition(self._lock) if self.overflow == "block" else None
        self._enqueued = 0
        self._dequeued = 0
        self._thread = threading.Thread(
            target=self._work,
            name=f"eventlint-bus-{next(_names)}-{describe(self.handler)}",
            daemon=True,
        )

    def _start(self) -> None:
        self._thread.start()

    def _offer(self, event: Any, ctx: Any) -> int:
        with self._lock:
            if not self._accepting or self._bus._closed:
                return CLOSED
            self._offered += 1
            if self.maxsize and self._enqueued - self._dequeued >= self.maxsize:
                return self._overflow(event, ctx)
            self._enqueued += 1
            # Put while holding the lock: _stop's sentinel must come after
            # every event that was counted as offered.
            self._queue.put((event, ctx))
        return OK

    def _overflow(self, event: Any, ctx: Any) -> int:
        # Caller holds self._lock.
        if self.overflow == "drop":
            self._dropped += 1
            self._note_drop(event)
            return OK
        if self.overflow == "error":
            self._dropped += 1
            return FULL
        room = self._room
        while True:
            # Checked after every wake-up, before looking for room: once
            # close (or unsubscribe) has begun, the stop marker may already
            # be queued, and an event put behind it would never be handled.
            if not self._accepting or self._bus._closed:
                self._dropped += 1
                if not self._bus._closed:
                    # Unsubscribed while waiting: publish returns normally,
                    # so the drop is reported here.
                    self._note_drop(event)
                return CLOSED
            if self._enqueued - self._dequeued < self.maxsize:
                break
            room.wait()
        self._enqueued += 1
        self._queue.put((event, ctx))
        return OK

    def _stop(self, drain: bool) -> None:
        with self._lock:
            first = self._accepting
            self._accepting = False
            if self._room is not None:
                self._room.notify_all()
            if not drain:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not _STOP:
                        self._dropped += 1
            if first or not drain:
                self._queue.put(_STOP)

    def _work(self) -> None:
        get = self._queue.get
        handler = self.handler
        room = self._room
        simple = self.timeout is None and self.retries == 0
        while True:
            item = get()
            if item is _STOP:
                return
            event, ctx = item
            self._dequeued += 1
            if room is not None:
                with room:
                    room.notify()
            if simple:
                try:
                    ctx.copy().run(handler, event)
                # BaseException too: a handler's SystemExit must not end
                # the worker and strand the rest of the queue.
                except BaseException as exc:
                    self._dead_letter(event, exc, 1)
                else:
                    self._delivered += 1
            else:
                self._deliver(event, ctx)

    def _deliver(self, event: Any, ctx: Any) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                if self.timeout is None:
                    ctx.copy().run(self.handler, event)
                else:
                    self._bus._helpers().call(
                        ctx.copy().run, self.handler, event, self.timeout
                    )
            except BaseException as exc:
                if attempt > self.retries:
                    self._dead_letter(event, exc, attempt)
                    return
                time.sleep(backoff(attempt))
            else:
                self._delivered += 1
                return


class _Call:
    """One timed handler call handed to a helper thread."""

    __slots__ = ("fn", "args", "state", "error", "done", "lock")

    PENDING, RUNNING, FINISHED, ABANDONED = range(4)

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.state = _Call.PENDING
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()


class _HelperPool:
    """A few daemon threads that run handler calls which have a timeout.

    The worker waits on the call for at most ``timeout`` seconds, then gives
    up on it. Python cannot stop a thread, so an overrunning call keeps its
    helper busy until it returns on its own; its outcome is ignored. A call
    abandoned before a helper picked it up is never started. With every
    helper stuck, new calls wait for one to free up and, if none does in
    time, time out as well, so stuck handlers cannot grow the thread count.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def call(self, fn: Callable[..., Any], handler: Callable[..., Any], event: Any,
             timeout: float) -> None:
        call = _Call(fn, (handler, event))
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif self._threads < self._limit:
                self._threads += 1
                threading.Thread(
                    target=self._serve,
                    name=f"eventlint-bus-timeout-{self._threads}",
                    daemon=True,
                ).start()
        self._tasks.put(call)
        if not call.done.wait(timeout):
            with call.lock:
                if call.state != _Call.FINISHED:
                    call.state = _Call.ABANDONED
            if call.state == _Call.ABANDONED:
                raise TimeoutError(
                    f"{describe(handler)} did not return within {timeout:g}s; the "
                    "call was abandoned (a thread cannot be killed, it may still run)"
                )
        if call.error is not None:
            raise call.error

    def shutdown(self) -> None:
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._tasks.put(None)

    def _serve(self) -> None:
        while True:
            call = self._tasks.get()
            if call is None:
                return
            with call.lock:
                start = call.state == _Call.PENDING
                if start:
                    call.state = _Call.RUNNING
            if start:
                error = None
                try:
                    call.fn(*call.args)
                except BaseException as exc:
                    error = exc
                with call.lock:
                    if call.state == _Call.RUNNING:
                        call.state = _Call.FINISHED
                        call.error = error
                        call.done.set()
                    elif logger.isEnabledFor(logging.DEBUG):
                        logger.debug("an abandoned call to %s returned after its timeout",
                                     describe(call.args[0]))
                call = None
            with self._lock:
                self._idle += 1


class EventBus(BusBase):
    """An in-process event bus whose handlers run on worker threads.

    Each subscription owns a queue and a daemon worker thread, so handlers of
    one subscription run one at a time, in publish order, in the
    ``contextvars`` context the publisher had when it called ``publish``.
    Use it as a context manager, or call ``close()``: leaving the ``with``
    block delivers everything queued and stops the workers.

    A handler with a ``timeout`` runs on one of a few helper threads
    (``timeout_threads``, shared by the bus) so the worker can stop waiting
    for it. Python cannot kill a thread: a call that overruns its timeout is
    abandoned, counted as a failed attempt (``TimeoutError``), and keeps its
    helper thread until it returns by itself.

    Buses that are still open when the interpreter exits are closed with
    ``drain=True`` (waiting at most 10 seconds each).
    """

    #: Upper bound on helper threads for subscriptions with a timeout.
    timeout_threads = 8

    def __init__(self, *, store: Any = None) -> None:
        """Create a bus; ``store`` (e.g. a ``SQLiteEventStore``) records every publish."""
        super().__init__(store=store)
        self._pool: _HelperPool | None = None
        _open_buses.add(self)

    def __enter__(self) -> EventBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(drain=True)

    def close(self, drain: bool = True, *, timeout: float | None = None) -> None:
        """Stop accepting events and stop the workers; safe to call twice.

        From the moment close begins no subscription accepts an event:
        ``publish`` raises ``BusClosed`` (counted in ``refused``), and so does
        a publisher waiting for room in a full ``overflow="block"`` queue,
        whose event that subscription counts as dropped. With
        ``drain=True`` every queued event is handled first; with
        ``drain=False`` queued events are discarded and counted as dropped
        (calls already running still finish). Waits for the workers, at most
        ``timeout`` seconds if given, then raises ``TimeoutError`` naming the
        subscriptions still busy (they keep working in the background).
        The store is not closed: it belongs to the caller.
        """
        subs = self._begin_close(drain)
        if subs is None:
            subs = list(self._subscriptions)
        deadline = None if timeout is None else time.monotonic() + timeout
        busy = []
        for sub in subs:
            thread = sub._thread
            if thread is threading.current_thread():
                # close() called from a handler: that worker will exit after
                # this call returns, waiting for it here would deadlock.
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if thread.is_alive():
                busy.append(sub)
        if busy:
            raise TimeoutError(f"close() timed out; still busy: {busy!r}")
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
        _open_buses.discard(self)

    def _new_subscription(self, *args: Any) -> Subscription:
        return _ThreadSubscription(self, *args)

    def _helpers(self) -> _HelperPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = _HelperPool(self.timeout_threads)
                pool = self._pool
        return pool


_open_buses: weakref.WeakSet[EventBus] = weakref.WeakSet()


@atexit.register
def _close_open_buses() -> None:
    for bus in list(_open_buses):
        try:
            bus.close(drain=True, timeout=10.0)
        except Exception:
            logger.exception("could not drain %r at exit", bus)
