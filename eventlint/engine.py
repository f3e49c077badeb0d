"""Run files through the facts pass (in a process pool, cached), build the graph, run
the checks, and filter the findings (selection, suppressions, per-file ignores)."""

from __future__ import annotations

import collections
import gc
import hashlib
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing import connection as mp_connection
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .cache import FactsCache, ResultsCache
from .catalog import Catalog, load_catalog
from .checks import Review, Rule, all_rules
from .config import Config
from .discovery import SourceError, SourceFile, read_source
from .model import FileFacts, Finding, Problem, Span
from .paths import matches_pattern

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class _Job:
    path: str
    rel: str
    module: str
    aliases: tuple[str, ...]
    is_package: bool


@dataclass(frozen=True)
class Analysis:
    files: list[FileFacts]
    catalog: Catalog
    cache_hits: int = 0
    run_key: str | None = None  # set when the run's results may be stored for reuse
    findings: list[Finding] | None = None  # the stored results of an identical earlier run


_worker_state: dict = {}


def _init_worker(extension: dict, tag_keys: tuple[str, ...]) -> None:
    from .source import raise_recursion_limit

    raise_recursion_limit()
    # a syntax tree is a million short-lived objects: the cyclic collector's passes over
    # them cost about a fifth of the analysis; collect once per file instead
    gc.disable()
    _worker_state["catalog"] = load_catalog(extension)
    _worker_state["tag_keys"] = frozenset(tag_keys)
    gc.freeze()  # what is loaded by now lives as long as the worker: keep it out of every pass


def _analyze(job: _Job, raw: bytes) -> FileFacts:
    from .sharing import share
    from .source import analyze_source

    return share(analyze_source(raw, path=job.rel, module=job.module, aliases=job.aliases, is_package=job.is_package,
                                catalog=_worker_state["catalog"], tag_keys=_worker_state["tag_keys"]))


def _load(cache: FactsCache, key: str) -> FileFacts | None:
    """A file's cached facts, its repeated values made one object as the analysis makes
    them (decoding gives each occurrence its own: twice the memory)."""
    from .sharing import share

    facts = cache.get(key)
    return share(facts) if facts is not None else None


def _analyze_guarded(job: _Job, raw: bytes) -> FileFacts:
    """The file's facts; an unexpected error in the facts pass becomes the file's EVT000
    (naming the error) instead of ending the run."""
    try:
        return _analyze(job, raw)
    except Exception as error:  # noqa: BLE001 - one file's bug must not cost the others
        return FileFacts(job.rel, job.module, job.aliases,
                         problem=Problem(f"internal error while analysing this file: {type(error).__name__}: {error}",
                                         Span(1, 1, 1, 1)))


def _pool_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def _crashed(job: _Job) -> FileFacts:
    return FileFacts(job.rel, job.module, job.aliases,
                     problem=Problem("the parser crashed on this file (too deeply nested or too large for the parser)",
                                     Span(1, 1, 1, 1)))


def _timed_out(job: _Job, limit: float) -> FileFacts:
    return FileFacts(job.rel, job.module, job.aliases,
                     problem=Problem(f"analysis took longer than file-time-limit ({limit:g} s): not analysed",
                                     Span(1, 1, 1, 1)))


_READY = "ready"
_MAX_FAILED_STARTS = 3

# the parent's ends of every worker's pipe: a forked worker closes its copies, so that
# the death of the main process reaches each worker as the end of its pipe
_parent_ends: list = []
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the main process dies (Linux), whatever the
    worker is doing then: a CI job's timeout kills the main process, and a worker deep in a
    pathological parse would otherwise go on for minutes.  Elsewhere the worker leaves when
    its pipe closes."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the main process died before the request took effect
        os._exit(1)


