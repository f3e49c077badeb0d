"""Collects the ``fixtures/EVTnnn`` cases: a file or a folder, with ``# expect: CODE``
comments on every line that must be flagged."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


def cases(code: str) -> list[Path]:
    folder = FIXTURES / code
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p.suffix == ".py" or p.is_dir()) and not p.name.startswith(("_", ".")))


def expected(case: Path) -> set[tuple[str, int, str]]:
    files = [case] if case.is_file() else sorted(case.rglob("*.py"))
    found = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = EXPECT.search(line)
            if match:
                for code in re.findall(r"EVT\d{3}", match.group(1)):
                    found.add((path.relative_to(FIXTURES).as_posix(), number, code))
    return found
