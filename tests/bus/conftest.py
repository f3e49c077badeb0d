"""Fixtures for the eventlint.bus tests."""

from __future__ import annotations

import os
import sys

import pytest

# Make bus_helpers and bus_sample_events importable (by module path, as the
# store tests need) whatever import mode pytest runs in.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from bus_helpers import Gate  # noqa: E402


@pytest.fixture
def gate():
    g = Gate()
    yield g
    g.open()