def _worker_main(conn, parent: int, extension: dict, tag_keys: tuple[str, ...], cache: FactsCache | None) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    for end in _parent_ends:
        end.close()
    _init_worker(extension, tag_keys)
    start = _resident()
    conn.send(_READY)  # the time limit counts from here: a file's own analysis, not the start-up
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        job, raw, key = task
        # a file with a cache entry is loaded from it (and analysed after all if the
        # entry turns out unusable)
        facts = _load(cache, key) if key is not None and cache is not None else None
        loaded = facts is not None
        if facts is None:
            facts = _analyze_guarded(job, raw)
            gc.collect()  # at most one file's syntax tree alive at a time
        # the allocator keeps what a large file's syntax tree took for the rest of the
        # process's life: a worker that grew leaves after this file, and a fresh one
        # takes its place
        retiring = start is not None and (_resident() or 0) - start > RETIRE_GROWTH
        conn.send((facts, retiring, loaded))
        if retiring:
            return


# past this many bytes of cache entries to load, the workers load them and make their
# repeated values one object (decoded as they are, 32 MiB of entries take about 170 MiB)
SHARED_LOAD_BYTES = 32 * 1024 * 1024
# how much a worker may grow past its start (bytes) before it is replaced
RETIRE_GROWTH = 40 * 1024 * 1024
# how many source bytes the workers may be parsing at once, unless one file alone is
# larger: libcst's tree of a file takes up to about 550 bytes a source byte while it is
# worked on (a 295 KB test module: 162 MiB), so two large files side by side made the
# run's peak; a worker takes a small file instead while a large one is in another's hands
IN_FLIGHT_BYTES = 384 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident() -> int | None:
    """This process's resident memory in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class _Worker:
    """One worker process and the file it is working on (one at a time, so a crash or a
    timeout is always pinned on the right file)."""

    def __init__(self, context, config: Config, cache: FactsCache | None = None):
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_worker_main, daemon=True,
                                       args=(child_end, os.getpid(), config.catalog, config.tag_keys, cache))
        _parent_ends.append(self.conn)
        try:
            self.process.start()
        finally:
            child_end.close()
        self.job: _Job | None = None
        self.size = 0  # the job's source bytes
        self.started = 0.0
        self.ready = False

    def give(self, job: _Job, raw: bytes, key: str | None = None) -> bool:
        """Hand over a file to analyse, or to load from the cache entry ``key``."""
        try:
            self.conn.send((job, raw, key))
        except (OSError, ValueError):
            return False
        self.job, self.size, self.started = job, _parse_size((job, raw, key)), time.monotonic()
        return True

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                kill = True
        if kill and self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=None if kill else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        if self.conn in _parent_ends:
            _parent_ends.remove(self.conn)


MAX_WORKERS = 64


def worker_count(jobs: int, files: int) -> int:
    """Never more workers than files, than a few per core, or than ``MAX_WORKERS``."""
    return max(1, min(jobs, files, 4 * (os.cpu_count() or 1), MAX_WORKERS))


_FINISHED = object()


def _parse_size(item: tuple[_Job, bytes, str | None]) -> int:
    """The source bytes a worker parses for ``item``: none when it loads a cache entry."""
    return 0 if item[2] is not None else len(item[1])


def _run_pool(pending: list[tuple[_Job, bytes, str | None]], jobs: int, config: Config,
              progress: ProgressFn | None, done_before: int, total: int,
              on_result: Callable[[FileFacts, bool], None], cache: FactsCache | None = None,
              meanwhile: Iterator[tuple[_Job, bytes, str | None] | None] | None = None) -> dict[str, FileFacts]:
    """Analyse in worker processes, one file per worker at a time; a file given with the
    key of its cache entry is loaded from ``cache`` instead, unless the entry is unusable.
    A worker that dies turns its file into EVT000 and is replaced; one that spends longer
    than ``file-time-limit`` on a file is killed and the file is EVT000.  Either way the
    file is tried once, and the run goes on.  ``on_result`` sees each file's facts as they
    arrive, and whether they were loaded (the cache is written while the workers go on); a
    crashed or timed-out file is not passed to it (it is not cached: a crash may not recur).
    ``meanwhile`` is work the main process does while the workers work, a step at a time:
    each step accounts for one file, and returns it when it is to be analysed after all."""
    results: dict[str, FileFacts] = {}
    context = _pool_context()
    if context.get_start_method() == "fork":
        # the analyser and libcst, imported once here, come with every forked worker
        # instead of being imported by each (a tenth of a second apiece, and workers
        # that grew are replaced)
        from . import source  # noqa: F401

    limit = config.file_time_limit
    done = done_before
    # files to analyse first and the largest first, so no worker is left with a big file
    # at the end while the others idle (results are put back in discovery order afterwards)
    queue = collections.deque(sorted(pending, key=lambda item: (item[2] is not None, -len(item[1]))))
    workers = [_Worker(context, config, cache) for _ in range(worker_count(jobs, len(queue)))]

    def finish(facts: FileFacts, cacheable: bool, loaded: bool = False) -> None:
        nonlocal done
        results[facts.path] = facts
        if cacheable:
            on_result(facts, loaded)
        done += 1
        if progress is not None:
            progress(done, total)

    failed_starts = 0

    def replace_worker(index: int) -> _Worker:
        workers[index].stop(kill=True)
        workers[index] = _Worker(context, config, cache)
        return workers[index]

    def feed(index: int) -> None:
        worker = workers[index]
        if not (worker.ready and worker.job is None and queue):
            return
        in_flight = sum(w.size for w in workers if w.job is not None)
        if not in_flight or in_flight + _parse_size(queue[0]) <= IN_FLIGHT_BYTES:
            item = queue.popleft()
            first = True
        elif in_flight + _parse_size(queue[-1]) <= IN_FLIGHT_BYTES:
            item = queue.pop()  # the smallest, or a cached one, beside the large files in hand
            first = False
        else:
            return  # it waits for the others' large files
        if not worker.give(*item):
            # the worker is gone: a new one takes the file
            if first:
                queue.appendleft(item)
            else:
                queue.append(item)
            replace_worker(index)

    try:
        while True:
            for index in range(len(workers)):
                feed(index)
            busy = [w for w in workers if w.job is not None]
            starting = [w for w in workers if not w.ready]
            if not busy and not queue and meanwhile is None:
                break
            now = time.monotonic()
            wait_for = max(0.0, min(w.started + limit for w in busy) - now) if busy else None
            ready = set(mp_connection.wait([w.conn for w in busy + starting],
                                           timeout=0 if meanwhile is not None else wait_for))
            if not ready and meanwhile is not None:
                step = next(meanwhile, _FINISHED)
                if step is _FINISHED:
                    meanwhile = None
                elif step is not None:
                    queue.append(step)
                else:
                    done += 1
                    if progress is not None:
                        progress(done, total)
                continue
            for index, worker in enumerate(workers):
                if not worker.ready and worker.conn in ready:
                    try:
                        worker.ready = worker.conn.recv() == _READY
                    except (EOFError, OSError):
                        failed_starts += 1
                        if failed_starts > _MAX_FAILED_STARTS:
                            raise RuntimeError("the analysis worker processes fail to start") from None
                        replace_worker(index)
                    continue
                if worker.job is None:
                    continue
                if worker.conn in ready:
                    try:
                        facts, retiring, loaded = worker.conn.recv()
                    except (EOFError, OSError):
                        job = worker.job
                        replace_worker(index)
                        finish(_crashed(job), cacheable=False)
                        continue
                    worker.job = None
                    if retiring:  # it grew large and leaves: a fresh worker takes the next file
                        replace_worker(index)
                    else:
                        feed(index)  # its next file first: storing this one's facts takes a while
                    finish(facts, cacheable=True, loaded=loaded)
                elif time.monotonic() - worker.started > limit:
                    job = worker.job
                    replace_worker(index)
                    finish(_timed_out(job, limit), cacheable=False)
    finally:
        for worker in workers:
            worker.stop(kill=worker.job is not None)
    return results


def _extractor_digest() -> str:
    """A hash of the code that produces facts, so a changed extractor never reads stale
    cache entries (the version alone does not change between commits)."""
    digest = hashlib.blake2b(digest_size=8)
    here = Path(__file__).resolve().parent
    for name in ("facts.py", "items.py", "branching.py", "loops.py", "alternatives.py", "syntax.py", "source.py", "model.py",
                 "guards.py", "passthrough.py", "frames.py", "nested.py"):
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def analyze_files(sources: list[SourceFile], config: Config, *, jobs: int, cache_dir: Path | None,
                  progress: ProgressFn | None = None, contents: dict[str, bytes] | None = None,
                  results_salt: str | None = None, memo: dict[str, FileFacts] | None = None) -> Analysis:
    """``contents`` (root-relative path -> bytes) replaces what is on disk: ``fix`` analyses
    the text it read, and the text earlier codemods produced, before anything is written.
    ``memo`` (cache key -> facts) keeps the facts of a long-lived process's earlier runs in
    memory: a file whose content and settings are unchanged is neither read back from the
    cache nor analysed again; the memo is left holding this run's files alone."""
    catalog = load_catalog(config.catalog)
    salt = f"{__version__}\0{_extractor_digest()}\0{catalog.digest}\0{','.join(config.tag_keys)}"
    cache = FactsCache(cache_dir, salt)
    facts_by_path: dict[str, FileFacts] = {}
    pending: list[tuple[_Job, bytes, str | None]] = []  # (file, content, its cache entry's key to load)
    keys: dict[str, str] = {}
    hits = 0
    read: list[tuple[_Job, bytes, str]] = []
    for source in sources:
        job = _Job(str(source.path), source.rel, source.module, source.aliases, source.is_package)
        try:
            if source.problem is not None:
                raise SourceError(source.problem)
            raw = contents[source.rel] if contents is not None and source.rel in contents \
                else read_source(source.path, config.max_file_size)
        except SourceError as error:
            facts_by_path[job.rel] = FileFacts(job.rel, job.module, job.aliases,
                                               problem=Problem(str(error), Span(1, 1, 1, 1)))
            continue
        read.append((job, raw, cache.key(job, raw)))
    run_key = None
    if results_salt is not None and cache_dir is not None:
        digest = hashlib.blake2b(f"{salt}\0{results_salt}\0{_package_digest()}".encode(), digest_size=20)
        for source in sources:
            digest.update(f"\0{source.rel}".encode())
        for _, _, key in read:
            digest.update(key.encode())
        run_key = digest.hexdigest()
        stored = ResultsCache(cache_dir).get(run_key)
        if stored is not None:
            files, findings = stored
            return Analysis(files, catalog, len(files), run_key, findings)
    earlier = memo.copy() if memo is not None else {}
    if memo is not None:
        memo.clear()
    # decoding gives every repeated value of the facts an object of its own: past
    # ``SHARED_LOAD_BYTES`` of entries the workers load them and make those values one
    # object, as the analysis does (half the memory, at the cost of the walk that does it)
    sizes = {key: cache.size(key) for _, _, key in read if key not in earlier} if cache.folder is not None else {}
    in_workers = jobs > 1 and sum(size for size in sizes.values() if size is not None) >= SHARED_LOAD_BYTES
    to_decode: list[tuple[_Job, bytes, str]] = []  # the entries the main process reads

    def take(rel: str, key: str, facts: FileFacts) -> None:
        """A file whose facts need no analysis: kept in memory, or read from its entry."""
        nonlocal hits
        facts_by_path[rel] = facts
        if memo is not None:
            memo[key] = facts
        hits += 1

    for job, raw, key in read:
        cached = earlier.get(key)
        if cached is not None:
            take(job.rel, key, cached)
            continue
        keys[job.rel] = key
        if sizes.get(key) is None:
            pending.append((job, raw, None))
        elif in_workers:
            pending.append((job, raw, key))
        else:
            to_decode.append((job, raw, key))

    def decode_entries() -> Iterator[tuple[_Job, bytes, None] | None]:
        """Each step reads one entry; an unusable one's file is to be analysed."""
        for job, raw, key in to_decode:
            cached = cache.get(key)
            if cached is None:
                yield job, raw, None
                continue
            take(job.rel, key, cached)
            yield None

    meanwhile = None
    if not pending:
        pending = [item for item in decode_entries() if item is not None]
    elif to_decode:
        meanwhile = decode_entries()  # read while the workers analyse the changed files
    if pending:
        stored: list[str] = []
        loaded: list[str] = []

        def store(facts: FileFacts, from_cache: bool) -> None:
            if from_cache:
                loaded.append(facts.path)
            else:
                cache.put(keys[facts.path], facts)
                stored.append(facts.path)
            if memo is not None:
                memo[keys[facts.path]] = facts

        fresh = _run_pool(pending, max(1, jobs), config, progress, len(facts_by_path), len(sources), store,
                          cache if in_workers else None, meanwhile)
        facts_by_path.update(fresh)
        hits += len(loaded)
        if len(stored) + len(loaded) < len(fresh):
            run_key = None  # a worker crashed: neither its file nor this run's results are kept
    ordered = [facts_by_path[s.rel] for s in sources if s.rel in facts_by_path]
    return Analysis(ordered, catalog, hits, run_key)


