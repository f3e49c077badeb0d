"""The one path matcher: gitignore-style patterns, for ``exclude``, ``extend-exclude``,
``per-file-ignores`` and the project's ``.gitignore`` files alike.

Paths are relative to the project root and "/"-separated.  A pattern follows gitignore's
rules (https://git-scm.com/docs/gitignore#_pattern_format), compiled by ``pathspec``:

- a pattern with no ``/`` (a trailing one aside) matches a file or folder name at any
  depth (``migrations``, ``*.py``); any other ``/`` anchors it to the folder it belongs
  to (``legacy/old_bus.py``, ``/setup.py``);
- a trailing ``/`` matches folders only (``build/``);
- ``*`` and ``?`` never match ``/``; ``**`` does (``tests/**``, ``**/gen``, ``a/**/b``);
- matching a folder matches everything inside it;
- in a list, the last pattern that matches decides, and ``!`` re-includes what an earlier
  pattern matched (``*.py`` then ``!keep.py``); ``#`` starts a comment, ``\\`` escapes.

A folder's patterns apply below that folder (a nested ``.gitignore``), and deeper ones
are read after, so they win, as in git.  Paths outside the project root (a file given on
the command line from elsewhere) have no root-relative form: only their name is matched,
by the patterns that are not anchored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pathspec


class PatternError(ValueError):
    """A pattern that can't be compiled; the message names it."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled pattern line."""

    text: str  # as written
    base: str  # the folder it is relative to, root-relative ("" = the project root)
    include: bool  # False for ``!pattern``: a later match that re-includes
    directory_only: bool  # ``name/``: matches folders (and so what they hold), never a file
    anchored: bool  # a ``/`` before the end: relative to ``base``, not a name at any depth
    compiled: pathspec.RegexPattern

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether the pattern matches ``rel`` itself; a folder above it is the caller's
        question, as in git, where what an ignored folder holds is never looked at."""
        if self.directory_only and not is_dir:
            return False
        if self.base:
            if not rel.startswith(self.base + "/"):
                return False
            rel = rel[len(self.base) + 1:]
        # pathspec's regexes also match what a matched folder holds: that part starts at
        # their folder-mark group, so a match with the mark matched a folder above ``rel``.
        found = self.compiled.regex.search(rel)
        return found is not None and found.groupdict().get(_FOLDER_MARK) is None


_FOLDER_MARK = "ps_d"


def compile_rules(lines: Iterable[str], base: str = "", *, strict: bool = True) -> tuple[Rule, ...]:
    """The rules of ``lines`` (blank lines and comments give none), relative to the
    root-relative folder ``base``.  A line that can't be compiled raises ``PatternError``
    when ``strict`` (a setting), and is skipped otherwise (a ``.gitignore``, as git does)."""
    lines = list(lines)
    if not any(line.strip() and not line.startswith("#") for line in lines):
        return ()  # blank lines and comments: no rules, and no import of pathspec (~60 ms)
    import pathspec

    rules = []
    for line in lines:
        try:
            compiled = pathspec.GitIgnoreSpec.from_lines([line]).patterns if line else []
        except (ValueError, re.error) as error:
            if strict:
                reason = f" ({error.msg})" if isinstance(error, re.error) else ""
                raise PatternError(f"{line!r} is not a valid pattern{reason}") from None
            continue
        if not compiled or compiled[0].include is None:
            continue
        negated = line.startswith("!")
        body = _unescaped_end(line[1:] if negated else line)
        directory_only = body.endswith("/")
        if directory_only:
            # `name/` matches the folders that `name` matches: compiled without the slash,
            # since pathspec would also let it match every path holding a "/"
            compiled = pathspec.GitIgnoreSpec.from_lines(["!" * negated + body[:-1]]).patterns
            if not compiled or compiled[0].include is None:
                continue
        rules.append(Rule(line, base, compiled[0].include, directory_only,
                          "/" in body.rstrip("/").removeprefix("**/"), compiled[0]))
    return tuple(rules)


def _unescaped_end(body: str) -> str:
    """``body`` without the trailing spaces gitignore drops (a ``\\ `` keeps its space)."""
    stripped = body.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(body):
        return stripped + " "
    return stripped


@dataclass(frozen=True, slots=True)
class PathMatcher:
    """An ordered list of rules; the last one that matches a path decides."""

    rules: tuple[Rule, ...] = ()
    # per base folder, one regex that any rule's match implies (None: none could be built);
    # a path none of them matches is decided in one search instead of one per rule
    screens: tuple[tuple[str, bool, re.Pattern | None], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "screens", _screens(self.rules))

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> "PathMatcher":
        """Settings' patterns, relative to the project root; a bad one raises ``PatternError``."""
        return cls(compile_rules(patterns))

    def extended(self, rules: tuple[Rule, ...]) -> "PathMatcher":
        """This matcher with ``rules`` after its own (so they win)."""
        return PathMatcher(self.rules + rules) if rules else self

    def decides(self, rel: str, *, is_dir: bool = False) -> bool:
        """Whether ``rel`` itself (root-relative, "/"-separated; a folder when ``is_dir``)
        is matched, the folders above it being not: a walk that skips matched folders
        asks this of each path it meets."""
        if not self.rules:
            return False
        outside = _outside(rel)
        if not outside and not any(_may_match(rel, *screen) for screen in self.screens):
            return False
        if outside:
            rel = rel.rstrip("/").rsplit("/", 1)[-1]
        for rule in reversed(self.rules):
            if outside and (rule.anchored or rule.base):
                continue
            if rule.matches(rel, is_dir):
                return rule.include
        return False

    def matches(self, rel: str, *, is_dir: bool = False) -> bool:
        """Whether ``rel`` is matched, itself or through a folder above it: what a walk
        from the root that skips matched folders would skip."""
        if not self.rules:
            return False
        if not _outside(rel):
            parts = rel.split("/")
            for end in range(1, len(parts)):
                if self.decides("/".join(parts[:end]), is_dir=True):
                    return True
        return self.decides(rel, is_dir=is_dir)


