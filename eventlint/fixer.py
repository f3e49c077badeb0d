"""Verified, atomic writes for ``eventlint fix``.

Codemods return new text; nothing reaches the disk before it has been checked here:
- the new text parses (libcst), and encodes in the file's own encoding;
- the file is written to a temporary file in its folder and renamed over the original
  (never a half-written file), keeping its permission bits;
- a file that changed on disk since it was read is left alone;
- encoding (BOM or PEP 263 cookie) and newlines are kept: codemods see the decoded text
  with its ``\\r\\n`` intact, and the result is encoded back with the same codec, so every
  byte a fix does not touch stays as it was; a file libcst does not give back byte for
  byte is never rewritten (see ``faithful``);
- the files one codemod changed together (a rename across modules) are written all or
  nothing: every one is staged (a temporary file beside it) before any is replaced, and a
  replacement that fails puts back the ones already replaced, bytes, mode and owner.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import io
import os
import secrets
import shutil
import tempfile
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .codemods import Skipped
from .model import Span, TextEdit, split_lines
from .source import decode


@dataclass(frozen=True, slots=True)
class Original:
    """A file as it was read at the start of the run."""

    rel: str  # relative to the project root
    path: Path
    raw: bytes
    text: str | None  # None when the file can't be decoded (EVT000): never edited
    encoding: str
    size: int


def _encoding(raw: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        return "utf-8"
    return encoding


def read_original(rel: str, path: Path) -> Original:
    raw = path.read_bytes()
    stat = path.stat()
    text, problem = decode(raw)
    encoding = _encoding(raw)
    if problem is None and text is not None:
        try:
            faithful = text.encode(encoding) == raw
        except (UnicodeEncodeError, LookupError):
            faithful = False
        if not faithful:
            text = None  # it would not round-trip byte for byte: never rewrite it
    else:
        text = None
    return Original(rel, path, raw, text, encoding, stat.st_size)


def _parse(text: str) -> tuple[cst.Module | None, str | None]:
    try:
        return cst.parse_module(text), None
    except cst.ParserSyntaxError as error:
        return None, f"line {error.raw_line}: {error.message.splitlines()[0] if error.message else 'syntax error'}"
    except (RecursionError, MemoryError):
        return None, "too deeply nested to parse"


def parse_error(text: str) -> str | None:
    """Why ``text`` does not parse, or None when it does: CPython's own parser (a tenth of
    libcst's cost) says it parses, or else libcst does (syntax newer than this Python)."""
    try:
        ast.parse(text)
        return None
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return _parse(text)[1]


_LINE_ENDS = ("\n", "\r")


def faithful(before: str, after: str, parsed: dict | None = None, rel: str = "") -> tuple[str | None, str | None]:
    """``after`` when a write of it keeps every byte of ``before`` that the fix does not
    touch; otherwise None and the reason.  Codemods print the whole module with libcst,
    so this holds when libcst prints ``before`` back byte for byte (and it is refused
    otherwise), and when ``after`` keeps the final line end ``before`` has.  ``parsed``:
    the codemods' parsed files (``FixRun.parsed``), whose tree of ``rel`` is printed
    when it was parsed from ``before``."""
    from .codemods._cst import parse_module

    entry = parsed.get(rel) if parsed is not None else None
    try:
        again = entry[1].module.code if entry is not None and entry[0] == before else parse_module(before).code
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        again = None
    if again != before:
        return None, "libcst does not print this file back byte for byte, so a fix could change code it does not touch"
    if before.endswith(_LINE_ENDS) and not after.endswith(_LINE_ENDS):
        return None, "the fix would remove the file's final line end"
    return after, None


def changed_on_disk(original: Original) -> bool:
    """Compared by content: a file saved again with the same bytes has not changed."""
    try:
        if original.path.stat().st_size != original.size:
            return True
        return original.path.read_bytes() != original.raw
    except OSError:
        return True


