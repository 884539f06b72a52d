"""The complete "write your own backend" example in docs/backends.md runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_custom_backend_example_in_the_docs_runs(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "backends.md").read_text()
    section = guide.split("## Write your own backend", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the section has no code block"
    script = tmp_path / "custom_backend.py"
    script.write_text(match.group(1))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    available, sums, backend, calls = result.stdout.splitlines()
    assert "counting" in available.split(": ")[1].split(", ")
    assert (sums, backend, calls) == ("6 5", "backend: counting", "calls run: 2")
