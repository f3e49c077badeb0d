"""What the callers of a parameter pass, as one value: instances of one class built at
different places, and one channel among objects that are no channel."""

from __future__ import annotations

from eventlint.model import CallFact, End, Span
from eventlint.values import Value, ValueKind, one_value


def _made_at(line: int) -> CallFact:
    return CallFact("app.start", ("G:app.Channel",), Span(line, 5, line, 30))


def test_instances_of_one_class_made_apart_are_one_value():
    values = {Value(ValueKind.INSTANCE, "app.Channel", origin=_made_at(3)),
              Value(ValueKind.INSTANCE, "app.Channel", origin=_made_at(9))}
    assert one_value(values) == Value(ValueKind.INSTANCE, "app.Channel")


def test_instances_of_different_classes_are_no_value():
    values = {Value(ValueKind.INSTANCE, "app.Channel"), Value(ValueKind.INSTANCE, "app.WorkerChannel")}
    assert one_value(values) is None


def test_either_end_of_one_pipe_beside_a_client_connection_is_the_pipe():
    values = {Value(ValueKind.CHANNEL, "app.start.parent_end", End.SEND),
              Value(ValueKind.CHANNEL, "app.start.parent_end", End.RECEIVE),
              Value(ValueKind.API, "multiprocessing.connection.Client()")}
    assert one_value(values) == Value(ValueKind.CHANNEL, "app.start.parent_end", End.NONE)


def test_two_different_channels_are_no_value():
    values = {Value(ValueKind.CHANNEL, "app.start.tasks"), Value(ValueKind.CHANNEL, "app.start.results")}
    assert one_value(values) is None


def test_objects_that_are_no_channel_and_differ_are_no_value():
    values = {Value(ValueKind.API, "socket.socket()"), Value(ValueKind.API, "multiprocessing.connection.Client()")}
    assert one_value(values) is None