def _reason(error: OSError) -> str:
    return f"cannot write: {error.strerror or error}"


class _Unwritable(Exception):
    """A file of a group can't be staged or replaced; ``reason`` says why."""

    def __init__(self, rel: str, reason: str):
        super().__init__(reason)
        self.rel = rel
        self.reason = reason


@dataclass(slots=True)
class _Staged:
    """One file ready to be replaced: its new bytes in ``temp`` and a second name for the
    original in ``backup`` (a hard link, else a copy), both in the file's own folder."""

    original: Original
    target: Path
    temp: str | None = None
    backup: str | None = None
    replaced: bool = False


def _stage(original: Original, data: bytes) -> _Staged:
    target = Path(os.path.realpath(original.path))  # write through a symlink, keep the link
    staged = _Staged(original, target)
    try:
        if not os.access(target, os.W_OK):
            raise _Unwritable(original.rel, "cannot write: the file is read-only")
        handle, staged.temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                               suffix=".eventlint-tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(target, staged.temp)
        staged.backup = _keep_original(target)
    except OSError as error:
        _discard(staged)
        raise _Unwritable(original.rel, _reason(error)) from None
    except BaseException:
        _discard(staged)
        raise
    return staged


def _keep_original(target: Path) -> str:
    """A second name for ``target`` in its folder, to put it back exactly (bytes, mode,
    owner) if a later file of its group can't be written."""
    backup = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.eventlint-orig")
    try:
        os.link(target, backup)
        return backup
    except OSError:
        pass  # a file system without hard links: a copy keeps bytes, mode and times
    handle, backup = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".eventlint-orig")
    os.close(handle)
    try:
        shutil.copy2(target, backup)
        info = os.stat(target)
        if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
            os.chown(backup, info.st_uid, info.st_gid)
    except BaseException:
        os.unlink(backup)
        raise
    return backup


def _discard(staged: _Staged) -> None:
    """Remove what staging left beside the file (never the file itself)."""
    for name in (staged.temp, staged.backup):
        if name is not None and os.path.lexists(name):
            try:
                os.unlink(name)
            except OSError:
                pass
    staged.temp = staged.backup = None


def write_together(items: list[tuple[Original, bytes]]) -> tuple[list[str], _Unwritable | None, list[str]]:
    """Write every file of ``items`` or none: (written, the failure, files that could not
    be put back).  All are staged first (a folder or file that can't be written fails
    here, before anything changed); a file changed on disk since it was read fails the
    group; a replacement that fails puts back the ones already replaced."""
    staged: list[_Staged] = []
    try:
        for original, data in items:
            staged.append(_stage(original, data))
        for item in staged:
            if changed_on_disk(item.original):
                raise _Unwritable(item.original.rel, "changed on disk since it was read; left unchanged")
        for item in staged:
            try:
                os.replace(item.temp, item.target)
            except OSError as error:
                raise _Unwritable(item.original.rel, _reason(error)) from None
            item.temp = None
            item.replaced = True
    except _Unwritable as failure:
        not_restored = _roll_back(staged)
        for item in staged:
            if item.original.rel not in not_restored:
                _discard(item)
        return [], failure, not_restored
    except BaseException:  # interrupted between two replacements: leave no half of the fix
        not_restored = _roll_back(staged)
        for item in staged:
            if item.original.rel not in not_restored:
                _discard(item)
        raise
    for item in staged:
        _discard(item)
    return [item.original.rel for item in staged], None, []


