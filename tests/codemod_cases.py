"""Collects the ``fixtures/codemods/<codemod>/`` cases: ``<case>.before.py`` with its
``<case>.after.py`` (a missing after-file means "left unchanged"), or ``<case>.before/``
and ``<case>.after/`` folders for cases that span files.  A ``# remains: CODE`` comment in
the after-text marks a line whose finding the codemod leaves (and says why)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .fixture_cases import FIXTURES

CODEMODS = FIXTURES / "codemods"
REMAINS = re.compile(r"#\s*remains:\s*([A-Z0-9, ]+)")


@dataclass(frozen=True)
class Case:
    codemod: str
    name: str
    before: Path
    after: Path | None

    def __str__(self) -> str:
        return f"{self.codemod}/{self.name}"

    def files(self, which: Path) -> dict[str, bytes]:
        """Relative path -> content of a case side (a file is called ``case.py``)."""
        if which.is_file():
            return {"case.py": which.read_bytes()}
        return {p.relative_to(which).as_posix(): p.read_bytes() for p in sorted(which.rglob("*.py"))}

    def expected(self) -> dict[str, bytes]:
        return self.files(self.after if self.after is not None else self.before)

    def remaining(self) -> set[tuple[str, int, str]]:
        found = set()
        for rel, content in self.expected().items():
            for number, line in enumerate(content.decode("utf-8").splitlines(), 1):
                match = REMAINS.search(line)
                if match:
                    found.update((rel, number, code) for code in re.findall(r"EVT\d{3}", match.group(1)))
        return found


def cases(codemod: str) -> list[Case]:
    folder = CODEMODS / codemod
    found = []
    for before in sorted(folder.iterdir()):
        name = before.name
        if name.endswith(".before.py"):
            case = name[: -len(".before.py")]
            after = folder / f"{case}.after.py"
        elif name.endswith(".before") and before.is_dir():
            case = name[: -len(".before")]
            after = folder / f"{case}.after"
        else:
            continue
        found.append(Case(codemod, case, before, after if after.exists() else None))
    return found


def install(case: Case, project: Path) -> Path:
    """Copy the before-side into ``project`` (with a pyproject.toml); returns the project."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text("[project]\nname = \"case\"\n", encoding="utf-8")
    for rel, content in case.files(case.before).items():
        target = project / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return project


def contents(project: Path, rels) -> dict[str, bytes]:
    return {rel: (project / rel).read_bytes() for rel in rels}


def reset(project: Path) -> None:
    shutil.rmtree(project)
