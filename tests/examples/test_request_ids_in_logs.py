"""The request-id logging recipe: every job's log line carries its own caller's request id.

Run as a user runs it, in its own interpreter: on the thread backend the job sees
the id through its caller's context, on the process backend through
``propagate_context``, and the worker's record reaches the parent's handler.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_each_job_logs_with_its_callers_request_id_on_threads_and_processes() -> None:
    result = subprocess.run(
        [sys.executable, "examples/request_ids_in_logs.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^(\S+) (\S+) thumbnails: making thumbnail (\d+)$", result.stdout, re.M)
    assert len(lines) == 8
    for request, _, number in lines:
        assert request == f"req-{number}"
    processes = {process for _, process, _ in lines}
    assert "MainProcess" in processes  # the thread backend's lines
    assert processes - {"MainProcess"}  # and the worker processes'