def _package_digest() -> str:
    """A hash of eventlint's own code: stored results are only reused by the same code."""
    digest = hashlib.blake2b(digest_size=16)
    here = Path(__file__).resolve().parent
    for path in sorted(here.rglob("*.py")):
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def matches_codes(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(p) for p in prefixes) or "ALL" in prefixes


def selected_rules(select: tuple[str, ...], ignore: tuple[str, ...]) -> list[Rule]:
    rules = [r for r in all_rules() if r.check is not None]
    chosen = [r for r in rules if not select or matches_codes(r.code, select)]
    return [r for r in chosen if not matches_codes(r.code, ignore)]


def run_checks(graph, config: Config, rules: list[Rule]) -> list[Finding]:
    """Every rule's findings.  A rule that fails keeps what it found before the error and
    adds an EVT000 finding naming it; a module whose analysis failed (see
    ``EventGraph.isolated``) is an EVT000 finding on that module.  Tracebacks go to the
    ``eventlint.internal`` logger (shown with ``--verbose``)."""
    import logging

    from .checks import evt000_unanalyzable_file as evt000

    findings: list[Finding] = []
    for rule in rules:
        try:
            for finding in rule.check(graph, config):
                findings.append(finding)
        except Exception as error:  # noqa: BLE001 - one rule's bug must not cost the other rules their findings
            logging.getLogger("eventlint.internal").debug("internal error in rule %s", rule.code, exc_info=True)
            findings.extend(evt000.rule_failure(graph, rule, error))
    findings.extend(evt000.failures(graph))
    return sorted(set(findings), key=Finding.sort_key)


