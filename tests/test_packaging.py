"""The wheel ships the rule pages and the catalogue, and eventlint loads them from there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the tree")
def test_wheel_ships_rules_and_loads_them(tmp_path):
    pytest.importorskip("build")
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "*.egg-info", "build", "dist", ".eventlint_cache",
                                                                   "__pycache__", ".pytest_cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("eventlint-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"eventlint/_rules/EVT001.md", "eventlint/_rules/catalog/channels.toml",
            "eventlint/_rules/catalog/README.md"} <= names
    # every module of the package is shipped: a subpackage missing from pyproject's list
    # would silently drop a rule (the registry finds what is there) or a codemod
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "eventlint").rglob("*.py")}
    assert sorted(modules - names) == []
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import eventlint.catalog as c; d = c.rules_dir(); "
        "assert d.name == '_rules' and d.parent.name == 'eventlint', d; "
        "assert c.load_catalog().channel('queue.Queue') is not None; "
        "from eventlint.checks import all_rules; from eventlint.codemods import registry; "
        "assert [r.code for r in all_rules()] == ['EVT000', 'EVT001', 'EVT002', 'EVT003', 'EVT900']; "
        "assert sorted(e.name for e, _ in registry.available()) == ['add-timeouts', 'migrate-to-bus', 'privatize-queues']; "
        "print(d)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert str(unpacked) in out.stdout
