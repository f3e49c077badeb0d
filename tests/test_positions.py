"""The facts pass's own position bookkeeping gives exactly libcst's syntactic positions."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from eventlint.facts import positions

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SAMPLES = ["asyncio/base_events.py", "email/_header_value_parser.py", "queue.py", "concurrent/futures/process.py",
           "json/decoder.py"]
CRLF_AND_CONTINUATIONS = "x = (1,\r\n     2)\r\nif x: \\\r\n    y = f'{x!r:>{3}}'\r\n"


@pytest.mark.parametrize("source", [*SAMPLES, "crlf"])
def test_positions_match_libcst(source):
    text = CRLF_AND_CONTINUATIONS if source == "crlf" else (STDLIB / source).read_text(encoding="utf-8")
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    mine = positions(module)
    assert len(expected) > 10
    for node, where in expected.items():
        assert mine[node] == ((where.start.line, where.start.column), (where.end.line, where.end.column)), node


@pytest.mark.parametrize("source", [*SAMPLES, "crlf"])
def test_the_fast_table_agrees_where_it_records(source):
    from eventlint.facts import POSITIONED

    text = CRLF_AND_CONTINUATIONS if source == "crlf" else (STDLIB / source).read_text(encoding="utf-8")
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    mine = positions(module, POSITIONED)
    assert mine and all(type(node) in POSITIONED for node in mine)
    for node, where in mine.items():
        full = expected[node]
        assert where == ((full.start.line, full.start.column), (full.end.line, full.end.column)), node


def test_def_and_class_names_are_located_without_recording_names():
    from eventlint.facts import extract
    from eventlint.catalog import load_catalog

    text = "import x\n\n\n@deco\nasync  def  handler(a):\n    pass\n\nclass   Hub(object):\n    def run(self): pass\n"
    facts = extract(cst.parse_module(text), path="m.py", module="m", aliases=(), is_package=False,
                    catalog=load_catalog(), tag_keys=frozenset())
    spans = {f.qualname: (f.span.line, f.span.column, f.span.end_column) for f in facts.functions}
    spans.update({c.qualname: (c.span.line, c.span.column, c.span.end_column) for c in facts.classes})
    assert spans == {"m.handler": (5, 13, 20), "m.Hub": (8, 9, 12), "m.Hub.run": (9, 9, 12)}


@pytest.mark.parametrize("source", [*SAMPLES, "crlf"])
def test_the_unvalidated_parse_builds_the_same_tree(source):
    from eventlint.source import parse_module

    text = CRLF_AND_CONTINUATIONS if source == "crlf" else (STDLIB / source).read_text(encoding="utf-8")
    fast = parse_module(text)
    assert fast.deep_equals(cst.parse_module(text))
    assert fast.code == text


def test_validation_is_back_after_the_unvalidated_parse():
    from eventlint.source import parse_module

    parse_module("x = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # a Name validates its value as an identifier
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("x = = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("still not")
