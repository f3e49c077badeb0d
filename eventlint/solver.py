"""A memoising solver of questions that depend on one another, in cycles too.

``GoalSolver`` drives evaluators written as generators (see its note) from one explicit
stack, memoises every answer, settles cyclic groups of goals, and revokes the answers an
outside change makes stale.  ``eventlint.resolution`` poses its questions about names and
values to it; nothing here knows what a goal means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_MISSING = object()
# passes over one cyclic group of goals before it counts as growing along its cycle: on the
# standard library 864 of 871 groups settle in their second pass, one in its third, and the
# four still changing after the fourth are attributes copied from themselves
_GROUP_PASSES = 4


class _Frame:
    """One goal being evaluated by ``Resolver._run``."""

    __slots__ = ("goal", "evaluation", "number", "low", "position", "reply", "cyclic", "passes", "previous", "first")

    def __init__(self, goal, evaluation, number: int, position: int):
        self.goal = goal
        self.evaluation = evaluation
        self.number = self.low = number
        self.position = position  # where the goal sits on the stack of open goals
        self.reply = None  # the value of the goal it asked for last
        self.cyclic = False  # it asked for itself
        self.passes = 1
        self.previous = None  # the group's values after the previous pass, by goal
        self.first = None  # and after its first pass, when every request into the cycle had None


class GoalSolver:
    """Memoised goals with generator evaluators.

    ``evaluators`` map a goal's first element to its evaluator; ``unanswered`` gives the
    value of a goal of that kind before it has an answer (a cycle back into it, a failed
    evaluation); ``indexes`` map an index goal (one answer for the whole project, a dict)
    to the kind of goal that asks it for one key, ``(kind, key)``: see ``forget``.
    """
    #
    # Every question is a *goal*, a small tuple such as
    # ("member", module, name) or ("ref", ref).  Each goal has an evaluator: a generator that
    # yields the goals it needs and receives their values, so that ``_run`` drives them all
    # from one explicit stack and no chain of imports, aliases, attributes or callers in the
    # analysed project can deepen Python's own stack.  Results are memoised per goal.
    #
    # Cycles are normal in real code (``from a import x`` inside ``a``, ``self.a = self.b`` and
    # ``self.b = self.a``, a package and its modules importing each other).  ``_run`` finds the
    # strongly connected groups of goals as it goes (Tarjan's algorithm): a goal asked for while
    # its own group is still open gets its value so far (None at first), and when the group
    # closes it is evaluated again, each such request now answered by the previous pass, until
    # its values settle.  A group still changing after ``_GROUP_PASSES`` passes holds a value
    # that grows along its cycle (``self.x = self.x.copy()``): it keeps its first pass, where
    # the cycle added nothing.  Either way each member holds what the alternatives leading out
    # of the cycle give, and the group is memoised together, once.  Every goal is evaluated a
    # bounded number of times, so resolution costs time linear in the goals it visits.

    def __init__(self, evaluators: dict[str, Callable[[tuple], Iterator]], unanswered: dict[str, object],
                 indexes: dict[tuple, str]):
        self._evaluators = evaluators
        self._unanswered = unanswered
        self._indexes = indexes
        self._memo: dict[tuple, object] = {}
        # goal -> the goals that asked for it, while an answer may still be revoked (see
        # ``forget``); None once ``settle`` says nothing more changes
        self._askers: dict[tuple, set[tuple]] | None = {}
        self._revoked: list[tuple] = []
        self._running = False

    def revoke(self, *goals: tuple) -> None:
        """The answers of ``goals`` may have changed (what they read from outside the
        goals did): ``forget`` drops them, and what depends on them."""
        self._revoked += goals

    def forget(self) -> None:
        """Drop the revoked answers and every answer that asked for one of them, on up
        (every answer, once ``settle`` has stopped the bookkeeping).  An index goal is
        answered again at once, and what asked it for one key is dropped only when that
        key's entry changed: the index of every call asks for every callee, so nearly any
        change reaches it, while it rarely changes itself."""
        changed, self._revoked = self._revoked, []
        askers, memo = self._askers, self._memo
        if askers is None:
            memo.clear()
            return
        seen: set[tuple] = set()
        for _ in range(_GROUP_PASSES):
            reached: set[tuple] = set()
            while changed:
                goal = changed.pop()
                if goal in self._indexes:
                    reached.add(goal)
                elif goal not in seen:
                    seen.add(goal)
                    memo.pop(goal, None)
                    changed.extend(askers.pop(goal, ()))
            for index in reached:
                before = memo.pop(index, _MISSING)
                if before is _MISSING:
                    continue
                kind = self._indexes[index]
                after = self._solve(index) or {}
                before = before or {}
                moved = {(kind, key) for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
                kept = set()
                for goal in askers.pop(index, ()):
                    if goal[0] == kind and goal not in moved:
                        kept.add(goal)
                    else:
                        changed.append(goal)
                askers[index] = kept
                changed.extend(moved)
            if not changed:
                return
            seen.clear()
        memo.clear()  # still moving: start afresh

    def settle(self) -> None:
        """Nothing outside the goals changes from now on: stop noting who asked what."""
        self._askers = None

    def _solve(self, goal: tuple):
        value = self._memo.get(goal, _MISSING)
        if value is not _MISSING:
            return value
        return self._run(self._evaluators[goal[0]](goal), goal)

    def _run(self, evaluation, goal: tuple | None = None):
        """Drive ``evaluation`` (the evaluator of ``goal``, or an anonymous question when
        ``goal`` is None) and every goal it needs to completion; see the note above."""
        if self._running:
            raise RuntimeError("resolution re-entered from inside an evaluator")
        self._running = True
        memo, evaluators, askers, unanswered = self._memo, self._evaluators, self._askers, self._unanswered
        number: dict[tuple, int] = {}  # goal -> its visiting order, while its group is open
        latest: dict[tuple, object] = {}  # goal -> its value in the current or previous pass
        open_goals: list[tuple] = []  # Tarjan's stack: goals whose group has not closed yet
        frames = [_Frame(goal, evaluation, 0, 0)]
        if goal is not None:
            number[goal] = 0
            open_goals.append(goal)
        counter = 1
        frame = frames[-1]
        try:
            while True:
                frame = frames[-1]
                try:
                    wanted = frame.evaluation.send(frame.reply)
                except StopIteration as done:
                    value = done.value
                    frames.pop()
                    key = frame.goal
                    if key is not None:
                        latest[key] = value
                        if frame.low == frame.number:
                            members = open_goals[frame.position:]
                            settled = latest
                            if len(members) > 1 or frame.cyclic:
                                values = {member: latest.get(member) for member in members}
                                if frame.passes < _GROUP_PASSES and frame.previous != values:
                                    # evaluate the group again, each back edge now answered by this pass
                                    for member in members:
                                        del number[member]
                                    del open_goals[frame.position:]
                                    again = _Frame(key, evaluators[key[0]](key), counter, len(open_goals))
                                    again.passes, again.previous = frame.passes + 1, values
                                    again.first = values if frame.first is None else frame.first
                                    number[key] = counter
                                    counter += 1
                                    open_goals.append(key)
                                    frames.append(again)
                                    continue
                                if frame.previous != values and frame.first is not None:
                                    # still changing: a value that grows along the cycle
                                    # (``self.x = self.x.copy()``), or a parameter whose one
                                    # caller value comes and goes with its own recursive call
                                    # (``Traceback(tb.tb_next)``); those keep their first pass,
                                    # where the cycle added nothing, and the members whose
                                    # last two passes agree keep what they settled on
                                    previous, first = frame.previous, frame.first
                                    settled = {member: value if previous.get(member, _MISSING) == value
                                               else first.get(member) for member, value in values.items()}
                            for member in members:
                                memo[member] = settled.get(member, unanswered.get(member[0]))
                                latest.pop(member, None)
                                del number[member]
                            del open_goals[frame.position:]
                            value = memo[key]
                        elif frames:
                            parent = frames[-1]
                            parent.low = min(parent.low, frame.low)
                    if not frames:
                        return value
                    frames[-1].reply = value
                    continue
                if askers is not None and frame.goal is not None:
                    asking = askers.get(wanted)
                    if asking is None:
                        askers[wanted] = {frame.goal}
                    else:
                        asking.add(frame.goal)
                value = memo.get(wanted, _MISSING)
                if value is not _MISSING:
                    frame.reply = value
                    continue
                seen = number.get(wanted)
                if seen is not None:  # a cycle back into the open group
                    frame.low = min(frame.low, seen)
                    if wanted == frame.goal:
                        frame.cyclic = True
                    frame.reply = latest.get(wanted, unanswered.get(wanted[0]))
                    continue
                number[wanted] = counter
                frames.append(_Frame(wanted, evaluators[wanted[0]](wanted), counter, len(open_goals)))
                open_goals.append(wanted)
                counter += 1
        except Exception:
            if frame.goal is not None:
                memo[frame.goal] = unanswered.get(frame.goal[0])  # a goal that failed once is not attempted again
            raise
        finally:
            self._running = False
