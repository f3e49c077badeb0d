"""Parts shared by the threaded and the asyncio bus.

Records and errors, argument validation, type dispatch, the accounting
counters of a subscription and the publish path all live here, so that
``EventBus`` and ``AsyncEventBus`` only differ in how a subscription queues
events and runs its handler.
"""

from __future__ import annotations

import logging
import numbers
import threading
import time
from collections import deque
from contextvars import Context, copy_context
from dataclasses import dataclass
from typing import Any, Callable

logger = logging.getLogger("eventlint.bus")

OVERFLOW_POLICIES = ("drop", "block", "error")

#: How many dead letters a bus keeps in ``dead_letters``; older ones are
#: still counted in the stats and were logged when they happened.
DEAD_LETTER_LIMIT = 10_000

#: Seconds between two warnings of the same kind for one subscription.
WARN_INTERVAL = 1.0

_MAX_BACKOFF = 0.25

# Results of Subscription._offer; 0 is falsy so the publish loop tests one value.
OK = 0
FULL = 1
CLOSED = 2

# Values that are data, not events. Rejected at publish so that "mixed-type
# channels" (a dict here, a tuple there) can't form on the bus.
_NOT_EVENTS: tuple[type, ...] = (
    dict, list, tuple, set, frozenset, str, bytes, bytearray, memoryview,
    bool, int, float, complex, type(None), type,
)


class BusFull(Exception):
    """Raised by ``publish`` when a subscription with ``overflow="error"`` is full.

    The event was still offered to every other matching subscription (and
    appended to the store, if any); ``subscriptions`` lists the full ones, each
    of which counted the event as dropped.
    """

    def __init__(self, subscriptions: list[Subscription]) -> None:
        self.subscriptions = tuple(subscriptions)
        names = ", ".join(repr(s) for s in self.subscriptions)
        super().__init__(f"queue full, event dropped for: {names}")


class BusClosed(RuntimeError):
    """Raised when publishing to or subscribing on a bus that is closing or closed.

    Once ``close()`` begins no subscription accepts a new event. A ``publish``
    refused this way is counted in ``bus.refused``. An event that was waiting
    for room in a full ``overflow="block"`` queue when close began is not
    accepted either: that subscription had counted it as offered and counts
    it as dropped. Subscriptions that took the event before close began (a
    publish racing with ``close``) still deliver it.
    """


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event whose handler failed on every attempt (or timed out).

    ``error`` is the exception of the last attempt and ``attempts`` the number
    of calls made (``retries + 1``); ``attempts == 0`` means the subscription's
    ``filter`` raised, so the handler was never called.
    """

    event: Any
    handler: Callable[..., Any]
    error: BaseException
    attempts: int


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    """A snapshot of one subscription's counters.

    Every offered event ends up delivered, dropped or dead-lettered, so once
    the bus is closed ``offered == delivered + dropped + dead_lettered``.
    """

    offered: int
    delivered: int
    dropped: int
    dead_lettered: int

    @property
    def pending(self) -> int:
        """Offered events not yet accounted for (queued or being handled)."""
        return self.offered - self.delivered - self.dropped - self.dead_lettered


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    return min(0.01 * 2 ** (attempt - 1), _MAX_BACKOFF)


def describe(obj: Any) -> str:
    """A short name for a handler or type, for messages."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        return repr(obj)
    module = getattr(obj, "__module__", None)
    return f"{module}.{name}" if module else name


def check_event_class(cls: type) -> None:
    """Raise TypeError unless instances of ``cls`` may be published as events."""
    if issubclass(cls, _NOT_EVENTS) or issubclass(cls, numbers.Number):
        raise TypeError(
            f"cannot publish a {cls.__name__}: events must be instances of an "
            "event class (a frozen dataclass is recommended), not plain data"
        )


