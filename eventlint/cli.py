"""The command line: a thin click layer over ``eventlint.api``."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path

import click

from . import __version__
from .config import MAX_JOBS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: str | None) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in value.split(",") if c.strip()) if value else ()


class _Progress:
    """A progress line on stderr, only on a terminal and only once a run takes a while."""

    delay = 1.0  # seconds before the first line: quick runs stay quiet

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.start < self.delay:
            return
        self.shown = True
        sys.stderr.write(f"\reventlint: analysed {done}/{total} files")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _fail(message: str) -> None:
    click.echo(f"eventlint: error: {message}", err=True)


def _warn(warnings, verbose: bool) -> None:
    """Internal errors the run survived: one line each, the traceback with --verbose."""
    for warning in warnings:
        if verbose and warning.details:
            click.echo(warning.details.rstrip("\n"), err=True)
        click.echo(f"eventlint: warning: {warning.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="eventlint")
def cli() -> None:
    """Find and fix exposed raw queues, mixed-type channels and untimed blocking handlers."""


@cli.command("check", short_help="Report the findings in PATHS (default: the current folder).")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="text for people, json, sarif (code scanning) or github (annotations).")
@click.option("--select", help="Comma-separated rule codes (or prefixes) to run.")
@click.option("--ignore", help="Comma-separated rule codes (or prefixes) to skip.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=MAX_JOBS),
              help=f"Worker processes, 1 to {MAX_JOBS} (default: one per core).")
@click.option("--config", "config_file", type=click.Path(), help="Read settings from this file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the facts cache.")
@click.option("--cache-dir", type=click.Path(), help="Where to keep the facts cache.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print a count per rule.")
@click.option("--output", "-o", "output_file", type=click.Path(), help="Write the report to this file.")
@click.option("--report-unused-suppressions", is_flag=True,
              help="Report eventlint suppression comments that silence nothing (EVT900).")
@click.option("--baseline", "baseline_file", type=click.Path(), help="Hide the findings recorded in this file.")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(),
              help="Record the current findings in this file and exit 0.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the fixes instead, as `eventlint fix` does.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also the fixes that can change behaviour.")
@click.option("--diff", "show_diff", is_flag=True, help="As `eventlint fix --diff`: print the fixes as a diff, write nothing.")
@click.pass_context
def check_command(ctx, paths, output_format, select, ignore, jobs, config_file, no_cache, cache_dir, exit_zero,
                  statistics, output_file, report_unused_suppressions, baseline_file, write_baseline_file, verbose,
                  apply_fixes, unsafe_fixes, show_diff):
    """Check PATHS (files or folders, default: the current folder).

    With --fix it runs `eventlint fix` instead, as `ruff check --fix` does (--unsafe-fixes
    and --diff as there; --diff alone implies --fix)."""
    if apply_fixes or show_diff:
        _refuse_with_fix(ctx, ("output_format", "exit_zero", "statistics", "output_file", "report_unused_suppressions",
                               "baseline_file", "write_baseline_file"))
        _run_fix(paths, unsafe_fixes, (), show_diff, None, select, ignore, jobs, config_file, no_cache, cache_dir,
                 verbose)
    if unsafe_fixes:
        raise click.UsageError("--unsafe-fixes applies fixes: use it with --fix (or `eventlint fix`)")
    result = _run_check(paths, verbose, select=_codes(select), ignore=_codes(ignore), jobs=jobs,
                        config_file=config_file, use_cache=not no_cache, cache_dir=cache_dir,
                        report_unused_suppressions=report_unused_suppressions, baseline=baseline_file,
                        write_baseline=write_baseline_file, fix_edits=output_format == "sarif")
    _warn(result.warnings, verbose)
    if not result.files:
        click.echo("eventlint: warning: no Python files found under the given paths (all excluded, or ignored by "
                   "a .gitignore; `respect-gitignore = false` checks ignored files)", err=True)
    if write_baseline_file:
        count = len(result.findings)
        click.echo(f"eventlint: recorded {count} finding{'s' if count != 1 else ''} in {write_baseline_file}", err=True)
        sys.exit(EXIT_CLEAN)
    _emit(_render(output_format, result, output_file, statistics), output_file)
    sys.exit(EXIT_FINDINGS if result.findings and not exit_zero else EXIT_CLEAN)


def _refuse_with_fix(ctx: click.Context, names: tuple[str, ...]) -> None:
    """The report options of ``check`` mean nothing to a fix: name the first one given."""
    for param in ctx.command.params:
        if param.name in names and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError(f"{param.opts[0]} is an option of the report: it cannot be used with --fix or "
                                   "--diff")


def _run_check(paths, verbose: bool, **options):
    """``api.check`` with a progress line; a usage or internal error exits 2 with one line."""
    from . import api

    return _run_api(api.check, paths, verbose, **options)


def _run_api(call, paths, verbose: bool, **options):
    """Run an ``api`` entry point with a progress line; a usage or internal error exits 2
    with one line (and the traceback only with --verbose)."""
    from . import api

    progress = _Progress(_progress_wanted())
    try:
        with _internal_errors_shown(verbose):
            return call(list(paths) or ["."], progress=progress, **options)
    except api.UsageError as error:
        progress.finish()
        _fail(str(error))
        sys.exit(EXIT_ERROR)
    except Exception as error:  # noqa: BLE001 - an internal error is reported, not shown as a traceback
        progress.finish()
        if verbose:
            traceback.print_exc()
        _fail(f"internal error: {type(error).__name__}: {error} (run with --verbose for the traceback)")
        sys.exit(EXIT_ERROR)
    finally:
        progress.finish()


@contextlib.contextmanager
def _internal_errors_shown(verbose: bool):
    """The tracebacks of errors a run survived (a module or rule reported as EVT000) go to
    the ``eventlint.internal`` logger; with --verbose they are printed on this run's stderr.
    The handler lives as long as the run, so a later run (or caller) is left as it was."""
    import logging

    if not verbose:
        yield
        return
    logger = logging.getLogger("eventlint.internal")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("eventlint: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _progress_wanted() -> bool:
    """Only people watching a terminal want a progress line; CI logs and pipes don't."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _render(output_format: str, result, output_file: str | None, statistics: bool) -> str:
    from .checks import all_rules
    from .report import github, json_format, sarif, text

    files = len(result.files)
    if output_format == "json":
        return json_format.render(result.findings, files, result.unanalyzable)
    if output_format == "sarif":
        named = {f.code for f in result.findings}
        rules = list(result.rules) + [rule for rule in all_rules() if rule.code in named]
        return sarif.render(result.findings, rules, base=Path.cwd())
    if output_format == "github":
        return github.render(result.findings)
    to_terminal = output_file is None and sys.stdout.isatty()
    return text.render(result.findings, files, color=to_terminal, statistics=statistics, baselined=result.baselined)


