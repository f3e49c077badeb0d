"""The examples in the module docstring and the README section run as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from bus_helpers import REPO

import eventlint.bus

HEADING = "## The reference bus: eventlint.bus"


def run_example(code: str, cwd) -> str:
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_module_docstring_example(tmp_path):
    doc = eventlint.bus.__doc__
    code = textwrap.dedent(doc.split("Example::\n", 1)[1].split("\n\n``", 1)[0])
    out = run_example(code, tmp_path)
    assert "shipping 1" in out
    assert "SubscriptionStats(offered=1, delivered=1, dropped=0, dead_lettered=0)" in out
    assert "OrderPlaced(order_id=1, total='9.90')" in out


def _readme_section() -> str | None:
    for path in (os.path.join(REPO, "README.md"),):
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if HEADING in text:
                return text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return None


def test_readme_example(tmp_path):
    section = _readme_section()
    assert section is not None, "README.md lost its section on eventlint.bus"
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = run_example(code, tmp_path)
    for comment in re.findall(r"#\s+(SubscriptionStats\(.*?\))", code):
        assert comment in out
    assert "1 3 ConnectionError('payment gateway down')" in out
    assert "[req-42] receipt for order 2" in out
    assert "VipOrderPlaced 2 0" in out
    assert "audited 3" in out
