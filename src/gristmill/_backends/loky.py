"""loky pools: process workers that also run lambdas and closures (``gristmill[loky]``).

Calls travel with cloudpickle, which pickles lambdas, closures and functions
defined in ``__main__`` or in a notebook by value. ``lease.run`` gets that from
loky itself; the grinder pre-pickles its chunks with :meth:`LokyBackend.dumps`
(``cloudpickle.dumps``), and the worker's plain :func:`pickle.loads` reads them
back because cloudpickle output only needs cloudpickle importable there.

Why each pool is its own ``loky.ProcessPoolExecutor`` and not loky's reusable
executor: ``loky.get_reusable_executor()`` hands every caller on a thread the
*same* executor (one per thread, so one for the whole event loop), and resizes
or replaces it whenever it is asked for with other arguments. A manager owns
several pools and retires them one at a time: a revoked lease kills the
workers of exactly that pool, and a broken pool is replaced alone. On the
shared executor, retiring one pool would kill the work of every other pool,
and of any other code in the process that uses the reusable executor (joblib
does). ``ProcessPoolExecutor`` is the class the reusable executor is built on,
with the same workers, serialization and crash detection; reuse comes from the
manager instead, which keeps pools warm between leases and lends them again.

loky's ``shutdown`` takes ``kill_workers`` instead of the stdlib's
``cancel_futures``, so each pool is wrapped in a :class:`LokyPool` that speaks
the stdlib's keywords.
"""

from __future__ import annotations

import concurrent.futures
import pickle
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

import cloudpickle
import loky

__all__ = ["LokyBackend", "LokyPool"]

P = ParamSpec("P")
T = TypeVar("T")

WARM_UP_WAIT = 10.0
"""Seconds ``warm_up`` waits for the workers to boot; slower ones finish booting on their own."""


class LokyPool(Executor):
    """One ``loky.ProcessPoolExecutor`` behind the stdlib's ``Executor`` interface.

    Any thread. ``shutdown(cancel_futures=True)`` cancels the calls that no
    worker has picked up yet, as the stdlib does; :meth:`kill_workers` kills
    the workers with loky's own ``shutdown(kill_workers=True)``.
    """

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._unfinished: set[Future[Any]] = set()
        self._kill = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)``; loky pickles it with cloudpickle.

        Raises:
            loky.process_executor.BrokenProcessPool: a worker died (a
                :class:`concurrent.futures.BrokenExecutor`).
            RuntimeError: the pool was shut down.
        """
        future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        with self._lock:
            self._unfinished.add(future)
        future.add_done_callback(self._forget)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; with ``wait``, let the workers finish and exit first."""
        # After kill_workers() loky fails every unfinished call itself; a call
        # cancelled here first would make its manager thread trip over it.
        if cancel_futures and not self._kill:
            with self._lock:
                unfinished = list(self._unfinished)
            for future in unfinished:
                future.cancel()  # refused by calls already running, as in the stdlib
        # A False here would undo an earlier kill_workers() the manager thread has not seen yet.
        self._executor.shutdown(wait=wait, kill_workers=self._kill)

    def kill_workers(self) -> None:
        """Shut down at once: kill every worker and fail every unfinished call.

        Does not block: loky's manager thread sends the signals a moment later.
        """
        self._kill = True
        self._executor.shutdown(wait=False, kill_workers=True)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._unfinished.discard(future)


class LokyBackend:
    """Each pool is a :class:`LokyPool`: one loky process executor of its own."""

    name = "loky"
    payloads_cross_process = True
    can_kill_workers = True
    supports_run_timeout = False
    accepted_options = frozenset({"initializer", "initargs", "context", "env", "timeout"})

    def open(self, options: Mapping[str, Any]) -> None:
        """loky pools need nothing per manager."""

    def close(self) -> None:
        """Nothing to release."""

    def dumps(self, obj: Any) -> bytes:
        """Pickle with cloudpickle, so lambdas and closures reach the workers."""
        data: bytes = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return data

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        """Build a loky executor with ``workers`` processes (loky does not name them)."""
        return LokyPool(loky.ProcessPoolExecutor(max_workers=workers, **options))

    def kill_workers(self, executor: Executor) -> None:
        """Kill the pool's worker processes so abandoned work stops at once."""
        if isinstance(executor, LokyPool):
            executor.kill_workers()

    def warm_up(self, executor: Executor, *, workers: int, options: Mapping[str, Any]) -> None:
        """Start the pool's worker processes now, off the event loop.

        loky starts them inside the first ``submit``, on the caller's thread;
        one no-op per worker starts them all, and waiting for the no-ops lets
        them finish booting, up to :data:`WARM_UP_WAIT` seconds.
        """
        ready = [executor.submit(_ready) for _ in range(workers)]
        concurrent.futures.wait(ready, timeout=WARM_UP_WAIT)


def _ready() -> None:
    """The no-op each worker runs once during warm-up."""
