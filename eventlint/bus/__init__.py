"""eventlint.bus: a small reference event bus for the patterns eventlint recommends.

Events are instances of event classes (frozen dataclasses recommended), never
plain dicts or tuples. Every subscription has its own bounded queue and
worker, an explicit overflow policy, optional timeout and retries, and
counters; failures end up in ``dead_letters`` instead of vanishing. An
optional SQLite store records each event before it is delivered and can
replay it later.

Example::

    from dataclasses import dataclass
    from eventlint.bus import EventBus, SQLiteEventStore

    @dataclass(frozen=True)
    class OrderPlaced:
        order_id: int
        total: str

    def ship(event: OrderPlaced) -> None:
        print("shipping", event.order_id)

    store = SQLiteEventStore("events.db")
    with EventBus(store=store) as bus:
        sub = bus.subscribe(OrderPlaced, ship, maxsize=100, timeout=2.0, retries=1)
        bus.publish(OrderPlaced(1, "9.90"))
    print(sub.stats())          # SubscriptionStats(offered=1, delivered=1, ...)
    print(bus.dead_letters)     # ()
    for event in store.replay():
        print(event)            # OrderPlaced(order_id=1, total='9.90')
    store.close()

``AsyncEventBus`` is the same for ``async def`` handlers: use it with
``async with AsyncEventBus() as bus:``; ``bus.publish`` stays a plain call.
"""

from ._async import AsyncEventBus
from ._core import BusClosed, BusFull, DeadLetter, Subscription, SubscriptionStats
from ._threaded import EventBus
from .store import CorruptEvent, ReplayError, SQLiteEventStore

__all__ = [
    "AsyncEventBus",
    "BusClosed",
    "BusFull",
    "CorruptEvent",
    "DeadLetter",
    "EventBus",
    "ReplayError",
    "SQLiteEventStore",
    "Subscription",
    "SubscriptionStats",
]
