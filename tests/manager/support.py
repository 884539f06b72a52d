"""Small helpers for the manager tests: gated work and pool identity."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

from gristmill import ExecutorLease, LeasedExecutorManager

__all__ = [
    "GATE_TIMEOUT",
    "StartManager",
    "block_on",
    "current_pool",
    "pool_of_lease",
    "thread_name",
]

StartManager = Callable[..., Awaitable[LeasedExecutorManager]]
"""The ``start_manager`` fixture: start a manager with keyword overrides."""

GATE_TIMEOUT = 10.0
"""Real seconds a gated worker waits before giving up, so a bug fails instead of hanging."""


def thread_name() -> str:
    """Return the name of the worker thread running this call."""
    return threading.current_thread().name


def current_pool() -> str:
    """Return the pool a worker thread belongs to (``prefix-thread-N_i`` -> ``prefix-thread-N``)."""
    return thread_name().rpartition("_")[0]


def block_on(gate: threading.Event, started: threading.Event | None = None) -> str:
    """Hold a worker until ``gate`` is set; signal ``started`` first. Returns the pool name."""
    if started is not None:
        started.set()
    if not gate.wait(GATE_TIMEOUT):
        raise TimeoutError("gate was never opened")
    return current_pool()


async def pool_of_lease(lease: ExecutorLease) -> str:
    """Return the name of the pool behind ``lease``, found by running a call on it."""
    return await lease.run(current_pool)
