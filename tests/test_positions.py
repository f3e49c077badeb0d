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