def validate_subscription(
    event_type: Any,
    handler: Any,
    maxsize: Any,
    timeout: Any,
    retries: Any,
    overflow: Any,
    filter: Any,
    *,
    allow_block: bool,
) -> float | None:
    """Check subscribe() arguments; return ``timeout`` as a float or None."""
    if not isinstance(event_type, type):
        raise TypeError(f"event_type must be a class, got {event_type!r}")
    if issubclass(event_type, _NOT_EVENTS) or issubclass(event_type, numbers.Number):
        raise TypeError(
            f"{event_type.__name__} is not an event type: publishing its instances "
            "is refused, so this subscription could never receive anything"
        )
    if not callable(handler):
        raise TypeError(f"handler must be callable, got {handler!r}")
    if filter is not None and not callable(filter):
        raise TypeError(f"filter must be callable or None, got {filter!r}")
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise TypeError(f"maxsize must be an int, got {maxsize!r}")
    if maxsize < 0:
        raise ValueError(f"maxsize must be >= 0 (0 means unbounded), got {maxsize}")
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise TypeError(f"retries must be an int, got {retries!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(
            f"overflow must be one of {', '.join(map(repr, OVERFLOW_POLICIES))}, "
            f"got {overflow!r}"
        )
    if overflow == "block" and not allow_block:
        raise ValueError(
            'overflow="block" is not available on AsyncEventBus: publish is a '
            'synchronous call and must not block the event loop; use "drop", '
            '"error" or maxsize=0'
        )
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        timeout = float(timeout)
    return timeout


_EMPTY_CONTEXT = Context()


class _RateLimit:
    """Lets one message through per interval and counts the ones held back."""

    __slots__ = ("next_at", "held")

    def __init__(self) -> None:
        self.next_at = 0.0
        self.held = 0

    def allow(self) -> int | None:
        """Return how many were held back since the last one, or None to hold this one."""
        now = time.monotonic()
        if now < self.next_at:
            self.held += 1
            return None
        self.next_at = now + WARN_INTERVAL
        held, self.held = self.held, 0
        return held


class Subscription:
    """A handler registered on a bus for one event type (and its subclasses).

    Each subscription has its own queue and worker, so a slow handler only
    delays (or, with a bounded queue, drops) its own events. Obtain one from
    ``bus.subscribe(...)``; the options it was made with are readable as
    attributes.
    """

    __slots__ = (
        "event_type", "handler", "maxsize", "timeout", "retries", "overflow",
        "filter", "_bus", "_lock", "_accepting", "_offered", "_delivered",
        "_dropped", "_dead", "_filter_dead", "_drop_log", "_dead_log",
    )

    def __init__(
        self,
        bus: BusBase,
        event_type: type,
        handler: Callable[..., Any],
        maxsize: int,
        timeout: float | None,
        retries: int,
        overflow: str,
        filter: Callable[[Any], Any] | None,
    ) -> None:
        self.event_type = event_type
        self.handler = handler
        self.maxsize = maxsize
        self.timeout = timeout
        self.retries = retries
        self.overflow = overflow
        self.filter = filter
        self._bus = bus
        # Guards the publisher-side counters (many publishing threads write
        # them); the worker-side counters have a single writer, the worker.
        self._lock = threading.Lock()
        self._accepting = True
        self._offered = 0
        self._dropped = 0
        self._delivered = 0
        self._dead = 0
        self._filter_dead = 0
        self._drop_log = _RateLimit()
        self._dead_log = _RateLimit()

    def __repr__(self) -> str:
        state = "active" if self._accepting else "stopped"
        return (
            f"<Subscription {describe(self.event_type)} -> {describe(self.handler)} "
            f"maxsize={self.maxsize} overflow={self.overflow!r} {state}>"
        )

    @property
    def active(self) -> bool:
        """True until ``unsubscribe()`` or the bus is closed."""
        return self._accepting

    def unsubscribe(self) -> None:
        """Stop offering new events to this subscription.

        Events already queued are still handled and counted. Calling it again
        does nothing.
        """
        self._bus._remove(self)

    def stats(self) -> SubscriptionStats:
        """Return a snapshot of this subscription's counters."""
        # Worker-side counters first: they only trail ``offered``, so read
        # in this order a live snapshot never shows a negative ``pending``.
        delivered, dead = self._delivered, self._dead
        with self._lock:
            offered, dropped, filter_dead = self._offered, self._dropped, self._filter_dead
        return SubscriptionStats(
            offered=offered,
            delivered=delivered,
            dropped=dropped,
            dead_lettered=dead + filter_dead,
        )

    # -- hooks the two buses implement ------------------------------------

    def _offer(self, event: Any, ctx: Any) -> int:
        """Queue ``(event, ctx)``; return OK, FULL or CLOSED. Counts the offer."""
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self, drain: bool) -> None:
        """Refuse new events; with ``drain=False`` drop what is queued."""
        raise NotImplementedError

    # -- shared slow paths -------------------------------------------------

    def _note_drop(self, event: Any) -> None:
        """Log (rate-limited) that ``event`` was dropped on a full queue."""
        held = self._drop_log.allow()
        if held is not None:
            logger.warning(
                "queue full (maxsize=%d) for %s: dropped %s event%s",
                self.maxsize, describe(self.handler), type(event).__name__,
                f" ({held} more dropped since the last warning)" if held else "",
            )

    def _dead_letter(self, event: Any, error: BaseException, attempts: int) -> None:
        """Record a dead letter; called by the worker, its counter's only writer."""
        self._dead += 1
        self._record_dead(event, error, attempts)

    def _filter_failed(self, event: Any, error: BaseException) -> None:
        # A raising filter is a bug in user code; the event is counted as
        # offered and dead-lettered so it doesn't vanish, and the other
        # subscriptions still get it.
        with self._lock:
            if not self._accepting or self._bus._closed:
                return
            self._offered += 1
            self._filter_dead += 1
        self._record_dead(event, error, 0)

    def _record_dead(self, event: Any, error: BaseException, attempts: int) -> None:
        self._bus._add_dead_letter(DeadLetter(event, self.handler, error, attempts))
        held = self._dead_log.allow()
        if held is not None:
            logger.error(
                "dead-lettered %s event for %s after %d attempt(s)%s",
                type(event).__name__, describe(self.handler), attempts,
                f" ({held} more since the last report)" if held else "",
                exc_info=error,
            )


