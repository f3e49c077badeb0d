"""``add-timeouts``: give the blocking calls EVT003 found a deadline.

- A call that takes a timeout gets it by keyword (``requests.post(url, timeout=10.0)``);
  an explicit ``timeout=None`` is replaced.
- A client whose timeout is set where it is created (``redis.Redis(socket_timeout=)``)
  gets it there, when that call is in the same file.
- An awaited operation that takes no timeout is wrapped:
  ``await q.get()`` → ``await asyncio.wait_for(q.get(), timeout=10.0)``.

Whether a site's fix is safe comes from its catalogue entry; unsafe sites are only
changed with ``--unsafe-fixes``.  Sites with no timeout to give are reported with why.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from ..model import CallFact, Finding, Span
from . import CodemodContext, CodemodResult, Skipped
from ._cst import add_import, append_arg, is_none, keyword_arg, module_alias, nodes_at

CODE = "EVT003"


@dataclass(frozen=True, slots=True)
class _Site:
    span: Span
    action: str  # "keyword" | "positional" | "wrap"
    keyword: str | None = None
    position: int | None = None
    # aiohttp documents its ``timeout=`` as an ``aiohttp.ClientTimeout``, not a number
    client_timeout: bool = False


class AddTimeouts:
    name = "add-timeouts"
    description = "Pass a timeout to blocking calls in handlers (EVT003); wrap untimed awaits in asyncio.wait_for."
    safety = "mixed"
    independent_files = True  # each file's edits stand alone (no rename across files)

    def run(self, context: CodemodContext) -> CodemodResult:
        result = CodemodResult()
        graph = context.graph
        calls = graph.call_graph(context.config.max_default_timeout)
        index: dict[tuple[str, Span], CallFact] = {}
        for facts in graph.files:
            for call in facts.calls:
                index[(facts.path, call.span)] = call
        sites: dict[str, dict[Span, _Site]] = {}
        for finding in context.findings:
            if finding.code != CODE:
                continue
            call = index.get((finding.path, finding.span))
            if call is None:
                result.skipped.append(Skipped(finding.path, finding.span.line, "the call was not found in the analysis"))
                continue
            fn = graph.functions.get(call.caller)
            blocking = calls.blocking(call, bool(fn and fn.is_async))
            if blocking is None:
                continue
            site, reason = self._site(graph, calls, finding, call, blocking)
            if site is None:
                result.skipped.append(Skipped(finding.path, finding.span.line, reason))
                continue
            if blocking.fix == "unsafe" and not context.unsafe:
                continue  # an unsafe fix: counted by the caller as needing --unsafe-fixes
            sites.setdefault(finding.path, {}).setdefault(site.span, site)
        literal = repr(float(context.timeout))
        for path, by_position in sorted(sites.items()):
            text = context.read(path)
            new_text, problems = _rewrite(context.parse(path), by_position, literal)
            result.skipped.extend(Skipped(path, line, reason) for line, reason in problems)
            if new_text != text:
                result.changes[path] = new_text
        return result

    @staticmethod
    def _site(graph, calls, finding: Finding, call: CallFact, blocking) -> tuple[_Site | None, str]:
        what = f"`{blocking.api}()`"
        if blocking.constructor is not None and blocking.constructor_timeout is not None:
            spec = blocking.constructor_timeout
            where = blocking.constructor.span
            return _Site(where, "keyword" if spec.keyword else "positional", spec.keyword, spec.position), ""
        if not blocking.fix:
            return None, _no_fix_reason(graph, calls, call, blocking, what)
        if blocking.timeout is None:
            receiver = graph.resolve_channel(call.callee[:-1]) if len(call.callee) > 1 else None
            channel = graph.channels.get(receiver.name) if receiver is not None else None
            if channel is not None and channel.api.family in ("trio", "anyio"):
                return None, (f"{what} is a {channel.api.family} receive: put it in a "
                              f"`with {channel.api.family}.fail_after(...)` block (not done automatically)")
            if not call.awaited:
                return None, f"{what} is not awaited directly; wrap it in asyncio.wait_for by hand"
            return _Site(call.span, "wrap"), ""
        spec = blocking.timeout
        action = "keyword" if spec.keyword else "positional"
        return _Site(call.span, action, spec.keyword, spec.position, blocking.api.startswith("aiohttp.")), ""


def _no_fix_reason(graph, calls, call: CallFact, blocking, what: str) -> str:
    value = graph.resolve(call.callee[:-1]) if len(call.callee) > 1 else None
    if value is not None and value.kind == "api" and value.name.endswith("()"):
        client = graph.catalog.client(value.name[:-2])
        if client is not None and client.constructor_timeout is not None:
            keyword = client.constructor_timeout.keyword or "timeout"
            origin = value.origin
            if origin is not None:
                where = calls.call_path.get(id(origin), "")
                return (f"{what} takes no timeout; the {value.name[:-2]} client is created at "
                        f"{where}:{origin.span.line}: pass {keyword}= there")
            return f"{what} takes no timeout; pass {keyword}= where the {value.name[:-2]} client is created"
    return f"{what}: {blocking.fix_reason}" if blocking.fix_reason else f"{what} takes no timeout"


class _Rewriter(cst.CSTTransformer):
    def __init__(self, targets: dict[int, _Site], literal: str, asyncio_name: str, aiohttp_name: str):
        super().__init__()
        self.targets = targets  # id(original call node) -> site
        self.literal = literal
        self.asyncio_name = asyncio_name
        self.aiohttp_name = aiohttp_name
        self.problems: list[tuple[int, str]] = []
        self.wrapped = False
        self.used_client_timeout = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        site = self.targets.get(id(original_node))
        if site is None:
            return updated_node
        value: cst.BaseExpression = cst.Float(self.literal)
        if site.client_timeout:
            self.used_client_timeout = True
            value = cst.Call(func=cst.Attribute(value=cst.Name(self.aiohttp_name), attr=cst.Name("ClientTimeout")),
                             args=[keyword_arg("total", value)])
        if site.action == "wrap":
            self.wrapped = True
            inner = updated_node.with_changes(lpar=[], rpar=[])
            return cst.Call(
                func=cst.Attribute(value=cst.Name(self.asyncio_name), attr=cst.Name("wait_for")),
                args=[cst.Arg(inner, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                      keyword_arg("timeout", value)],
                lpar=updated_node.lpar, rpar=updated_node.rpar,
            )
        positional = [a for a in updated_node.args if a.keyword is None and not a.star]
        if site.keyword is not None:
            for index, arg in enumerate(updated_node.args):
                if arg.keyword is not None and arg.keyword.value == site.keyword:
                    return _replace_none(updated_node, index, value)
        if site.position is not None and site.position < len(positional):
            index = list(updated_node.args).index(positional[site.position])
            return _replace_none(updated_node, index, value)
        if site.keyword is not None:
            return append_arg(updated_node, keyword_arg(site.keyword, value))
        if site.position == len(positional) and all(a.keyword is None for a in updated_node.args):
            return append_arg(updated_node, cst.Arg(value))
        self.problems.append((site.span.line, "the timeout is positional only and earlier arguments are missing"))
        return updated_node


def _replace_none(call: cst.Call, index: int, value: cst.BaseExpression) -> cst.Call:
    args = list(call.args)
    if is_none(args[index].value):
        args[index] = args[index].with_changes(value=value)
    return call.with_changes(args=args)


def _rewrite(wrapper, sites: dict[Span, _Site], literal: str) -> tuple[str, list[tuple[int, str]]]:
    module = wrapper.module
    calls = nodes_at(wrapper, cst.Call)
    targets, problems = {}, []
    for span, site in sorted(sites.items(), key=lambda item: (item[0].line, item[0].column)):
        node = calls.get((span.line, span.column, span.end_line, span.end_column))
        if node is None:
            problems.append((span.line, "the call is no longer where the analysis found it"))
            continue
        targets[id(node)] = site
    rewriter = _Rewriter(targets, literal, module_alias(module, "asyncio") or "asyncio",
                         module_alias(module, "aiohttp") or "aiohttp")
    updated = module.visit(rewriter)
    if rewriter.wrapped and module_alias(module, "asyncio") is None:
        updated = add_import(updated, "asyncio")
    if rewriter.used_client_timeout and module_alias(module, "aiohttp") is None:
        updated = add_import(updated, "aiohttp")
    return updated.code, problems + rewriter.problems