def _emit(report: str, output_file: str | None) -> None:
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8") as handle:
                handle.write(report)
        except OSError as error:
            _fail(f"cannot write {output_file}: {error.strerror or error}")
            sys.exit(EXIT_ERROR)
    else:
        click.echo(report, nl=False)


@cli.command("fix", short_help="Apply the fixes of the findings in PATHS, then check again.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that can change behaviour (renames, new exceptions).")
@click.option("--codemod", "codemods", multiple=True, metavar="NAME",
              help="Run only this codemod (repeatable); `eventlint codemods` lists them.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff and write nothing (exit 1 when there are changes).")
@click.option("--timeout", type=float,
              help="Seconds for added timeouts, a finite number above 0 (default: `default-timeout`, 10).")
@click.option("--select", help="Comma-separated rule codes (or prefixes) to fix.")
@click.option("--ignore", help="Comma-separated rule codes (or prefixes) to leave alone.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=MAX_JOBS),
              help=f"Worker processes, 1 to {MAX_JOBS} (default: one per core).")
@click.option("--config", "config_file", type=click.Path(), help="Read settings from this file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the facts cache.")
@click.option("--cache-dir", type=click.Path(), help="Where to keep the facts cache.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
def fix_command(paths, unsafe_fixes, codemods, show_diff, timeout, select, ignore, jobs, config_file, no_cache, cache_dir,
                verbose):
    """Apply the fixes of the findings in PATHS (default: the current folder), then check
    again: exit 0 when none of the fixed kinds remain, 1 when some do, 2 on errors
    (a file that can't be written is one: nothing of its fix is written).
    With --diff: exit 1 when there would be changes, 0 otherwise."""
    _run_fix(paths, unsafe_fixes, codemods, show_diff, timeout, select, ignore, jobs, config_file, no_cache, cache_dir,
             verbose)


def _run_fix(paths, unsafe_fixes, codemods, show_diff, timeout, select, ignore, jobs, config_file, no_cache, cache_dir,
             verbose) -> None:
    """``eventlint fix`` and ``eventlint check --fix``: fix, report, exit."""
    from . import api

    result = _run_api(api.fix, paths, verbose, select=_codes(select), ignore=_codes(ignore), codemods=tuple(codemods),
                      unsafe=unsafe_fixes, diff=show_diff, timeout=timeout, jobs=jobs, config_file=config_file,
                      use_cache=not no_cache, cache_dir=cache_dir)
    if show_diff:
        click.echo(result.diff, nl=False)
        sys.stdout.flush()  # the patch before the summary on stderr, when both go to a terminal
    _report_fix(result, show_diff)
    if result.errors:
        sys.exit(EXIT_ERROR)
    if show_diff:
        sys.exit(EXIT_FINDINGS if result.changed else EXIT_CLEAN)
    sys.exit(EXIT_FINDINGS if result.remaining else EXIT_CLEAN)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report_fix(result, show_diff: bool) -> None:
    """With ``--diff`` the summary goes to stderr, so that stdout is a clean patch."""
    def out(line: str) -> None:
        click.echo(line, err=show_diff)

    for path, count in result.fixed.items():
        verb = "would fix" if show_diff else "fixed"
        out(f"{path}: {verb} {_plural(count, 'finding')}" if count else f"{path}: {'would update' if show_diff else 'updated'}")
    for skip in result.skipped:
        where = f"{skip.path}:{skip.line}" if skip.line else skip.path
        out(f"{where}: skipped: {skip.reason}")
    for note in result.notes:
        out(f"note: {note}")
    for error in result.errors:
        _fail(f"{error.path}: {error.reason}")
    total = sum(result.fixed.values())
    if show_diff:
        out(f"Would change {_plural(len(result.changed), 'file')}." if result.changed else "Nothing to change.")
    else:
        out(f"Fixed {_plural(total, 'finding')} in {_plural(len(result.changed), 'file')}.")
    if result.remaining:
        codes = ", ".join(sorted({f.code for f in result.remaining}))
        verb = "remains" if len(result.remaining) == 1 else "remain"
        out(f"{_plural(len(result.remaining), 'finding')} {verb} ({codes}); `eventlint check` shows them.")
    if result.hidden:
        fixes = "1 more fix" if result.hidden == 1 else f"{result.hidden} more fixes"
        out(f"{fixes} can be applied with --unsafe-fixes.")


@cli.command("codemods", short_help="List the codemods that `eventlint fix` can run.")
def codemods_command():
    """List the codemods `eventlint fix --codemod NAME` can run."""
    from .codemods import registry

    rows = [(codemod.name, codemod.safety, codemod.description) for _, codemod in registry.available()]
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, safety, description in rows:
        click.echo(f"{name.ljust(width)}  {safety.ljust(6)}  {description}")


@cli.command("rules", short_help="List the rules: code, name, whether fixable, and summary.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_command(output_format):
    """List every rule: code, name, whether it can be fixed, and what it finds."""
    import json

    from .checks import all_rules

    rules = all_rules()
    if output_format == "json":
        rows = [{"code": r.code, "name": r.name, "fixable": r.fixable, "summary": r.summary} for r in rules]
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("code", "name", "fixable", "summary")] + [(r.code, r.name, r.fixable, r.summary) for r in rules]
    widths = [max(len(row[column]) for row in table) for column in range(3)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@cli.command("explain", short_help="Print the documentation page of one rule.")
@click.argument("code")
def explain_command(code):
    """Print the documentation of rule CODE (e.g. EVT001)."""
    from .checks import all_rules
    from .report.sarif import rule_page

    rule = {r.code: r for r in all_rules()}.get(code.strip().upper())
    if rule is None:
        _fail(f"unknown rule code {code!r} (`eventlint rules` lists them)")
        sys.exit(EXIT_ERROR)
    page = rule_page(rule.code)
    click.echo(page if page is not None else f"# {rule.code} {rule.name}\n\n{rule.summary}\n", nl=False)


@cli.command("graph", short_help="Draw who publishes to and who consumes from each channel.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["dot", "mermaid", "json"]), default="dot",
              show_default=True, help="Graphviz DOT, a mermaid flowchart, or node-link JSON (the whole graph).")
@click.option("--output", "-o", "output_file", type=click.Path(), help="Write the graph to this file.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=MAX_JOBS),
              help=f"Worker processes, 1 to {MAX_JOBS} (default: one per core).")
@click.option("--config", "config_file", type=click.Path(), help="Read settings from this file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the facts cache.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
def graph_command(paths, output_format, output_file, jobs, config_file, no_cache, verbose):
    """Draw who publishes to and who consumes from which channel in PATHS; nodes with a
    finding are red.  Render DOT with `dot -Tsvg graph.dot -o graph.svg`."""
    from . import graph_export
    from .api import display_path
    from .report import graph_picture

    result = _run_check(paths, verbose, jobs=jobs, config_file=config_file, use_cache=not no_cache, keep_graph=True)
    rewrite = display_path(result.project.root)
    if output_format == "json":
        _emit(graph_picture.render_json(result.graph.to_node_link(), rewrite), output_file)
        return
    nodes, edges = graph_picture.with_display_paths(*graph_export.picture(result.graph), rewrite)
    flagged = graph_picture.flagged_nodes(nodes, result.findings)
    render = graph_picture.render_dot if output_format == "dot" else graph_picture.render_mermaid
    _emit(render(nodes, edges, flagged), output_file)


@cli.command("server", short_help="Run the language server (LSP over stdio) for editors.")
def server_command():
    """Run the language server for editors: LSP over stdin and stdout, with the
    diagnostics of the whole workspace, fixes as code actions and rule summaries on hover
    (needs eventlint's `lsp` extra: `pip install '.[lsp]'` in a clone of eventlint)."""
    try:
        from . import lsp
    except ImportError as error:
        if (error.name or "").split(".")[0] not in ("pygls", "lsprotocol", "cattrs"):
            raise
        _fail(f"the language server needs {error.name.split('.')[0]}, which is not installed: "
              "install eventlint's lsp extra (pip install '.[lsp]' in a clone of eventlint)")
        sys.exit(EXIT_ERROR)
    from . import api

    api.set_one_shot(False)  # a long-lived process: its runs leave their garbage to the collector
    lsp.serve()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    try:
        cli.main(args=argv, prog_name="eventlint", standalone_mode=False)
    except SystemExit as stop:
        return int(stop.code or 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_ERROR
    except click.ClickException as error:
        error.show()
        return EXIT_ERROR
    return EXIT_CLEAN


def entry() -> None:
    from . import api

    api.set_one_shot(True)  # a command ends after its run (the server says otherwise)
    sys.exit(main())
