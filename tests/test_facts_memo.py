"""A long-lived process (the language server) keeps the last run's facts in memory: a run
after one file changed analyses that file alone, reads nothing back from the cache, and
finds what a fresh run finds."""

from __future__ import annotations

from pathlib import Path

from eventlint import api, engine

HUB = "import queue\n\nEVENTS = queue.Queue()\n"
USER = "from hub import EVENTS\n\n\ndef publish(event):\n    EVENTS.put(event)\n"


def _project(root: Path) -> api.Project:
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "hub.py").write_text(HUB)
    (root / "user.py").write_text(USER)
    return api.load_project([str(root)])


def _count_analysed(monkeypatch) -> list[str]:
    """The files the following runs hand to the analysis workers to analyse (not to load)."""
    analysed: list[str] = []
    real = engine._run_pool

    def counting(pending, *args, **kwargs):
        analysed.extend(job.rel for job, _, entry in pending if entry is None)
        return real(pending, *args, **kwargs)

    monkeypatch.setattr(engine, "_run_pool", counting)
    return analysed


def _findings(analysed) -> list[tuple[str, str, int]]:
    return sorted((f.code, f.path, f.span.line) for f in analysed.findings)


def test_a_second_run_takes_every_file_from_memory(tmp_path, monkeypatch):
    project = _project(tmp_path)
    memo: dict = {}
    first = api.analyse_project(project, use_cache=False, memo=memo)
    assert first.cache_hits == 0 and len(memo) == 2
    analysed = _count_analysed(monkeypatch)
    again = api.analyse_project(api.load_project([str(tmp_path)]), use_cache=False, memo=memo)
    assert again.cache_hits == 2 and analysed == []
    assert _findings(again) == _findings(first) == [("EVT001", "hub.py", 3)]


def test_one_changed_file_is_analysed_alone_and_the_memo_forgets_its_old_facts(tmp_path, monkeypatch):
    project = _project(tmp_path)
    memo: dict = {}
    api.analyse_project(project, use_cache=False, memo=memo)
    old_keys = set(memo)
    (tmp_path / "hub.py").write_text("import queue\n\n_EVENTS = queue.Queue()\nEVENTS = None\n")
    analysed = _count_analysed(monkeypatch)
    fresh_project = api.load_project([str(tmp_path)])
    edited = api.analyse_project(fresh_project, use_cache=False, memo=memo)
    assert analysed == ["hub.py"] and edited.cache_hits == 1
    assert len(memo) == 2 and len(set(memo) & old_keys) == 1
    cold = api.analyse_project(fresh_project, use_cache=False)
    assert _findings(edited) == _findings(cold) == []
