"""Accepted findings, recorded so that old ones don't fail CI while new ones do.

A finding's fingerprint is its code, its path relative to the project root, its enclosing
symbol and the text of its line with whitespace collapsed — no line number, so code
inserted above a finding (or a re-indented block) keeps it recorded.  Two findings with
the same fingerprint (one line repeated in one function) are counted: a baseline holding
one hides one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .model import Finding, split_lines

VERSION = 1


class BaselineError(ValueError):
    """The baseline file can't be read or isn't one."""


class SourceLines:
    """Lines of project files, read once each; paths are relative to ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self._lines: dict[str, list[str]] = {}

    def get(self, path: str, line: int) -> str | None:
        lines = self._lines.get(path)
        if lines is None:
            lines = self._lines[path] = self._read(path)
        return lines[line - 1] if 0 < line <= len(lines) else None

    def _read(self, path: str) -> list[str]:
        try:
            raw = (self.root / path).read_bytes()
        except OSError:
            return []
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
            text = raw.decode(encoding, errors="replace")
        except (SyntaxError, LookupError):
            text = raw.decode("utf-8", errors="replace")
        return split_lines(text.lstrip("\ufeff"))


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    code: str
    path: str
    symbol: str


def normalise(text: str) -> str:
    return " ".join(text.split())


def fingerprint(finding: Finding, line_text: str | None) -> str:
    """``finding.path`` must be relative to the project root."""
    key = "\0".join((finding.code, finding.path, finding.symbol, normalise(line_text or "")))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def entries(findings: list[Finding], lines: SourceLines) -> list[Entry]:
    return [Entry(fingerprint(f, lines.get(f.path, f.span.line)), f.code, f.path, f.symbol) for f in findings]


def write(file: Path, recorded: list[Entry]) -> None:
    ordered = sorted(recorded, key=lambda e: (e.path, e.code, e.symbol, e.fingerprint))
    data = {
        "version": VERSION,
        "tool": "eventlint",
        "findings": [{"fingerprint": e.fingerprint, "code": e.code, "path": e.path, "symbol": e.symbol}
                     for e in ordered],
    }
    folder = file.resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".baseline-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(temp, file)
    except OSError as error:
        raise BaselineError(f"cannot write baseline {file}: {error.strerror or error}") from None


def load(file: Path) -> Counter[str]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"cannot read baseline {file}: {error}") from None
    except json.JSONDecodeError as error:
        raise BaselineError(f"{file}: not a baseline (invalid JSON: {error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("findings"), list):
        raise BaselineError(f"{file}: not an eventlint baseline (version {VERSION}; write one with --write-baseline)")
    recorded: Counter[str] = Counter()
    for item in data["findings"]:
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise BaselineError(f"{file}: every entry of `findings` needs a `fingerprint` string")
        recorded[item["fingerprint"]] += 1
    return recorded


def split(findings: list[Finding], recorded: Counter[str], lines: SourceLines) -> tuple[list[Finding], int]:
    """(the findings the baseline doesn't hold, how many it hid)."""
    remaining = Counter(recorded)
    new: list[Finding] = []
    hidden = 0
    for finding, entry in zip(findings, entries(findings, lines)):
        if remaining[entry.fingerprint] > 0:
            remaining[entry.fingerprint] -= 1
            hidden += 1
        else:
            new.append(finding)
    return new, hidden
