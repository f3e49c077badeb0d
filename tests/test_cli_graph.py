"""``eventlint graph``: DOT, mermaid and node-link JSON of the publisher/subscriber graph."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from eventlint.cli import main

FILES = {
    "app/__init__.py": "",
    "app/hub.py": "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self._inbox = queue.Queue()\n\n"
                  "    def publish(self, event):\n        self._inbox.put(event)\n\n"
                  "    def next(self):\n        return self._inbox.get()\n",
    "app/feed.py": "import queue\n\nFEED = queue.Queue()\n",
    "app/worker.py": "from app.feed import FEED\n\n\ndef pump():\n    FEED.put(1)\n    FEED.put(2)\n\n\n"
                     "def drain():\n    return FEED.get()\n\n\ndef unrelated():\n    return 42\n",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def graph(capsys, *args) -> str:
    assert main(["graph", "--no-cache", "--jobs", "1", *args]) == 0
    return capsys.readouterr().out


def test_dot(project, capsys):
    dot = graph(capsys)
    assert dot.startswith("digraph eventlint {")
    assert dot.count("subgraph cluster_") == 3  # app.feed, app.hub, app.worker
    assert 'label="FEED\\nqueue.Queue\\n⚠ EVT001", shape=cylinder' in dot
    assert 'label="Hub._inbox\\nqueue.Queue", shape=cylinder' in dot  # private: not flagged
    assert 'label="pump", shape=ellipse' in dot
    assert "unrelated" not in dot  # touches no channel
    assert 'label="put ×2"' in dot  # two put sites, one arrow
    flagged = [line for line in dot.splitlines() if 'color="#c62828"' in line and "shape=" in line]
    assert len(flagged) == 1 and "FEED" in flagged[0]


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_dot_renders_with_graphviz(project, capsys):
    dot = graph(capsys)
    rendered = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stderr == ""
    assert "<svg" in rendered.stdout and "pump" in rendered.stdout


def test_mermaid(project, capsys):
    text = graph(capsys, "--format", "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  subgraph m0["app.feed"]' in lines
    assert any(line.endswith('[("FEED<br/>queue.Queue<br/>⚠ EVT001")]') for line in lines)
    assert any(line.endswith('(["pump"])') for line in lines)
    assert any(line.endswith('(["Hub.publish"])') for line in lines)
    assert any("-->|put ×2|" in line for line in lines)
    assert any(line.startswith("  class ") and line.endswith(" flagged") for line in lines)
    assert text.count("subgraph ") == text.count("  end\n") == 3


def test_json_to_file(project, capsys):
    assert graph(capsys, "--format", "json", "-o", "graph.json") == ""
    data = json.loads((project / "graph.json").read_text())
    assert {"nodes", "edges"} <= set(data)
    ids = {node["id"] for node in data["nodes"]}
    assert {"channel:app.feed.FEED", "function:app.worker.pump", "function:app.worker.unrelated"} <= ids
    keys = {(edge["source"], edge["target"], edge["key"]) for edge in data["edges"]}
    assert ("function:app.worker.pump", "channel:app.feed.FEED", "publishes@app/worker.py:5:5") in keys
    assert ("channel:app.feed.FEED", "function:app.worker.drain", "consumes@app/worker.py:10:12") in keys


def test_paths_are_shown_from_the_cwd(project, capsys, monkeypatch):
    monkeypatch.chdir(project / "app")
    dot = graph(capsys, ".")
    assert 'label="app.worker  (worker.py)"' in dot
    data = json.loads(graph(capsys, ".", "--format", "json"))
    assert {n["path"] for n in data["nodes"] if n["id"].startswith("channel:app.feed")} == {"feed.py"}


def test_no_channels(project, capsys):
    (project / "empty").mkdir()
    (project / "empty" / "m.py").write_text("x = 1\n")
    assert "no channels found" in graph(capsys, "empty")
    assert graph(capsys, "empty", "--format", "mermaid") == "flowchart LR\n"


def test_usage_error_is_exit_2(project, capsys):
    assert main(["graph", "missing"]) == 2
    assert capsys.readouterr().err == "eventlint: error: path not found: missing\n"


def test_outside_apis_are_drawn_outside_the_modules():
    from eventlint.report import graph_picture

    nodes = [
        {"id": "api:threading.Thread", "kind": "api", "name": "threading.Thread", "label": "threading.Thread",
         "module": "", "path": "", "line": 0, "api": ""},
        {"id": "function:app.w.loop", "kind": "function", "name": "app.w.loop", "label": "loop", "module": "app.w",
         "path": "app/w.py", "line": 3, "api": ""},
    ]
    edges = [{"source": "api:threading.Thread", "target": "function:app.w.loop", "relation": "registers",
              "path": "app/w.py", "line": 9, "column": 1}]
    dot = graph_picture.render_dot(nodes, edges)
    outside = dot.split("subgraph cluster_")[0]
    assert 'n0 [label="threading.Thread", shape=box' in outside
    assert 'n0 -> n1 [label="registers", color="#757575", fontcolor="#757575", style=dashed];' in dot
    mermaid = graph_picture.render_mermaid(nodes, edges).splitlines()
    assert mermaid[1] == '  n0[["threading.Thread"]]'
    assert '  n0 -.->|registers| n1' in mermaid
