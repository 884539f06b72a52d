"""The progress display on a terminal, with ``rich`` and without it, and its pure parts."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from gristmill._cli._display import Meter, format_seconds
from tests.cli.test_cli_run import BOUND, FUNCS, REPO, records, write_lines


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``python -m gristmill ARGS``, stderr on a pseudo-terminal: (status, what it showed)."""
    master, slave = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, "-m", "gristmill", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], BOUND)
            assert ready, "the command went silent"
            try:
                block = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not block:
                break
            shown += block
        status = run.wait(timeout=BOUND)
    finally:
        os.close(master)
        run.kill()
    return status, shown.decode(errors="replace")


@pytest.mark.parametrize("with_rich", [True, False])
def test_a_terminal_shows_progress_then_the_summary(tmp_path: Path, with_rich: bool) -> None:
    pytest.importorskip("rich")
    source = write_lines(tmp_path / "in.jsonl", [*(str(n) for n in range(300)), "oops"])
    output = tmp_path / "out.jsonl"
    env = dict(os.environ)
    if not with_rich:  # a package named rich that cannot be imported stands in for none
        fake = tmp_path / "no_rich" / "rich"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError('rich is not installed')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), str(REPO)])
    args = ["map", f"{FUNCS}:slow", str(source), "-o", str(output), "--workers", "1"]
    status, shown = run_on_a_terminal(args, env)
    assert status == 1  # the "oops" line
    assert len(records(output)) == 301
    assert "items/s" in shown
    assert "ETA" in shown
    assert "/301" in shown  # done out of the total
    assert "failed" in shown if with_rich else "failures" in shown
    assert "gristmill map: 301 lines" in shown  # the summary
    assert ("\x1b[K" in shown) is not with_rich  # the plain line redraws itself in place


def test_the_meter_measures_the_recent_rate_and_the_time_left() -> None:
    meter = Meter()
    assert meter.rate() == 0.0
    assert meter.seconds_left(10) is None
    meter.add(0.0, 0)
    meter.add(2.0, 100)
    assert meter.rate() == 50.0
    assert meter.seconds_left(500) == 10.0
    for second in range(3, 30):
        meter.add(float(second), 100 + 10 * (second - 2))  # slowed down to 10/s
    assert meter.rate() == pytest.approx(10.0)


def test_times_are_shown_as_a_clock() -> None:
    assert format_seconds(None) == "-:--"
    assert format_seconds(float("inf")) == "-:--"
    assert format_seconds(5.4) == "0:05"
    assert format_seconds(125) == "2:05"
    assert format_seconds(3 * 3600 + 61) == "3:01:01"
