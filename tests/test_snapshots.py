"""The full diagnostics of every fixture case, pinned: message, span, symbol, related
locations, call path, fix description, safety and edits, in the JSON and the text format.

Every rule runs on every case (not only the case's own rule), so a change anywhere in the
analysis shows here.  After a deliberate change, regenerate with

    EVENTLINT_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py

and read the diff of ``tests/snapshots/`` before committing it."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from eventlint import api
from eventlint.report import text

from .fixture_cases import FIXTURES, ROOT

SNAPSHOTS = ROOT / "tests" / "snapshots"
UPDATE = os.environ.get("EVENTLINT_UPDATE_SNAPSHOTS") == "1"
GROUPS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name.startswith("EVT")) + ["demo"]


def _cases(group: str) -> list[str]:
    folder = FIXTURES / group
    if group == "demo":
        return ["demo"]
    return [f"{group}/{p.name}" for p in sorted(folder.iterdir())
            if (p.suffix == ".py" or p.is_dir()) and not p.name.startswith(("_", "."))]


def _snapshot(group: str) -> tuple[dict, str]:
    as_json: dict[str, list] = {}
    as_text: list[str] = []
    cwd = os.getcwd()
    os.chdir(FIXTURES)
    try:
        for case in _cases(group):
            result = api.check([case], jobs=1, use_cache=False, report_unused_suppressions=True)
            as_json[case] = [dataclasses.asdict(f) for f in result.findings]
            as_text.append(f"=== {case}\n" + text.render(result.findings, len(result.files)))
    finally:
        os.chdir(cwd)
    return as_json, "\n".join(as_text)


@pytest.mark.parametrize("group", GROUPS)
def test_fixture_diagnostics_are_unchanged(group):
    as_json, as_text = _snapshot(group)
    json_path, text_path = SNAPSHOTS / f"{group}.json", SNAPSHOTS / f"{group}.txt"
    rendered = json.dumps(as_json, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        json_path.write_text(rendered, encoding="utf-8")
        text_path.write_text(as_text, encoding="utf-8")
    assert json_path.exists() and text_path.exists(), "no snapshot: run with EVENTLINT_UPDATE_SNAPSHOTS=1"
    before = json.loads(json_path.read_text(encoding="utf-8"))
    as_json = json.loads(rendered)  # tuples become lists, as in the file
    changed = sorted(case for case in set(before) | set(as_json) if before.get(case) != as_json.get(case))
    assert not changed, f"diagnostics changed for {changed}"
    assert text_path.read_text(encoding="utf-8") == as_text
