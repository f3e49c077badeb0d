"""``check`` never raises, whatever the files hold, and its findings don't depend on the
run or on ``--jobs``: on programs generated from Python's grammar (hypothesmith) and on
the fixtures with random deletions and insertions.

``EVENTLINT_FUZZ_EXAMPLES`` raises the number of examples (``bench/fuzz.py`` does, for
longer runs than CI's)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlint import api

EXAMPLES = int(os.environ.get("EVENTLINT_FUZZ_EXAMPLES", "12"))
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if ".after" not in p.name)

# a hub the generated modules sit beside, so the graph and every rule have work to do
HUB = """\
import queue
import threading

import requests

EVENTS = queue.Queue()


class Hub:
    def __init__(self):
        self.inbox = queue.Queue()

    def run(self):
        while True:
            item = self.inbox.get()
            if isinstance(item, dict):
                requests.get(item["url"])
            elif isinstance(item, str):
                EVENTS.put(("text", item))


threading.Thread(target=Hub().run).start()
"""

# text a careless edit or a crafted file may leave behind
SNIPPETS = ["\f", "\x00", "\r", "\\\n", "(" * 300, ")" * 5, "'''", "# eventlint: ignore[EVT001]\n",
            "# coding: punycode\n", "\ufeff", "\u2028", "async ", "await q.get()\n", "global q\n",
            "from . import x\n", "import hub; hub.EVENTS.put(1)\n", "x = " + " + ".join(["1"] * 3000) + "\n"]



@contextmanager
def project(files: dict[str, str | bytes]):
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "pyproject.toml").write_text("[project]\nname = 'fuzzed'\n")
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old)


def snapshot(result) -> list[tuple]:
    return [(f.code, f.path, f.span.line, f.span.column, f.message, f.related, f.fix and f.fix.safety)
            for f in result.findings]


def check_is_stable() -> None:
    """Every run the same: uncached in one worker, cold and warm with the cache in two."""
    plain = api.check(["."], jobs=1, use_cache=False)
    assert all(f.code.startswith("EVT") for f in plain.findings)
    cold = api.check(["."], jobs=2)
    warm = api.check(["."], jobs=2)
    assert snapshot(cold) == snapshot(plain)
    assert snapshot(warm) == snapshot(plain)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs=st.lists(hypothesmith.from_grammar(), min_size=1, max_size=3))
def test_generated_programs_never_break_check(programs):
    files: dict[str, str | bytes] = {"hub.py": HUB}
    for index, program in enumerate(programs):
        files[f"pkg/gen{index}.py"] = program
    files["pkg/__init__.py"] = "from . import gen0\n"
    with project(files):
        check_is_stable()


def _mutate(text: str, edits: list[tuple[int, int, int]]) -> str:
    for kind, where, what in edits:
        at = where % (len(text) + 1)
        if kind == 0:  # delete a few characters
            text = text[:at] + text[at + 1 + what % 8:]
        elif kind == 1:  # delete a line
            lines = text.split("\n")
            del lines[where % len(lines)]
            text = "\n".join(lines)
        elif kind == 2:  # insert a snippet
            text = text[:at] + SNIPPETS[what % len(SNIPPETS)] + text[at:]
        else:  # duplicate a line, indentation and all
            lines = text.split("\n")
            index = where % len(lines)
            lines.insert(index, lines[index])
            text = "\n".join(lines)
    return text


mutations = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=6)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(picked=st.lists(st.sampled_from(FIXTURE_FILES), min_size=1, max_size=3, unique=True),
       edits=st.lists(mutations, min_size=3, max_size=3))
def test_mutated_fixtures_never_break_check(picked, edits):
    files: dict[str, str | bytes] = {"hub.py": HUB}
    for index, (path, own_edits) in enumerate(zip(picked, edits)):
        files[f"app/{index}_{path.name}"] = _mutate(path.read_text(encoding="utf-8"), own_edits)
    with project(files):
        check_is_stable()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_each_snippet_in_a_real_module(snippet):
    """Every snippet at the top of, and in the middle of, a module that has findings."""
    middle = HUB.index("class Hub")
    with project({"hub.py": HUB, "top.py": snippet + HUB, "mid.py": HUB[:middle] + snippet + HUB[middle:]}):
        check_is_stable()