_ANY_FOLDERS = "^(?:.+/)?"
_END = f"(?:(?P<{_FOLDER_MARK}>/)|$)"


def _screens(rules: tuple[Rule, ...]) -> tuple[tuple[str, bool, re.Pattern | None], ...]:
    """Per base folder, one regex for the names (the patterns without a ``/``, whose self
    match is a match of the path's last name) and one for the rest of its rules."""
    by_base: dict[tuple[str, bool], list[str]] = {}
    for rule in rules:
        text = rule.compiled.regex.pattern
        core = text[len(_ANY_FOLDERS):-len(_END)]
        # a core that can't match a "/" (its `*` and `?` are "[^/]") only matches a name
        bare = re.sub(r"\\.", "", core).replace("[^/]", "")
        if text.startswith(_ANY_FOLDERS) and text.endswith(_END) and not any(c in bare for c in ("/", ".", "[^")):
            by_base.setdefault((rule.base, True), []).append(core)
        else:
            # the folder mark is a named group, which one regex may hold once only
            by_base.setdefault((rule.base, False), []).append(text.replace(f"(?P<{_FOLDER_MARK}>", "(?:"))
    screens = []
    for (base, names), texts in by_base.items():
        try:
            screens.append((base, names, re.compile("|".join(f"(?:{text})" for text in texts))))
        except re.error:
            screens.append((base, names, None))
    return tuple(screens)


def _may_match(rel: str, base: str, names: bool, screen: re.Pattern | None) -> bool:
    """False when no rule of ``screen`` can match ``rel`` itself."""
    if screen is None:
        return True
    if base:
        if not rel.startswith(base + "/"):
            return False
        rel = rel[len(base) + 1:]
    if names:
        return screen.fullmatch(rel.rpartition("/")[2]) is not None
    return screen.search(rel) is not None


def _outside(rel: str) -> bool:
    return rel.startswith(("/", "../")) or rel == ".." or re.match(r"[A-Za-z]:/", rel) is not None


@functools.lru_cache(maxsize=1024)
def _single(pattern: str) -> PathMatcher:
    return PathMatcher.from_patterns([pattern])


def matches_pattern(rel: str, pattern: str) -> bool:
    """Whether the file ``rel`` is matched by one ``per-file-ignores`` pattern.  A pattern
    alone that starts with ``!`` matches the files the rest does not match (as ruff's
    negated ``per-file-ignores``), since in gitignore it would match nothing."""
    if pattern.startswith("!"):
        return not _single(pattern[1:]).matches(rel)
    return _single(pattern).matches(rel)
