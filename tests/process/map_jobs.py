"""Picklable top-level functions for the ``map`` tests on process pools (workers import them)."""

from __future__ import annotations

import os
import threading
import time

from tests.process.jobs import TwoArgError


def hostile(x: int) -> object:
    """Most items square; 3 raises, 4 returns a lock, 5 raises an exception that won't unpickle."""
    if x == 3:
        raise ValueError(f"no {x}")
    if x == 4:
        return threading.Lock()
    if x == 5:
        raise TwoArgError(5, "stubborn")
    return x * x


def add(x: int, y: int) -> int:
    return x + y


def crash_on(x: int, target: int) -> int:
    """Kill the worker process at ``target``; return ``x`` otherwise."""
    if x == target:
        os._exit(70)
    return x


def slow_from(x: int, first: int, last: int, seconds: float) -> int:
    """Sleep ``seconds`` for ``first <= x < last``; return ``x``."""
    if first <= x < last:
        time.sleep(seconds)
    return x


def hang_on(x: int, target: int) -> int:
    """Sleep 30 s at ``target`` (a hung item); return ``x`` otherwise."""
    if x == target:
        time.sleep(30)
    return x
