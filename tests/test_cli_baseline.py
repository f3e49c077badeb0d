"""``--write-baseline`` records the findings by fingerprint (code, root-relative path,
symbol, normalised line text); ``--baseline`` hides them and fails only on new ones."""

from __future__ import annotations

import json

import pytest

from eventlint import api
from eventlint import baseline as baselines
from eventlint.cli import main
from eventlint.model import Finding, Span

HUB = "import queue\n\n\nclass Hub:\n    def __init__(self):\n        self.inbox = queue.Queue()\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "hub.py").write_text(HUB)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args) -> int:
    return main(["check", "--no-cache", "--jobs", "1", *args])


def test_write_baseline_records_fingerprints_and_exits_zero(project, capsys):
    assert check("--write-baseline", "baseline.json") == 0
    assert capsys.readouterr().err == "eventlint: recorded 1 finding in baseline.json\n"
    data = json.loads((project / "baseline.json").read_text())
    assert data["version"] == 1
    [entry] = data["findings"]
    assert (entry["code"], entry["path"], entry["symbol"]) == ("EVT001", "app/hub.py", "app.hub.Hub.inbox")
    assert len(entry["fingerprint"]) == 20
    assert "line" not in entry


def test_baselined_finding_survives_lines_inserted_above_and_reindent(project, capsys):
    assert check("--write-baseline", "baseline.json") == 0
    moved = HUB.replace("import queue\n", "import queue\nimport os\n\nSTART = os.getcwd()\n").replace(
        "self.inbox = queue.Queue()", "self.inbox  =  queue.Queue()\t")
    (project / "app" / "hub.py").write_text(moved)
    capsys.readouterr()
    assert check("--baseline", "baseline.json") == 0
    assert capsys.readouterr().out == "All checks passed (1 file checked, 1 more in the baseline).\n"


def test_new_finding_fails_and_is_the_only_one_reported(project, capsys):
    assert check("--write-baseline", "baseline.json") == 0
    (project / "app" / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    capsys.readouterr()
    assert check("--baseline", "baseline.json", "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    assert [(f["code"], f["path"], f["line"]) for f in report["findings"]] == [("EVT001", "app/events.py", 2)]


def test_changed_line_is_a_new_finding(project, capsys):
    assert check("--write-baseline", "baseline.json") == 0
    (project / "app" / "hub.py").write_text(HUB.replace("queue.Queue()", "queue.Queue(maxsize=10)"))
    assert check("--baseline", "baseline.json") == 1


def test_a_second_identical_finding_is_new(tmp_path):
    """The baseline counts: one recorded finding hides one, not every copy of it."""
    (tmp_path / "m.py").write_text("x = f(1)\nx = f(1)\n")
    lines = baselines.SourceLines(tmp_path)
    one, two = (Finding("EVT003", "n", "m", "m.py", Span(line, 5, line, 9), symbol="m.g") for line in (1, 2))
    baselines.write(tmp_path / "b.json", baselines.entries([one], lines))
    recorded = baselines.load(tmp_path / "b.json")
    assert baselines.split([one, two], recorded, lines) == ([two], 1)
    assert baselines.split([two], recorded, lines) == ([], 1)
    other = Finding("EVT003", "n", "m", "m.py", Span(1, 5, 1, 9), symbol="m.h")
    assert baselines.split([other], recorded, lines) == ([other], 0)


def test_fingerprints_do_not_depend_on_the_cwd(project, monkeypatch, capsys):
    assert check("--write-baseline", "baseline.json") == 0
    monkeypatch.chdir(project / "app")
    assert check(".", "--baseline", "../baseline.json") == 0
    monkeypatch.chdir(project.parent)
    assert check(project.name, "--baseline", f"{project.name}/baseline.json") == 0


def test_api_reports_the_hidden_count(project):
    api.check(["."], jobs=1, use_cache=False, write_baseline="b.json")
    result = api.check(["."], jobs=1, use_cache=False, baseline="b.json")
    assert (result.findings, result.baselined) == ([], 1)


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "baseline file not found: baseline.json"),
        ("{", "baseline.json: not a baseline (invalid JSON"),
        ('{"version": 7, "findings": []}', "baseline.json: not an eventlint baseline"),
        ('{"version": 1, "findings": [{"code": "EVT001"}]}', "needs a `fingerprint` string"),
    ],
)
def test_bad_baseline_is_exit_2(project, capsys, content, message):
    if content is not None:
        (project / "baseline.json").write_text(content)
    assert check("--baseline", "baseline.json") == 2
    err = capsys.readouterr().err
    assert err.startswith("eventlint: error: ") and message in err and len(err.splitlines()) == 1