class _Router:
    """Immutable subscriptions-by-type plus a cache of the MRO lookup.

    Subscribing or unsubscribing builds a new router instead of mutating
    this one, so a publisher holding the old router never caches a stale
    answer into the live one. The cache holds, per event class, the
    ``(offer, filter)`` pairs of the matching subscriptions, bound methods
    made once so that publish doesn't look them up per event.
    """

    __slots__ = ("by_type", "cache")

    def __init__(self, by_type: dict[type, tuple[Subscription, ...]]) -> None:
        self.by_type = by_type
        self.cache: dict[type, tuple[tuple[Any, Any], ...]] = {}

    def resolve(self, cls: type) -> tuple[tuple[Any, Any], ...]:
        check_event_class(cls)
        by_type = self.by_type
        found: list[tuple[Any, Any]] = []
        for base in cls.__mro__:
            for sub in by_type.get(base, ()):
                found.append((sub._offer, sub.filter))
        result = tuple(found)
        self.cache[cls] = result
        return result


def _kept(keep: Callable[[Any], Any], offer: Any, event: Any) -> bool:
    """Apply a subscription's filter; a raising filter dead-letters the event."""
    try:
        return bool(keep(event))
    except Exception as exc:
        offer.__self__._filter_failed(event, exc)
        return False


