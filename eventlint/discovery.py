"""Find the Python files to analyse and name their modules."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

SKIPPED_FOLDERS = frozenset({"__pycache__", "build", "dist", "node_modules", "site-packages", "__pypackages__"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # relative to the project root, "/"-separated
    module: str
    aliases: tuple[str, ...]
    is_package: bool


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def _excluded(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, pattern + "/**") \
                or rel.startswith(pattern + "/"):
            return True
    return False


def relative_to_root(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def discover(paths: list[Path], root: Path, exclude: tuple[str, ...]) -> list[Path]:
    """Every .py file under ``paths`` (files given explicitly are always kept), sorted,
    without duplicates; symlinked folders are followed once and never in a loop."""
    found: dict[Path, None] = {}
    for given in paths:
        given = given.absolute()
        if given.is_file():
            found[given] = None
            continue
        seen: set[str] = set()
        for folder, subfolders, files in os.walk(given, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:
                subfolders[:] = []
                continue
            seen.add(real)
            kept = []
            for name in sorted(subfolders):
                child = Path(folder, name)
                rel = relative_to_root(child, root)
                if name.startswith(".") or name in SKIPPED_FOLDERS or _is_virtualenv(child) or _excluded(rel, name, exclude):
                    continue
                kept.append(name)
            subfolders[:] = kept
            for name in sorted(files):
                if name.endswith(".py"):
                    child = Path(folder, name)
                    if not _excluded(relative_to_root(child, root), name, exclude):
                        found[child] = None
    return sorted(found, key=lambda p: p.as_posix())


def module_names(path: Path, root: Path, source_roots: tuple[str, ...]) -> tuple[str, tuple[str, ...], bool]:
    """(module name, other names it is importable as, is a package ``__init__``).

    The name is the path under the first source root holding it; a file inside regular
    packages is also known by its name from the topmost package, so ``from app.hub
    import x`` resolves even when the project root sits above the import root."""
    is_package = path.name == "__init__.py"
    names: list[str] = []
    for source_root in source_roots:
        base = (root / source_root).resolve() if source_root != "." else root
        try:
            parts = list(path.resolve().relative_to(base).with_suffix("").parts)
        except ValueError:
            continue
        if is_package:
            parts = parts[:-1]
        if parts:
            names.append(".".join(parts))
            break
    package_parts = [] if is_package else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder != folder.parent:
        package_parts.insert(0, folder.name)
        folder = folder.parent
    if package_parts:
        names.append(".".join(package_parts))
    if not names:
        names.append(path.stem)
    unique = list(dict.fromkeys(names))
    return unique[0], tuple(unique[1:]), is_package


def source_files(paths: list[Path], root: Path, exclude: tuple[str, ...], source_roots: tuple[str, ...]) -> list[SourceFile]:
    existing = tuple(r for r in source_roots if (root / r).is_dir())
    result = []
    for path in discover(paths, root, exclude):
        module, aliases, is_package = module_names(path, root, existing)
        result.append(SourceFile(path, relative_to_root(path.resolve(), root), module, aliases, is_package))
    return result
