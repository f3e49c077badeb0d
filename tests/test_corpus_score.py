"""The corpus scoring (bench/ecosystem/score.py): labels and findings in, recall, precision
and the lists a reviewer reads out.  Pure functions; no network, no corpus."""

import importlib.util
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

ECOSYSTEM = Path(__file__).resolve().parent.parent / "bench" / "ecosystem"


def _load():
    spec = importlib.util.spec_from_file_location("eventlint_corpus_score", ECOSYSTEM / "score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


scoring = _load()

LABELS = """
[[case]]
package = "p"
rule = "EVT001"
path = "p/a.py"
line = 10
expect = "flag"
evidence = "a.py:30 puts from outside"

[[case]]
package = "p"
rule = "EVT001"
path = "p/a.py"
line = 20
expect = "flag"
evidence = "a.py:40 gets from outside"

[[case]]
package = "p"
rule = "EVT001"
path = "p/b.py"
line = 5
expect = "clean"
evidence = "private to the module, __all__ leaves it out"

[[case]]
package = "p"
rule = "EVT001"
path = "p/c.py"
line = 7
debatable = true
evidence = "test helper"

[[case]]
package = "q"
rule = "EVT003"
path = "q/x.py"
line = 3
expect = "flag"
evidence = "package not in the run"
"""


def _findings(*rows):
    return {"p": {"findings": [list(row) for row in rows]}}


def test_recall_precision_and_lists():
    labels = scoring.parse_labels(tomllib.loads(LABELS))
    findings = scoring.parse_findings(_findings(
        ("EVT001", "p/a.py", 10, 9, "hit"),
        ("EVT001", "p/a.py", 10, 20, "same place, counted once"),
        ("EVT001", "p/a.py", 21, 9, "one line off: no match"),
        ("EVT001", "p/b.py", 5, 1, "near miss reported"),
        ("EVT001", "p/c.py", 7, 1, "debatable"),
        ("EVT000", "p/d.py", 1, 1, "not a labelled rule"),
    ))
    scores = scoring.score(labels, findings, {"p"})
    s = scores["EVT001"]
    assert [l.line for l in s.found] == [10]
    assert [l.line for l in s.missed] == [20]
    assert s.recall == 0.5
    assert [f.line for f in s.true_positives] == [10]
    assert [(f.line, l.line) for f, l in s.false_positives] == [(5, 5)]
    assert [f.line for f, _ in s.debatable] == [7]
    assert [f.line for f in s.unjudged] == [21]
    assert s.precision == 0.5          # 1 true of 2 judged; debatable and unjudged left out
    assert s.precision_floor == pytest.approx(1 / 3)  # the unjudged one counted as wrong
    assert s.labels == {"flag": 2, "clean": 1, "debatable": 1}
    # the label of a package outside the run is not a miss
    assert scores["EVT003"].recall is None and scores["EVT003"].missed == []
    text = scoring.report(scores)
    for expected in ("a.py:20", "a.py:21", "near miss reported", "debatable", "unjudged"):
        assert expected in text


def test_all_packages_count_without_a_filter():
    labels = scoring.parse_labels(tomllib.loads(LABELS))
    scores = scoring.score(labels, [], None)
    assert scores["EVT003"].recall == 0.0
    assert scores["EVT001"].precision is None


@pytest.mark.parametrize("case, message", [
    ('package = "p"\nrule = "EVT001"\npath = "a"\nline = 1\nevidence = "e"', "expect"),
    ('package = "p"\nrule = "EVT009"\npath = "a"\nline = 1\nexpect = "flag"\nevidence = "e"', "rule"),
    ('package = "p"\nrule = "EVT001"\npath = "a"\nline = 1\nexpect = "flag"', "evidence"),
])
def test_malformed_labels_are_refused(case, message):
    with pytest.raises(ValueError, match=message):
        scoring.parse_labels(tomllib.loads("[[case]]\n" + case))


def test_two_labels_on_one_place_are_refused():
    case = '[[case]]\npackage = "p"\nrule = "EVT001"\npath = "a"\nline = 1\nexpect = "flag"\nevidence = "e"\n'
    with pytest.raises(ValueError, match="same place"):
        scoring.parse_labels(tomllib.loads(case * 2))


def test_the_shipped_labels_parse():
    labels = scoring.parse_labels(tomllib.loads((ECOSYSTEM / "labels.toml").read_text(encoding="utf-8")))
    assert labels
