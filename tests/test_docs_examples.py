"""The README's quickstart and every feature example still run and exit cleanly.

Each runs in its own interpreter, as a user would run it. The demo (`make demo`) is
left out here: it is a multi-second load run, exercised by hand and in its own
make target. So are the servers that run until stopped: the FastAPI apps, served
and driven in ``tests/examples/``, and the signal-handling service, which runs
until a signal and is tested in ``tests/process/test_ctrl_c.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    path
    for path in (ROOT / "examples").glob("*.py")
    if path.name not in {"demo.py", "fastapi_app.py", "otel_fastapi.py", "signals_service.py"}
    and not path.name.startswith("_")  # modules the examples import
)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_readme_quickstart_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.S)
    assert match is not None, "README has no Quickstart code block"
    script = tmp_path / "quickstart.py"
    script.write_text(match.group(1))
    result = _run([str(script)])
    assert result.returncode == 0, result.stderr
    digest_line, count_line = result.stdout.splitlines()
    assert len(digest_line) == 64  # the sha256 of b"hello"
    assert count_line.split()[0] == "1000"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(example: Path) -> None:
    result = _run([str(example.relative_to(ROOT))])
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip(), f"{example.name} printed nothing"
