"""eventlint.bus stays importable without the linter's heavy dependencies."""

from __future__ import annotations

import os
import subprocess
import sys

from bus_helpers import REPO


CHECK = (
    "import eventlint.bus, sys; "
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'libcst', 'networkx', 'click'}); "
    "assert not heavy, heavy"
)


def test_importing_the_bus_does_not_import_libcst_networkx_or_click():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_public_names():
    import eventlint.bus as bus

    assert sorted(bus.__all__) == [
        "AsyncEventBus", "BusClosed", "BusFull", "CorruptEvent", "DeadLetter",
        "EventBus", "ReplayError", "SQLiteEventStore", "Subscription", "SubscriptionStats",
    ]
    for name in bus.__all__:
        assert getattr(bus, name).__doc__
