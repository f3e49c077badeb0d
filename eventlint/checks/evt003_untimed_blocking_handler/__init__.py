"""EVT003: a handler reaches, through any chain of calls, a blocking call with no timeout.

The rule's policy lives in this package: ``blocking`` decides what blocks and what bounds
a wait, ``reach`` follows the calls from each handler with EVT003's view of deadlines, and
this module picks the shortest path per blocking call and words the finding and its fix."""

from __future__ import annotations

import weakref
from typing import Iterable, Iterator

from ...callgraph import call_graph
from ...config import Config
from ...graph import EventGraph
from ...model import CallFact, Finding, Fix, Location, NotFixable, ParamKind, PassTimeout, Span, WrapInWaitFor
from .. import Fixable, Rule
from .blocking import BlockingCall, Classifier
from .reach import Paths, Reach

CODE = "EVT003"
NAME = "untimed-blocking-handler"


def _short(graph: EventGraph, qualname: str) -> str:
    return graph.short_name(qualname, graph.path_of.get(qualname, ""))


_CLASSIFIERS: "weakref.WeakKeyDictionary[EventGraph, dict[float, Classifier]]" = weakref.WeakKeyDictionary()


def classifier(graph: EventGraph, max_default_timeout: float) -> Classifier:
    """EVT003's judge of single calls on ``graph``, one per graph and setting, so the fix
    plans reuse what the check already decided."""
    made = _CLASSIFIERS.setdefault(graph, {})
    if max_default_timeout not in made:
        made[max_default_timeout] = Classifier(call_graph(graph), max_default_timeout)
    return made[max_default_timeout]


def reaches(graph: EventGraph, max_default_timeout: float) -> Iterator[Reach]:
    """Every blocking call each handler reaches with no deadline on the way."""
    judge = classifier(graph, max_default_timeout)
    paths = Paths(judge.calls, judge)
    for handler in judge.calls.handlers():
        yield from paths.reach(handler)


def check(graph: EventGraph, config: Config) -> Iterator[Finding]:
    best: dict[tuple[str, int, int], tuple] = {}
    for reach in reaches(graph, config.max_default_timeout):
        call = reach.blocking.call
        key = (reach.blocking.path, call.span.line, call.span.column)
        rank = (len(reach.path), reach.handler.id)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, reach)
    for key in sorted(best):
        _, reach = best[key]
        blocking, handler = reach.blocking, reach.handler
        name = _short(graph, handler.function)
        if handler.loop is not None:
            name = f"the consumer loop in {name}"
        chain = " → ".join(_short(graph, function) for function, _, _ in reach.path)
        what = f"`{blocking.api}()` {blocking.reason}"
        if blocking.stalls_loop and "stalls" not in blocking.reason:
            what += " and stalls the event loop"
        message = f"{what}; it runs in handler {name} ({handler.via})"
        if len(reach.path) > 1:
            message += f" via {chain}"
        related = [Location(handler.registration.path, handler.registration.span,
                            f"{name} registered here ({handler.via})")]
        for function, call, path in reach.path[1:]:
            related.append(Location(path, call.span, f"calls {_short(graph, function)}"))
        fix = None
        if blocking.fix:
            timeout = config.default_timeout
            if blocking.constructor_timeout is not None:
                description = (f"pass {blocking.constructor_timeout.keyword or 'timeout'}={timeout:g} where the client "
                               f"is created (line {blocking.constructor.span.line})")
            elif blocking.timeout is None:
                description = f"wrap in asyncio.wait_for(..., timeout={timeout:g})"
            else:
                description = f"pass {blocking.timeout.keyword or 'timeout'}={timeout:g}"
            fix = Fix(blocking.fix, description + (f" ({blocking.fix_reason})" if blocking.fix_reason else ""))
        caller = reach.path[-1][0]
        yield Finding(CODE, NAME, message, blocking.path, blocking.call.span, symbol=caller, related=tuple(related), fix=fix)


TimeoutPlan = PassTimeout | WrapInWaitFor | NotFixable


def fix_plans(graph: EventGraph, config: Config,
              findings: Iterable[Finding]) -> Iterator[tuple[Finding, TimeoutPlan]]:
    """What ``add-timeouts`` does for each of this rule's ``findings``: where the timeout
    goes and how, or why it can't be given.  A finding whose call is no longer blocking
    is left out (there is nothing to do)."""
    judge = classifier(graph, config.max_default_timeout)
    index: dict[tuple[str, Span], CallFact] = {}
    for facts in graph.files:
        for call in facts.calls:
            index[(facts.path, call.span)] = call
    for finding in findings:
        if finding.code != CODE:
            continue
        call = index.get((finding.path, finding.span))
        if call is None:
            yield finding, NotFixable("the call was not found in the analysis")
            continue
        fn = graph.functions.get(call.caller)
        blocking = judge.blocking(call, bool(fn and fn.is_async))
        if blocking is not None:
            yield finding, _plan(graph, judge, call, blocking)