def is_suppressed(finding: Finding, facts: FileFacts | None) -> bool:
    if facts is None:
        return False
    for suppression in facts.suppressions:
        if finding.span.line in suppression.applies_to and (not suppression.codes or finding.code in suppression.codes):
            return True
    return False


def per_file_ignored(finding: Finding, config: Config) -> bool:
    for pattern, codes in config.per_file_ignores:
        if matches_pattern(finding.path, pattern) and any(finding.code.startswith(c) or c == "ALL" for c in codes):
            return True
    return False


def filter_findings(findings: list[Finding], files: list[FileFacts], config: Config, *,
                    reviews: list[Rule] = (), ran: tuple[str, ...] = (),
                    line_text: Callable[[str, int], str | None] | None = None) -> list[Finding]:
    """Drop suppressed and per-file-ignored findings, then add what the ``reviews`` rules
    (EVT900) find in ``findings`` (the checks' output before any filtering); ``ran`` are
    the codes of the rules that ran."""
    by_path = {f.path: f for f in files}
    kept = [f for f in findings if not is_suppressed(f, by_path.get(f.path)) and not per_file_ignored(f, config)]
    if reviews:
        review = Review(tuple(findings), tuple(files), ran, line_text)
        for rule in reviews:
            kept += [f for f in rule.review(review) if not per_file_ignored(f, config)]
        kept.sort(key=Finding.sort_key)
    return kept


def with_paths(findings: list[Finding], rewrite: Callable[[str], str]) -> list[Finding]:
    """Rewrite every path a finding carries (location, related locations, fix edits)."""
    return [
        replace(f, path=rewrite(f.path), related=tuple(replace(r, path=rewrite(r.path)) for r in f.related),
                fix=None if f.fix is None else replace(
                    f.fix, edits=tuple(replace(e, path=rewrite(e.path)) for e in f.fix.edits)))
        for f in findings
    ]
