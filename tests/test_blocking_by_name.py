"""A ``by-name`` blocking entry of the user's catalogue matches its method name on any
receiver, the way the catalogue's page documents it; its timeout argument still counts."""

from __future__ import annotations

import pytest

from eventlint import api

CATALOGUE = """
[[tool.eventlint.catalog.blocking]]
name = "corp.rpc.wait_for_reply"
by-name = true
timeout = { keyword = "deadline", position = 1 }
fix = "safe"
reason = "the client raises RpcTimeout, a RpcError callers already handle"
"""

WORKER = """\
import threading


def serve(client, requests):
    for request in requests:
        client.send(request)
        client.wait_for_reply(request.id{argument})


def start(client, requests):
    threading.Thread(target=serve, args=(client, requests)).start()
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _findings(project, argument: str, catalogue: str = CATALOGUE):
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.eventlint]\n" + catalogue)
    (project / "worker.py").write_text(WORKER.format(argument=argument))
    result = api.check(["."], select=("EVT003",), jobs=1, use_cache=False)
    return [(f.code, f.path, f.span.line, f.message) for f in result.findings]


def test_a_by_name_entry_matches_on_an_unknown_receiver(project):
    assert _findings(project, "") == [
        ("EVT003", "worker.py", 7, "`corp.rpc.wait_for_reply()` has no timeout; it runs in handler serve (threading.Thread)"),
    ]


@pytest.mark.parametrize("argument", [", deadline=5", ", 5"])
def test_its_timeout_argument_counts(project, argument):
    assert _findings(project, argument) == []


def test_without_by_name_an_unresolved_receiver_does_not_match(project):
    assert _findings(project, "", CATALOGUE.replace("by-name = true\n", "")) == []
