"""migrate-to-bus: move a raw channel, its producers and its dispatching consumer onto
``eventlint.bus`` (EVT001 / EVT002).

What changes, per channel::

    EVENTS = queue.Queue()              EVENTS = EventBus()
                                        EVENTS.subscribe(UserRegistered, _on_user_registered, maxsize=0)
    EVENTS.put(UserRegistered(...))     EVENTS.publish(UserRegistered(...))
    def worker():                       def _on_user_registered(item):
        while True:                         ...
            item = EVENTS.get()
            if item is None: break
            if isinstance(item, UserRegistered):
                ...
    EVENTS.put(None); thread.join()     EVENTS.close(drain=True)

``queue.Queue`` and ``queue.SimpleQueue`` become an ``EventBus`` (one worker thread per
subscription); ``asyncio.Queue`` becomes an ``AsyncEventBus`` (``await q.put(x)`` becomes
``bus.publish(x)``, a plain call, and the shutdown ``await bus.aclose(drain=True)``).
Each branch of the consumer's dispatch becomes one ``subscribe(Kind, handler)``: a branch
that only calls ``handler(item)`` subscribes that handler, any other branch body is
moved into a new ``_on_<kind>`` function (a method when the consumer was one) that keeps
the consumer's variable name.  A tag channel (``q.put(("user", data))`` and
``kind, data = q.get()``) gets one frozen dataclass per tag (``UserEvent``, whose fields are
the names the consumer unpacked) and publishes instances of it; a dict tag channel
(``q.put({"type": "user", "id": 7})`` and ``item["type"] == "user"``) gets one per tag
whose fields are the other keys its puts carry, and the handlers read ``item.id`` where the
consumer read ``item["id"]`` or ``item.get("id")``.  The shutdown sentinel
becomes ``close(drain=True)``, and the code that only started, joined or awaited the
consumer's thread or task is removed.

Where the subscriptions go.  They must be registered before anything is published, or
events published before them would reach nobody (a queue would have kept them):

- a module-level channel subscribes at module level, right after the last statement that
  defines something the subscriptions name (the bus, the classes, the handlers).  That
  runs at import, before any function of the module can publish; module code that could
  run before that point (a bare call, ``if __name__ == "__main__":``, a put at import time)
  makes the site unsafe, and it is skipped.  The consumer must be a module-level function
  of the channel's module;
- an instance channel subscribes in ``__init__``, right after ``self.x = EventBus()``:
  every instance has its subscriptions before any of its methods can publish.  A put in
  ``__init__`` itself is skipped (its handler could run before ``__init__`` has set what the
  handler uses).  The consumer must be a method of the owner class;
- ``AsyncEventBus.subscribe`` needs a running event loop, so an asyncio instance channel
  is only migrated when every construction of its class in the analysed code runs inside
  an ``async def``; a module-level asyncio channel is skipped (import time has no loop).

"Behaves the same" (the project's decision): every handler is called with equal events the
same number of times, and events of one kind reach their handler in publish order.  Order
across kinds is not kept, and on the thread bus handlers of different kinds run
concurrently, each on its own worker; the result's notes say both.  An unbounded queue
subscribes with ``maxsize=0`` (never drops); ``Queue(n)`` with ``maxsize=n,
overflow="block"`` (a bound per subscription now, where the queue bounded all kinds
together).  When dispatch branches test classes that inherit from one another, a later
branch gets ``filter=lambda event: not isinstance(event, Earlier)`` so that the first
matching branch alone handles an event; a branch no event can reach is not migrated, and
an ``else`` branch is dropped only when no published kind reaches it.  This holds for a
program that works: a handler that raises is retried or dead-lettered by the bus, where it
killed the worker thread; a publish after the shutdown raises ``BusClosed``.

Anything the codemod cannot prove is left untouched and reported as ``Skipped`` with the
reason: a value of unknown kind or plain data is published; the channel escapes (passed as
an argument, returned, aliased, used through a method other than put/get/task_done, a
public name mentioned by project files that were not analysed); the consumer loop does
more than get, check the sentinel, dispatch with ``isinstance``, tag comparisons or a
``match`` (class patterns with keyword captures, tag values, no guards) and call
``task_done()``; there are gets outside that loop; the consumer, its thread or its task is
used for anything but starting, joining or awaiting it, or is started in a loop; the
constructor is not a plain FIFO queue (LIFO and priority queues order differently, process
and memory channels have no bus); a bounded ``asyncio.Queue`` (publish cannot wait).

How it is built.  ``migrate_channel`` plans one channel in steps, each a function that
takes the frozen records the earlier steps returned and returns its own (or raises
``Skip``): ``plan.target`` (the channel, its creation and bound) → ``references.uses``
(its puts, gets and ``task_done()`` calls) → ``consumers.find_consumer`` (the loop and its
branches) → ``kinds`` (what each put publishes; the subscriptions) → ``cleanup.starters``
(the code that started the consumer) → ``handlers`` → ``emission`` (the edits).  The
edits of every channel are kept in a ``workspace.Workspace``; ``emission.render`` applies
them to each file once at the end, and ``cleanup`` then drops the imports and sentinels
nothing uses any more.
"""

from __future__ import annotations

