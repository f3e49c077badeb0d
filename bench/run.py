"""How much a check costs compared with libcst parsing the same files.

Run with ``python bench/run.py [--corpus PATH] [--jobs 2] [--repeat 3] [--full]``.

The default corpus is this machine's standard library without its tests (no ``test/``,
``tests/``, ``idlelib/idle_test/``, ``lib2to3/tests/`` or ``site-packages/``), copied to
a temporary folder so that every tool sees exactly the same files and no configuration
file of the interpreter's tree. Every measurement uses the same number of processes
(``--jobs``); each is the median of ``--repeat`` runs:

- **floor**: ``libcst.parse_module`` of every file (read the bytes, parse) in a
  ``multiprocessing`` pool of ``jobs`` processes (fork), pool start-up included. It runs
  inside this script, which has already imported libcst: the eventlint runs below also
  pay for starting Python and importing their dependencies, so the ratio is strict.
- **cold**: ``python -m eventlint check CORPUS --jobs N --cache-dir EMPTY --exit-zero
  --format json -o REPORT`` (a fresh, empty cache folder for every run);
- **warm**: the same command again on the same cache folder, nothing changed;
- **peak memory** of the eventlint process tree (the CLI and its workers), sampled from
  ``/proc``: the peak of the tree's summed PSS (proportional set size: a page the
  fork-started workers share with their parent counts once in all; every 0.2 s) is the
  figure held against the goal. Also shown: the peak of the summed RSS (every 0.05 s; it
  counts shared pages once per process, so it over-states) and the largest single
  process (``wait4``'s ``ru_maxrss``, exact).

The goals (``GOAL_*`` below): cold <= 1.3x the floor (DESIGN.md's "Performance budget" was
2x), an identical re-run <= 0.05x cold, a re-check after one file changed <= 0.10x cold,
peak memory <= 400 MiB. For reference, the same corpus goes through ruff
(``--select S113,ASYNC``), Fixit (``fixit lint``, its default rules) and flake8 with
flake8-async, when they are on PATH (they are not dependencies of eventlint); they run
``--compare-repeat`` times (default once: Fixit and flake8 take minutes on this corpus).
``--full`` also checks the whole standard library once (1,790 files here) and reports its
time, peak RSS and exit code.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import libcst  # noqa: E402

from eventlint.discovery import discover  # noqa: E402

GOAL_COLD = 1.3  # x floor
GOAL_WARM = 0.05  # x cold: an identical re-run
GOAL_EDITED = 0.10  # x cold: a re-check after one file changed
# what the one-file-changed run appends to a file of the corpus (then takes back)
EDIT = b"\n\ndef _bench_edited(queue):\n    return queue.get()\n"
GOAL_RSS = 400.0  # MiB
TEST_FOLDERS = frozenset({"test", "tests", "idle_test"})  # covers idlelib/idle_test and lib2to3/tests
MIB = 1024 * 1024
try:
    from importlib.metadata import version as _version

    LIBCST_VERSION = _version("libcst")
except Exception:  # noqa: BLE001 - only shown
    LIBCST_VERSION = "?"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# ---- corpus -------------------------------------------------------------------------


def stdlib_files(full: bool) -> tuple[Path, list[Path]]:
    """The standard library's Python files, found as eventlint finds them (which skips
    ``site-packages``), without the test folders unless ``full``."""
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    files = []
    for path in discover([stdlib], stdlib, ()):
        parts = path.relative_to(stdlib).parts
        if "site-packages" in parts or (not full and TEST_FOLDERS & set(parts[:-1])):
            continue
        files.append(path)
    return stdlib, files


def copy_corpus(stdlib: Path, files: list[Path], target: Path) -> Path:
    for path in files:
        destination = target / path.relative_to(stdlib)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    return target


def corpus_files(corpus: Path) -> list[Path]:
    return discover([corpus], corpus, ())


def count_lines(files: list[Path]) -> int:
    return sum(path.read_bytes().count(b"\n") for path in files)


# ---- the parse floor ----------------------------------------------------------------


def _parse(path: str) -> bool:
    try:
        libcst.parse_module(Path(path).read_bytes())
    except Exception:  # noqa: BLE001 - a file libcst can't parse still cost its attempt
        return False
    return True


def parse_floor(files: list[Path], jobs: int) -> tuple[float, int]:
    """Seconds to parse every file in a fork pool of ``jobs`` processes, and how many
    files libcst could not parse."""
    names = [str(path) for path in files]
    chunk = max(1, min(32, len(names) // (jobs * 8) or 1))  # as eventlint batches its tasks
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        failed = sum(1 for ok in pool.imap_unordered(_parse, names, chunksize=chunk) if not ok)
    return time.perf_counter() - start, failed


# ---- running a command and measuring it ---------------------------------------------


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """The peaks of the summed RSS and PSS of a process and its descendants."""

    def __init__(self, pid: int, every: float = 0.05, pss_every: int = 4):
        super().__init__(daemon=True)
        self.pid, self.every, self.pss_every = pid, every, pss_every
        self.rss = self.pss = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        tick = 0
        while not self.stopped.is_set():
            tree = _descendants(self.pid)
            self.rss = max(self.rss, sum(_rss(pid) for pid in tree))
            if tick % self.pss_every == 0:
                self.pss = max(self.pss, sum(_pss(pid) for pid in tree))
            tick += 1
            self.stopped.wait(self.every)


@dataclass
class Run:
    seconds: float
    code: int
    pss_mib: float  # peak of the tree's summed PSS
    rss_mib: float  # peak of the tree's summed RSS
    largest_mib: float  # the largest single process
    stderr: str = ""


def run_command(argv: list[str], cwd: Path, env: dict | None = None) -> Run:
    """Run ``argv`` to completion, output discarded (stderr kept), and measure it."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err)
        sampler = TreeSampler(process.pid)
        sampler.start()
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss (KiB on Linux): the largest single process of the tree
            largest = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        else:  # pragma: no cover - not Linux
            process.wait()
            seconds = time.perf_counter() - start
            largest = 0
        sampler.stopped.set()
        sampler.join()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Run(seconds, process.returncode, max(sampler.pss, largest if not sampler.pss else 0) / MIB,
               max(largest, sampler.rss) / MIB, largest / MIB, stderr)


