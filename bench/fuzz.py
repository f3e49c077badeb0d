"""Longer fuzz runs than CI's: the property tests of ``tests/test_fuzz.py`` with more
generated programs and mutated fixtures.

    python bench/fuzz.py            # 500 examples per property
    python bench/fuzz.py 5000
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    examples = argv[0] if argv else "500"
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, EVENTLINT_FUZZ_EXAMPLES=examples)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests" / "test_fuzz.py"),
               "-k", "never_break", "--hypothesis-show-statistics"]
    return subprocess.call(command, env=env, cwd=root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
