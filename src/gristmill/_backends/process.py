"""Process pools: for CPU-bound pure-Python work."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.forkserver
import pickle
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["ProcessBackend", "default_mp_context"]

WARM_UP_WAIT = 10.0
"""Seconds ``warm_up`` waits for the workers to boot; slower ones finish booting on their own."""


def default_mp_context() -> BaseContext:
    """Return a start method that is safe in a threaded, async parent.

    ``fork`` copies a process mid-flight, locks and event loop included, so we
    prefer ``forkserver`` and fall back to ``spawn`` where it is missing.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ProcessBackend:
    """Each pool is a :class:`~concurrent.futures.ProcessPoolExecutor`."""

    name = "process"
    payloads_cross_process = True
    can_kill_workers = True
    supports_run_timeout = True
    accepted_options = frozenset({"initializer", "initargs", "mp_context", "max_tasks_per_child"})

    def open(self, options: Mapping[str, Any]) -> None:
        """Process pools need nothing per manager."""

    def close(self) -> None:
        """Nothing to release."""

    def dumps(self, obj: Any) -> bytes:
        """Pickle with the stdlib, at its highest protocol."""
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build a process pool, on a non-fork start method unless one is given."""
        kwargs = dict(options)
        if kwargs.get("mp_context") is None:
            kwargs["mp_context"] = default_mp_context()
        return ProcessPoolExecutor(max_workers=workers, **kwargs)

    def kill_workers(self, executor: Executor) -> None:
        """Kill the pool's worker processes so abandoned work stops at once."""
        # The stdlib offers no public handle on its workers; read defensively.
        processes = getattr(executor, "_processes", None) or {}
        for process in list(processes.values()):
            if process.is_alive():
                process.kill()

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Start the fork server and the pool's worker processes now.

        ``ProcessPoolExecutor.submit`` starts both on the caller's thread,
        which would be the event loop's. One no-op per worker spawns them (the
        portable way); waiting for the no-ops lets them finish booting, up to
        :data:`WARM_UP_WAIT` seconds.
        """
        context = options.get("mp_context") or default_mp_context()
        if context.get_start_method() == "forkserver":
            multiprocessing.forkserver.ensure_running()
        ready = [executor.submit(_ready) for _ in range(workers)]
        concurrent.futures.wait(ready, timeout=WARM_UP_WAIT)


def _ready() -> None:
    """The no-op each worker runs once during warm-up."""