def _plan(graph: EventGraph, judge: Classifier, call: CallFact, blocking: BlockingCall) -> TimeoutPlan:
    what = f"`{blocking.api}()`"
    if blocking.constructor is not None and blocking.constructor_timeout is not None:
        spec = blocking.constructor_timeout
        refused = _refuses_timeout(graph, judge, blocking.constructor, spec.keyword or "timeout")
        if refused:
            return NotFixable(f"{what}: {refused}; not changed")
        return PassTimeout(blocking.constructor.span, spec.keyword, spec.position, blocking.fix)
    if not blocking.fix:
        return NotFixable(_no_fix_reason(graph, judge, call, blocking, what))
    if blocking.timeout is None:
        receiver = graph.resolve_channel(call.callee[:-1]) if len(call.callee) > 1 else None
        channel = graph.channels.get(receiver.name) if receiver is not None else None
        if channel is not None and channel.api.family in ("trio", "anyio"):
            return NotFixable(f"{what} is a {channel.api.family} receive: put it in a "
                              f"`with {channel.api.family}.fail_after(...)` block (not done automatically)")
        if not call.awaited:
            return NotFixable(f"{what} is not awaited directly; wrap it in asyncio.wait_for by hand")
        return WrapInWaitFor(call.span, blocking.fix)
    spec = blocking.timeout
    refused = _refuses_timeout(graph, judge, call, spec.keyword or "timeout")
    if refused:
        return NotFixable(f"{what}: {refused}; not changed")
    return PassTimeout(call.span, spec.keyword, spec.position, blocking.fix, blocking.api.startswith("aiohttp."))


def _refuses_timeout(graph: EventGraph, judge: Classifier, call: CallFact, keyword: str) -> str:
    """Why ``keyword=`` can't be added to ``call`` (empty when it can): the callee must be
    the catalogued API, or a function of the analysed code that takes that argument."""
    value = judge.calls.value(call)
    fn = graph.functions.get(value.name) if value is not None and value.kind == "function" else None
    if fn is None:
        if value is not None and value.kind == "api":
            return ""
        receiver = graph.resolve_channel(call.callee[:-1]) if len(call.callee) > 1 else None
        if receiver is None:
            return f"the callee is not known to be the catalogued API, so it may not take `{keyword}=`"
        fn = _overriding_method(graph, receiver.name, call.callee[-1][1:])
        if fn is None:
            return ""  # an operation of a catalogued channel
    if any(p.name == keyword and p.kind != ParamKind.STAR or p.kind == ParamKind.STARSTAR for p in fn.params):
        return ""
    return f"`{_short(graph, fn.qualname)}` takes no `{keyword}` argument"


def _overriding_method(graph: EventGraph, channel_id: str, method: str):
    """The analysed code's own ``method`` of the channel's class, when the channel is made
    by a project subclass of a catalogued channel (``class Inbox(queue.Queue)``)."""
    channel = graph.channels.get(channel_id)
    creation = channel.creation if channel is not None else None
    made = graph.resolve(creation.callee) if creation is not None else None
    if made is None or made.kind != "class":
        return None
    for cls in graph.mro(made.name):
        fn = graph.functions.get(f"{cls}.{method}")
        if fn is not None:
            return fn
    return None


def _no_fix_reason(graph: EventGraph, judge: Classifier, call: CallFact, blocking: BlockingCall, what: str) -> str:
    value = graph.resolve(call.callee[:-1]) if len(call.callee) > 1 else None
    if value is not None and value.kind == "api" and value.name.endswith("()"):
        client = graph.catalog.client(value.name[:-2])
        if client is not None and client.constructor_timeout is not None:
            keyword = client.constructor_timeout.keyword or "timeout"
            origin = value.origin
            if origin is not None:
                where = judge.calls.call_path(origin)
                return (f"{what} takes no timeout; the {value.name[:-2]} client is created at "
                        f"{where}:{origin.span.line}: pass {keyword}= there")
            return f"{what} takes no timeout; pass {keyword}= where the {value.name[:-2]} client is created"
    return f"{what}: {blocking.fix_reason}" if blocking.fix_reason else f"{what} takes no timeout"


RULE = Rule(CODE, NAME, "A handler performs, directly or through the functions it calls, a blocking call with no timeout.",
            Fixable.SOMETIMES, check)
