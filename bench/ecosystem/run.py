"""The real-code corpus: pinned event-driven packages, eventlint run on each, and the
findings of two eventlint versions compared.

    python bench/ecosystem/run.py fetch                  # download (pip), verify sha256, unpack
    python bench/ecosystem/run.py run --out new.json     # check every package, store the findings
    python bench/ecosystem/run.py diff old.json new.json # every finding gained and lost
    python bench/ecosystem/run.py compare HEAD~1 HEAD    # run two commits of this repository, diff
    python bench/ecosystem/run.py score new.json         # recall and precision against labels.toml

Packages are listed in ``packages.toml`` beside this script, each pinned by version, file
name and sha256; a download whose digest differs is refused.  Archives are unpacked as data
(no member outside the target folder, no links, no special files) and nothing in them is
run: eventlint reads the sources, as it would a pull request's.  ``run`` fails (exit 1)
when eventlint ends with anything but 0 or 1 on a package.  Not part of CI: it needs the
network once, then works from ``--work`` (default: ``~/.cache/eventlint-corpus``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PACKAGES = HERE / "packages.toml"
LABELS = HERE / "labels.toml"
DEFAULT_WORK = Path(os.environ.get("EVENTLINT_CORPUS_DIR", Path.home() / ".cache" / "eventlint-corpus"))


def load_packages(names: list[str] | None = None) -> list[dict]:
    packages = tomllib.loads(PACKAGES.read_text(encoding="utf-8"))["package"]
    if names:
        unknown = set(names) - {p["name"] for p in packages}
        if unknown:
            sys.exit(f"not in {PACKAGES.name}: {', '.join(sorted(unknown))}")
        packages = [p for p in packages if p["name"] in names]
    return packages


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(package: dict, downloads: Path) -> Path:
    """The pinned file, downloaded by pip once and verified every time."""
    target = downloads / package["file"]
    if not target.exists():
        wheel = package["file"].endswith(".whl")
        kind = (["--only-binary", ":all:", "--platform", "any", "--implementation", "py", "--abi", "none",
                 "--python-version", "3.11"] if wheel else ["--no-binary", ":all:"])
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(downloads),
                        *kind, f"{package['name']}=={package['version']}"], check=True)
    if not target.exists():
        sys.exit(f"{package['name']}: pip did not download {package['file']}")
    found = sha256(target)
    if found != package["sha256"]:
        target.unlink()
        sys.exit(f"{package['file']}: sha256 {found} is not the pinned {package['sha256']}; removed")
    return target


def unpack(archive: Path, folder: Path) -> None:
    """Unpack as data only: members stay inside ``folder``, links and devices are refused."""
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".unpack-"))
    try:
        if archive.suffix in {".whl", ".zip"}:
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.infolist():
                    destination = (staging / member.filename).resolve()
                    if not destination.is_relative_to(staging.resolve()):
                        raise ValueError(f"{archive.name}: {member.filename} points outside the archive")
                zipped.extractall(staging)
        else:
            with tarfile.open(archive) as tarred:
                tarred.extractall(staging, filter="data")
        tops = list(staging.iterdir())
        root = tops[0] if len(tops) == 1 and tops[0].is_dir() and not archive.name.endswith(".whl") else staging
        shutil.rmtree(folder, ignore_errors=True)
        root.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(packages: list[dict], work: Path) -> None:
    downloads, sources = work / "downloads", work / "sources"
    downloads.mkdir(parents=True, exist_ok=True)
    sources.mkdir(parents=True, exist_ok=True)
    for package in packages:
        folder = sources / f"{package['name']}-{package['version']}"
        archive = download(package, downloads)
        if not folder.exists():
            unpack(archive, folder)
        print(f"{package['name']} {package['version']}: {folder}")


def check_package(package: dict, work: Path, eventlint: Path, jobs: int) -> dict:
    folder = work / "sources" / f"{package['name']}-{package['version']}"
    if not folder.exists():
        sys.exit(f"{folder} is missing: run `fetch` first")
    target = folder / package.get("path", ".")
    env = {**os.environ, "PYTHONPATH": str(eventlint), "CI": "1"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "eventlint", "check", str(target), "--format", "json",
                           "--no-cache", "--jobs", str(jobs)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    findings = []
    if done.stdout.strip():
        try:
            findings = json.loads(done.stdout)["findings"]
        except (ValueError, KeyError):
            pass
    return {
        "version": package["version"],
        "exit": done.returncode,
        "seconds": round(seconds, 2),
        "files": sum(1 for _ in folder.rglob("*.py")),
        "stderr": done.stderr.strip().splitlines()[-3:],
        "findings": sorted(([f["code"], f["path"], f["line"], f["column"], f["message"]] for f in findings)),
    }


def run(packages: list[dict], work: Path, eventlint: Path, jobs: int, out: Path | None) -> dict:
    results = {}
    for package in packages:
        result = check_package(package, work, eventlint, jobs)
        results[package["name"]] = result
        counts = {}
        for code, *_ in result["findings"]:
            counts[code] = counts.get(code, 0) + 1
        shown = ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "no findings"
        mark = "" if result["exit"] in (0, 1) else "   <-- exit code " + str(result["exit"])
        print(f"{package['name']:<20} {result['files']:>5} files {result['seconds']:>7.1f} s  exit {result['exit']}  {shown}{mark}",
              flush=True)
    if out:
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    total = sum(len(r["findings"]) for r in results.values())
    failed = [name for name, r in results.items() if r["exit"] not in (0, 1)]
    print(f"{len(results)} packages, {total} findings, {len(failed)} runs ended with exit 2 or worse"
          + (f": {', '.join(failed)}" if failed else ""))
    return results


def diff(old: dict, new: dict) -> int:
    """Print every finding gained (+) and lost (-), package by package; the number changed."""
    changed = 0
    for name in sorted(set(old) | set(new)):
        before = {tuple(f) for f in old.get(name, {}).get("findings", [])}
        after = {tuple(f) for f in new.get(name, {}).get("findings", [])}
        exits = old.get(name, {}).get("exit"), new.get(name, {}).get("exit")
        lines = [f"- {c} {p}:{l}:{col} {m}" for c, p, l, col, m in sorted(before - after)]
        lines += [f"+ {c} {p}:{l}:{col} {m}" for c, p, l, col, m in sorted(after - before)]
        if lines or exits[0] != exits[1]:
            print(f"{name}: exit {exits[0]} -> {exits[1]}, {len(before - after)} lost, {len(after - before)} gained")
            print("\n".join("  " + line for line in lines))
        changed += len(lines)
    print(f"{changed} findings changed")
    return changed


def compare(revisions: list[str], packages: list[dict], work: Path, jobs: int) -> int:
    """Check the corpus with two commits of this repository (git worktrees) and diff."""
    results = []
    with tempfile.TemporaryDirectory(prefix="eventlint-compare-") as scratch:
        for index, revision in enumerate(revisions):
            tree = Path(scratch) / f"rev{index}"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), revision],
                           check=True)
            try:
                print(f"== {revision}")
                results.append(run(packages, work, tree, jobs, work / f"findings-{index}.json"))
            finally:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)
    return diff(results[0], results[1])


def load_scoring():
    """``score.py`` beside this script, loaded by path (the folder is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("eventlint_corpus_score", HERE / "score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def score(results_path: Path, labels_path: Path) -> None:
    """Print recall and precision per rule of stored findings against the labels."""
    scoring = load_scoring()
    results = json.loads(results_path.read_text(encoding="utf-8"))
    labels = scoring.parse_labels(tomllib.loads(labels_path.read_text(encoding="utf-8")))
    findings = scoring.parse_findings(results)
    outside = sorted({label.package for label in labels} - set(results))
    print(f"{results_path}: {len(results)} packages, {len(findings)} reported places of "
          f"{', '.join(scoring.RULES)}; {labels_path.name}: {len(labels)} labels"
          + (f" ({sum(l.package in outside for l in labels)} of packages not in this run left out: "
             f"{', '.join(outside)})" if outside else ""))
    print(scoring.report(scoring.score(labels, findings, set(results))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="downloads and unpacked sources")
    parser.add_argument("--package", "-p", action="append", help="only this package (repeatable)")
    parser.add_argument("--jobs", "-j", type=int, default=2)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="download, verify and unpack the pinned packages")
    run_parser = commands.add_parser("run", help="check every package and store the findings")
    run_parser.add_argument("--out", type=Path, help="write the findings here (JSON)")
    run_parser.add_argument("--eventlint", type=Path, default=REPO, help="source tree of the eventlint to run")
    diff_parser = commands.add_parser("diff", help="findings gained and lost between two stored runs")
    diff_parser.add_argument("old", type=Path)
    diff_parser.add_argument("new", type=Path)
    compare_parser = commands.add_parser("compare", help="run two commits of this repository and diff")
    compare_parser.add_argument("revisions", nargs=2)
    score_parser = commands.add_parser("score", help="recall and precision of stored findings against the labels")
    score_parser.add_argument("results", type=Path)
    score_parser.add_argument("--labels", type=Path, default=LABELS, help=f"default: {LABELS.name} beside this script")
    args = parser.parse_args(argv)

    if args.command == "diff":
        diff(json.loads(args.old.read_text()), json.loads(args.new.read_text()))
        return 0
    if args.command == "score":
        try:
            score(args.results, args.labels)
        except BrokenPipeError:  # piped into head
            pass
        except (OSError, ValueError) as error:  # a report, not a gate: say what is wrong, exit 0
            print(f"score: {error}", file=sys.stderr)
        return 0
    packages = load_packages(args.package)
    if args.command == "fetch":
        fetch(packages, args.work)
        return 0
    fetch(packages, args.work)
    if args.command == "run":
        results = run(packages, args.work, args.eventlint.resolve(), args.jobs, args.out)
        return 1 if any(r["exit"] not in (0, 1) for r in results.values()) else 0
    compare(args.revisions, packages, args.work, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
