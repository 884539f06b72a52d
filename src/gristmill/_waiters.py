"""Waiting one's turn: the FIFO of ``acquire()`` waiters, and the rule every waiter keeps.

Each waiter owns one future, and whoever serves the queue hands the turn to
the oldest waiter whose future is still pending. :func:`await_turn` is the one
home of the rule that makes this safe (the ``asyncio.Queue`` discipline): a
waiter that leaves after it was handed its turn (cancelled, or timed out, in
the same loop turn) passes what it was handed on, so no wake-up is lost. The
grinder's admission gate waits for room by it too.

:meth:`WaiterQueue.wait` is the waiting half of ``acquire()``: queue, time out
on the manager's clock, and give back a lease that arrived too late.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ._clock import Clock
    from ._lease import ExecutorLease

__all__ = ["Waiter", "WaiterQueue", "await_turn"]

T = TypeVar("T")


async def await_turn(future: asyncio.Future[T], *, pass_on: Callable[[T], object]) -> T:
    """Wait for ``future``, a waiter's turn; if the waiter leaves once handed it, pass it on.

    ``pass_on`` receives what the future was resolved with when the await is
    interrupted (cancelled) after the turn was already handed over.
    """
    try:
        return await future
    except BaseException:
        if future.done() and not future.cancelled() and future.exception() is None:
            pass_on(future.result())
        raise


class Waiter:
    """One pending ``acquire()`` call and the lease terms it asked for."""

    __slots__ = ("future", "lease_seconds", "owner")

    def __init__(
        self, future: asyncio.Future[ExecutorLease], lease_seconds: float, owner: str | None
    ) -> None:
        self.future = future
        self.lease_seconds = lease_seconds
        self.owner = owner


class WaiterQueue:
    """FIFO of waiters, owning loop only."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: deque[Waiter] = deque()

    def push(self, waiter: Waiter) -> None:
        """Queue ``waiter`` behind everyone already waiting."""
        self._prune()
        self._queue.append(waiter)

    async def wait(
        self,
        waiter: Waiter,
        *,
        clock: Clock,
        limit: float | None,
        give_back: Callable[[ExecutorLease], None],
    ) -> ExecutorLease:
        """Queue ``waiter`` and wait until it is handed a lease.

        A waiter cancelled after being handed a lease passes it to
        ``give_back``, so the lease is not lost.

        Raises:
            TimeoutError: ``limit`` seconds of ``clock`` time passed first.
            NotStartedError: the manager stopped meanwhile (set by ``fail_all``).
        """
        future = waiter.future
        self.push(waiter)
        timer = (
            None
            if limit is None
            else clock.call_at(clock.time() + limit, partial(_time_out, future, limit))
        )
        try:
            return await await_turn(future, pass_on=give_back)
        finally:
            if timer is not None:
                timer.cancel()

    def has_live(self) -> bool:
        """Return whether some waiter still wants a lease."""
        self._prune()
        return bool(self._queue)

    def pop_live(self) -> Waiter:
        """Remove and return the oldest live waiter; call ``has_live()`` first."""
        self._prune()
        return self._queue.popleft()

    def live_count(self) -> int:
        """Count waiters that still want a lease."""
        return sum(1 for waiter in self._queue if not waiter.future.done())

    def fail_all(self, exc: BaseException) -> None:
        """Fail every live waiter with ``exc`` and empty the queue."""
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(exc)

    def _prune(self) -> None:
        while self._queue and self._queue[0].future.done():
            self._queue.popleft()


def _time_out(future: asyncio.Future[ExecutorLease], limit: float) -> None:
    if not future.done():
        future.set_exception(
            TimeoutError(
                f"Timed out waiting for a lease: no executor became free within {limit}s; "
                "pass a longer timeout, or raise max_pools"
            )
        )
