"""Functions the ``gristmill map`` subprocess tests call by ``tests.cli.funcs:NAME``.

They live at the top level of an importable module, so process workers can
import them too. ``GRISTMILL_TEST_GATE`` names a file that gated items wait
for, so a test can hold items running while it interrupts the command.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

GATE_SECONDS = 60.0
"""How long a gated item waits for its file before giving up (a failing test, not a hang)."""


def square(x: int) -> int:
    return x * x


def add(x: int, y: int) -> int:
    return x + y


def picky(x: object) -> object:
    """Fail for negative numbers and for 13; return a set (not JSON) for 99."""
    if x == 13:
        raise LookupError("unlucky")
    if isinstance(x, int) and x < 0:
        raise ValueError(f"negative: {x}")
    if x == 99:
        return {1, 2}
    return x


def gated(x: int) -> int:
    """Return ``x``; items from 500 on first wait for the gate file to exist."""
    if x >= 500:
        gate = Path(os.environ["GRISTMILL_TEST_GATE"])
        deadline = time.monotonic() + GATE_SECONDS
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return x


def hang_at(x: int) -> int:
    """Hang (for a minute) at 7; return ``x`` otherwise."""
    if x == 7:
        time.sleep(60)
    return x


NOT_A_FUNCTION = 42


def slow(x: int) -> int:
    """Take 2 ms, so a short run lasts long enough for the display to redraw."""
    time.sleep(0.002)
    return x