class BusBase:
    """Publish path, subscription bookkeeping and dead letters of both buses."""

    _allow_block = True

    def __init__(self, *, store: Any = None) -> None:
        self._store = store
        self._closed = False
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._router = _Router({})
        self._dead_letters: deque[DeadLetter] = deque(maxlen=DEAD_LETTER_LIMIT)
        self._dead_lock = threading.Lock()
        self._refused_count = 0
        self._refused_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once the bus has been closed."""
        return self._closed

    @property
    def store(self) -> Any:
        """The event store given to the constructor, or None."""
        return self._store

    @property
    def refused(self) -> int:
        """How many ``publish`` calls raised ``BusClosed`` because close had begun."""
        return self._refused_count

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """Events whose handlers failed, oldest first (the latest 10 000 are kept)."""
        with self._dead_lock:
            return tuple(self._dead_letters)

    def subscriptions(self) -> tuple[Subscription, ...]:
        """The subscriptions currently receiving events."""
        with self._lock:
            return tuple(s for s in self._subscriptions if s._accepting)

    def subscribe(
        self,
        event_type: type,
        handler: Callable[..., Any],
        *,
        maxsize: int = 1024,
        timeout: float | None = None,
        retries: int = 0,
        overflow: str = "drop",
        filter: Callable[[Any], Any] | None = None,
    ) -> Subscription:
        """Register ``handler`` for ``event_type`` and its subclasses.

        ``maxsize`` bounds the subscription's queue (0: unbounded, nothing is
        ever dropped); ``overflow`` says what a full queue does to ``publish``:
        ``"drop"`` the event (counted, warned about once a second),
        ``"block"`` until there is room, or ``"error"`` raise ``BusFull``.
        A call that raises or runs longer than ``timeout`` seconds is retried
        ``retries`` times with a short backoff, then dead-lettered. ``filter``
        is called in the publisher with the event; a falsy result skips the
        event without counting it as offered.
        """
        timeout = validate_subscription(
            event_type, handler, maxsize, timeout, retries, overflow, filter,
            allow_block=self._allow_block,
        )
        sub = self._new_subscription(
            event_type, handler, maxsize, timeout, retries, overflow, filter
        )
        with self._lock:
            if self._closed:
                raise BusClosed("cannot subscribe: the bus is closed")
            sub._start()
            self._subscriptions.append(sub)
            self._reroute()
        return sub

    def publish(self, event: Any) -> None:
        """Offer ``event`` to every subscription of its class or a base class.

        With a store, the event is appended (and committed) first; if that
        fails, nothing is offered. Raises TypeError for plain data (dict,
        tuple, str, numbers, None, ...), ``BusFull`` when a subscription with
        ``overflow="error"`` had no room and ``BusClosed`` once ``close`` has
        begun: no subscription accepts an event after that, a publisher
        waiting for room in a full ``overflow="block"`` queue is released
        with ``BusClosed`` (that subscription counts the event as dropped),
        and every refused call is counted in ``refused``. A publish racing
        with ``close`` may have been accepted by some subscriptions before
        close began; they deliver it, and their counters show it. Such a
        publish was appended to the store, if any, before close began.
        """
        if self._closed:
            self._refuse("cannot publish: the bus is closed")
        router = self._router
        try:
            targets = router.cache[type(event)]
        except KeyError:
            targets = router.resolve(type(event))
        if self._store is not None:
            self._store.append(event)
        if not targets:
            return
        # An empty snapshot is swapped for a shared one, so that it is freed
        # at once instead of living in a queue (less work for the GC).
        ctx = copy_context() or _EMPTY_CONTEXT
        refused = None
        for offer, keep in targets:
            if keep is not None and not _kept(keep, offer, event):
                continue
            status = offer(event, ctx)
            if status:
                if refused is None:
                    refused = []
                refused.append((offer.__self__, status))
        if refused is not None:
            self._refused(refused)

    def _refused(self, refused: list[tuple[Subscription, int]]) -> None:
        # CLOSED while the bus is open means the subscription was just
        # unsubscribed: the event was simply not offered to it.
        if self._closed:
            closed = [sub for sub, status in refused if status == CLOSED]
            if closed:
                names = ", ".join(repr(sub) for sub in closed)
                self._refuse(
                    f"the bus began closing during this publish; the event was not "
                    f"accepted by: {names}"
                )
        full = [sub for sub, status in refused if status == FULL]
        if full:
            raise BusFull(full)

    def _refuse(self, message: str) -> None:
        with self._refused_lock:
            self._refused_count += 1
        raise BusClosed(message)

    def _new_subscription(self, *args: Any) -> Subscription:
        raise NotImplementedError

    def _reroute(self) -> None:
        # Caller holds self._lock.
        by_type: dict[type, list[Subscription]] = {}
        for sub in self._subscriptions:
            if sub._accepting:
                by_type.setdefault(sub.event_type, []).append(sub)
        self._router = _Router({k: tuple(v) for k, v in by_type.items()})

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if not sub._accepting:
                return
            sub._stop(drain=True)
            self._reroute()

    def _begin_close(self, drain: bool) -> list[Subscription] | None:
        """Mark the bus closed and stop every subscription; None if already closed.

        ``_closed`` is set before any subscription is stopped, and every
        subscription checks it under its own lock before accepting an
        event, so none accepts one once close has begun.
        """
        with self._lock:
            if self._closed:
                return None
            self._closed = True
            self._router = _Router({})
            subs = list(self._subscriptions)
        for sub in subs:
            sub._stop(drain)
        return subs

    def _add_dead_letter(self, letter: DeadLetter) -> None:
        with self._dead_lock:
            self._dead_letters.append(letter)
