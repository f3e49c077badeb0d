"""The programmatic entry points.  Exceptions for a user's mistake surface as
``UsageError`` (exit code 2); everything about the analysed code is a finding."""

from __future__ import annotations

import gc
import math
import os
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import baseline as baselines
from .catalog import CatalogError
from .checks import all_rules
from .config import MAX_JOBS, Config, ConfigError, find_project_root, load_config
from .discovery import SourceFile, source_files
from .engine import ProgressFn, analyze_files, filter_findings, matches_codes, run_checks, selected_rules, with_paths
from .model import FileFacts, Finding


class UsageError(Exception):
    """A mistake in how eventlint was called or configured."""


@dataclass(frozen=True, slots=True)
class RunWarning:
    """Something that went wrong inside eventlint without stopping the run (a codemod that
    failed while its edits were spelled out for a report); ``details`` is the traceback."""

    message: str
    details: str = ""


@dataclass
class Project:
    root: Path
    config: Config
    sources: list[SourceFile]


@dataclass
class CheckResult:
    findings: list[Finding]
    files: list[FileFacts]
    project: Project
    graph: object = None
    cache_hits: int = 0
    rules: list = field(default_factory=list)
    baselined: int = 0  # findings hidden by the baseline
    warnings: list[RunWarning] = field(default_factory=list)

    @property
    def unanalyzable(self) -> int:
        return sum(1 for f in self.files if f.problem is not None)


def load_project(paths: list[str], *, config_file: str | None = None, overrides: dict | None = None) -> Project:
    given = [Path(p) for p in (paths or ["."])]
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise UsageError(f"path not found: {missing[0]}")
    root = find_project_root(given[0])
    try:
        config = load_config(root, Path(config_file) if config_file else None)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    if overrides:
        config = config.with_overrides(**overrides)
    exclude = config.exclude + config.extend_exclude
    sources = source_files(given, root, exclude, config.src, respect_gitignore=config.respect_gitignore)
    return Project(root, config, sources)


def display_path(root: Path):
    """Paths in output: relative to the current directory when under it, else absolute."""
    cwd = Path(os.getcwd()).resolve()

    def rewrite(rel: str) -> str:
        absolute = Path(os.path.normpath(root / rel)) if not os.path.isabs(rel) else Path(rel)  # a link is shown as found
        try:
            return absolute.relative_to(cwd).as_posix()
        except ValueError:
            return absolute.as_posix()

    return rewrite


def _cache_folder(project: Project, use_cache: bool, cache_dir: str | None) -> Path | None:
    if not use_cache:
        return None
    folder = Path(cache_dir or project.config.cache_dir)
    return folder if folder.is_absolute() else project.root / folder


@dataclass
class _Analysed:
    files: list[FileFacts]
    graph: object  # eventlint.graph.EventGraph
    rules: list
    findings: list[Finding]  # root-relative paths, suppressions and per-file ignores applied
    cache_hits: int


_one_shot = False


def set_one_shot(one_shot: bool) -> None:
    """Whether this process ends after its run (a command) or lives on (the language
    server, a program calling the API): see ``_without_cycle_collection``."""
    global _one_shot
    _one_shot = one_shot


