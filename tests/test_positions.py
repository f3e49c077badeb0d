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


TRICKY = '''\
import queue, threading
from concurrent import futures


@decorate(make("x"))
async  def handler(a, /, b=default(), *, c: Queue[int] = q.get(), **kw) -> Result[str]:
    label = f"{a!r:>{width(b)}} {'é'} {call(a)}"  # é before and after: columns count code points
    x = (yes() if check(a) else no()) ; y = [f(i) for i in g() if h(i)]
    while (n := int(a)) > 0 and (a < b < c):
        async with lock(), (other()) as z:
            await z.get()
    try:
        pass
    except errors() as error:
        raise Wrapped(error) from error
    return {key(): value() for key in keys()}[a]


class Hub(base(), metaclass=meta()):
    inbox: queue.Queue[int] = queue.Queue()
    def run(self, callback=lambda e: e.handle()):
        for item in iter(self.inbox.get, None):
            self.count += 1
            ((self.inbox)).get(timeout=0.1)(item)[0]
'''


def _extractor(text):
    from eventlint.catalog import load_catalog
    from eventlint.facts import _Extractor
    from eventlint.syntax import traverse

    extractor = _Extractor("m", False, load_catalog(), frozenset())
    traverse(cst.parse_module(text), extractor, extractor.ordinals, extractor.counts)
    return extractor


@pytest.mark.parametrize("source", [*SAMPLES, "crlf", "cr", "tricky", "tricky-crlf"])
def test_ast_ranges_are_libcsts(source):
    """Spans come from the stdlib ast when it agrees: every requested node's range is
    exactly libcst's own, on real modules, odd line ends, f-strings and non-ASCII text."""
    calls = "x = f(1,\r\n     2)\r\nif x: \\\r\n    y = g(f'{x!r:>{h(3)}}')\r\n"
    text = {"crlf": calls, "cr": calls.replace("\r\n", "\r"), "tricky": TRICKY,
            "tricky-crlf": TRICKY.replace("\n", "\r\n")}.get(source) or (STDLIB / source).read_text(encoding="utf-8")
    extractor = _extractor(text)
    from_ast = extractor._ranges_from_ast(text)
    assert from_ast is not None and len(from_ast) == len(extractor.requests) > 0
    table = positions(extractor.module_node)
    assert from_ast == [table[node] for node, _, _ in extractor.requests]


def test_facts_are_the_same_whichever_way_spans_are_found():
    from eventlint.catalog import load_catalog
    from eventlint.facts import extract

    for text in (TRICKY, TRICKY.replace("\n", "\r\n"), (STDLIB / "asyncio/base_events.py").read_text(encoding="utf-8")):
        common = dict(path="m.py", module="m", aliases=(), is_package=False, catalog=load_catalog(), tag_keys=frozenset())
        module = cst.parse_module(text)
        assert extract(module, text=text, **common) == extract(module, text=None, **common)


@pytest.mark.parametrize("text", [
    "def f(item):\n    match item:\n        case Created():\n            q.get()\n",  # ast has no position for a case
    "def f[T](x: T) -> T:\n    return g(x)\n",  # syntax newer than this Python: ast rejects it
])
def test_libcsts_bookkeeping_where_ast_cannot_tell(text):
    extractor = _extractor(text)
    if "match" in text:
        assert extractor._ranges_from_ast(text) is None or not any(
            isinstance(node, cst.MatchCase) for node, _, _ in extractor.requests)
    extractor.resolve_spans(text)
    table = positions(extractor.module_node)
    assert extractor.requests
    for node, span, name_only in extractor.requests:
        (line, column), (end_line, end_column) = table[node]
        if name_only:
            column += len("def ")
            end_line, end_column = line, column + len(node.name.value)
        assert (span.line, span.column, span.end_line, span.end_column) == (line, column + 1, end_line, end_column + 1)


def test_a_disagreeing_ast_is_not_trusted():
    """Counts that differ between the trees mean the n-th nodes may not be the same."""
    text = "f(1)\ng(2)\n"
    extractor = _extractor(text)
    extractor.counts[cst.Call] += 1
    assert extractor._ranges_from_ast(text) is None


def test_the_tree_is_freed_as_soon_as_the_facts_are_made():
    """No reference cycle keeps a syntax tree (a million objects on a large module)
    waiting for the cyclic collector: workers collect only once per file."""
    import gc

    from eventlint.catalog import load_catalog
    from eventlint.facts import extract

    text = (STDLIB / "asyncio/base_events.py").read_text(encoding="utf-8")
    catalog = load_catalog()
    gc.collect()
    gc.disable()
    try:
        extract(cst.parse_module(text), path="m.py", module="m", aliases=(), is_package=False, catalog=catalog,
                tag_keys=frozenset(), text=text)
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage < 1_000  # the tree has about 100,000 nodes


def test_a_form_feed_keeps_libcsts_columns():
    """libcst's columns on a line that starts with a form feed are one short; facts keep
    to them, since the codemods find the nodes they rewrite by libcst's positions."""
    text = "import requests\n\x0c\ndef poll():\n\x0c    return requests.get(URL)\n"
    extractor = _extractor(text)
    assert extractor._ranges_from_ast(text) is None
    extractor.resolve_spans(text)
    table = positions(extractor.module_node)
    call = next((node, span) for node, span, _ in extractor.requests if isinstance(node, cst.Call))
    (line, column), _ = table[call[0]]
    assert (call[1].line, call[1].column) == (line, column + 1)


def _recorder_init(self):
    cst.CSTVisitor.__init__(self)
    self.seen = []


def _recorder_class():
    """A visitor noting every visit and leave of the kinds the facts pass handles, and of names."""
    from eventlint.facts import _Extractor

    own = {name for cls in _Extractor.__mro__ if not cls.__module__.startswith("libcst") for name in vars(cls)}
    kinds = sorted({name.split("_", 1)[1] for name in own if name.startswith(("visit_", "leave_"))} | {"Name"})
    methods = {}
    for kind in kinds:
        methods[f"visit_{kind}"] = lambda self, node, kind=kind: self.seen.append(("visit", kind))
        methods[f"leave_{kind}"] = lambda self, node, kind=kind: self.seen.append(("leave", kind))
    return type("KindRecorder", (cst.CSTVisitor,), {**methods, "__init__": _recorder_init})


@pytest.mark.parametrize("source", SAMPLES)
def test_the_fast_traversal_visits_what_libcsts_visits_in_the_same_order(source):
    """``traverse`` skips punctuation and trivia; every node kind a visitor handles is
    still visited and left, in libcst's order."""
    from eventlint.syntax import traverse

    module = cst.parse_module((STDLIB / source).read_text(encoding="utf-8"))
    recorder_class = _recorder_class()
    ours, theirs = recorder_class(), recorder_class()
    traverse(module, ours)
    module.visit(theirs)
    assert len(ours.seen) > 1000
    assert ours.seen == theirs.seen


@pytest.mark.parametrize("source", SAMPLES)
def test_strings_are_read_as_python_reads_them(source):
    from eventlint.syntax import string_value

    strings = []

    class Strings(cst.CSTVisitor):
        def visit_SimpleString(self, node):
            strings.append(node)

    cst.parse_module((STDLIB / source).read_text(encoding="utf-8")).visit(Strings())
    extra = [cst.parse_expression(text) for text in ('""', "''''''", '"""a"b"""', 'b"x"', 'u"x"', 'r"a\\b"', "'a\\nb'")]
    assert len(strings) > 30
    for node in [*strings, *extra]:
        value = node.evaluated_value
        assert string_value(node) == (value if isinstance(value, str) else None), node.value
