"""Thread pools: for blocking I/O and for code that releases the GIL."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

__all__ = ["ThreadBackend"]


class ThreadBackend:
    """Each pool is a :class:`~concurrent.futures.ThreadPoolExecutor`."""

    name = "thread"
    payloads_cross_process = False
    can_kill_workers = False
    supports_run_timeout = False
    accepted_options = frozenset({"initializer", "initargs"})

    def open(self, options: Mapping[str, Any]) -> None:
        """Thread pools need nothing per manager."""

    def close(self) -> None:
        """Nothing to release."""

    def dumps(self, obj: Any) -> bytes:
        """Pickle with the stdlib, at its highest protocol."""
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build a thread pool whose threads are named after the pool."""
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name, **options)

    def kill_workers(self, executor: Executor) -> None:
        """Threads cannot be killed; a stuck thread finishes in its own time."""

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Threads start cheaply on first use; nothing to warm."""
