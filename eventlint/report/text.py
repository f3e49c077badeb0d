"""The default, human format: ``path:line:col: CODE message``, a source excerpt, a summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..baseline import SourceLines
from ..model import Finding


def render(findings: list[Finding], files: int, *, color: bool = False, show_source: bool = True,
           statistics: bool = False, baselined: int = 0) -> str:
    bold = (lambda s: f"\x1b[1m{s}\x1b[0m") if color else (lambda s: s)
    red = (lambda s: f"\x1b[31m{s}\x1b[0m") if color else (lambda s: s)
    dim = (lambda s: f"\x1b[2m{s}\x1b[0m") if color else (lambda s: s)
    out: list[str] = []
    source = SourceLines(Path.cwd())  # finding paths are shown relative to here, or absolute
    for f in findings:
        out.append(f"{bold(f'{f.path}:{f.span.line}:{f.span.column}:')} {red(f.code)} {f.message}")
        if show_source:
            text = source.get(f.path, f.span.line)
            if text is not None and text.strip():
                out.append(f"  {f.span.line:>4} | {text}")
                width = max(1, (f.span.end_column - f.span.column) if f.span.end_line == f.span.line else len(text) - f.span.column + 1)
                out.append(f"       | {' ' * (f.span.column - 1)}{red('^' * min(width, 80))}")
        for r in f.related:
            out.append(dim(f"    {r.path}:{r.span.line}:{r.span.column}: {r.message}"))
        if f.fix is not None:
            out.append(dim(f"    fix ({f.fix.safety}): {f.fix.description}"))
    if statistics and findings:
        counts = Counter((f.code, f.name) for f in findings)
        for (code, name), count in sorted(counts.items()):
            out.append(f"{count:>5}  {code}  {name}")
    noun = "file" if files == 1 else "files"
    hidden = f", {baselined} more in the baseline" if baselined else ""
    if findings:
        out.append(f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''} in {files} {noun} "
                   f"checked{hidden}{fixable(findings)}.")
    else:
        out.append(f"All checks passed ({files} {noun} checked{hidden}).")
    return "\n".join(out) + "\n"


def fixable(findings: list[Finding]) -> str:
    """The summary's tail, as ruff gives it: how many findings carry a safe fix, and how
    many more an unsafe one.  These are the fixes offered; ``fix`` still leaves alone a
    site its codemod can't rewrite faithfully (and says why)."""
    safe = sum(1 for f in findings if f.fix is not None and f.fix.safety == "safe")
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.safety == "unsafe")
    if safe and unsafe:
        return f"; {safe} fixable with `eventlint fix` ({unsafe} more with --unsafe-fixes)"
    if safe:
        return f"; {safe} fixable with `eventlint fix`"
    if unsafe:
        return f"; {unsafe} fixable with `eventlint fix --unsafe-fixes`"
    return ""
