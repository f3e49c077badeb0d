"""``eventlint server`` from the command line: listed in the help, a clear error when
its optional dependencies are missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

WITHOUT = """\
import sys
sys.modules[{name!r}] = None  # as if it were not installed
from eventlint.cli import main
sys.exit(main(["server"]))
"""


def test_help_lists_the_server_on_one_line():
    out = subprocess.run([sys.executable, "-m", "eventlint", "--help"], capture_output=True, text=True, env=ENV,
                         check=True).stdout
    assert "  server    Run the language server (LSP over stdio) for editors.\n" in out


def test_without_pygls_the_server_says_what_to_install_and_exits_2():
    for name in ("pygls", "lsprotocol"):
        done = subprocess.run([sys.executable, "-c", WITHOUT.format(name=name)], capture_output=True, text=True,
                              env=ENV, stdin=subprocess.DEVNULL, timeout=60)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr == (f"eventlint: error: the language server needs {name}, which is not installed: "
                               "install eventlint's lsp extra (pip install '.[lsp]' in a clone of eventlint)\n")