def eventlint_argv(corpus: str, jobs: int, cache: Path, report: Path) -> list[str]:
    return [sys.executable, "-m", "eventlint", "check", corpus, "--jobs", str(jobs), "--cache-dir", str(cache),
            "--exit-zero", "--format", "json", "-o", str(report)]


def eventlint_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    env.pop("CI", None)
    return env


# ---- the other linters --------------------------------------------------------------


def tool_path(name: str) -> str | None:
    """The tool next to this interpreter first (no pyenv shim in the timing), else PATH."""
    scripts = Path(sysconfig.get_paths()["scripts"]) / name
    if scripts.is_file() and os.access(scripts, os.X_OK):
        return str(scripts)
    return shutil.which(name)


@dataclass
class Tool:
    label: str
    argv: list[str] | None  # None: not installed
    note: str
    env: dict = field(default_factory=dict)
    ok: tuple[int, ...] = (0,)  # exit codes of a complete run
    fallback: list[str] | None = None  # when a run fails: the same with a work-around
    fallback_note: str = ""


def _interpreter_of(script: str) -> str | None:
    """The Python interpreter a console script runs with (from its ``#!`` line)."""
    try:
        with open(script, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return None
    command = first[2:].strip().split() if first.startswith("#!") else []
    return command[0] if command and "python" in Path(command[0]).name else None


def comparisons(jobs: int) -> list[Tool]:
    ruff, fixit, flake8 = tool_path("ruff"), tool_path("fixit"), tool_path("flake8")
    has_async = False
    if flake8:
        try:
            version = subprocess.run([flake8, "--version"], capture_output=True, text=True, timeout=60, check=False)
            has_async = "flake8-async" in version.stdout
        except (OSError, subprocess.SubprocessError):
            pass
    flake8_args = ["--select", "ASYNC", "-j", str(jobs), "--exit-zero", "."]
    python = _interpreter_of(flake8) if flake8 and has_async else None
    deeper = [python, "-c", "import sys; sys.setrecursionlimit(10000); from flake8.main.cli import main; "
                            "sys.exit(main())", *flake8_args] if python else None
    return [
        Tool("ruff --select S113,ASYNC",
             [ruff, "check", "--select", "S113,ASYNC", "--no-cache", "--isolated", "--exit-zero", "."] if ruff else None,
             f"{jobs} threads", {"RAYON_NUM_THREADS": str(jobs)}),
        # fixit's exit code is a bit set: 1 = findings, 2 = a file it failed on
        Tool("fixit lint", [fixit, "lint", "."] if fixit else None, f"default rules, {os.cpu_count()} processes",
             ok=(0, 1, 2, 3)),
        Tool("flake8 + flake8-async", [flake8, *flake8_args] if flake8 and has_async else None, f"-j {jobs}",
             fallback=deeper, fallback_note="recursion limit raised to 10000"),
    ]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:100] if lines else ""


