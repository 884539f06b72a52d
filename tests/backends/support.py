"""A backend written in a test: thread pools that record every call the manager makes.

It implements the public :class:`gristmill.Backend` protocol only, the way a
user's own backend would. ``events`` lists the calls in order: ``open``,
``opened`` once ``open`` returns, ``create:<pool>``, ``warm_up:<pool>``,
``kill:<pool>``, ``shutdown:<pool>`` and ``close``. Gates hold ``open``,
``warm_up`` or ``close`` in their worker thread until the test sets them, so a
test can act while ``start()`` or ``stop()`` waits there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

GATE_TIMEOUT = 10.0


class RecordingExecutor(ThreadPoolExecutor):
    """A thread pool that can be broken on purpose and tells when it is killed."""

    def __init__(self, name: str, workers: int, events: Callable[[str], None]) -> None:
        super().__init__(max_workers=workers, thread_name_prefix=name)
        self.name = name
        self.killed = threading.Event()
        self._broken = False
        self._record = events

    def break_(self) -> None:
        """Make every later ``submit`` raise ``BrokenExecutor``."""
        self._broken = True

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._broken:
            raise BrokenExecutor(f"{self.name} was broken by the test")
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._record(f"shutdown:{self.name}")
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


class RecordingBackend:
    """Thread pools whose every lifecycle call is recorded; ``kill_workers`` sets ``killed``."""

    payloads_cross_process = False
    can_kill_workers = True
    supports_run_timeout = False
    accepted_options = frozenset({"tag"})

    def __init__(
        self,
        name: str = "recording",
        *,
        open_error: Exception | None = None,
        create_error: Exception | None = None,
        close_error: Exception | None = None,
        gate_open: bool = False,
        gate_warm_up: bool = False,
        gate_close: bool = False,
    ) -> None:
        self.name = name
        self.events: list[str] = []
        self.executors: list[RecordingExecutor] = []
        self.options: list[Mapping[str, Any]] = []
        self.open_entered = threading.Event()
        self.open_gate = threading.Event()
        self.warm_up_entered = threading.Event()
        self.warm_up_gate = threading.Event()
        if not gate_open:
            self.open_gate.set()
        if not gate_warm_up:
            self.warm_up_gate.set()
        self.close_entered = threading.Event()
        self.close_gate = threading.Event()
        if not gate_close:
            self.close_gate.set()
        self._open_error = open_error
        self._create_error = create_error
        self._close_error = close_error
        self._lock = threading.Lock()

    def record(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def open(self, options: Mapping[str, Any]) -> None:
        self.record("open")
        self.options.append(options)
        self.open_entered.set()
        self.open_gate.wait(GATE_TIMEOUT)
        if self._open_error is not None:
            raise self._open_error
        self.record("opened")

    def close(self) -> None:
        self.record("close")
        self.close_entered.set()
        self.close_gate.wait(GATE_TIMEOUT)
        if self._close_error is not None:
            raise self._close_error

    def dumps(self, obj: Any) -> bytes:
        raise AssertionError("payloads do not cross a process boundary on this backend")

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        if self._create_error is not None:
            raise self._create_error
        self.record(f"create:{name}")
        executor = RecordingExecutor(name, workers, self.record)
        self.executors.append(executor)
        return executor

    def kill_workers(self, executor: Executor) -> None:
        assert isinstance(executor, RecordingExecutor)
        self.record(f"kill:{executor.name}")
        executor.killed.set()

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        assert isinstance(executor, RecordingExecutor)
        self.record(f"warm_up:{executor.name}")
        self.warm_up_entered.set()
        self.warm_up_gate.wait(GATE_TIMEOUT)

    def release_gates(self) -> None:
        """Let every held ``open`` and ``warm_up`` go on (call it in ``finally``)."""
        self.open_gate.set()
        self.warm_up_gate.set()
        self.close_gate.set()
