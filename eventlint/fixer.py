"""Verified, atomic writes for ``eventlint fix``.

Codemods return new text; nothing reaches the disk before it has been checked here:
- the new text parses (libcst), and encodes in the file's own encoding;
- the file is written to a temporary file in its folder and renamed over the original
  (never a half-written file), keeping its permission bits;
- a file that changed on disk since it was read is left alone;
- encoding (BOM or PEP 263 cookie) and newlines are kept: codemods see the decoded text
  with its ``\\r\\n`` intact, and the result is encoded back with the same codec, so every
  byte a fix does not touch stays as it was.
"""

from __future__ import annotations

import bisect
import difflib
import io
import os
import re
import shutil
import tempfile
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from .codemods import Skipped
from .model import Span, TextEdit
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


def parse_error(text: str) -> str | None:
    """Why ``text`` does not parse, or None when it does."""
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        return f"line {error.raw_line}: {error.message.splitlines()[0] if error.message else 'syntax error'}"
    except (RecursionError, MemoryError):
        return "too deeply nested to parse"
    return None


def changed_on_disk(original: Original) -> bool:
    """Compared by content: a file saved again with the same bytes has not changed."""
    try:
        if original.path.stat().st_size != original.size:
            return True
        return original.path.read_bytes() != original.raw
    except OSError:
        return True


def atomic_write(original: Original, data: bytes) -> str | None:
    """Write ``data`` over the file; the reason when it was not written."""
    target = Path(os.path.realpath(original.path))  # write through a symlink, keep the link
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".eventlint-tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(target, temp)
        if changed_on_disk(original):
            os.unlink(temp)
            return "changed on disk since it was read; left unchanged"
        os.replace(temp, target)
    except OSError as error:
        if os.path.exists(temp):
            os.unlink(temp)
        return f"cannot write: {error.strerror or error}"
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return None


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

    def propose(self, changes: dict[str, str], author: str, *, independent: bool = False) -> list[Skipped]:
        """Take a codemod's changes, all or none: one file that does not parse, can't be
        encoded or isn't an analysed file refuses the whole result (its edits may depend
        on each other, e.g. a rename across files).  ``independent``: each file's edit
        stands alone, so a file changed on disk later holds back only itself."""
        refused: list[Skipped] = []
        accepted: dict[str, str] = {}
        for rel, text in sorted(changes.items()):
            original = self.originals.get(rel)
            if original is None or original.text is None:
                refused.append(Skipped(rel, 0, f"{author} edited a file that was not analysed; nothing written"))
                continue
            if text == self.read(rel):
                continue
            error = parse_error(text)
            if error is not None:
                refused.append(Skipped(rel, 0, f"{author} produced code that does not parse ({error}); "
                                               f"its changes were not applied"))
                continue
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
        """A unified diff of every changed file, ``a/`` and ``b/`` paths as shown."""
        chunks = []
        for rel in self.changed():
            shown = display(rel)
            before = self.originals[rel].text or ""
            lines = difflib.unified_diff(before.splitlines(keepends=True), self.current[rel].splitlines(keepends=True),
                                         f"a/{shown}", f"b/{shown}")
            for line in lines:
                chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(chunks)

    def write(self) -> tuple[list[str], list[Skipped]]:
        """Write every changed file; returns (written, not written and why).  A file that
        changed on disk since it was read is skipped, and so are the files one codemod
        edited together with it."""
        changed = self.changed()
        stale = {rel for rel in changed if changed_on_disk(self.originals[rel])}
        blocked_groups = {self._find(rel) for rel in stale}
        written, refused = [], []
        for rel in changed:
            if rel in stale:
                refused.append(Skipped(rel, 0, "changed on disk since it was read; left unchanged"))
                continue
            if self._find(rel) in blocked_groups:
                partner = next(r for r in sorted(stale) if self._find(r) == self._find(rel))
                refused.append(Skipped(rel, 0, f"left unchanged: its fix also edits {partner}, which changed on disk"))
                continue
            reason = atomic_write(self.originals[rel], self.new_bytes(rel))
            if reason is None:
                written.append(rel)
            else:
                refused.append(Skipped(rel, 0, reason))
        return written, refused


def text_edits(path: str, old: str, new: str) -> list[TextEdit]:
    """The replacements that turn ``old`` into ``new``, each as small as the changed
    characters: changed line groups, then trimmed of what they begin and end with alike.
    Spans are 1-based, columns in code points, the end exclusive (as ``Finding.span``)."""
    old_lines, new_lines = _lines(old), _lines(new)
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


_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def _lines(text: str) -> list[str]:
    """Lines with their ends, broken only where Python and editors break them (not at
    form feeds or the other characters ``str.splitlines`` also breaks at)."""
    return [line for line in _LINE_END.split(text) if line]

