"""Score stored corpus findings against the hand-read labels (``labels.toml``).

A label is one place in a pinned package where a reviewer who read the code expects a rule
to report (``expect = "flag"``) or not to report (``expect = "clean"``, a near miss), with a
one-line evidence note.  ``debatable = true`` marks a place where a careful reviewer could go
either way; it counts neither for nor against the rule and is listed apart.

A finding matches a label when package, rule, path and line are all equal (exact line; the
column and message are ignored).  Findings are counted once per place (package, rule, path,
line): two findings on one line are one reported place.

Per rule:

- **recall** = flag labels with a finding / all flag labels;
- **precision** = findings on a flag label / findings on a flag or clean label (the judged
  findings).  A finding on no label is **unjudged**: it is left out of precision and listed,
  so that a person reads it and adds a label; the lower bound printed beside precision counts
  every unjudged finding as wrong.  Findings on a debatable label are listed apart.

Only the pure functions live here; ``run.py score`` reads the files and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RULES = ("EVT001", "EVT002", "EVT003")
EXPECTATIONS = ("flag", "clean")

Place = tuple[str, str, str, int]  # package, rule, path, line


@dataclass(frozen=True)
class Label:
    package: str
    rule: str
    path: str
    line: int
    expect: str
    evidence: str
    debatable: bool = False

    @property
    def place(self) -> Place:
        return (self.package, self.rule, self.path, self.line)


@dataclass(frozen=True)
class Finding:
    package: str
    rule: str
    path: str
    line: int
    message: str = ""

    @property
    def place(self) -> Place:
        return (self.package, self.rule, self.path, self.line)


@dataclass
class RuleScore:
    rule: str
    found: list[Label] = field(default_factory=list)          # flag labels with a finding
    missed: list[Label] = field(default_factory=list)         # flag labels without one
    true_positives: list[Finding] = field(default_factory=list)
    false_positives: list[tuple[Finding, Label]] = field(default_factory=list)
    debatable: list[tuple[Finding, Label]] = field(default_factory=list)
    unjudged: list[Finding] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)      # "flag"/"clean"/"debatable" -> count

    @property
    def recall(self) -> float | None:
        total = len(self.found) + len(self.missed)
        return len(self.found) / total if total else None

    @property
    def precision(self) -> float | None:
        judged = len(self.true_positives) + len(self.false_positives)
        return len(self.true_positives) / judged if judged else None

    @property
    def precision_floor(self) -> float | None:
        """Precision if every unjudged finding were wrong."""
        judged = len(self.true_positives) + len(self.false_positives) + len(self.unjudged)
        return len(self.true_positives) / judged if judged else None


def parse_labels(document: dict) -> list[Label]:
    """Labels from a parsed ``labels.toml`` (``[[case]]`` tables); malformed cases raise ValueError."""
    labels: list[Label] = []
    seen: dict[Place, int] = {}
    for index, case in enumerate(document.get("case", []), 1):
        where = f"case {index} ({case.get('package')}:{case.get('path')}:{case.get('line')})"
        missing = {"package", "rule", "path", "line", "evidence"} - set(case)
        if missing:
            raise ValueError(f"{where}: missing {', '.join(sorted(missing))}")
        debatable = bool(case.get("debatable", False))
        expect = case.get("expect", "debatable" if debatable else None)
        if not debatable and expect not in EXPECTATIONS:
            raise ValueError(f"{where}: expect must be one of {EXPECTATIONS} (or debatable = true)")
        if case["rule"] not in RULES:
            raise ValueError(f"{where}: rule {case['rule']} is not one of {RULES}")
        label = Label(case["package"], case["rule"], case["path"], int(case["line"]), expect,
                      case["evidence"], debatable)
        if label.place in seen:
            raise ValueError(f"{where}: same place as case {seen[label.place]}")
        seen[label.place] = index
        labels.append(label)
    return labels


def parse_findings(results: dict) -> list[Finding]:
    """Findings of the labelled rules from a stored ``run.py run`` result, one per place."""
    places: dict[Place, Finding] = {}
    for package, result in sorted(results.items()):
        for code, path, line, _column, message in result.get("findings", []):
            if code in RULES:
                finding = Finding(package, code, path, int(line), message)
                places.setdefault(finding.place, finding)
    return sorted(places.values(), key=lambda f: f.place)


def score(labels: list[Label], findings: list[Finding], packages: set[str] | None = None) -> dict[str, RuleScore]:
    """Per rule: recall over flag labels, precision over judged findings, and every list.

    ``packages``: the packages the run covered; labels of other packages are left out (a run
    of one package is not charged with the misses of the others).  ``None``: all labels count.
    """
    if packages is not None:
        labels = [label for label in labels if label.package in packages]
    by_place = {label.place: label for label in labels}
    reported = {finding.place for finding in findings}
    scores = {rule: RuleScore(rule) for rule in RULES}
    for label in labels:
        rule = scores[label.rule]
        kind = "debatable" if label.debatable else label.expect
        rule.labels[kind] = rule.labels.get(kind, 0) + 1
        if kind == "flag":
            (rule.found if label.place in reported else rule.missed).append(label)
    for finding in findings:
        rule = scores[finding.rule]
        label = by_place.get(finding.place)
        if label is None:
            rule.unjudged.append(finding)
        elif label.debatable:
            rule.debatable.append((finding, label))
        elif label.expect == "flag":
            rule.true_positives.append(finding)
        else:
            rule.false_positives.append((finding, label))
    return scores


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(scores: dict[str, RuleScore]) -> str:
    """The printed report: a summary line per rule, then every miss, false positive,
    debatable and unjudged finding."""
    lines = [f"{'rule':<8}{'labels flag/clean/debatable':<29}{'recall':<17}{'precision':<17}{'floor':<7}unjudged"]
    for rule, s in scores.items():
        found, flagged = len(s.found), len(s.found) + len(s.missed)
        judged = len(s.true_positives) + len(s.false_positives)
        counts = f"{s.labels.get('flag', 0)}/{s.labels.get('clean', 0)}/{s.labels.get('debatable', 0)}"
        lines.append(f"{rule:<8}{counts:<29}{_ratio(s.recall) + f' ({found}/{flagged})':<17}"
                     f"{_ratio(s.precision) + f' ({len(s.true_positives)}/{judged})':<17}"
                     f"{_ratio(s.precision_floor):<7}{len(s.unjudged)}")
    for rule, s in scores.items():
        sections = [
            ("missed (flag label, no finding)",
             [f"{l.package} {l.path}:{l.line}  -- {l.evidence}" for l in s.missed]),
            ("false positives (finding on a clean label)",
             [f"{f.package} {f.path}:{f.line}  {f.message}\n      label: {l.evidence}" for f, l in s.false_positives]),
            ("debatable (listed apart, not scored)",
             [f"{f.package} {f.path}:{f.line}  {f.message}\n      label: {l.evidence}" for f, l in s.debatable]),
            ("unjudged (no label: read it and add one)",
             [f"{f.package} {f.path}:{f.line}  {f.message}" for f in s.unjudged]),
        ]
        for title, items in sections:
            if items:
                lines.append(f"\n{rule} {title}: {len(items)}")
                lines.extend("  " + item for item in items)
    return "\n".join(lines)
