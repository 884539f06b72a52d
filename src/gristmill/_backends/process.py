"""Process pools: for CPU-bound pure-Python work."""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["ProcessBackend", "default_mp_context"]


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
    accepted_options = frozenset({"initializer", "initargs", "mp_context", "max_tasks_per_child"})

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