def run_tool(tool: Tool, corpus: Path, times: int) -> list[tuple[str, list[Run] | None, str]]:
    """Rows (label, runs or None, remark) for one tool."""
    if tool.argv is None:
        return [(tool.label, None, "not installed")]
    env = {**os.environ, **tool.env}
    runs: list[Run] = []
    for _ in range(times):
        run = run_command(tool.argv, corpus, env)
        if run.code not in tool.ok:
            rows = [(tool.label, None, f"failed after {run.seconds:.2f} s (exit {run.code}: {_last_line(run.stderr)})")]
            if tool.fallback is not None:
                retried = [run_command(tool.fallback, corpus, env) for _ in range(times)]
                failed = [r for r in retried if r.code not in tool.ok]
                remark = f"exit {failed[0].code}: {_last_line(failed[0].stderr)}" if failed else ""
                rows.append((f"{tool.label} ({tool.fallback_note})", retried, remark))
            return rows
        runs.append(run)
    codes = sorted({r.code for r in runs} - {0})
    remark = ""
    if tool.label == "fixit lint" and any(code & 2 for code in codes):
        remark = f"exit {codes[-1]}: fixit failed on some files"
    return [(tool.label, runs, remark)]


# ---- the benchmark -------------------------------------------------------------------


@dataclass
class Results:
    corpus: str
    files: int
    lines: int
    jobs: int
    repeat: int
    floor: list[float] = field(default_factory=list)
    floor_failed: int = 0
    cold: list[Run] = field(default_factory=list)
    warm: list[Run] = field(default_factory=list)
    edited: list[Run] = field(default_factory=list)  # a re-check after one file changed
    edited_file: str = ""
    summary: dict = field(default_factory=dict)
    warm_same_report: bool = True
    tools: dict = field(default_factory=dict)  # label -> (runs or None, remark)
    full: dict = field(default_factory=dict)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def check_run(run: Run, what: str) -> None:
    if run.code != 0:
        sys.exit(f"bench: {what} exited {run.code}:\n{run.stderr[-4000:]}")


def measure(corpus: Path, label: str, jobs: int, repeat: int, work: Path, compare: int) -> Results:
    files = corpus_files(corpus)
    results = Results(label, len(files), count_lines(files), jobs, repeat)
    print(f"corpus: {label}: {results.files:,} files, {results.lines:,} lines; jobs={jobs}, repeat={repeat}", flush=True)
    env = eventlint_env()
    for round_ in range(1, repeat + 1):
        seconds, failed = parse_floor(files, jobs)
        results.floor.append(seconds)
        results.floor_failed = failed
        cache = work / f"cache-{round_}"
        shutil.rmtree(cache, ignore_errors=True)
        cold_report, warm_report = work / "cold.json", work / "warm.json"
        cold = run_command(eventlint_argv(".", jobs, cache, cold_report), corpus, env)
        check_run(cold, "eventlint check (cold)")
        warm = run_command(eventlint_argv(".", jobs, cache, warm_report), corpus, env)
        check_run(warm, "eventlint check (warm)")
        edited = edit_and_check(corpus, files, jobs, cache, work / "edited.json", env, results)
        results.cold.append(cold)
        results.warm.append(warm)
        results.edited.append(edited)
        results.warm_same_report &= cold_report.read_bytes() == warm_report.read_bytes()
        results.summary = json.loads(cold_report.read_text())["summary"]
        shutil.rmtree(cache, ignore_errors=True)
        print(f"  round {round_}: floor {seconds:.2f} s, cold {cold.seconds:.2f} s ({memory(cold)}), "
              f"warm {warm.seconds:.2f} s ({memory(warm)}), one file changed {edited.seconds:.2f} s", flush=True)
    if results.summary.get("files") != results.files:
        print(f"  note: eventlint checked {results.summary.get('files')} files, the floor parsed {results.files}")
    if not compare:
        return results
    for tool in comparisons(jobs):
        for label_, runs, remark in run_tool(tool, corpus, compare):
            if runs:
                label_ = f"{label_} ({tool.note})" if "(" not in label_ else label_
            results.tools[label_] = (runs, remark)
            shown = ", ".join(f"{r.seconds:.2f} s" for r in runs or ())
            print(f"  {label_}: {'; '.join(filter(None, (shown, remark)))}", flush=True)
    return results