@contextmanager
def _without_cycle_collection():
    """A run's facts are millions of small objects that live as long as the run, and
    hardly any of them form a cycle; Python's cyclic collector went over them again and
    again as they were unpickled or decoded and as the graph grew, which took about a
    sixth of a cold run and nearly half of a re-check after one file changed.  So it is
    off while a run lasts and back as it was afterwards.  A process that ends after its
    run also freezes what the run made (``gc.freeze``), so that the collector, back on
    for the codemods, never goes over it; a long-lived one leaves it to the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _one_shot:
            gc.freeze()
        if enabled:
            gc.enable()


@_without_cycle_collection()
def _analyse(project: Project, *, select: tuple[str, ...], ignore: tuple[str, ...], jobs: int,
             cache_folder: Path | None, progress: ProgressFn | None = None, report_unused: bool = False,
             contents: dict[str, bytes] | None = None, lines=None, reuse_results: bool = False,
             memo: dict | None = None) -> _Analysed:
    from .engine import ResultsCache
    from .graph import EventGraph

    config = project.config
    ignored = ignore + config.ignore
    rules = selected_rules(select or config.select, ignored)
    # an identical earlier run (same files, settings, selection and eventlint) is reused
    results_salt = repr((config, select, ignore, report_unused)) if reuse_results and contents is None else None
    try:
        analysis = analyze_files(project.sources, config, jobs=jobs, cache_dir=cache_folder, progress=progress,
                                 contents=contents, results_salt=results_salt, memo=memo)
    except CatalogError as error:
        raise UsageError(f"catalogue: {error}") from None
    if analysis.findings is not None:
        return _Analysed(analysis.files, None, rules, analysis.findings, analysis.cache_hits)
    graph = EventGraph(analysis.files, analysis.catalog)
    findings = run_checks(graph, config, rules)
    reviews = [rule for rule in all_rules() if rule.review is not None and not matches_codes(rule.code, ignored)]
    findings = filter_findings(findings, analysis.files, config, reviews=reviews if report_unused else [],
                               ran=tuple(rule.code for rule in rules),
                               line_text=lines.get if lines is not None else None)
    if analysis.run_key is not None and cache_folder is not None:
        ResultsCache(cache_folder).put(analysis.run_key, analysis.files, findings)
    return _Analysed(analysis.files, graph, rules, findings, analysis.cache_hits)


def check(paths: list[str], *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (), jobs: int | None = None,
          config_file: str | None = None, use_cache: bool = True, cache_dir: str | None = None,
          progress: ProgressFn | None = None, overrides: dict | None = None, keep_graph: bool = False,
          report_unused_suppressions: bool = False, baseline: str | None = None,
          write_baseline: str | None = None, fix_edits: bool = False) -> CheckResult:
    """Check ``paths``.  ``baseline`` hides the findings recorded in that file;
    ``write_baseline`` records the findings of this run there (before any baseline);
    ``fix_edits`` spells out each fix as text edits (see ``_with_fix_edits``)."""
    project = load_project(paths, config_file=config_file, overrides=overrides)
    try:
        recorded = baselines.load(Path(baseline)) if baseline else None
    except baselines.BaselineError as error:
        raise UsageError(str(error)) from None
    config = project.config
    jobs = jobs if jobs is not None else (config.jobs or os.cpu_count() or 1)
    lines = baselines.SourceLines(project.root)
    analysed = _analyse(project, select=select, ignore=ignore, jobs=jobs,
                        cache_folder=_cache_folder(project, use_cache, cache_dir), progress=progress,
                        report_unused=report_unused_suppressions, lines=lines,
                        reuse_results=not (keep_graph or fix_edits))
    warnings: list[RunWarning] = []
    findings = _with_fix_edits(analysed, project, warnings) if fix_edits else analysed.findings
    hidden = 0
    if write_baseline:
        try:
            baselines.write(Path(write_baseline), baselines.entries(findings, lines))
        except baselines.BaselineError as error:
            raise UsageError(str(error)) from None
    if recorded is not None:
        findings, hidden = baselines.split(findings, recorded, lines)
    findings = with_paths(findings, display_path(project.root))
    return CheckResult(findings, analysed.files, project, analysed.graph if keep_graph else None, analysed.cache_hits,
                       analysed.rules, hidden, warnings)


def _with_fix_edits(analysed: _Analysed, project: Project, warnings: list[RunWarning]) -> list[Finding]:
    """The findings, each fix spelled out as the text edits its codemod makes for that
    finding alone (unsafe ones included; nothing is written).  A site the codemod leaves
    alone (``fix`` says why) keeps a fix without edits, as does one whose edit would not
    parse or whose codemod fails there; a failing codemod is added to ``warnings``."""
    from .codemods import FixRun, registry
    from .fixer import Workspace, faithful, parse_error, text_edits
    from .source import raise_recursion_limit

    raise_recursion_limit()  # codemods walk whole modules with libcst's recursive visitors
    codemods = {}
    for entry, codemod in registry.available():
        for code in entry.codes:
            codemods.setdefault(code, codemod)
    workspace = Workspace((source.rel, source.path) for source in project.sources)
    config = project.config
    parsed: dict = {}  # shared by every run below: each file is parsed once
    out = []
    for finding in analysed.findings:
        codemod = codemods.get(finding.code) if finding.fix is not None else None
        if codemod is None:
            out.append(finding)
            continue
        context = FixRun(analysed.graph, [finding], config, project.root, workspace.read, unsafe=True,
                                 timeout=config.default_timeout, parsed=parsed)
        try:
            changes = codemod.run(context).changes
        except Exception as error:  # noqa: BLE001 - edits only enrich the report: one odd site must not cost it
            where = f"{finding.path}:{finding.span.line}"
            warnings.append(RunWarning(f"codemod {codemod.name} failed on {where} ({finding.code}), so its fix has "
                                       f"no edits: {type(error).__name__}: {error}", traceback.format_exc()))
            changes = {}
        kept = {}
        for rel, text in changes.items():
            if parse_error(text) is not None:
                kept = {}
                break
            text, problem = faithful(workspace.read(rel), text, parsed, rel)
            if problem is not None:
                kept = {}
                break
            kept[rel] = text
        edits = tuple(edit for rel, text in sorted(kept.items())
                      for edit in text_edits(rel, workspace.read(rel), text))
        out.append(replace(finding, fix=replace(finding.fix, edits=edits)) if edits else finding)
    return out


@dataclass
class FixResult:
    """What ``fix`` did.  Paths are as shown (relative to the current directory)."""

    project: Project
    changed: list[str]  # files written (with ``diff``: the files that would change)
    fixed: dict[str, int]  # file -> findings that went away there (counted on disk after writing)
    skipped: list  # codemods.Skipped: sites left untouched, and files left unchanged on purpose, with the reason
    notes: list[str]
    remaining: list[Finding]  # findings of the fixed codes still there afterwards
    hidden: int  # without ``unsafe``: how many more findings a run with it would fix
    codes: tuple[str, ...]  # the codes this run fixed
    diff: str = ""
    ran: list[str] = field(default_factory=list)  # codemods that ran
    errors: list = field(default_factory=list)  # codemods.Skipped: files that could not be written (exit 2)


def _chosen_codemods(names: tuple[str, ...], unsafe: bool) -> list[tuple[object, object]]:
    from .codemods import registry

    if not names:
        return [(entry, codemod) for entry, codemod in registry.available()]
    chosen = []
    for name in names:
        entry = registry.entry(name)
        if entry is None:
            known = ", ".join(e.name for e, _ in registry.available())
            raise UsageError(f"unknown codemod {name!r} (known: {known}; `eventlint codemods` lists them)")
        try:
            codemod = registry.load(entry)
        except registry.Unavailable:
            raise UsageError(f"codemod {name} is not available in this installation") from None
        if codemod.safety == "unsafe" and not unsafe:
            raise UsageError(f"codemod {name} is unsafe (it can change what the code does); run it with --unsafe-fixes")
        if all(chosen_entry.name != name for chosen_entry, _ in chosen):
            chosen.append((entry, codemod))
    return chosen


def _run_codemods(chosen, explicit: bool, unsafe: bool, project: Project, analysed: _Analysed, workspace, options: dict,
                  *, skipped: list, notes: list[str], ran: list[str]) -> _Analysed:
    """Run each chosen codemod on the findings it fixes, in order, proposing its changes to
    ``workspace`` and analysing the edited text again after each accepted change; returns
    the last analysis."""
    from .codemods import FixRun, registry

    config = project.config
    for entry, codemod in chosen:
        own = set(registry.codes_of(entry, explicit))
        relevant = [f for f in analysed.findings if f.code in own]
        if not relevant:
            continue
        if codemod.safety == "unsafe" and not unsafe:
            continue  # counted by ``_unsafe_only``
        context = FixRun(analysed.graph, relevant, config, project.root, workspace.read,
                         unsafe=unsafe, timeout=config.default_timeout)
        result = codemod.run(context)
        ran.append(codemod.name)
        skipped.extend(result.skipped)
        notes.extend(result.notes)
        refused = workspace.propose(result.changes, codemod.name,
                                    independent=getattr(codemod, "independent_files", False), parsed=context.parsed)
        skipped.extend(refused)
        if result.changes and not refused:
            analysed = _analyse(project, contents=workspace.contents(), **options)
    return analysed


def _unsafe_only(chosen, explicit: bool, codes: tuple[str, ...], project: Project, analysed: _Analysed, workspace,
                 options: dict) -> int:
    """How many more findings ``--unsafe-fixes`` would fix after the safe fixes: the codemods
    run again with it on a copy of the workspace (nothing is written), and the findings that
    go away are counted.  A finding whose unsafe fix its codemod would skip (the skip says
    why) is not counted, so the number is what that run really does."""
    left = [f for f in analysed.findings if f.code in codes]
    if not any(f.fix is not None and f.fix.safety == "unsafe" for f in left):
        return 0
    trial = workspace.fork()
    after = _run_codemods(chosen, explicit, True, project, analysed, trial, options, skipped=[], notes=[], ran=[])
    return max(0, len(left) - sum(1 for f in after.findings if f.code in codes))


def fix(paths: list[str], *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (), codemods: tuple[str, ...] = (),
        unsafe: bool = False, diff: bool = False, timeout: float | None = None, jobs: int | None = None,
        config_file: str | None = None, use_cache: bool = True, cache_dir: str | None = None,
        progress: ProgressFn | None = None) -> FixResult:
    """Apply the fixes of the findings in ``paths``: the named ``codemods``, or every codemod
    for the findings it fixes; unsafe edits only with ``unsafe``.  With ``diff`` nothing is
    written and ``FixResult.diff`` holds the changes."""
    from .codemods import Skipped, registry
    from .fixer import Workspace
    from .source import raise_recursion_limit

    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or not timeout > 0):
        raise UsageError(f"--timeout must be a finite number of seconds greater than 0, not {timeout!r}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS):
        raise UsageError(f"--jobs must be a whole number from 1 to {MAX_JOBS}, not {jobs!r}")
    project = load_project(paths, config_file=config_file, overrides={"default_timeout": timeout})
    config = project.config
    chosen = _chosen_codemods(tuple(codemods), unsafe)
    raise_recursion_limit()  # codemods walk whole modules with libcst's recursive visitors
    jobs = jobs if jobs is not None else (config.jobs or os.cpu_count() or 1)
    cache_folder = _cache_folder(project, use_cache, cache_dir)
    workspace = Workspace((source.rel, source.path) for source in project.sources)
    options = {"select": select, "ignore": ignore, "jobs": jobs, "cache_folder": cache_folder}
    analysed = _analyse(project, progress=progress, contents=workspace.contents(), **options)
    ran_codes = {rule.code for rule in analysed.rules}
    explicit = bool(codemods)
    codes = tuple(sorted({code for entry, _ in chosen for code in registry.codes_of(entry, explicit)} & ran_codes))
    before = [f for f in analysed.findings if f.code in codes]
    skipped: list[Skipped] = list(workspace.unreadable)
    notes: list[str] = []
    ran: list[str] = []
    analysed = _run_codemods(chosen, explicit, unsafe, project, analysed, workspace, options,
                             skipped=skipped, notes=notes, ran=ran)
    hidden = 0 if unsafe else _unsafe_only(chosen, explicit, codes, project, analysed, workspace, options)
    changed = workspace.changed()
    rewrite = display_path(project.root)
    diff_text = ""
    errors: list[Skipped] = []
    if diff:
        diff_text = workspace.diff(rewrite)
        after = analysed.findings
    else:
        outcome = workspace.write()
        skipped.extend(outcome.skipped)
        errors = outcome.errors
        # what is on disk now, not what was planned: a file left unchanged keeps its findings
        after = _analyse(project, **options).findings if changed else analysed.findings
        changed = outcome.written
    remaining = [f for f in after if f.code in codes]
    fixed: dict[str, int] = {}
    for rel in sorted({f.path for f in before} | set(changed)) if changed else ():
        gone = sum(1 for f in before if f.path == rel) - sum(1 for f in remaining if f.path == rel)
        if gone > 0 or rel in changed:
            fixed[rewrite(rel)] = max(gone, 0)
    shown_skips = [replace(s, path=rewrite(s.path)) for s in skipped]
    shown_errors = [replace(s, path=rewrite(s.path)) for s in errors]
    return FixResult(project, [rewrite(rel) for rel in changed], fixed, shown_skips, notes,
                     with_paths(remaining, rewrite), hidden, codes, diff_text, ran, shown_errors)


def analyse_project(project: Project, *, use_cache: bool = True, memo: dict | None = None) -> _Analysed:
    """Analyse every file of ``project`` with its settings, keeping the graph: the one call
    the language server makes per run (root-relative paths; the facts cache is shared with
    ``check``, so a run after one file changed extracts the facts of that file alone, and
    ``memo``, kept by the caller between runs, holds the facts of the last run in memory)."""
    config = project.config
    jobs = config.jobs or os.cpu_count() or 1
    return _analyse(project, select=(), ignore=(), jobs=jobs, cache_folder=_cache_folder(project, use_cache, None),
                    memo=memo)


def spell_out_fixes(analysed: _Analysed, project: Project,
                    findings: list[Finding]) -> tuple[list[Finding], list[RunWarning]]:
    """``findings`` (of ``analysed``) with each fix spelled out as the text edits its codemod
    makes for that finding alone, as ``check(fix_edits=True)`` does; and what went wrong."""
    warnings: list[RunWarning] = []
    return _with_fix_edits(replace(analysed, findings=list(findings)), project, warnings), warnings