def _roll_back(staged: list[_Staged]) -> list[str]:
    """Put back the originals of the files already replaced; those that could not be."""
    failed = []
    for item in reversed(staged):
        if not item.replaced:
            continue
        try:
            os.replace(item.backup, item.target)
            item.backup = None
            item.replaced = False
        except OSError:
            failed.append(item.original.rel)
    return failed


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What ``Workspace.write`` did.  ``skipped``: left unchanged on purpose (the file, or
    one its fix also edits, changed on disk meanwhile); ``errors``: could not be written,
    and nothing of the files edited together with them was."""

    written: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Skipped] = field(default_factory=list)


class Workspace:
    """The files of one ``fix`` run: what was read, and the text the codemods made of it."""

    def __init__(self, files: Iterable[tuple[str, Path]]):
        self.originals: dict[str, Original] = {}
        self.unreadable: list[Skipped] = []
        for rel, path in files:
            try:
                self.originals[rel] = read_original(rel, path)
            except OSError as error:
                self.unreadable.append(Skipped(rel, 0, f"cannot read: {error.strerror or error}"))
        self.current: dict[str, str] = {}
        self._group: dict[str, str] = {}  # union-find: files one codemod changed together

    def fork(self) -> Workspace:
        """A copy whose proposals leave this workspace as it is (a trial run)."""
        copy = Workspace(())
        copy.originals = self.originals
        copy.unreadable = list(self.unreadable)
        copy.current = dict(self.current)
        copy._group = dict(self._group)
        return copy

    # ---- what codemods see -------------------------------------------------------------

    def read(self, rel: str) -> str:
        if rel in self.current:
            return self.current[rel]
        original = self.originals.get(rel)
        if original is None or original.text is None:
            raise KeyError(f"{rel} is not an analysed, decodable file")
        return original.text

    def contents(self) -> dict[str, bytes]:
        """Every file's current bytes, for analysing the edited text before it is written."""
        out = {rel: o.raw for rel, o in self.originals.items()}
        for rel, text in self.current.items():
            out[rel] = text.encode(self.originals[rel].encoding)
        return out

    # ---- proposals ---------------------------------------------------------------------

    def propose(self, changes: dict[str, str], author: str, *, independent: bool = False,
                parsed: dict | None = None) -> list[Skipped]:
        """Take a codemod's changes, all or none: one file that does not parse, can't be
        encoded, would change bytes the fix does not touch or isn't an analysed file
        refuses the whole result (its edits may depend on each other, e.g. a rename across
        files).  ``independent``: each file's edit stands alone, so a file that can't be
        written later holds back only itself.  ``parsed``: the files the codemod parsed
        (``FixRun.parsed``), not parsed again."""
        refused: list[Skipped] = []
        accepted: dict[str, str] = {}
        for rel, text in sorted(changes.items()):
            original = self.originals.get(rel)
            if original is None or original.text is None:
                refused.append(Skipped(rel, 0, f"{author} edited a file that was not analysed; nothing written"))
                continue
            before = self.read(rel)
            if text == before:
                continue
            error = parse_error(text)
            if error is not None:
                refused.append(Skipped(rel, 0, f"{author} produced code that does not parse ({error}); "
                                               f"its changes were not applied"))
                continue
            text, problem = faithful(before, text, parsed, rel)
            if problem is not None:
                refused.append(Skipped(rel, 0, f"{problem}; {author}'s changes were not applied"))
                continue
            if text == before:
                continue  # only what libcst's printing had lost
            try:
                text.encode(original.encoding)
            except UnicodeEncodeError as problem:
                refused.append(Skipped(rel, 0, f"{author} produced text that can't be encoded as "
                                               f"{original.encoding} ({problem.reason}); its changes were not applied"))
                continue
            accepted[rel] = text
        if refused:
            return refused
        for rel, text in accepted.items():
            if text == self.originals[rel].text:
                self.current.pop(rel, None)
            else:
                self.current[rel] = text
        names = list(accepted)
        for other in names[1:] if not independent else ():
            self._union(names[0], other)
        return []

    def _find(self, rel: str) -> str:
        while self._group.get(rel, rel) != rel:
            rel = self._group[rel]
        return rel

    def _union(self, a: str, b: str) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            self._group[root_b] = root_a

    def changed(self) -> list[str]:
        return sorted(rel for rel, text in self.current.items() if text != self.originals[rel].text)

    def new_bytes(self, rel: str) -> bytes:
        return self.current[rel].encode(self.originals[rel].encoding)

    # ---- output ------------------------------------------------------------------------

    def diff(self, display: Callable[[str], str]) -> str:
        """A unified diff of every changed file, ``a/`` and ``b/`` paths as shown, that
        ``git apply`` and ``patch`` take."""
        chunks = []
        for rel in self.changed():
            shown = display(rel)
            before = self.originals[rel].text or ""
            lines = difflib.unified_diff(_patch_lines(before), _patch_lines(self.current[rel]),
                                         f"a/{shown}", f"b/{shown}")
            for line in lines:
                chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(chunks)

    def write(self) -> WriteOutcome:
        """Write every changed file, the files one codemod edited together all or none.
        A group with a file changed on disk since it was read is left unchanged (skipped);
        a group with a file that can't be written is left unchanged too (an error)."""
        groups: dict[str, list[str]] = {}
        for rel in self.changed():
            groups.setdefault(self._find(rel), []).append(rel)
        outcome = WriteOutcome()
        for members in groups.values():
            stale = [rel for rel in members if changed_on_disk(self.originals[rel])]
            if stale:
                self._hold_back(members, stale[0], "changed on disk since it was read; left unchanged",
                                "changed on disk", outcome.skipped)
                continue
            written, failure, not_restored = write_together([(self.originals[rel], self.new_bytes(rel))
                                                             for rel in members])
            outcome.written.extend(written)
            if failure is None:
                continue
            into = outcome.skipped if failure.reason.startswith("changed on disk") else outcome.errors
            why = "changed on disk" if into is outcome.skipped else "cannot be written"
            self._hold_back(members, failure.rel, failure.reason, why, into)
            for rel in not_restored:
                outcome.errors.append(Skipped(rel, 0, "was rewritten and could not be put back after another file of "
                                                      "its fix failed; its original is kept beside it as "
                                                      f".{Path(rel).name}.*.eventlint-orig"))
        return outcome

    def _hold_back(self, members: list[str], culprit: str, reason: str, why: str, into: list[Skipped]) -> None:
        into.append(Skipped(culprit, 0, reason))
        for rel in members:
            if rel != culprit:
                into.append(Skipped(rel, 0, f"left unchanged: its fix also edits {culprit}, which {why}"))


