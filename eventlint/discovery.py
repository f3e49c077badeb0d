"""Find the Python files to analyse, name their modules, and read them safely.

Only regular files are read, never more than a size limit, and never through a link that
leads out of the project: a repository under review may hold a FIFO, a link to
``/dev/zero`` or a link loop named ``x.py``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .paths import PathMatcher, Rule, compile_rules

SKIPPED_FOLDERS = frozenset({"__pycache__", "build", "dist", "node_modules", "site-packages", "__pypackages__"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # relative to the project root, "/"-separated
    module: str
    aliases: tuple[str, ...]
    is_package: bool
    problem: str | None = None  # why the file won't be read (a link out of the project)


class SourceError(Exception):
    """A file that can't be read as source; the message is the reason (EVT000)."""


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def read_source(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``.  Opened without blocking (a FIFO would
    wait for a writer forever) and checked on the open descriptor, so the file can't be
    swapped for a special one in between; never more than ``limit`` bytes are read."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"not a regular file ({_file_kind(info.st_mode)}): not read")
        if info.st_size > limit:
            raise SourceError(f"larger than max-file-size ({info.st_size:,} > {limit:,} bytes): not read")
        data = read_at_most(fd, limit)
        if data is None:  # it grew after the check
            raise SourceError(f"larger than max-file-size ({limit:,} bytes): not read")
        return data
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)


