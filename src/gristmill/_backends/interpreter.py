"""Sub-interpreter pools (Python 3.14+): parallel Python without processes."""

from __future__ import annotations

import concurrent.futures
import pickle
import sys
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

__all__ = ["InterpreterBackend", "interpreter_missing", "interpreter_pool_available"]


def interpreter_pool_available() -> bool:
    """Return whether this Python ships ``InterpreterPoolExecutor``."""
    return hasattr(concurrent.futures, "InterpreterPoolExecutor")


def interpreter_missing() -> str | None:
    """Say why this Python cannot run interpreter pools, or return None if it can."""
    if interpreter_pool_available():
        return None
    return (
        "backend 'interpreter' needs Python 3.14+ (InterpreterPoolExecutor); "
        f"this is {sys.version.split()[0]}. Use 'process' instead."
    )


class InterpreterBackend:
    """Each pool is an ``InterpreterPoolExecutor``; calls are pickled between interpreters."""

    name = "interpreter"
    payloads_cross_process = True
    can_kill_workers = False
    supports_run_timeout = False
    accepted_options = frozenset({"initializer", "initargs"})

    def open(self, options: Mapping[str, Any]) -> None:
        """Interpreter pools need nothing per manager."""

    def close(self) -> None:
        """Nothing to release."""

    def dumps(self, obj: Any) -> bytes:
        """Pickle with the stdlib, at its highest protocol."""
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build an interpreter pool."""
        factory: Any = getattr(concurrent.futures, "InterpreterPoolExecutor")  # noqa: B009
        executor: Executor = factory(max_workers=workers, thread_name_prefix=name, **options)
        return executor

    def kill_workers(self, executor: Executor) -> None:
        """Interpreters run on threads and cannot be killed."""

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Interpreters start on first use; nothing to warm."""
