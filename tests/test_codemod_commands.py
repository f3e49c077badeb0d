"""The fix plans the checks make and the per-file ``libcst.codemod`` commands that carry
them out: a plan names its call by span, a command changes exactly that call, and an
import a command needs goes where ``add_import`` puts it, once."""

from __future__ import annotations

import dataclasses

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from eventlint import api
from eventlint.checks import evt001_exposed_raw_queue as evt001
from eventlint.checks import evt002_mixed_type_channel as evt002
from eventlint.checks import evt003_untimed_blocking_handler as evt003
from eventlint.codemods.add_timeouts import AddTimeoutsCommand
from eventlint.codemods.privatize_queues.edits import ApplyEdits, Edits
from eventlint.model import MigrateChannel, NotFixable, PassTimeout, PrivatizeChannel, ReplaceAccessor, Span, WrapInWaitFor

from .test_cache_and_jobs import inside


def _add_timeouts(source: str, sites: dict) -> tuple[str, AddTimeoutsCommand]:
    command = AddTimeoutsCommand(CodemodContext(), sites, "10.0")
    return command.transform_module(cst.parse_module(source)).code, command


def test_a_timeout_is_passed_to_the_planned_call_only():
    source = "import requests\n\n\ndef f(url):\n    requests.get(url)\n    requests.get(url)\n"
    plan = PassTimeout(Span(6, 5, 6, 22), "timeout", 1, "safe")
    code, command = _add_timeouts(source, {plan.call: plan})
    assert code == "import requests\n\n\ndef f(url):\n    requests.get(url)\n    requests.get(url, timeout=10.0)\n"
    assert command.problems() == []


def test_an_explicit_none_is_replaced_and_a_positional_timeout_is_filled_in_place():
    source = "import socket\nsocket.create_connection(addr, None)\nclient.get(url, timeout=None)\n"
    by_position = PassTimeout(Span(2, 1, 2, 37), "timeout", 1, "safe")
    by_keyword = PassTimeout(Span(3, 1, 3, 30), "timeout", None, "safe")
    code, _ = _add_timeouts(source, {by_position.call: by_position, by_keyword.call: by_keyword})
    assert code == "import socket\nsocket.create_connection(addr, 10.0)\nclient.get(url, timeout=10.0)\n"


@pytest.mark.parametrize("before,after", [
    ('"""Doc."""\n\nimport logging\n\n\nasync def f(q):\n    await q.get()\n',
     '"""Doc."""\n\nimport asyncio\nimport logging\n\n\n'
     'async def f(q):\n    await asyncio.wait_for(q.get(), timeout=10.0)\n'),
    ("import asyncio as aio\n\n\nasync def f(q):\n    await q.get()\n",
     "import asyncio as aio\n\n\nasync def f(q):\n    await aio.wait_for(q.get(), timeout=10.0)\n"),
    ("import asyncio\n\n\nasync def f(q):\n    await q.get()\n",
     "import asyncio\n\n\nasync def f(q):\n    await asyncio.wait_for(q.get(), timeout=10.0)\n"),
])
def test_a_wrapped_await_imports_asyncio_where_a_person_would_once(before, after):
    wrap = WrapInWaitFor(Span(before.count("\n"), 11, before.count("\n"), 18), "unsafe")
    assert _add_timeouts(before, {wrap.call: wrap})[0] == after


def test_a_planned_call_that_is_no_longer_there_is_reported_and_nothing_changes():
    source = "import requests\nrequests.get(url)\n"
    plan = PassTimeout(Span(2, 1, 2, 30), "timeout", 1, "safe")
    code, command = _add_timeouts(source, {plan.call: plan})
    assert code == source
    assert command.problems() == [(2, "the call is no longer where the analysis found it")]


def test_edits_reach_their_nodes_by_span():
    source = "class Hub:\n    inbox = None\n\n\nhub.inbox.put(1)\n"
    edits = Edits(rename_name={Span(2, 5, 2, 10): "_inbox"}, redirect_call={Span(5, 1, 5, 17): "publish"})
    command = ApplyEdits(CodemodContext(), "app", edits)
    assert command.transform_module(cst.parse_module(source)).code == \
        "class Hub:\n    _inbox = None\n\n\nhub.publish(1)\n"


HANDLERS = """\
import asyncio
import queue

import requests
import trio
from blinker import signal

saved = signal("saved")
inbox = asyncio.Queue()


def push(sender, **extra):
    requests.post("https://example.com", json=extra)


async def pull(sender, **extra):
    await inbox.get()


async def receive(sender, **extra):
    send, recv = trio.open_memory_channel(0)
    await recv.receive()


saved.connect(push)
saved.connect(pull)
saved.connect(receive)


class Hub:
    def __init__(self):
        self.outbox = queue.Queue()
        self._events = queue.Queue()

    def events(self):
        return self._events
"""


def test_the_checks_make_the_plans_the_codemods_carry_out(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    (tmp_path / "app.py").write_text(HANDLERS, encoding="utf-8")
    with inside(tmp_path):
        result = api.check(["."], keep_graph=True, jobs=1, use_cache=False)
    graph, config = result.graph, result.project.config
    plans = {finding.span.line: plan for finding, plan in evt003.fix_plans(graph, config, result.findings)}
    assert plans[13] == PassTimeout(Span(13, 5, 13, 53), "timeout", None, "safe")
    assert plans[17] == WrapInWaitFor(Span(17, 11, 17, 22), "unsafe")
    assert isinstance(plans[22], NotFixable) and "trio receive" in plans[22].reason
    rules = {f.span.line: evt001.fix_plan(graph, f) for f in result.findings if f.code == evt001.CODE}
    assert rules[32] == PrivatizeChannel("app.Hub.outbox", "outbox", Span(32, 9, 32, 36))
    assert rules[36] == ReplaceAccessor("app.Hub._events", "app.Hub.events", "_events")
    migrations = {f.span.line: evt001.migration_plan(graph, f) for f in result.findings if f.code == evt001.CODE}
    assert migrations == {9: MigrateChannel("app.inbox"), 32: MigrateChannel("app.Hub.outbox"),
                          36: MigrateChannel("app.Hub._events")}


MIXED = """\
import queue

events = queue.Queue()


def produce():
    events.put(("user", 1))
    events.put(("payment", 2.5))


def consume():
    while True:
        kind, value = events.get()
        if kind == "user":
            print(value)
        elif kind == "payment":
            print(value)
"""


def test_evt002_names_the_channel_migrate_to_bus_moves(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = \"p\"\n", encoding="utf-8")
    (tmp_path / "app.py").write_text(MIXED, encoding="utf-8")
    with inside(tmp_path):
        result = api.check(["."], select=(evt002.CODE,), keep_graph=True, jobs=1, use_cache=False)
    [finding] = result.findings
    assert evt002.migration_plan(result.graph, finding) == MigrateChannel("app.events")
    forged = dataclasses.replace(finding, symbol="app.nothing")
    assert evt002.migration_plan(result.graph, forged) == NotFixable("no channel found for this finding")
