"""The goal solver under resolution: memoised answers, cycles, and revoking stale answers
without dropping the ones a change cannot reach."""

from __future__ import annotations

from collections import Counter

from eventlint.solver import GoalSolver


class Sums(GoalSolver):
    """("sum", name): the value of ``name`` plus the sums of the names it lists; ("index",):
    every name's parity, by name; ("parity", name): one entry of the index."""

    def __init__(self, values: dict[str, int], uses: dict[str, list[str]]):
        self.values, self.uses = values, uses
        self.evaluated: Counter = Counter()
        super().__init__({"sum": self._sum, "index": self._index, "parity": self._parity}, {}, {("index",): "parity"})

    def _sum(self, goal):
        self.evaluated[goal] += 1
        total = self.values[goal[1]]
        for used in self.uses.get(goal[1], ()):
            total += (yield ("sum", used)) or 0
        return total

    def _index(self, goal):
        self.evaluated[goal] += 1
        parities = {}
        for name in self.values:
            parities[name] = (yield ("sum", name)) % 2
        return parities

    def _parity(self, goal):
        self.evaluated[goal] += 1
        return ((yield ("index",)) or {}).get(goal[1])

    def ask(self, goal):
        return self._solve(goal)


def _fresh_answers(values, uses, goals):
    solver = Sums(dict(values), uses)
    return [solver.ask(goal) for goal in goals]


def test_a_revoked_answer_is_dropped_with_what_asked_for_it_and_nothing_else():
    solver = Sums({"a": 1, "b": 2, "c": 3}, {"a": ["b"]})
    assert [solver.ask(("sum", n)) for n in "abc"] == [3, 2, 3]
    solver.evaluated.clear()
    solver.values["b"] = 10
    solver.revoke(("sum", "b"))
    solver.forget()
    assert [solver.ask(("sum", n)) for n in "abc"] == [11, 10, 3] == _fresh_answers(solver.values, solver.uses, [("sum", n) for n in "abc"])
    assert solver.evaluated == Counter({("sum", "a"): 1, ("sum", "b"): 1})


def test_an_index_is_answered_again_and_only_the_keys_that_moved_drop_their_askers():
    solver = Sums({"a": 1, "b": 2, "c": 3}, {})
    goals = [("parity", n) for n in "abc"]
    assert [solver.ask(g) for g in goals] == [1, 0, 1]
    solver.evaluated.clear()
    solver.values["b"] = 4  # b's sum changes, its parity does not
    solver.revoke(("sum", "b"))
    solver.forget()
    assert solver.evaluated == Counter({("sum", "b"): 1, ("index",): 1})
    solver.evaluated.clear()
    solver.values["c"] = 6  # c's parity changes
    solver.revoke(("sum", "c"))
    solver.forget()
    assert [solver.ask(g) for g in goals] == [1, 0, 0] == _fresh_answers(solver.values, solver.uses, goals)
    assert solver.evaluated == Counter({("sum", "c"): 1, ("index",): 1, ("parity", "c"): 1})


def test_cycles_settle_and_are_revoked_as_a_group():
    solver = Sums({"a": 1, "b": 2}, {"a": ["b"], "b": ["a"]})
    first = [solver.ask(("sum", n)) for n in "ab"]
    assert first == _fresh_answers(solver.values, solver.uses, [("sum", n) for n in "ab"])
    solver.values["a"] = 5
    solver.revoke(("sum", "a"))
    solver.forget()
    assert [solver.ask(("sum", n)) for n in "ab"] == _fresh_answers(solver.values, solver.uses, [("sum", n) for n in "ab"])


def test_after_settle_forget_drops_everything():
    solver = Sums({"a": 1, "b": 2}, {})
    solver.ask(("sum", "a"))
    solver.ask(("sum", "b"))
    solver.settle()
    solver.evaluated.clear()
    solver.forget()
    solver.ask(("sum", "a"))
    solver.ask(("sum", "b"))
    assert solver.evaluated == Counter({("sum", "a"): 1, ("sum", "b"): 1})
