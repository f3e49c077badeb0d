"""The codemods ``eventlint fix`` knows, imported only when used.

A codemod whose module is not installed (``migrate-to-bus`` before it lands) is simply
not listed; asking for it by name says so.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from . import Codemod


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    module: str
    attribute: str
    codes: tuple[str, ...]  # the findings it fixes when `fix` runs every codemod (a finding's Fix names it)
    handles: tuple[str, ...]  # the findings it acts on when named with --codemod


# The order `fix` runs them in.  migrate-to-bus comes before privatize-queues: a channel it
# moves onto the bus is no longer a raw queue to privatize, while a channel privatized first
# would be used through new methods that migrate-to-bus does not follow.
ENTRIES = (
    Entry("add-timeouts", "eventlint.codemods.add_timeouts", "AddTimeouts", ("EVT003",), ("EVT003",)),
    Entry("migrate-to-bus", "eventlint.codemods.migrate_to_bus", "MigrateToBus", ("EVT002",), ("EVT001", "EVT002")),
    Entry("privatize-queues", "eventlint.codemods.privatize_queues", "PrivatizeQueues", ("EVT001",), ("EVT001",)),
)


class Unavailable(LookupError):
    """A known codemod whose module is not installed."""


def load(entry: Entry) -> Codemod:
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as error:
        if error.name != entry.module:
            raise  # the codemod exists but one of its own imports is missing: a real error
        raise Unavailable(entry.name) from None
    codemod = getattr(module, entry.attribute, None)
    if codemod is None:
        raise Unavailable(entry.name)  # the module is there but not finished
    return codemod()


def entry(name: str) -> Entry | None:
    return next((e for e in ENTRIES if e.name == name), None)


def available() -> list[tuple[Entry, Codemod]]:
    found = []
    for item in ENTRIES:
        try:
            found.append((item, load(item)))
        except Unavailable:
            continue
    return found


def codes_of(item: Entry, explicit: bool) -> tuple[str, ...]:
    """The codes whose findings a codemod gets, and whose remaining findings make `fix`
    exit 1: named with --codemod, all it handles; in a run of every codemod, only those
    whose fix it is (so two codemods never work on the same finding)."""
    return item.handles if explicit else item.codes
