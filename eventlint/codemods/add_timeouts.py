"""``add-timeouts``: give the blocking calls EVT003 found a deadline.

- A call that takes a timeout gets it by keyword (``requests.post(url, timeout=10.0)``);
  an explicit ``timeout=None`` is replaced.
- A client whose timeout is set where it is created (``redis.Redis(socket_timeout=)``)
  gets it there, when that call is in the same file.
- An awaited operation that takes no timeout is wrapped:
  ``await q.get()`` → ``await asyncio.wait_for(q.get(), timeout=10.0)``.

What to do at each site is the plan EVT003 made (``PassTimeout``, ``WrapInWaitFor`` or
``NotFixable``); whether it is safe comes from its catalogue entry, and unsafe sites are
only changed with ``--unsafe-fixes``.  Sites with no timeout to give are reported with why.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from ..checks.evt003_untimed_blocking_handler import fix_plans
from ..model import NotFixable, PassTimeout, Span, WrapInWaitFor
from ..syntax import POSITIONED, positions
from . import CodemodResult, FixRun, Skipped
from ._cst import Command, append_arg, is_none, keyword_arg, module_alias

Site = PassTimeout | WrapInWaitFor
_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)


class AddTimeouts:
    name = "add-timeouts"
    description = "Pass a timeout to blocking calls in handlers (EVT003); wrap untimed awaits in asyncio.wait_for."
    safety = "mixed"
    independent_files = True  # each file's edits stand alone (no rename across files)

    def run(self, context: FixRun) -> CodemodResult:
        result = CodemodResult()
        sites: dict[str, dict[Span, Site]] = {}
        for finding, plan in fix_plans(context.graph, context.config, context.findings):
            if isinstance(plan, NotFixable):
                result.skipped.append(Skipped(finding.path, finding.span.line, plan.reason))
                continue
            if plan.safety == "unsafe" and not context.unsafe:
                continue  # an unsafe fix: counted by the caller as needing --unsafe-fixes
            sites.setdefault(finding.path, {}).setdefault(plan.call, plan)
        literal = repr(float(context.timeout))
        for path, by_span in sorted(sites.items()):
            text = context.read(path)
            command = AddTimeoutsCommand(CodemodContext(filename=path), by_span, literal)
            new_text = command.transform_module(context.parse(path).module).code
            result.skipped.extend(Skipped(path, line, reason) for line, reason in command.problems())
            if new_text != text:
                result.changes[path] = new_text
        return result


class AddTimeoutsCommand(Command):
    """Give the calls at the planned spans of one file their timeout."""

    DESCRIPTION = "Pass a timeout to the planned blocking calls; wrap planned awaits in asyncio.wait_for."

    def __init__(self, context: CodemodContext, sites: Mapping[Span, Site], literal: str):
        super().__init__(context)
        self.sites = sites
        self.site_lines = sorted(span.line for span in sites)
        self.spans: dict[cst.Call, Span] = {}
        self.lines: dict[cst.CSTNode, tuple[int, int]] = {}  # statements worth walking only around a site
        self.literal = literal
        self.found: set[Span] = set()
        self.skipped: list[tuple[int, str]] = []  # (line, reason) of sites left as they were
        self.asyncio_name = self.aiohttp_name = ""
        self.needs: set[str] = set()  # modules the new code uses that the file does not import

    def problems(self) -> list[tuple[int, str]]:
        """The planned sites not changed, with why: first those no longer found, by position."""
        missing = sorted((span for span in self.sites if span not in self.found), key=lambda s: (s.line, s.column))
        return [(span.line, "the call is no longer where the analysis found it") for span in missing] + self.skipped

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """One walk over the tree as parsed (libcst's codemod machinery would copy it and
        position every node first), with the positions of calls and statements from
        eventlint's own bookkeeping; a line of simple statements, a function or a class
        that holds no planned call is not walked (a large module with a site or two
        costs a fraction of libcst's way)."""
        for node, ((line, column), (end_line, end_column)) in positions(tree, POSITIONED).items():
            kind = type(node)
            if kind is cst.Call:
                self.spans[node] = Span(line, column + 1, end_line, end_column + 1)
            elif kind is cst.SimpleStatementLine or (kind in _DEFINITIONS and not node.decorators):
                # a ``def`` or ``class``'s range leaves out its decorators: one with
                # decorators is walked, its body's lines are not
                self.lines[node] = (line, end_line)
        return tree.visit(self)

    def on_visit(self, node: cst.CSTNode) -> bool:
        lines = self.lines.get(node)
        if lines is not None:
            at = bisect.bisect_left(self.site_lines, lines[0])
            if at == len(self.site_lines) or self.site_lines[at] > lines[1]:
                return False  # no planned call starts on these lines
        return super().on_visit(node)

    def visit_Module(self, node: cst.Module) -> None:
        self.asyncio_name = module_alias(node, "asyncio") or ""
        self.aiohttp_name = module_alias(node, "aiohttp") or ""

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        for name in ("asyncio", "aiohttp"):
            if name in self.needs:
                self.add_needed_import(name)
        return updated_node

    def _module(self, name: str) -> str:
        """The local name of module ``name``, imported when the file does not yet import it."""
        local = self.asyncio_name if name == "asyncio" else self.aiohttp_name
        if local:
            return local
        self.needs.add(name)
        return name

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        span = self.spans.get(original_node)
        site = self.sites.get(span) if span is not None else None
        if site is None:
            return updated_node
        self.found.add(span)
        value: cst.BaseExpression = cst.Float(self.literal)
        if isinstance(site, PassTimeout) and site.client_timeout:
            client_timeout = cst.Attribute(value=cst.Name(self._module("aiohttp")), attr=cst.Name("ClientTimeout"))
            value = cst.Call(func=client_timeout, args=[keyword_arg("total", value)])
        if isinstance(site, WrapInWaitFor):
            return cst.Call(
                func=cst.Attribute(value=cst.Name(self._module("asyncio")), attr=cst.Name("wait_for")),
                args=[cst.Arg(updated_node.with_changes(lpar=[], rpar=[]),
                              comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                      keyword_arg("timeout", value)],
                lpar=updated_node.lpar, rpar=updated_node.rpar,
            )
        return self._pass(site, updated_node, value)

    def _pass(self, site: PassTimeout, call: cst.Call, value: cst.BaseExpression) -> cst.Call:
        args = list(call.args)
        positional = [a for a in args if m.matches(a, m.Arg(keyword=None, star=""))]
        if site.keyword is not None:
            for index, arg in enumerate(args):
                if m.matches(arg, m.Arg(keyword=m.Name(site.keyword))):
                    return _replace_none(call, index, value)
        if site.position is not None and site.position < len(positional):
            return _replace_none(call, args.index(positional[site.position]), value)
        if site.keyword is not None:
            return append_arg(call, keyword_arg(site.keyword, value))
        if site.position == len(positional) and all(m.matches(a, m.Arg(keyword=None)) for a in args):
            return append_arg(call, cst.Arg(value))
        self.skipped.append((site.call.line, "the timeout is positional only and earlier arguments are missing"))
        return call


def _replace_none(call: cst.Call, index: int, value: cst.BaseExpression) -> cst.Call:
    args = list(call.args)
    if is_none(args[index].value):
        args[index] = args[index].with_changes(value=value)
    return call.with_changes(args=args)
