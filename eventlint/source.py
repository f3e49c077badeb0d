"""Read one file and turn it into facts, or into the reason it can't be analysed (EVT000).

This is what a pool worker runs.  Nothing here raises for a user's file: decoding and
parsing problems become a ``Problem`` on the file's facts.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize

import libcst as cst

from .catalog import Catalog
from .facts import extract
from .model import FileFacts, Problem, Span, Suppression, split_lines

# libcst's native parser crashes the process on about 2,000 nested brackets, and its
# visitors exceed the recursion limit well before that; files nested this deep are
# reported instead of parsed.
MAX_NESTING = 200
_SUPPRESSION = re.compile(
    r"#\s*(?:eventlint:\s*ignore(?:\[(?P<codes>[A-Z0-9 ,]*)\])?|noqa(?::\s*(?P<noqa>[A-Z0-9 ,]+))?)",
)
_CODE = re.compile(r"[A-Z]+[0-9]+")

# Every libcst node validates itself as it is built (``CSTNode.__post_init__``), which
# costs about a sixth of a parse; nodes the native parser builds from source it accepted
# are valid by construction (libcst's own source says as much), so the facts pass parses
# without it.  Nothing else changes: a test compares the trees both ways.
_VALIDATE = cst.CSTNode.__dict__.get("__post_init__")


def _skip_validation(self) -> None:
    pass


def parse_module(text: str) -> cst.Module:
    """``libcst.parse_module`` without re-validating each node it builds (the parse
    itself, its errors and the tree are libcst's)."""
    if _VALIDATE is None:  # a libcst that validates elsewhere: nothing to skip
        return cst.parse_module(text)
    cst.CSTNode.__post_init__ = _skip_validation
    try:
        return cst.parse_module(text)
    finally:
        cst.CSTNode.__post_init__ = _VALIDATE


def decode(raw: bytes) -> tuple[str | None, Problem | None]:
    """Decode with the BOM or PEP 263 cookie (default UTF-8), as Python would."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as error:
        if "invalid or missing encoding" not in str(error):
            return None, Problem(f"cannot decode: {error}", Span(1, 1, 1, 1))
        encoding = "utf-8"  # undecodable bytes in the first two lines: locate them below
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        return None, Problem(f"cannot decode as {encoding}: invalid byte 0x{raw[error.start]:02x}", Span(line, column, line, column))
    except LookupError:
        return None, Problem(f"unknown encoding {encoding!r}", Span(1, 1, 1, 1))
    except (UnicodeError, ValueError, TypeError) as error:  # a codec that fails in its own way (punycode, idna)
        return None, Problem(f"cannot decode as {encoding}: {error}", Span(1, 1, 1, 1))
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def nesting_problem(text: str) -> Problem | None:
    """Brackets nested deeper than ``MAX_NESTING`` (code only: brackets inside strings and
    comments, such as a terminal escape ``"\\x1b["``, do not count).  Most files have too
    few brackets in all to need the count; the others are tokenized."""
    if text.count("(") + text.count("[") + text.count("{") < MAX_NESTING:
        return None
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.OP or token.string not in _BRACKET_CHARS:
                continue
            if token.string in "([{":
                depth += 1
                if depth > MAX_NESTING:
                    line, column = token.start
                    return Problem(f"too deeply nested for the parser (more than {MAX_NESTING} brackets)",
                                   Span(line, column + 1, line, column + 1))
            elif depth:
                depth -= 1
    except SyntaxError as error:  # Python 3.12+ tokenizes in C, which stops at its own limit
        if "nested" in str(error.msg):
            line, column = error.lineno or 1, error.offset or 1
            return Problem(f"too deeply nested for the parser (more than {MAX_NESTING} brackets)",
                           Span(line, column, line, column))
        return None
    except (tokenize.TokenError, ValueError):
        return None  # not valid Python: the parser says where
    return None


_BRACKET_CHARS = frozenset("()[]{}")


def suppressions(text: str) -> tuple[Suppression, ...]:
    found = []
    if "#" not in text:
        return ()
    for number, line in enumerate(split_lines(text), 1):
        if "#" not in line:
            continue
        codes: list[str] = []
        everything = False
        first = None
        # several linters' comments may share a line: ``# noqa: E501  # eventlint: ignore[EVT001]``
        for match in _SUPPRESSION.finditer(line):
            raw_codes = match.group("codes") or match.group("noqa") or ""
            found_codes = _CODE.findall(raw_codes)
            if match.group(0).lstrip("# ").startswith("noqa"):
                if not found_codes:
                    continue  # a bare ``# noqa`` belongs to other linters; it does not silence eventlint
            elif not found_codes:
                everything = True
            codes.extend(found_codes)
            first = match if first is None else first
        if first is None:
            continue
        own_line = line[: first.start()].strip() == ""
        codes_tuple = () if everything else tuple(dict.fromkeys(codes))
        found.append(Suppression(number, codes_tuple, (number, number + 1) if own_line else (number,)))
    return tuple(found)


def _ast_precheck(text: str) -> tuple[ast.Module | None, Problem | None]:
    """The stdlib ``ast`` tree of ``text`` (None when ast rejects it, say for syntax newer
    than this Python: libcst decides then), or the reason it is too deep for any parser.
    ast is a tenth of libcst's cost and its tree gives the facts their positions; where
    CPython's own parser runs out of stack (an 8,000-term ``1 + 1 + ...`` chain),
    libcst takes tens of seconds and then crashes its process."""
    limit = sys.getrecursionlimit()
    try:
        # CPython bounds the depth of the tree it builds by the recursion limit (three
        # levels per unit on 3.11), which workers raise for libcst's sake; at about 2,000
        # levels libcst needs seconds per file, growing steeply with depth
        sys.setrecursionlimit(_AST_RECURSION_LIMIT)
    except RecursionError:
        pass
    try:
        return ast.parse(text), None
    except (RecursionError, MemoryError):
        return None, Problem("too deeply nested or too long an expression for the parser", Span(1, 1, 1, 1))
    except (SyntaxError, ValueError, OverflowError):
        return None, None
    finally:
        sys.setrecursionlimit(limit)


_AST_RECURSION_LIMIT = 700


_AT = re.compile(r"error at (\d+):(\d+): ")


def syntax_problem(text: str, error: cst.ParserSyntaxError) -> Problem:
    """CPython's own message and position when it rejects the file too (libcst 1.9's
    positions are approximate); libcst's otherwise (syntax newer than this Python)."""
    try:
        compile(text, "<file>", "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as py_error:
        line = py_error.lineno or 1
        column = py_error.offset or 1
        return Problem(f"syntax error: {py_error.msg}", Span(line, column, line, column))
    except (ValueError, RecursionError, MemoryError):
        pass
    message = error.message
    at = _AT.search(message)
    line, column = (int(at.group(1)), int(at.group(2)) + 1) if at else (error.raw_line, error.raw_column + 1)
    message = _AT.sub("", message).replace("parser error: ", "")
    return Problem(f"syntax error: {message}", Span(line, column, line, column))


def analyze_source(raw: bytes, *, path: str, module: str, aliases: tuple[str, ...], is_package: bool,
                   catalog: Catalog, tag_keys: frozenset[str]) -> FileFacts:
    text, problem = decode(raw)
    if problem is not None:
        return FileFacts(path=path, module=module, aliases=aliases, problem=problem)
    ast_tree, problem = _ast_precheck(text)
    if problem is None and ast_tree is None:
        # CPython's tokenizer refuses more than 200 nested brackets (``MAX_NESTING``), so
        # a file ast accepted needs no count of its own; tokenizing in Python cost a
        # quarter of the parse
        problem = nesting_problem(text)
    if problem is not None:
        return FileFacts(path=path, module=module, aliases=aliases, problem=problem)
    try:
        tree = parse_module(text)
    except cst.ParserSyntaxError as error:
        return FileFacts(path=path, module=module, aliases=aliases, problem=syntax_problem(text, error))
    except RecursionError:
        return FileFacts(path=path, module=module, aliases=aliases,
                         problem=Problem("too deeply nested for the parser", Span(1, 1, 1, 1)))
    try:
        facts = extract(tree, path=path, module=module, aliases=aliases, is_package=is_package,
                        catalog=catalog, tag_keys=tag_keys, text=text, ast_tree=ast_tree)
    except RecursionError:
        return FileFacts(path=path, module=module, aliases=aliases,
                         problem=Problem("too deeply nested to analyse", Span(1, 1, 1, 1)))
    sups = suppressions(text)
    if sups:
        facts = _replace(facts, suppressions=sups)
    return facts


def _replace(facts: FileFacts, **changes) -> FileFacts:
    from dataclasses import replace

    return replace(facts, **changes)


def raise_recursion_limit() -> None:
    # libcst visitors recurse once per nesting level; the default 1,000 is too low for
    # large generated files (the stdlib's pydoc_data/topics.py among them).
    if sys.getrecursionlimit() < 10_000:
        sys.setrecursionlimit(10_000)