def read_at_most(fd: int, limit: int) -> bytes | None:
    """What is left to read on ``fd``, or None when that is more than ``limit`` bytes (a
    file that grows while it is read never costs more than ``limit + 1`` bytes)."""
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks) if size <= limit else None


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def shown_name(text: str) -> str:
    """``text`` as printable UTF-8: bytes of a file name that are not UTF-8 (which Python
    keeps as surrogates) become ``\\xNN``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _real(path: Path | str) -> str:
    """The target of ``path`` with every link followed; a loop stops the resolution where
    it is found (``Path.resolve`` raises there on Python < 3.13)."""
    return os.path.realpath(path)


def _inside(real: str, folders: tuple[str, ...]) -> bool:
    return any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def relative_to_root(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def discover(paths: list[Path], root: Path, exclude: tuple[str, ...], *, respect_gitignore: bool = True) -> list[Path]:
    """Every .py file under ``paths`` (files given explicitly are always kept), sorted,
    without duplicates; symlinked folders are followed once, never in a loop and never
    out of the project (the root and the given paths).  Files and folders matched by
    ``exclude`` (gitignore-style patterns, root-relative) or, with ``respect_gitignore``,
    by the project's ``.gitignore`` files are skipped; under a given folder too, as its
    files have the same root-relative paths either way."""
    found: dict[Path, None] = {}
    allowed = _allowed_folders(paths, root)
    excluded = PathMatcher.from_patterns(exclude)
    ignored = _gitignores(root) if respect_gitignore else (lambda rel: PathMatcher())
    for given in paths:
        given = given.absolute()
        if not given.is_dir():
            found[given] = None  # a file, or a special one that reading will report
            continue
        if _skipped_folder(_rel(given, root), excluded, ignored):
            continue
        seen: set[str] = set()
        for folder, subfolders, files in os.walk(given, followlinks=True):
            real = _real(folder)
            if real in seen:
                subfolders[:] = []
                continue
            seen.add(real)
            here = ignored(_rel(Path(folder), root))
            kept = []
            for name in sorted(subfolders):
                child = Path(folder, name)
                rel = relative_to_root(child, root)
                if name.startswith(".") or name in SKIPPED_FOLDERS or excluded.decides(rel, is_dir=True) \
                        or here.decides(rel, is_dir=True):
                    continue
                if child.is_symlink() and not _inside(_real(child), allowed):
                    continue
                if _is_virtualenv(child):
                    continue
                kept.append(name)
            subfolders[:] = kept
            for name in sorted(files):
                if name.endswith(".py"):
                    child = Path(folder, name)
                    rel = relative_to_root(child, root)
                    if not excluded.decides(rel) and not here.decides(rel):
                        found[child] = None
    return sorted(found, key=lambda p: p.as_posix())


def _skipped_folder(rel: str, excluded: PathMatcher, ignored: Callable[[str], PathMatcher]) -> bool:
    """Whether the walk from the root would skip the folder ``rel`` (it or one above it
    matched), so that a folder given on the command line yields what the same folder
    yields in a walk of the whole project."""
    if not rel or _outside_root(rel):
        return False
    parts = rel.split("/")
    for end in range(1, len(parts) + 1):
        folder = "/".join(parts[:end])
        if excluded.decides(folder, is_dir=True) or ignored("/".join(parts[:end - 1])).decides(folder, is_dir=True):
            return True
    return False


def _rel(folder: Path, root: Path) -> str:
    """``folder`` relative to ``root`` ("" for the root itself)."""
    rel = relative_to_root(folder, root)
    return "" if rel == "." else rel


# Larger than any hand-written ignore file (git's own refuses 100 MB ones); compiling a
# pattern costs some microseconds, so the bound keeps a crafted file from costing seconds.
GITIGNORE_LIMIT = 256 * 1024


def _gitignores(root: Path) -> Callable[[str], PathMatcher]:
    """A function from a root-relative folder to the gitignore rules that apply to what it
    holds: ``.git/info/exclude``, then every ``.gitignore`` from the root down to that
    folder (a deeper one is later, so it wins).  Folders outside the root get none."""
    memo: dict[str, PathMatcher] = {"": PathMatcher(_ignore_file(root / ".git" / "info" / "exclude", "")
                                                    + _ignore_file(root / ".gitignore", ""))}

    def rules_for(rel: str) -> PathMatcher:
        if _outside_root(rel):
            return PathMatcher()
        missing = []
        while rel not in memo:
            missing.append(rel)
            rel = rel.rpartition("/")[0]
        matcher = memo[rel]
        for folder in reversed(missing):
            matcher = matcher.extended(_ignore_file(root / folder / ".gitignore", folder))
            memo[folder] = matcher
        return matcher

    return rules_for


def _outside_root(rel: str) -> bool:
    return os.path.isabs(rel) or rel == ".." or rel.startswith("../")


def _ignore_file(path: Path, base: str) -> tuple[Rule, ...]:
    """The rules of an ignore file, read as text: none when it is missing, a link (git
    doesn't follow those either), not a regular file or over ``GITIGNORE_LIMIT``."""
    if os.path.islink(path) or not path.is_file():
        return ()
    try:
        data = read_source(path, GITIGNORE_LIMIT)
    except SourceError:
        return ()
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    return compile_rules((line.removesuffix("\r") for line in text.split("\n")), base, strict=False)


def _allowed_folders(paths: list[Path], root: Path) -> tuple[str, ...]:
    folders = [_real(root)]
    for given in paths:
        real = _real(given.absolute())
        folders.append(real if os.path.isdir(real) else os.path.dirname(real))
    return tuple(dict.fromkeys(folders))


def link_problem(path: Path, allowed: tuple[str, ...]) -> str | None:
    """Why the file at ``path`` is not followed: a link loop, or a link out of the project."""
    real = _real(path)
    if os.path.islink(real):
        return "a symbolic link loop: not followed"
    if not _inside(real, allowed):
        return "a symbolic link to a file outside the project: not followed"
    return None


def module_names(path: Path, root: Path, source_roots: tuple[str, ...]) -> tuple[str, tuple[str, ...], bool]:
    """(module name, other names it is importable as, is a package ``__init__``).

    The name is the path under the first source root holding it; a file inside regular
    packages is also known by its name from the topmost package, so ``from app.hub
    import x`` resolves even when the project root sits above the import root."""
    is_package = path.name == "__init__.py"
    names: list[str] = []
    for source_root in source_roots:
        base = Path(_real(root / source_root)) if source_root != "." else root
        try:
            parts = list(Path(_real(path)).relative_to(base).with_suffix("").parts)
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
    unique = list(dict.fromkeys(shown_name(name) for name in names))
    return unique[0], tuple(unique[1:]), is_package


def source_files(paths: list[Path], root: Path, exclude: tuple[str, ...], source_roots: tuple[str, ...], *,
                 respect_gitignore: bool = True) -> list[SourceFile]:
    existing = tuple(r for r in source_roots if (root / r).is_dir())
    allowed = _allowed_folders(paths, root)
    result = []
    for path in discover(paths, root, exclude, respect_gitignore=respect_gitignore):
        problem = link_problem(path, allowed)
        module, aliases, is_package = module_names(path, root, existing)
        rel = shown_name(relative_to_root(Path(_real(path)) if problem is None else path, root))
        result.append(SourceFile(path, rel, module, aliases, is_package, problem))
    return result