def edit_and_check(corpus: Path, files: list[Path], jobs: int, cache: Path, report: Path, env: dict,
                   results: Results) -> Run:
    """A check after one file of the corpus changed (a function appended), on the cache the
    cold run left; the file is restored afterwards."""
    chosen = next((f for f in files if f.relative_to(corpus).as_posix() == "json/decoder.py"), files[len(files) // 2])
    results.edited_file = chosen.relative_to(corpus).as_posix()
    original = chosen.read_bytes()
    try:
        chosen.write_bytes(original + EDIT)
        run = run_command(eventlint_argv(".", jobs, cache, report), corpus, env)
    finally:
        chosen.write_bytes(original)
    check_run(run, "eventlint check (one file changed)")
    return run


def measure_full(jobs: int, work: Path) -> dict:
    stdlib, files = stdlib_files(full=True)
    corpus = copy_corpus(stdlib, files, work / "stdlib-full")
    files = corpus_files(corpus)
    lines = count_lines(files)
    print(f"full standard library: {len(files):,} files, {lines:,} lines (one run)", flush=True)
    floor, failed = parse_floor(files, jobs)
    cache, report = work / "cache-full", work / "full.json"
    run = run_command(eventlint_argv(".", jobs, cache, report), corpus, eventlint_env())
    summary = json.loads(report.read_text())["summary"] if run.code == 0 and report.is_file() else {}
    shutil.rmtree(cache, ignore_errors=True)
    return {"files": len(files), "lines": lines, "floor": floor, "floor_failed": failed, "seconds": run.seconds,
            "pss_mib": run.pss_mib, "rss_mib": run.rss_mib, "largest_mib": run.largest_mib, "code": run.code,
            "summary": summary, "stderr": run.stderr[-2000:]}


def memory(run: Run) -> str:
    return f"{run.pss_mib:.0f} MiB PSS, {run.rss_mib:.0f} MiB RSS sum, {run.largest_mib:.0f} MiB largest process"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(results: Results) -> str:
    floor = median(results.floor)
    cold = median([r.seconds for r in results.cold])
    warm = median([r.seconds for r in results.warm])
    edited = median([r.seconds for r in results.edited])
    pss = max(r.pss_mib for r in results.cold + results.warm + results.edited)
    rss = max(r.rss_mib for r in results.cold + results.warm + results.edited)
    largest = max(r.largest_mib for r in results.cold + results.warm + results.edited)
    rows = [
        ("measure", "seconds", "ratio", "goal", ""),
        ("libcst parse floor", f"{floor:.2f}", "1.00x floor", "", ""),
        ("eventlint check, cold", f"{cold:.2f}", f"{cold / floor:.2f}x floor", f"<= {GOAL_COLD:.1f}x floor",
         verdict(cold / floor <= GOAL_COLD)),
        ("eventlint check, warm", f"{warm:.2f}", f"{warm / cold:.3f}x cold", f"<= {GOAL_WARM:.2f}x cold",
         verdict(warm / cold <= GOAL_WARM)),
        ("eventlint check, one file changed", f"{edited:.2f}", f"{edited / cold:.3f}x cold",
         f"<= {GOAL_EDITED:.2f}x cold", verdict(edited / cold <= GOAL_EDITED)),
        ("eventlint peak memory (tree PSS)", f"{pss:.0f} MiB", "", f"<= {GOAL_RSS:.0f} MiB", verdict(pss <= GOAL_RSS)),
        ("  tree RSS sum / largest process", f"{rss:.0f} / {largest:.0f} MiB", "", "", ""),
    ]
    for label, (runs, remark) in results.tools.items():
        if not runs:
            rows.append((label, "-", "", "", remark))
            continue
        seconds = median([r.seconds for r in runs])
        rows.append((label, f"{seconds:.2f}", f"{seconds / floor:.2f}x floor", "", remark))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        (f"{results.corpus}: {results.files:,} files, {results.lines:,} lines; "
         f"{results.jobs} processes; median of {results.repeat}"),
        *("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows),
    ]
    summary = results.summary
    lines.append(f"eventlint: {summary.get('files')} files, {summary.get('findings')} findings {summary.get('by_code')}, "
                 f"{summary.get('unanalyzable')} unanalyzable; warm report identical to cold: "
                 f"{'yes' if results.warm_same_report else 'NO'}; libcst could not parse {results.floor_failed} files")
    lines.append(f"one file changed: {results.edited_file} (a function appended, then taken back)")
    if results.full:
        full = results.full
        lines.append(f"full standard library: {full['files']:,} files, {full['lines']:,} lines: eventlint cold "
                     f"{full['seconds']:.2f} s ({full['seconds'] / full['floor']:.2f}x its floor of {full['floor']:.2f} s), "
                     f"peak memory {full['pss_mib']:.0f} MiB PSS (the memory goal is for the corpus above; RSS sum "
                     f"{full['rss_mib']:.0f} MiB, largest process {full['largest_mib']:.0f} MiB), exit code "
                     f"{full['code']}; {full['summary'].get('findings')} findings, "
                     f"{full['summary'].get('unanalyzable')} unanalyzable (libcst could not parse "
                     f"{full['floor_failed']})")
        if full["code"] != 0:
            lines.append(f"  stderr: {full['stderr'].strip()}")
    return "\n".join(lines)


def as_json(results: Results) -> dict:
    def runs(items):
        return [{"seconds": r.seconds, "pss_mib": r.pss_mib, "rss_mib": r.rss_mib, "largest_mib": r.largest_mib,
                 "code": r.code} for r in items]

    return {
        "corpus": results.corpus, "files": results.files, "lines": results.lines, "jobs": results.jobs,
        "repeat": results.repeat, "floor": results.floor, "cold": runs(results.cold), "warm": runs(results.warm),
        "edited": runs(results.edited), "edited_file": results.edited_file,
        "summary": results.summary, "warm_same_report": results.warm_same_report,
        "tools": {k: {"runs": runs(v[0] or []), "remark": v[1]} for k, v in results.tools.items()},
        "full": {k: v for k, v in results.full.items() if k != "stderr"},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "libcst": LIBCST_VERSION},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a folder of Python files (default: the standard library "
                                                    "without its tests)")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the floor and for eventlint (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are reported (default 3)")
    parser.add_argument("--full", action="store_true", help="also check the whole standard library once")
    parser.add_argument("--compare-repeat", dest="compare", type=int, default=1,
                        help="runs of ruff, Fixit and flake8 each; medians are reported (default 1, 0 skips them)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    options = parser.parse_args(argv)
    if options.jobs < 1 or options.repeat < 1 or options.compare < 0:
        parser.error("--jobs and --repeat must be at least 1, --compare-repeat at least 0")
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    print(f"python {platform.python_version()}, libcst {LIBCST_VERSION}, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in load)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="eventlint-bench-") as temp:
        work = Path(temp)
        if options.corpus is not None:
            corpus = options.corpus.resolve()
            if not corpus.is_dir():
                parser.error(f"--corpus {corpus}: not a folder")
            label = str(corpus)
        else:
            stdlib, files = stdlib_files(full=False)
            corpus = copy_corpus(stdlib, files, work / "stdlib")
            label = f"standard library without tests ({stdlib})"
        results = measure(corpus, label, options.jobs, options.repeat, work, options.compare)
        if options.full:
            results.full = measure_full(options.jobs, work)
    print()
    print(table(results))
    if options.json:
        options.json.write_text(json.dumps(as_json(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
