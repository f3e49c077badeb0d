"""The programmatic entry points.  Exceptions for a user's mistake surface as
``UsageError`` (exit code 2); everything about the analysed code is a finding."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import baseline as baselines
from .catalog import CatalogError
from .config import Config, ConfigError, find_project_root, load_config
from .discovery import SourceFile, source_files
from .engine import (ProgressFn, analyze_files, filter_findings, matches_codes, run_checks, selected_rules,
                     with_paths)
from .model import FileFacts, Finding


class UsageError(Exception):
    """A mistake in how eventlint was called or configured."""


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
    sources = source_files(given, root, exclude, config.src)
    return Project(root, config, sources)


def display_path(root: Path):
    """Paths in output: relative to the current directory when under it, else absolute."""
    cwd = Path(os.getcwd()).resolve()

    def rewrite(rel: str) -> str:
        absolute = (root / rel).resolve() if not os.path.isabs(rel) else Path(rel)
        try:
            return absolute.relative_to(cwd).as_posix()
        except ValueError:
            return absolute.as_posix()

    return rewrite


def check(paths: list[str], *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (), jobs: int | None = None,
          config_file: str | None = None, use_cache: bool = True, cache_dir: str | None = None,
          progress: ProgressFn | None = None, overrides: dict | None = None, keep_graph: bool = False,
          report_unused_suppressions: bool = False, baseline: str | None = None,
          write_baseline: str | None = None) -> CheckResult:
    """Check ``paths``.  ``baseline`` hides the findings recorded in that file;
    ``write_baseline`` records the findings of this run there (before any baseline)."""
    from .graph import EventGraph

    project = load_project(paths, config_file=config_file, overrides=overrides)
    try:
        recorded = baselines.load(Path(baseline)) if baseline else None
    except baselines.BaselineError as error:
        raise UsageError(str(error)) from None
    config = project.config
    jobs = jobs if jobs is not None else (config.jobs or os.cpu_count() or 1)
    cache_folder = None
    if use_cache:
        cache_folder = Path(cache_dir or config.cache_dir)
        if not cache_folder.is_absolute():
            cache_folder = project.root / cache_folder
    try:
        analysis = analyze_files(project.sources, config, jobs=jobs, cache_dir=cache_folder, progress=progress)
    except CatalogError as error:
        raise UsageError(f"catalogue: {error}") from None
    graph = EventGraph(analysis.files, analysis.catalog)
    ignored = ignore + config.ignore
    rules = selected_rules(select or config.select, ignored)
    findings = run_checks(graph, config, rules)
    lines = baselines.SourceLines(project.root)
    findings = filter_findings(findings, analysis.files, config,
                               report_unused=report_unused_suppressions and not matches_codes("EVT900", ignored),
                               ran=tuple(rule.code for rule in rules), line_text=lines.get)
    hidden = 0
    if write_baseline:
        try:
            baselines.write(Path(write_baseline), baselines.entries(findings, lines))
        except baselines.BaselineError as error:
            raise UsageError(str(error)) from None
    if recorded is not None:
        findings, hidden = baselines.split(findings, recorded, lines)
    findings = with_paths(findings, display_path(project.root))
    return CheckResult(findings, analysis.files, project, graph if keep_graph else None, analysis.cache_hits, rules,
                       hidden)
