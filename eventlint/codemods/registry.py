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
    codes: tuple[str, ...]  # the findings it fixes when `fix` runs without --codemod


ENTRIES = (
    Entry("add-timeouts", "eventlint.codemods.add_timeouts", "AddTimeouts", ("EVT003",)),
    Entry("privatize-queues", "eventlint.codemods.privatize_queues", "PrivatizeQueues", ("EVT001",)),
    Entry("migrate-to-bus", "eventlint.codemods.migrate_to_bus", "MigrateToBus", ("EVT002",)),
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
    return getattr(module, entry.attribute)()


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


def codes_of(item: Entry, codemod: Codemod) -> tuple[str, ...]:
    return tuple(getattr(codemod, "codes", ()) or item.codes)
