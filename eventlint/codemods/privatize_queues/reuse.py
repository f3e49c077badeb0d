"""Finding a method the owner already has for an outside operation, so that
``privatize-queues`` redirects the outside calls to it instead of adding a second one
(``Hub.publish()`` already puts its argument on ``self.inbox``: ``hub.inbox.put(e)`` becomes
``hub.publish(e)``, not a new ``hub.publish_inbox(e)``).

A *forwarding method* of channel attribute ``attr`` and queue method ``op``:

- is a plain method of the owner class (no decorator), async exactly when the outside
  calls await the operation;
- takes what the new forwarder would take (one event; nothing; or ``*args, **kwargs``)
  and passes it on unchanged, by name and in order, in one call ``self.attr.op(...)`` that
  is a statement of its own body (not inside a branch or loop), returned when the
  operation gives a value (a get);
- may do other things besides (log, count, validate and raise) but never rebinds what it
  forwards, never returns before the call (an early return would drop the event), never
  yields, and touches ``self.attr`` nowhere else.

A method some subclass in the analysed code overrides is not used (on the subclass's
instances the call would run the override).

So ``def publish(self, event): log(event); self.inbox.put(event)`` and ``def publish(self,
event): if event is None: raise ValueError; self.inbox.put(event)`` forward;
``self.inbox.put(Envelope(event))``, ``event = clean(event)`` before the put, or a put
under ``if`` do not: the outside calls would do something else through them.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .methods import Arguments


def forwarding_method(owner: cst.ClassDef, attr: str, op: str, args: Arguments, awaited: bool,
                      returns: bool) -> str | None:
    """The name of the first method of ``owner`` that forwards to ``self.attr.op``, if any."""
    for statement in owner.body.body:
        if isinstance(statement, cst.FunctionDef) and _forwards(statement, attr, op, args, awaited, returns):
            return statement.name.value
    return None


def _forwards(function: cst.FunctionDef, attr: str, op: str, args: Arguments, awaited: bool, returns: bool) -> bool:
    if function.decorators or (function.asynchronous is not None) != awaited:
        return False
    passed = _passed(function.params, args)
    if passed is None or not isinstance(function.body, cst.IndentedBlock):
        return False
    channel = m.Attribute(value=m.Name("self"), attr=m.Name(attr))
    call = m.Call(func=m.Attribute(value=channel, attr=m.Name(op)), args=passed)
    value = m.Await(expression=call) if awaited else call
    statement = m.SimpleStatementLine(body=[m.Return(value=value) if returns else m.OneOf(m.Expr(value=value),
                                                                                          m.Return(value=value))])
    forwarding = [s for s in function.body.body if m.matches(s, statement)]
    if len(forwarding) != 1:
        return False
    returns_found = len(m.findall(function.body, m.Return()))
    if returns_found != (1 if m.matches(forwarding[0].body[0], m.Return()) else 0):
        return False
    if m.findall(function.body, m.Yield()):
        return False
    if len(m.findall(function.body, channel)) != 1:
        return False
    names = {p.name.value for p in _forwarded_params(function.params, args)}
    return not any(_binds(target, names) for target in _targets(function.body))


def _passed(params: cst.Parameters, args: Arguments):
    """The arguments the forwarding call must pass (a matcher sequence), or None when the
    method's parameters are not what the forwarder would take."""
    if params.posonly_params or params.kwonly_params or not params.params:
        return None
    first, rest = params.params[0], params.params[1:]
    if first.name.value != "self" or first.default is not None:
        return None
    has_star = isinstance(params.star_arg, cst.Param)
    if args is Arguments.EVENT:
        if len(rest) != 1 or has_star or params.star_kwarg is not None:
            return None
        return [m.Arg(value=m.Name(rest[0].name.value), keyword=None, star="")]
    if args is Arguments.NONE:
        if rest or has_star or params.star_kwarg is not None:
            return None
        return []
    if rest or not has_star or params.star_kwarg is None:
        return None
    return [m.Arg(value=m.Name(params.star_arg.name.value), star="*"),
            m.Arg(value=m.Name(params.star_kwarg.name.value), star="**")]


def _forwarded_params(params: cst.Parameters, args: Arguments) -> list[cst.Param]:
    if args is Arguments.EVENT:
        return [params.params[1]]
    if args is Arguments.ANY:
        return [params.star_arg, params.star_kwarg]
    return []


def _targets(body: cst.CSTNode) -> list[cst.CSTNode]:
    """Every expression ``body`` binds a name to."""
    found: list[cst.CSTNode] = []
    for node in m.findall(body, m.OneOf(m.AssignTarget(), m.AugAssign(), m.AnnAssign(), m.NamedExpr(), m.For(),
                                        m.CompFor(), m.Del())):
        found.append(node.target)
    for node in m.findall(body, m.OneOf(m.WithItem(), m.ExceptHandler(), m.ExceptStarHandler(), m.ImportAlias())):
        named = node.asname if not isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)) else node.name
        if named is not None:
            found.append(named.name)
    for node in m.findall(body, m.OneOf(m.Global(), m.Nonlocal())):
        found.extend(item.name for item in node.names)
    return found


def _binds(target: cst.CSTNode, names: set[str]) -> bool:
    if isinstance(target, cst.Name):
        return target.value in names
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(_binds(element.value, names) for element in target.elements)
    if isinstance(target, cst.StarredElement):
        return _binds(target.value, names)
    return False