def _patch_lines(text: str) -> list[str]:
    """Lines for a patch: Python's lines (``split_lines``), joined where a lone ``\\r``
    ends one, since patch tools break lines at ``\\n`` only."""
    out: list[str] = []
    pending = ""
    for line in split_lines(text, keepends=True):
        pending += line
        if line.endswith("\n"):
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    return out


def text_edits(path: str, old: str, new: str) -> list[TextEdit]:
    """The replacements that turn ``old`` into ``new``, each as small as the changed
    characters: changed line groups, then trimmed of what they begin and end with alike.
    Spans are 1-based, columns in code points, the end exclusive (as ``Finding.span``)."""
    old_lines, new_lines = split_lines(old, keepends=True), split_lines(new, keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    lines_before = len(old_lines)

    def position(offset: int) -> tuple[int, int]:
        number = bisect.bisect_right(starts, offset) - 1
        if number >= lines_before and lines_before and not old.endswith(("\n", "\r")):
            number = lines_before - 1  # the end of a last line without a newline
        return number + 1, offset - starts[number] + 1

    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before, after = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        head = len(os.path.commonprefix([before, after]))
        tail = len(os.path.commonprefix([before[head:][::-1], after[head:][::-1]]))
        start, end = starts[i1] + head, starts[i1] + len(before) - tail
        (line, column), (end_line, end_column) = position(start), position(end)
        edits.append(TextEdit(path, Span(line, column, end_line, end_column), after[head:len(after) - tail]))
    return edits
