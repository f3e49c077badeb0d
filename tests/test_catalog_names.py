"""Catalogue names that resolve into the analysed project, and modules that stand in for
others (``[[module-alias]]``)."""

from __future__ import annotations

import pytest

from eventlint import api
from eventlint.catalog import CatalogError, load_catalog

BUS = '''\
class Bus:
    def subscribe(self, topic, handler):
        pass

    def listen(self, topic):
        def register(fn):
            return fn
        return register
'''

PLUGIN = '''\
import requests

from corebus import bus


def on_paid(event):
    requests.post("https://billing.example.com/invoices", json=event)


@bus.listen("shipped")
def on_shipped(event):
    requests.post("https://billing.example.com/shipments", json=event)


bus.subscribe("paid", on_paid)
'''


def _project(tmp_path, entries: str):
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'p'\n\n{entries}")
    package = tmp_path / "corebus"
    package.mkdir()
    (package / "__init__.py").write_text("from corebus.impl import Bus\n\nbus = Bus()\n")
    (package / "impl.py").write_text(BUS)
    (tmp_path / "plugin.py").write_text(PLUGIN)
    result = api.check([str(tmp_path)], select=("EVT003",), use_cache=False, jobs=1)
    return sorted(f.span.line for f in result.findings)


@pytest.mark.parametrize("subscribe,listen", [
    ("corebus.Bus().subscribe", "corebus.Bus().listen"),  # the re-exported, public name
    ("corebus.impl.Bus().subscribe", "corebus.impl.Bus().listen"),  # where it is defined
    ("corebus.impl.Bus.subscribe", "corebus.impl.Bus.listen"),  # a method without the call
])
def test_a_catalogue_entry_naming_the_projects_own_bus_matches(tmp_path, subscribe, listen):
    entries = f'''
[[tool.eventlint.catalog.subscription]]
name = "{subscribe}"
handler = {{ keyword = "handler", position = 1 }}

[[tool.eventlint.catalog.subscription]]
name = "{listen}"
decorator = true
handler = {{ position = 99 }}
'''
    assert _project(tmp_path, entries) == [7, 12]


def test_without_an_entry_the_projects_bus_registers_nothing(tmp_path):
    assert _project(tmp_path, "") == []


def test_a_green_module_blocks_like_the_module_it_replaces():
    catalog = load_catalog()
    green = catalog.blocking_api("eventlet.green.socket.create_connection")
    assert green is not None and green is catalog.blocking_api("socket.create_connection")
    assert catalog.client("gevent.socket.socket") is catalog.client("socket.socket")
    assert catalog.blocking_api("eventlet.green.urllib.request.urlopen").timeout.position == 2
    assert catalog.subscriptions_for("eventlet.green.threading.Thread") == catalog.subscriptions_for("threading.Thread")
    assert catalog.replaced("eventlet.greenpool.GreenPool") is None


def test_a_users_module_alias_extends_the_catalogue():
    catalog = load_catalog({"module-alias": [{"name": "corp.green.socket", "module": "socket"}]})
    assert catalog.blocking_api("corp.green.socket.create_connection") is not None


@pytest.mark.parametrize("entry", [{"name": "corp.green.socket"}, {"name": "corp.*.socket", "module": "socket"},
                                   {"name": "corp.green.socket", "module": ""}])
def test_a_module_alias_needs_a_module(entry):
    with pytest.raises(CatalogError, match="module-alias"):
        load_catalog({"module-alias": [entry]})


def test_forks_of_multiprocessing_make_its_channels():
    catalog = load_catalog()
    assert catalog.channel("multiprocess.Pipe") is catalog.channel("multiprocessing.Pipe")
    assert catalog.channel("billiard.Queue") is catalog.channel("multiprocessing.Queue")


def test_an_execnet_channel_knows_its_end_type_its_callbacks_and_its_remote_code():
    catalog = load_catalog()
    made = catalog.channel("execnet.Gateway().remote_exec")
    assert made is not None and made.remote is not None and made.remote.position == 0 and made.remote_name == "channel"
    assert catalog.channel_type("execnet.Channel") is made
    assert catalog.channel_type("execnet.gateway_base.Channel").family == "execnet"
    assert catalog.channel_type("queue.Queue") is None
    assert "setcallback" in catalog.channel_callbacks


@pytest.mark.parametrize("entry", [{"name": "corp.rpc.start", "remote": {"position": 0}},
                                   {"name": "corp.rpc.start", "remote-name": "peer"}])
def test_remote_code_and_its_name_go_together(entry):
    with pytest.raises(CatalogError, match="remote and remote-name go together"):
        load_catalog({"channel": [entry]})


def test_a_connection_to_an_address_knows_the_listener_that_accepts_its_other_end():
    catalog = load_catalog()
    made = catalog.channel("multiprocessing.connection.Client")
    assert made is not None and made.address is not None and made.address.keyword == "address"
    assert "multiprocessing.connection.Listener().accept" in made.accepted_by
    assert catalog.channel("billiard.connection.Client") is made
    assert catalog.channel("multiprocess.connection.Client") is made


@pytest.mark.parametrize("entry", [{"name": "corp.rpc.dial", "address": {"position": 0}},
                                   {"name": "corp.rpc.dial", "accepted-by": ["corp.rpc.Server().accept"]}])
def test_an_address_and_its_listener_go_together(entry):
    with pytest.raises(CatalogError, match="address and accepted-by go together"):
        load_catalog({"channel": [entry]})


def test_a_fork_of_a_module_that_defines_channels_implements_them():
    catalog = load_catalog()
    assert catalog.implements_channels("billiard.connection")  # multiprocessing.connection.Client
    assert catalog.implements_channels("multiprocess.queues")
    assert not catalog.implements_channels("billiard.pool")  # a program using the channels
    assert not catalog.implements_channels("app.connection")


def test_a_datagram_sockets_connect_waits_for_nothing():
    (rule,) = [c.no_wait_when for c in load_catalog({}).clients if c.name == "socket.socket"]
    assert (rule.argument.keyword, rule.argument.position, rule.values, rule.methods) == (
        "type", 1, ("socket.SOCK_DGRAM",), ("connect",))


@pytest.mark.parametrize("rule", [
    {"values": ["socket.SOCK_DGRAM"], "methods": ["connect"]},  # which argument?
    {"keyword": "type", "methods": ["connect"]},
    {"keyword": "type", "values": [], "methods": ["connect"]},
    {"keyword": "type", "values": ["socket.SOCK_DGRAM"], "methods": "connect"},
    {"keyword": "type", "values": ["socket.SOCK_DGRAM"], "methods": ["connect"], "when": "always"},
])
def test_no_wait_when_names_an_argument_its_values_and_methods(rule):
    entry = {"name": "corp.Socket", "methods": ["connect"], "no-wait-when": rule}
    with pytest.raises(CatalogError, match="no-wait-when|values and methods"):
        load_catalog({"client": [entry]})
