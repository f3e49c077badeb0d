"""Helpers shared by the bus tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import os
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

#: Generous upper bound for anything that should happen "soon"; only
#: reached when something is broken.
PATIENCE = 10.0


def wait_until(predicate, timeout: float = PATIENCE) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


class Gate:
    """A handler helper that blocks until opened and tells when it was entered."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def wait(self) -> None:
        self.entered.set()
        assert self.opened.wait(PATIENCE), "gate never opened"

    def open(self) -> None:
        self.opened.set()


def assert_balanced(sub) -> None:
    """The accounting invariant, once nothing is pending."""
    s = sub.stats()
    assert s.offered == s.delivered + s.dropped + s.dead_lettered, s
    assert s.pending == 0
