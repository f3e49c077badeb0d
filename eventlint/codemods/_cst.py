"""libcst helpers the codemods share: the base of their per-file commands, the span of a
node, add an argument the way the call is already formatted, add an import where a person
would put it."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst
import libcst.matchers as m
from libcst.codemod import Codemod, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.helpers import get_full_name_for_node
from libcst.metadata import CodeRange, MetadataWrapper

from ..model import Span


def parse_module(text: str) -> cst.Module:
    """``cst.parse_module`` that prints ``text`` back byte for byte: libcst 1.9 notices a
    final line end only at ``\n``, so a file whose lines end in a lone ``\r`` would lose its
    last one."""
    module = cst.parse_module(text)
    if text.endswith("\r") and not module.has_trailing_newline:
        module = module.with_changes(has_trailing_newline=True)
    return module


def parse(text: str) -> MetadataWrapper:
    return MetadataWrapper(parse_module(text), unsafe_skip_copy=True)


def span_of(where: CodeRange) -> Span:
    """A libcst position as a finding's span (1-based columns)."""
    return Span(where.start.line, where.start.column + 1, where.end.line, where.end.column + 1)


class Command(VisitorBasedCodemodCommand):
    """A per-file rewrite.  As with any ``CodemodCommand``, the imports asked for with
    ``add_needed_import`` are added after the transform (unless the file has them), except
    that a plain ``import x`` goes where ``add_import`` puts it: libcst's own
    ``AddImportsVisitor`` appends it after the file's last import.  The imports scheduled
    with ``RemoveImportsVisitor.remove_unused_import`` go next, when nothing uses them
    (by ``REMOVER``, a ``RemoveImportsVisitor``)."""

    REMOVER: type[RemoveImportsVisitor] = RemoveImportsVisitor

    def transform_module(self, tree: cst.Module) -> cst.Module:
        tree = self.rewrite(tree)
        if AddImportsVisitor.CONTEXT_KEY in self.context.scratch:
            tree = PlacedImportsVisitor(self.context).transform_module(tree)
        if RemoveImportsVisitor.CONTEXT_KEY in self.context.scratch:
            tree = self.REMOVER(self.context).transform_module(tree)
        return tree

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """The command's own pass (libcst's, with the metadata it declares)."""
        return Codemod.transform_module(self, tree)


class PlacedImportsVisitor(AddImportsVisitor):
    """``AddImportsVisitor`` (which skips what the file already imports) that places each
    plain ``import x`` with ``add_import``, in the order they were asked for."""

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        placed = []
        for item in AddImportsVisitor._get_imports_from_context(self.context):
            if item.module in self.module_imports and item.module not in placed:
                placed.append(item.module)
        self.module_imports = set()
        updated_node = super().leave_Module(original_node, updated_node)
        for name in placed:
            updated_node = add_import(updated_node, name)
        return updated_node


_BROKEN = m.ParenthesizedWhitespace()  # whitespace that breaks the line
_COMMA = m.Comma()


def is_none(node: cst.BaseExpression) -> bool:
    return m.matches(node, m.Name("None"))


def _without_comment(whitespace: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    if m.matches(whitespace, _BROKEN):
        return whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return whitespace


def _separator(call: cst.Call) -> cst.Comma:
    """The comma and whitespace the call already puts between its arguments."""
    args = call.args
    if len(args) >= 2 and m.matches(args[-2].comma, _COMMA):
        comma = args[-2].comma
        return comma.with_changes(whitespace_after=_without_comment(comma.whitespace_after))
    if m.matches(call.whitespace_before_args, _BROKEN):
        return cst.Comma(whitespace_after=_without_comment(call.whitespace_before_args))
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def append_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``f(a, b)`` → ``f(a, b, new)``, keeping one-line, hanging and trailing-comma layouts."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[arg])
    last = args[-1]
    separator = _separator(call)
    trailing = last.comma
    if m.matches(trailing, m.Comma(whitespace_after=_BROKEN)) and m.matches(separator.whitespace_after, _BROKEN):
        # one argument per line and a trailing comma: the last argument keeps its own
        # comment; the new one takes the line break before the closing parenthesis
        closing = trailing.whitespace_after
        args[-1] = last.with_changes(comma=trailing.with_changes(
            whitespace_after=closing.with_changes(indent=separator.whitespace_after.indent,
                                                  last_line=separator.whitespace_after.last_line)))
        new = arg.with_changes(comma=cst.Comma(whitespace_after=closing.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=[])))
    elif m.matches(trailing, _COMMA):
        args[-1] = last.with_changes(comma=separator)
        new = arg.with_changes(comma=trailing)
    else:
        args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
        new = arg.with_changes(whitespace_after_arg=last.whitespace_after_arg)
    return call.with_changes(args=[*args, new])


