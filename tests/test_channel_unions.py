"""A name its callers fill with several channels holds each of them (``Resolver.channel_union``),
and the index counts an operation through it on every one; a single channel, or a receiver
whose construction is known, stays one value."""

from __future__ import annotations

import pytest

from eventlint import api
from eventlint.graph import Direction
from eventlint.values import ValueKind

LINK = '''\
import multiprocessing
import multiprocessing.connection


class Link:
    def __init__(self, connection, name):
        self.conn = connection
        self.name = name

    def send(self, request, payload=None):
        self.conn.send((request, payload))

    def handle(self):
        cmd, payload = self.conn.recv()
        if cmd == "ping":
            self.send("pong")


class QtLink(Link):
    def __init__(self, *args, **kwargs):
        Link.__init__(self, *args, **kwargs)


class Single:
    def __init__(self, connection):
        self.conn = connection


def forked():
    parent_end, child_end = multiprocessing.Pipe()
    return Link(parent_end, "parent"), Link(child_end, "child")


def connect(port):
    conn = multiprocessing.connection.Client(("localhost", port))
    return QtLink(conn, "qt")


def single():
    reader, writer = multiprocessing.Pipe(duplex=False)
    return Single(reader)


def relay(link_conn):
    return link_conn.recv()


def relays():
    left, right = multiprocessing.Pipe()
    other = multiprocessing.connection.Client(("localhost", 9000))
    relay(left)
    relay(other)
'''


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> api.CheckResult:
    root = tmp_path_factory.mktemp("link")
    (root / "link.py").write_text(LINK)
    return api.check([str(root)], use_cache=False, jobs=1, keep_graph=True)


def _names(values) -> list[str]:
    return sorted(value.name for value in values)


def test_an_attribute_filled_with_a_pipe_end_and_a_client_through_args_holds_both(result):
    resolver = result.graph.resolver
    assert resolver.resolve(("I:link.Link", ".conn")) is None
    union = resolver.channel_union(("I:link.Link", ".conn"))
    assert _names(union) == ["link.connect.conn", "link.forked.parent_end"]
    assert {value.kind for value in union} == {ValueKind.CHANNEL}


def test_the_rest_of_the_reference_is_followed_on_each(result):
    items = result.graph.resolver.channel_union(("I:link.Link", ".conn", ".recv", "()"))
    assert _names(items) == ["link.connect.conn", "link.forked.parent_end"]
    assert {value.kind for value in items} == {ValueKind.ITEM}


def test_one_channel_is_no_union(result):
    resolver = result.graph.resolver
    assert resolver.resolve(("I:link.Single", ".conn")).name == "link.single.reader"
    assert resolver.channel_union(("I:link.Single", ".conn")) == frozenset()


def test_a_plain_parameter_filled_with_two_channels_holds_both(result):
    union = result.graph.resolver.channel_union(("P:link.relay:link_conn",))
    assert _names(union) == ["link.relays.left", "link.relays.other"]


def test_operations_through_the_union_count_on_every_channel(result):
    graph = result.graph
    for channel in ("link.forked.parent_end", "link.connect.conn"):
        ops = sorted((op.direction, op.call.span.line, op.union) for op in graph.operations_on(channel))
        assert ops == [(Direction.PUT, 11, True), (Direction.GET, 14, True)] or ops == [
            (Direction.GET, 14, True), (Direction.PUT, 11, True)]
        assert [site.dispatch.span.line for site in graph.dispatches_on(channel)] == [15]
