"""One executor pool and the thread-safe gate in front of it.

A pool is handed to one lease at a time. Only the lease that currently *holds*
the pool may submit to it; the manager takes the hold away (release, revoke,
breakage) under the pool's lock, so once :meth:`Pool.detach` returns no new
work can reach the executor through that lease. The lock guards only the
holder, the in-flight count and ``executor.submit``; user code and
``executor.shutdown()`` never run under it.

The borrower gets a :class:`RelayedFuture`, not the executor's own future: it
settles only after the pool has counted the work done and told the manager
whether the pool drained or broke. So once the borrower sees a job fail with
``BrokenExecutor``, the manager already knows (see ``LeasedExecutorManager``
for when the owning loop applies it).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from functools import partial
from typing import Any

from ._errors import LeaseExpiredError

__all__ = ["Pool", "PoolState", "RelayedFuture"]


class PoolState(enum.Enum):
    """Where a pool is in its life."""

    IDLE = "idle"
    LEASED = "leased"
    DRAINING = "draining"
    RETIRED = "retired"


Signal = Callable[["Pool", "BaseException | None"], None]
"""Called from any thread when a pool finished draining (None) or broke (the error)."""


class Pool:
    """An executor plus its lease gate and in-flight accounting."""

    __slots__ = (
        "_holder",
        "_lock",
        "_signal",
        "executor",
        "idle_since",
        "inflight",
        "name",
        "state",
    )

    def __init__(self, executor: Executor, name: str, signal: Signal) -> None:
        self.executor = executor
        self.name = name
        self.state = PoolState.IDLE
        self.idle_since = 0.0
        self.inflight = 0
        self._holder: object | None = None
        self._lock = threading.Lock()
        self._signal = signal

    def attach(self, holder: object) -> None:
        """Let ``holder`` submit work (owning loop only)."""
        with self._lock:
            self._holder = holder
            self.state = PoolState.LEASED

    def held_by(self, holder: object) -> bool:
        """Whether ``holder`` may submit to this pool now (any thread; a snapshot)."""
        return holder is not None and self._holder is holder

    def detach(self) -> int:
        """Stop the current holder from submitting; return the work still in flight.

        With work in flight the pool becomes DRAINING and signals once it is done.
        """
        with self._lock:
            self._holder = None
            if self.inflight and self.state is PoolState.LEASED:
                self.state = PoolState.DRAINING
            return self.inflight

    def submit(
        self, holder: object, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        """Submit ``fn`` for ``holder`` (any thread).

        Raises:
            LeaseExpiredError: ``holder`` no longer holds this pool.
            BrokenExecutor: the executor broke; the manager is told to retire it.
        """
        with self._lock:
            if self._holder is not holder or holder is None:
                raise LeaseExpiredError(
                    "this lease is no longer active (released, expired or its executor "
                    "broke); acquire a new lease"
                )
            try:
                future = self.executor.submit(fn, *args, **kwargs)
            except BrokenExecutor as exc:
                broken: BaseException | None = exc
            else:
                broken = None
                self.inflight += 1
        if broken is not None:
            self._signal(self, broken)
            raise broken
        relayed = RelayedFuture(future)
        future.add_done_callback(partial(self._on_done, relayed))
        return relayed

    def _on_done(self, relayed: RelayedFuture, future: Future[Any]) -> None:
        """Count the work done and signal the manager, then settle the borrower's future."""
        exc = None if future.cancelled() else future.exception()
        with self._lock:
            self.inflight -= 1
            drained = self.inflight == 0 and self.state is PoolState.DRAINING
        if isinstance(exc, BrokenExecutor):
            self._signal(self, exc)
        elif drained:
            self._signal(self, None)
        relayed.settle_from(future)


class RelayedFuture(Future[Any]):
    """The future a borrower holds: mirrors the executor's, settling once the pool is told.

    ``cancel()`` and ``running()`` act on the executor's future until this
    one settles, so a job that has started cannot be cancelled, as with any
    executor. Settling lets go of the executor's future: it keeps its done
    callbacks, one of which holds this future, and that cycle would keep
    everything waiting on this future (a whole batch, its jobs and their
    results) alive until the cyclic garbage collector ran.
    """

    def __init__(self, inner: Future[Any]) -> None:
        super().__init__()
        self._inner: Future[Any] | None = inner

    def cancel(self) -> bool:
        """Cancel the job if it has not started; this future follows (any thread)."""
        inner = self._inner
        return super().cancel() if inner is None else inner.cancel()

    def running(self) -> bool:
        """Whether the job is running now."""
        inner = self._inner
        return False if inner is None else inner.running()

    def settle_from(self, inner: Future[Any]) -> None:
        """Take the outcome of the finished ``inner`` (the pool's done callback)."""
        self._inner = None
        if inner.cancelled():
            super().cancel()
            return
        exc = inner.exception()
        if exc is not None:
            self.set_exception(exc)
        else:
            self.set_result(inner.result())
