"""Picklable top-level jobs that the process-backend tests send to worker processes.

Workers import this module by name, so everything a test sends across the
process boundary lives here rather than in the test modules.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PARENT_MARK = "as imported"
"""Tests change this in the parent; a worker that was not forked never sees the change."""

_INITIALIZED: str | None = None


class TwoArgError(Exception):
    """Raises fine, but unpickling calls ``TwoArgError(message)`` and fails."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"code {code}: {reason}")
        self.code = code


def square(x: int) -> int:
    return x * x


def square_or_raise(x: int) -> int:
    """Square ``x``, but raise ``ValueError`` naming ``x`` for multiples of 7."""
    if x % 7 == 0:
        raise ValueError(f"rejected {x}")
    return x * x


def describe(x: object, *, label: str = "") -> str:
    return f"{label}{type(x).__name__}"


def raise_key_error(key: str) -> None:
    raise KeyError(key)


def raise_two_arg_error() -> None:
    raise TwoArgError(7, "bad input")


def return_two_arg_error() -> TwoArgError:
    return TwoArgError(8, "returned, not raised")


def return_lock() -> object:
    return threading.Lock()


def return_generator() -> Iterator[int]:
    return (i for i in range(3))


def raise_system_exit(code: int) -> None:
    raise SystemExit(code)


def raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt("stop")


def exit_abruptly() -> None:
    """Kill the worker process without cleanup, which breaks its pool."""
    os._exit(1)


def worker_pid() -> int:
    return os.getpid()


def parent_pid() -> int:
    return os.getppid()


def read_parent_mark() -> str:
    return PARENT_MARK


def sleep_after_writing_pid(path: str, seconds: float) -> None:
    """Write this worker's pid to ``path``, then sleep long enough to be killed."""
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def remember(value: str) -> None:
    """Executor initializer: store ``value`` for :func:`initialized_value`."""
    global _INITIALIZED
    _INITIALIZED = value


def initialized_value_and_pid() -> tuple[str | None, int]:
    return _INITIALIZED, os.getpid()


def start_method() -> str | None:
    return multiprocessing.get_start_method(allow_none=True)


def log_message(logger_name: str, level: int, message: str) -> int:
    """Log ``message`` in the worker and return the worker's pid."""
    logging.getLogger(logger_name).log(level, message)
    return os.getpid()