from ...checks import evt001_exposed_raw_queue as evt001
from ...checks import evt002_mixed_type_channel as evt002
from ...graph import Channel, EventGraph
from ...model import MigrateChannel
from .. import CodemodResult, FixRun, Skipped
from .cleanup import drop_orphaned_sentinels as _drop_orphaned_sentinels  # noqa: F401 - tests import it from here
from .cleanup import starters
from .consumers import find_consumer
from .emission import place_subscriptions, render, rewrite_consumer, rewrite_creation, rewrite_puts
from .handlers import handlers
from .kinds import Kinds, PutKind, Subscription, classify_puts, subscriptions
from .plan import ChannelPlan, Flavour, Target, check_constructions, target
from .references import uses
from .source import Skip
from .workspace import PlannedEdits, Workspace

__all__ = ["MigrateToBus"]


class MigrateToBus:
    name = "migrate-to-bus"
    description = "Move a raw queue, its producers and its dispatching consumer onto eventlint.bus."
    safety = "unsafe"

    def run(self, context: FixRun) -> CodemodResult:
        result = CodemodResult()
        graph: EventGraph = context.graph  # type: ignore[assignment]
        work = Workspace(graph, context)
        for channel in _channels(graph, context.findings, result):
            try:
                planned = migrate_channel(work, channel)
                work.commit(channel, planned.edits)
            except Skip as skip:
                result.skipped.append(Skipped(channel.path, channel.span.line, f"{channel.display}: {skip}"))
                continue
            except Exception as error:  # noqa: BLE001 - one odd site must not stop the whole fix run
                reason = f"{channel.display}: not migrated, internal error ({type(error).__name__}: {error})"
                result.skipped.append(Skipped(channel.path, channel.span.line, reason))
                continue
            result.notes.extend(planned.notes)
        try:
            result.changes = render(work)
        except Exception as failure:  # noqa: BLE001 - e.g. code that wouldn't parse: write nothing at all
            for channel in work.migrated:
                result.skipped.append(Skipped(channel.path, channel.span.line, f"{channel.display}: {failure}"))
            result.notes = []
        return result


_PLANNERS = {evt001.CODE: evt001.migration_plan, evt002.CODE: evt002.migration_plan}


def _channels(graph: EventGraph, findings, result: CodemodResult) -> list[Channel]:
    """The channels the EVT001/EVT002 findings are about (the checks' plans), once each, in
    file order."""
    found: dict[str, Channel] = {}
    for finding in findings:
        planner = _PLANNERS.get(finding.code)
        if planner is None:
            continue
        plan = planner(graph, finding)
        if not isinstance(plan, MigrateChannel):
            result.skipped.append(Skipped(finding.path, finding.span.line, plan.reason))
            continue
        found.setdefault(plan.channel, graph.channels[plan.channel])
    return sorted(found.values(), key=lambda c: (c.path, c.span.line, c.span.column))


def migrate_channel(work: Workspace, channel: Channel) -> ChannelPlan:
    """The edits and notes that move one channel onto the bus; ``Skip`` when it can't be
    moved safely.  Each step takes what the earlier ones returned, so no step can run
    before what it needs exists."""
    plan = target(work, channel)
    found = uses(work, plan)
    consumer = find_consumer(work, plan, list(found.gets))
    stray = [(s, c) for s, c in found.task_done if not any(c is t for t in consumer.loop.task_done)]
    if stray:
        raise Skip(f"task_done() is called outside the consumer loop ({stray[0][0].where(stray[0][1])})")
    kinds = classify_puts(work, consumer, found.puts)
    subs, dropped = subscriptions(work, consumer, kinds, channel.display)
    removed = starters(work, plan, consumer)
    if plan.flavour is Flavour.ASYNC:
        check_constructions(work, plan)
    edits = PlannedEdits()
    made = handlers(work, plan, consumer, kinds, subs, edits)
    rewrite_creation(plan, edits)
    rewrite_puts(work, plan, consumer, kinds, edits)
    rewrite_consumer(consumer, made, edits)
    place_subscriptions(work, plan, consumer, subs, made, removed.statements, edits)
    for source, statement in removed.statements:
        edits.file(source.rel).remove.add(id(statement))
    return ChannelPlan(edits, _notes(plan, kinds, subs, (*dropped, *removed.notes)))


def _notes(plan: Target, kinds: Kinds, subs: tuple[Subscription, ...], found: tuple[str, ...]) -> tuple[str, ...]:
    """What the user must know about the migrated channel: the order across kinds, the
    notes of the steps (``found``), how the bus is closed, concurrent handlers."""
    channel = plan.channel
    where = f"{channel.path}:{channel.span.line}"
    kinds_named = ", ".join(dict.fromkeys(s.cls_code for s in subs))
    notes = [f"{where}: {channel.display} is now an {plan.bus_class} with {len(subs)} subscription(s) "
             f"({kinds_named}); events of one kind still reach their handler in publish order, but the order "
             f"across kinds is not kept", *found]
    if any(p.kind is PutKind.SENTINEL for p in kinds.puts):
        closing = "close(drain=True)" if plan.flavour is Flavour.THREAD else "aclose(drain=True)"
        notes.append(f"{where}: the shutdown put became {closing}: it waits for every published event to be "
                     f"handled, and publishing after it raises BusClosed where the queue kept the item")
    elif plan.flavour is Flavour.THREAD:
        notes.append(f"{where}: nothing closes the bus: at exit it is closed with drain=True (waiting up to "
                     f"10 s), so events still queued then are handled, where a daemon worker was cut off")
    if plan.flavour is Flavour.THREAD and len({s.branch for s in subs}) > 1:
        notes.append(f"{where}: handlers of different kinds now run concurrently, each on its own worker "
                     f"thread; guard any state they share")
    return tuple(notes)
