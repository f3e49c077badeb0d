"""Resolution always ends, in time linear in what it visits, whatever the project's shape;
a module or rule whose analysis fails is reported as EVT000 and the run goes on.

Large projects are generated here, at test time."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import eventlint
from eventlint import api, engine
from eventlint.checks import evt001_exposed_raw_queue
from eventlint.cli import main
from eventlint.graph import EventGraph


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def check(root: Path, **options) -> api.CheckResult:
    return api.check([str(root)], use_cache=False, jobs=1, keep_graph=True, **options)


def located(result: api.CheckResult) -> list[tuple[str, str, int]]:
    return [(f.code, f.path, f.span.line) for f in result.findings]


def test_module_importing_a_name_from_itself(project):
    write(project, {"a.py": "from a import x\nx.put(1)\n"})
    result = check(project)
    assert located(result) == []
    assert result.graph.resolve(("G:a.x",)) is None
    assert result.graph.failures == []


def test_package_reexporting_a_name_it_does_not_define(project):
    write(project, {"p/__init__.py": "from . import x\n", "use.py": "import p\np.x.put(1)\n"})
    result = check(project)
    assert located(result) == []
    assert result.graph.resolve(("G:p.x", ".put")) is None


def test_a_cycle_with_a_way_out_holds_what_leads_out(project):
    # a.py and b.py re-export each other's ``x``; b.py also binds it to a queue when a
    # feature is missing: both names hold that queue, whichever is resolved first
    files = {
        "a.py": "from b import x\n",
        "b.py": "try:\n    from a import x\nexcept ImportError:\n    import queue\n    x = queue.Queue()\n",
        "use.py": "from a import x\nx.put(1)\n",
    }
    write(project, files)
    first = check(project).graph
    assert first.resolve(("G:a.x",)) == first.resolve(("G:b.x",))
    again = check(project).graph
    assert again.resolve(("G:b.x",)) == again.resolve(("G:a.x",)) == first.resolve(("G:a.x",))


def test_thousand_module_reexport_chain_reaches_the_queue(project):
    files = {f"m{i}.py": f"from m{i + 1} import x\n" for i in range(999)}
    files["m999.py"] = "import queue\nx = queue.Queue()\n"
    files["use.py"] = "from m0 import x\nx.put(1)\n"
    write(project, files)
    result = check(project)
    assert located(result) == [("EVT001", "m999.py", 2)]
    assert [(r.path, r.span.line) for r in result.findings[0].related] == [("use.py", 2)]
    assert result.graph.resolve(("G:m0.x",)).name == "m999.x"


def test_thousand_function_parameter_chain_reaches_the_channel(project):
    # the queue passes through a thousand parameters before two kinds are put to it
    lines = ["import queue", "", "class A:", "    pass", "", "class B:", "    pass", ""]
    for i in range(999):
        lines += [f"def f{i}(q):", f"    f{i + 1}(q)", ""]
    lines += ["def f999(q):", "    q.put(A())", "", "Q = queue.Queue()", "f0(Q)", "Q.put(B())", ""]
    write(project, {"_chain.py": "\n".join(lines)})
    result = check(project)
    put_line = lines.index("    q.put(A())") + 1
    queue_line = lines.index("Q = queue.Queue()") + 1
    assert located(result) == [("EVT001", "_chain.py", queue_line), ("EVT002", "_chain.py", queue_line)]
    evt002 = result.findings[1]
    assert sorted((r.path, r.span.line) for r in evt002.related) == [("_chain.py", put_line), ("_chain.py", queue_line + 2)]


def attribute_loop(methods: int) -> str:
    names = "abcdefghij"
    lines = ["class Hub:"]
    for k, offset in enumerate((1, 3, 7, 9)[:methods]):
        lines.append(f"    def m{k}(self):")
        lines += [f"        self.{n} = self.{names[(i + offset) % 10]}" for i, n in enumerate(names)]
    lines += ["    def use(self):", "        self.a.put(1)", "        self.e.get()"]
    return "\n".join(lines) + "\n"


def test_attributes_assigned_from_each_other_resolve_quickly(project):
    # 48 lines: each attribute has four alternatives, all inside the loop; resolution once
    # took minutes here, re-walking the loop for every path a cycle guard cut short
    write(project, {"hub.py": attribute_loop(4)})
    assert len((project / "hub.py").read_text().splitlines()) == 48
    command = [sys.executable, "-m", "eventlint", "check", "--no-cache", "--jobs", "1", "--format", "json", "."]
    here = {**os.environ, "PYTHONPATH": str(Path(eventlint.__file__).parent.parent)}  # the eventlint under test
    started = time.monotonic()
    done = subprocess.run(command, cwd=project, env=here, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert time.monotonic() - started < 20


def test_attribute_loop_with_a_queue_gives_every_attribute_the_queue(project):
    source = attribute_loop(4) + "    def start(self):\n        import queue\n        self.j = queue.Queue()\n"
    write(project, {"hub.py": source})
    queue_line = len(source.splitlines())
    result = check(project)
    assert located(result) == [("EVT001", "hub.py", queue_line)]
    graph = result.graph
    assert {graph.resolve(("I:hub.Hub", f".{n}")).name for n in "abcdefghij"} == {"hub.Hub.j"}


def test_answers_in_a_cycle_do_not_depend_on_which_name_came_first(project):
    source = attribute_loop(4) + "    def start(self):\n        import queue\n        self.j = queue.Queue()\n"
    write(project, {"hub.py": source})
    facts = check(project).files
    catalog = api.check([str(project)], use_cache=False, jobs=1, keep_graph=True).graph.catalog
    answers = set()
    for first in "abcdefghij":
        graph = EventGraph(facts, catalog)
        graph.resolver.forget()
        order = [first, *(n for n in "abcdefghij" if n != first)]
        answers.add(tuple(sorted((n, graph.resolve(("I:hub.Hub", f".{n}"))) for n in order)))
    assert len(answers) == 1


def test_resolution_does_not_use_the_python_stack(project):
    files = {f"m{i}.py": f"from m{i + 1} import x\n" for i in range(300)}
    files["m300.py"] = "import queue\nx = queue.Queue()\n"
    write(project, files)
    facts = check(project).files
    catalog = check(project).graph.catalog
    graph = EventGraph(facts, catalog)
    graph.resolver.forget()
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(len(inspect.stack(0)) + 60)  # far fewer frames than the chain has links
        value = graph.resolve(("G:m0.x",))
    finally:
        sys.setrecursionlimit(limit)
    assert value.name == "m300.x"


def test_a_module_whose_analysis_fails_is_evt000_and_the_rest_is_checked(project, monkeypatch, capsys):
    write(project, {
        "bad.py": "import queue\nq = queue.Queue()\nq.put(1)\n",
        "good.py": "import queue\nq = queue.Queue()\n",
    })
    original = EventGraph._find_operations

    def failing(self, facts):
        if facts.module == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, facts)

    monkeypatch.setattr(EventGraph, "_find_operations", failing)
    assert main(["check", "--no-cache", "--jobs", "1", "."]) == 1
    out = capsys.readouterr().out
    assert ("bad.py:1:1: EVT000 internal error while analysing this module (finding channel operations): "
            "RecursionError: maximum recursion depth exceeded") in out
    assert "bad.py:2:1: EVT001" in out
    assert "good.py:2:1: EVT001" in out


def test_the_traceback_of_a_failed_module_is_shown_with_verbose(project, monkeypatch, capsys):
    write(project, {"bad.py": "import queue\nq = queue.Queue()\n"})

    def failing(self, facts):
        raise ValueError("no such thing")

    monkeypatch.setattr(EventGraph, "_find_channels", failing)
    assert main(["check", "--no-cache", "--jobs", "1", "."]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["check", "--no-cache", "--jobs", "1", "--verbose", "."]) == 1
    err = capsys.readouterr().err
    assert "internal error while finding channels in bad.py" in err
    assert "Traceback (most recent call last)" in err and "ValueError: no such thing" in err


def test_a_rule_that_fails_is_evt000_and_the_other_rules_still_report(project, monkeypatch, capsys):
    write(project, {
        "a.py": "import queue\nq = queue.Queue()\n",
        "b.py": "import queue\n\nclass Box:\n    pass\n\nclass Ball:\n    pass\n\n"
                "_q = queue.Queue()\n_q.put(Box())\n_q.put(Ball())\n",
    })

    def failing(graph, config):
        yield from ()
        raise KeyError("missing")

    rules = engine.all_rules()
    broken = [dataclasses.replace(r, check=failing) if r is evt001_exposed_raw_queue.RULE else r for r in rules]
    monkeypatch.setattr(engine, "all_rules", lambda: broken)
    assert main(["check", "--no-cache", "--jobs", "1", "."]) == 1
    out = capsys.readouterr().out
    assert ("a.py:1:1: EVT000 internal error in rule EVT001 (exposed-raw-queue); its findings are incomplete: "
            "KeyError: 'missing'") in out
    assert "b.py:9:1: EVT002" in out
    assert "EVT001 " not in out.replace("rule EVT001 (", "")


def test_a_value_growing_along_a_cycle_keeps_what_leads_out_of_it(project):
    write(project, {"hub.py": """\
        import lib

        class Hub:
            def __init__(self):
                self.x = self.x.copy()

            def reset(self):
                self.x = lib.make()
        """})
    result = check(project)
    attribute, copied = ("I:hub.Hub", ".x"), ("I:hub.Hub", ".x", ".copy", "()")
    for order in ((attribute, copied), (copied, attribute)):
        graph = EventGraph(result.files, result.graph.catalog)
        graph.resolver.forget()
        answers = dict(zip(order, map(graph.resolve, order)))
        assert answers[attribute].name == "lib.make()"
