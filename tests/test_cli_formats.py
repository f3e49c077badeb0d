"""Output formats (text, json, sarif, github) and the options around them: ``--output``,
``--statistics``, ``--exit-zero``."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from eventlint.checks import all_rules
from eventlint.cli import main
from eventlint.model import Finding, Fix, Location, Span, TextEdit
from eventlint.report import github, sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def validate_sarif(log: dict) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "events.py").write_text("import queue\nEVENTS = queue.Queue()\n")
    (tmp_path / "app" / "users.py").write_text("from app.events import EVENTS\n\n\ndef f():\n    EVENTS.put('x')\n")
    (tmp_path / "app" / "broken.py").write_text("def f(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args) -> int:
    return main(["check", "--no-cache", "--jobs", "1", *args])


def test_sarif_is_valid_and_complete(project, capsys):
    assert check("--format", "sarif") == 1
    log = json.loads(capsys.readouterr().out)
    validate_sarif(log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["informationUri"].startswith("https://")) == ("eventlint", True)
    assert [r["id"] for r in driver["rules"]] == [r.code for r in all_rules() if r.check is not None]  # the rules that ran
    evt001 = next(r for r in driver["rules"] if r["id"] == "EVT001")
    assert evt001["name"] == "exposed-raw-queue"
    assert evt001["help"]["markdown"].startswith("# EVT001 exposed-raw-queue\n")
    assert evt001["fullDescription"]["text"].startswith("Finds a raw channel")
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"EVT000", "EVT001"}
    result = results["EVT001"]
    assert result["level"] == "error"
    assert driver["rules"][result["ruleIndex"]]["id"] == "EVT001"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/events.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 23}
    [related] = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "app/users.py"
    assert related["physicalLocation"]["region"]["startLine"] == 5
    assert "puts to it directly" in related["message"]["text"]


def test_sarif_fixes_and_odd_paths_are_valid(tmp_path):
    edit = TextEdit("pkg/my file.py", Span(3, 10, 3, 12), "(timeout=10)")
    finding = Finding(
        "EVT001", "exposed-raw-queue", "a message", "pkg/my file.py", Span(3, 1, 3, 12), symbol="pkg.f",
        related=(Location("/abs/other.py", Span(1, 1, 1, 2), "used here"),),
        fix=Fix("safe", "add a timeout", (edit,)),
    )
    log = json.loads(sarif.render([finding], all_rules(), base=tmp_path))
    validate_sarif(log)
    result = log["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/my%20file.py"
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "file:///abs/other.py"}
    [change] = result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "pkg/my%20file.py"
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 3, "startColumn": 10, "endLine": 3, "endColumn": 12},
        "insertedContent": {"text": "(timeout=10)"},
    }]


def test_sarif_spells_out_each_fix(project, capsys):
    """Each result's fix holds the edits its codemod makes for that finding alone: a
    timeout keyword for EVT003, a rename across files for EVT001."""
    (project / "app" / "broken.py").unlink()
    (project / "app" / "worker.py").write_text(
        "import threading\n\nimport requests\n\n\ndef poll():\n    requests.get('https://example.com/health')\n\n\n"
        "threading.Thread(target=poll).start()\n")
    assert check("--format", "sarif") == 1
    log = json.loads(capsys.readouterr().out)
    validate_sarif(log)
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    [fix] = results["EVT003"]["fixes"]
    assert fix["description"]["text"].endswith("(safe)")
    assert fix["artifactChanges"] == [{
        "artifactLocation": {"uri": "app/worker.py", "uriBaseId": "%SRCROOT%"},
        "replacements": [{"deletedRegion": {"startLine": 7, "startColumn": 46, "endLine": 7, "endColumn": 46},
                          "insertedContent": {"text": ", timeout=10.0"}}],
    }]
    [fix] = results["EVT001"]["fixes"]
    assert fix["description"]["text"].endswith("(unsafe)")
    changed = {change["artifactLocation"]["uri"] for change in fix["artifactChanges"]}
    assert changed == {"app/events.py", "app/users.py"}  # the rename reaches the user of the channel


def test_fix_edits_rebuild_the_codemods_text():
    from eventlint.fixer import text_edits
    from eventlint.model import split_lines

    cases = [
        ("a = q.get()\n", "a = q.get(timeout=1.0)\n"),
        ("x = 1", "x = 1\ny = 2\n"),  # no newline at the end, text added after it
        ("import a\r\nf()\r\n", "import a\r\nimport asyncio\r\nf()\r\n"),
        ("ü = 'é'; q.put(1)\nrest\n", "ü = 'é'; q._put(1)\nrest\n"),
        ("keep\ndrop\nkeep\n", "keep\nkeep\n"),
        ("page\x0cbreak = q.get()\n", "page\x0cbreak = q.get(timeout=1.0)\n"),  # a form feed is no line end
    ]
    for old, new in cases:
        edits = text_edits("m.py", old, new)
        lines = split_lines(old, keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))

        def offset(line, column):
            return starts[line - 1] + column - 1

        rebuilt = old
        for edit in reversed(edits):
            span = edit.span
            rebuilt = (rebuilt[:offset(span.line, span.column)] + edit.replacement
                       + rebuilt[offset(span.end_line, span.end_column):])
        assert rebuilt == new, (old, edits)
    assert text_edits("m.py", "a = q.get()\n", "a = q.get(timeout=1.0)\n")[0].span == Span(1, 11, 1, 11)


def test_sarif_lists_evt900_when_reported(project, capsys):
    (project / "app" / "quiet.py").write_text("x = 1  # eventlint: ignore[EVT001]\n")
    assert check("app/quiet.py", "--format", "sarif", "--report-unused-suppressions") == 1
    log = json.loads(capsys.readouterr().out)
    validate_sarif(log)
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    [result] = log["runs"][0]["results"]
    assert rules[result["ruleIndex"]] == "EVT900"


def test_github_annotations(project, capsys):
    assert check("--format", "github") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("::error file=app/broken.py,line=1,col=7,endLine=1,endColumn=7,"
                        "title=EVT000 unanalyzable-file::cannot analyse this file: syntax error: invalid syntax")
    assert lines[1].startswith("::error file=app/events.py,line=2,col=1,endLine=2,endColumn=23,"
                               "title=EVT001 exposed-raw-queue::module global `EVENTS` is a raw queue.Queue")
    assert len(lines) == 2


def test_github_escaping():
    finding = Finding("EVT001", "exposed-raw-queue", "100% sure:\r\nsecond, line", "dir,x/a:b%.py", Span(1, 2, 3, 4))
    assert github.annotation(finding) == (
        "::error file=dir%2Cx/a%3Ab%25.py,line=1,col=2,endLine=3,endColumn=4,"
        "title=EVT001 exposed-raw-queue::100%25 sure:%0D%0Asecond, line")


def test_output_file_json(project, capsys):
    assert check("--format", "json", "--output", "out/report.json") == 2  # the folder doesn't exist
    assert capsys.readouterr().err.startswith("eventlint: error: cannot write out/report.json: ")
    assert check("--format", "json", "-o", "report.json") == 1
    assert capsys.readouterr().out == ""
    report = json.loads((project / "report.json").read_text())
    assert report["summary"]["by_code"] == {"EVT000": 1, "EVT001": 1}


def test_output_file_text_has_no_colour(project, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert check("--output", "report.txt") == 1
    text = (project / "report.txt").read_text()
    assert "\x1b[" not in text and "app/events.py:2:1: EVT001" in text


def test_statistics(project, capsys):
    (project / "app" / "more.py").write_text("import queue\nA = queue.Queue()\nB = queue.Queue()\n")
    assert check("--statistics") == 1
    out = capsys.readouterr().out.splitlines()
    assert "    1  EVT000  unanalyzable-file" in out
    assert "    3  EVT001  exposed-raw-queue" in out
    assert out[-1] == "Found 4 findings in 4 files checked; 3 fixable with `eventlint fix --unsafe-fixes`."


def test_exit_zero(project, capsys):
    assert check("--exit-zero") == 0
    assert "Found 2 findings" in capsys.readouterr().out
    assert check("--exit-zero", "--format", "sarif") == 0


def test_unknown_format_is_exit_2(project, capsys):
    assert check("--format", "xml") == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err


def test_text_colour_only_on_a_terminal(project, capsys, monkeypatch):
    assert check() == 1
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert check() == 1
    assert "\x1b[31mEVT001\x1b[0m" in capsys.readouterr().out
