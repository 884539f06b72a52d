"""Picklable top-level jobs that the process-backend tests send to worker processes.

Workers import this module by name, so everything a test sends across the
process boundary lives here rather than in the test modules.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

from gristmill import batched

PARENT_MARK = "as imported"
"""Tests change this in the parent; a worker that was not forked never sees the change."""

_INITIALIZED: str | None = None

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""Propagated into workers by the context tests (``propagate_context=[request_id]``)."""

tenant: ContextVar[str] = ContextVar("tenant", default="no tenant")
"""Set by the callers in the context tests, but never propagated."""


class TwoArgError(Exception):
    """Raises fine, but unpickling calls ``TwoArgError(message)`` and fails."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"code {code}: {reason}")
        self.code = code


def _refuse_to_be_rebuilt() -> None:
    raise RuntimeError("refusing to be rebuilt")


class Unloadable:
    """Pickles fine anywhere; unpickling it raises ``RuntimeError``."""

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return (_refuse_to_be_rebuilt, ())


class CustomBaseError(BaseException):
    """A BaseException of the user's own, outside the Exception tree."""


def make_base_exception(kind: str) -> BaseException:
    """Build the BaseException named ``kind``, with a message (or code) that tells it apart."""
    if kind == "KeyboardInterrupt":
        return KeyboardInterrupt("raised by the job")
    if kind == "SystemExit":
        return SystemExit(3)
    if kind == "GeneratorExit":
        return GeneratorExit("raised by the job")
    if kind == "CancelledError":
        return asyncio.CancelledError("raised by the job")
    if kind == "CustomBaseError":
        return CustomBaseError("raised by the job")
    raise ValueError(f"unknown kind {kind!r}")


def raise_base_exception(kind: str) -> None:
    """Raise the BaseException named ``kind`` (see :func:`make_base_exception`)."""
    raise make_base_exception(kind)


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


def count_run(runs: str, name: str) -> None:
    """Record one run of the item ``name``: one more line in ``runs/name``."""
    with (Path(runs) / name).open("a") as record:
        record.write("run\n")


def runs_of(runs: Path, name: str) -> int:
    """Parent side: how many times :func:`count_run` recorded ``name``."""
    record = runs / name
    return len(record.read_text().splitlines()) if record.exists() else 0


def counted_square(runs: str, x: int) -> int:
    """Square ``x``, recording the run under ``sq<x>``."""
    count_run(runs, f"sq{x}")
    return x * x


def _die_by(how: str) -> None:
    if how == "exit":
        os._exit(1)
    elif how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    raise ValueError(f"unknown way to die: {how!r}")


def counted_crash(runs: str, how: str) -> None:
    """Record the run under ``crash``, then kill this worker process ``how``.

    ``how`` is ``"exit"`` (``os._exit``), ``"sigkill"`` (the worker SIGKILLs
    itself) or ``"segfault"`` (it reads address 0).
    """
    count_run(runs, "crash")
    _die_by(how)


def crash_on_first_run(runs: str, how: str) -> str:
    """Kill the worker ``how`` on the first run; return ``"recovered"`` on the next."""
    count_run(runs, "flaky")
    if runs_of(Path(runs), "flaky") == 1:
        _die_by(how)
    return "recovered"


def wait_to_be_killed_on_first_run(runs: str, pid_file: str) -> str:
    """First run: write this worker's pid to ``pid_file`` and sleep until killed.

    Later runs return ``"recovered"`` at once.
    """
    count_run(runs, "victim")
    if runs_of(Path(runs), "victim") == 1:
        Path(pid_file).write_text(str(os.getpid()))
        time.sleep(30.0)
    return "recovered"


def counted_hang(runs: str, name: str, started: str | None = None) -> None:
    """Record the run under ``name``, create the file ``started`` if given, then sleep 30 s.

    30 s is far past any run timeout a test sets: the test never waits for it.
    """
    count_run(runs, name)
    if started is not None:
        Path(started).touch()
    time.sleep(30.0)


def hang_once_started(runs: str, name: str, started: str) -> None:
    """Wait for the file ``started`` to exist (another item is running), then hang."""
    count_run(runs, name)
    deadline = time.monotonic() + 30.0
    while not Path(started).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(30.0)


def wait_for_file(runs: str, name: str, gate: str) -> str:
    """Record the run under ``name``; return once the file ``gate`` exists (at most 30 s)."""
    count_run(runs, name)
    deadline = time.monotonic() + 30.0
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{gate} never appeared")
        time.sleep(0.005)
    return name


def return_lambda() -> Callable[[], int]:
    return lambda: 1


def crash_once_file_exists(runs: str, path: str) -> None:
    """Record the run under ``crash``, then ``os._exit`` once the file ``path`` exists.

    It waits at most 30 s for the file.
    """
    count_run(runs, "crash")
    deadline = time.monotonic() + 30.0
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    os._exit(1)


# -- batch functions (gristmill.batched): pickled by reference, like the functions above ----


@batched(max_batch_size=4)
def batch_pids(items: list[int]) -> list[tuple[int, int]]:
    """Square each item and say which worker process ran the call."""
    pid = os.getpid()
    return [(item * item, pid) for item in items]


@batched(key=lambda item: item % 2)
def batch_parity(items: list[int]) -> list[list[int]]:
    """Return, for each item, the whole list the call received (to see who shared it)."""
    return [list(items) for _ in items]


@batched
def batch_exit_on_poison(items: list[int]) -> list[int]:
    """A call that holds the poison item -1 kills its worker process."""
    if -1 in items:
        os._exit(13)
    return [item + 1 for item in items]


@batched
def batch_hang_on_poison(items: list[float]) -> list[float]:
    """A call that holds a negative item hangs for 30 s (for run timeouts)."""
    if any(item < 0 for item in items):
        time.sleep(30)
    return list(items)


@batched
def batch_unloadable_safe(items: list[object]) -> list[str]:
    """Describe each item; an item that fails to unpickle never gets here."""
    return [type(item).__name__ for item in items]


def read_context() -> tuple[str | None, str]:
    """What the worker sees of ``request_id`` and ``tenant``."""
    return request_id.get(), tenant.get()


def overwrite_request_id(value: str) -> str | None:
    """Return what the worker saw of ``request_id``, then set it to ``value``."""
    seen = request_id.get()
    request_id.set(value)
    return seen


def _refuse_to_load() -> None:
    raise RuntimeError("this value cannot be rebuilt here")


class LoadsNowhere:
    """Pickles in the parent; unpickling it raises."""

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (_refuse_to_load, ())


def current_span_ids() -> tuple[int, int]:
    """The trace id and span id of the span current in the worker (OpenTelemetry API only)."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return context.trace_id, context.span_id


def open_a_span() -> tuple[int, int | None]:
    """Open and end a span with an SDK provider of the worker's own; return its trace and parent.

    The provider is local, so nothing is exported: the answer says where the
    span sat in the trace.
    """
    from opentelemetry.sdk.trace import TracerProvider

    with TracerProvider().get_tracer("worker").start_as_current_span("in the worker") as span:
        parent = span.parent  # type: ignore[attr-defined]
        return span.get_span_context().trace_id, None if parent is None else parent.span_id