def keyword_arg(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))


def _top_imports(module: cst.Module) -> Iterator[tuple[int, cst.SimpleStatementLine, cst.BaseSmallStatement]]:
    for index, statement in enumerate(module.body):
        if m.matches(statement, m.SimpleStatementLine()):
            for small in statement.body:
                if m.matches(small, _IMPORT):
                    yield index, statement, small


_IMPORT = m.Import() | m.ImportFrom()


def _dotted(node: cst.BaseExpression | None) -> str:
    """``a.b.c`` for a name or attribute chain, else ""."""
    return get_full_name_for_node(node) or "" if m.matches(node, m.Name() | m.Attribute()) else ""


def module_alias(module: cst.Module, name: str) -> str | None:
    """The local name a module-level ``import name [as alias]`` binds, if any."""
    for _, _, small in _top_imports(module):
        if m.matches(small, m.Import()):
            for alias in small.names:
                if _dotted(alias.name) == name:
                    if m.matches(alias.asname, m.AsName(name=m.Name())):
                        return alias.asname.name.value
                    return name
    return None


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.Expr(m.SimpleString() | m.ConcatenatedString())]))


def _is_future(statement: cst.BaseStatement) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.ZeroOrMore(), m.ImportFrom(module=m.Name("__future__")),
                                                            m.ZeroOrMore()]))


def _is_import(statement: cst.BaseStatement) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.ZeroOrMore(_IMPORT)]))


def _insert_before(body: list, index: int, line: cst.SimpleStatementLine) -> None:
    """The new line takes the blank lines and comments above its neighbour."""
    target = body[index]
    body[index] = target.with_changes(leading_lines=[])
    body.insert(index, line.with_changes(leading_lines=target.leading_lines))


def add_import(module: cst.Module, name: str) -> cst.Module:
    """Add ``import name`` at module level where a person would: in the section of
    imports (a run of import lines between blank lines) that already imports from the
    same package, else the first one; among its plain ``import x`` lines in alphabetical
    order, else at its top.  With no imports, after the docstring and ``__future__``."""
    line = cst.SimpleStatementLine(body=[cst.Import(names=[cst.ImportAlias(name=cst.parse_expression(name))])])
    body = list(module.body)
    start = 1 if body and _is_docstring(body[0]) else 0
    while start < len(body) and _is_future(body[start]):
        start += 1
    sections: list[list[int]] = []
    for index in range(start, len(body)):
        if not _is_import(body[index]) or _is_future(body[index]):
            if sections:
                break
            continue
        if not sections or body[index].leading_lines or index != sections[-1][-1] + 1:
            sections.append([])
        sections[-1].append(index)
    if not sections:
        following = body[start] if start < len(body) else None
        if start > 0:
            line = line.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        body.insert(start, line)
        if following is not None and not following.leading_lines:
            body[start + 1] = following.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        return module.with_changes(body=body)
    top = name.split(".")[0]
    section = next((s for s in sections if any(_imports_package(body[i], top) for i in s)), sections[0])
    plain = [i for i in section if m.matches(body[i].body[0], m.Import())]
    for index in plain:
        if _dotted(body[index].body[0].names[0].name) > name:
            _insert_before(body, index, line)
            return module.with_changes(body=body)
    if plain:
        body.insert(plain[-1] + 1, line)
    else:
        _insert_before(body, section[0], line)
    return module.with_changes(body=body)


def _imports_package(statement: cst.SimpleStatementLine, top: str) -> bool:
    small = statement.body[0]
    if m.matches(small, m.ImportFrom()):
        return not small.relative and _dotted(small.module).split(".")[0] == top
    return any(_dotted(alias.name).split(".")[0] == top for alias in small.names)
