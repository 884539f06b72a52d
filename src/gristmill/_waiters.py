"""First-come, first-served queue of ``acquire()`` waiters.

Each waiter owns one future. The manager hands a lease to the oldest waiter
whose future is still pending; a waiter that timed out or was cancelled is
skipped, so its turn passes to the next one and no wake-up is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._lease import ExecutorLease

__all__ = ["Waiter", "WaiterQueue"]


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
