"""Ctrl-C and SIGTERM end a program promptly, with no process left behind.

Each program runs in its own interpreter with about 25 s of process work
queued (400 jobs of 0.125 s on 2 workers); the programs and the harness live
in ``benchmarks/ctrl_c.py``, which also measures the figure in RELIABILITY.md.
The test waits until the program says work is running, sends one signal, and
checks how long the program took to exit and that none of its child processes
(workers, fork server) outlived it. Before the fix, one SIGINT took 23 s on the
README's try/finally pattern.

The bound is generous so that a loaded machine does not fail it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

pytest.importorskip("psutil")  # the bench extra

from benchmarks.ctrl_c import PATTERNS, run_and_signal, write_program

EXIT_BOUND = 10.0
"""Seconds a signalled program may take to exit; about 0.1 s is typical, the bar is 2 s."""


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_one_sigint_ends_a_program_with_25_s_of_queued_process_work_at_once(
    tmp_path: Path, pattern: str
) -> None:
    ending = run_and_signal([write_program(tmp_path, PATTERNS[pattern])], signal.SIGINT)
    assert ending.seconds < EXIT_BOUND, ending
    assert ending.returncode == -signal.SIGINT, ending  # an uncaught KeyboardInterrupt
    assert "KeyboardInterrupt" in ending.stderr
    assert "leaked" not in ending.stderr
    assert ending.survivors == []


def test_the_script_example_stops_on_ctrl_c_and_on_sigterm() -> None:
    for sig, code, word in [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated"),
    ]:
        ending = run_and_signal(["examples/interrupted_script.py", "400"], sig)
        assert ending.seconds < EXIT_BOUND, ending
        assert ending.returncode == code, ending
        assert ending.stderr.startswith(f"{word}: pending jobs cancelled"), ending
        assert ending.survivors == []


def test_the_service_example_drains_on_sigterm() -> None:
    ending = run_and_signal(["examples/signals_service.py"], signal.SIGTERM, ready="serving")
    assert ending.returncode == 0, ending
    assert "SIGTERM: no new requests" in ending.stdout
    drained = ending.stdout.strip().splitlines()[-1].split()
    assert drained[0] == "drained:"
    assert drained[1] == drained[3]  # every accepted request was answered
    assert ending.survivors == []


def test_the_service_example_stops_at_once_on_ctrl_c() -> None:
    ending = run_and_signal(["examples/signals_service.py"], signal.SIGINT, ready="serving")
    assert ending.seconds < EXIT_BOUND, ending
    assert ending.returncode == 130, ending
    assert "interrupted" in ending.stderr
    assert ending.survivors == []
