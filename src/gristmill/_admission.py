"""Bounded admission: who may add a job to a full queue, and in what order.

With ``max_pending`` set, a caller that finds the queue full either waits for
room (``overflow="wait"``) or is refused at once (``overflow="reject"``).
Waiters are served first come, first served, each with its own future; room
handed to a waiter is reserved for it until it resumes, so a newcomer cannot
take it in between, and a waiter cancelled after being handed room passes it
on (:func:`~gristmill._waiters.await_turn`). Owning loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Literal

from ._errors import GrinderOverloadedError
from ._waiters import await_turn

__all__ = ["Admission", "Overflow"]

Overflow = Literal["wait", "reject"]


class Admission:
    """The gate in front of a grinder's queue.

    Args:
        max_pending: Most jobs the queue may hold, or ``None`` for no bound.
        overflow: What a caller does when the queue is full.
        queued: Returns how many jobs the queue holds now.
    """

    __slots__ = ("_queued", "_reserved", "_waiters", "max_pending", "overflow")

    def __init__(
        self, max_pending: int | None, overflow: Overflow, queued: Callable[[], int]
    ) -> None:
        self._queued = queued
        self.max_pending = max_pending
        self.overflow = overflow
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._reserved = 0

    @property
    def waiting(self) -> int:
        """Callers waiting for room."""
        return len(self._waiters)

    def has_room(self) -> bool:
        """Return whether a new job may join the queue right now."""
        limit = self.max_pending
        return limit is None or (not self._waiters and self._queued() + self._reserved < limit)

    async def wait_for_room(self) -> None:
        """Return once the caller may add one job; call ``has_room`` first.

        Raises:
            GrinderOverloadedError: the queue is full and the policy is ``"reject"``.
            Exception: whatever :meth:`fail_waiters` hands out while waiting.
        """
        if self.overflow == "reject":
            raise GrinderOverloadedError(
                f"the grinder's queue is full ({self._queued()} pending, max_pending="
                f"{self.max_pending}); retry later, or use overflow='wait' for backpressure"
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await await_turn(waiter, pass_on=self._pass_on)
        except BaseException:
            self._remove(waiter)  # still queued if it left before its turn came
            raise
        self._reserved -= 1

    def grant(self) -> None:
        """Hand whatever room the queue has to the oldest waiters."""
        limit = self.max_pending
        waiters = self._waiters
        while waiters and limit is not None and self._queued() + self._reserved < limit:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._reserved += 1

    def fail_waiters(self, error: BaseException) -> None:
        """Fail every caller still waiting for room with ``error``."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _pass_on(self, _: None) -> None:
        """A waiter handed room left without using it: hand the room to the next one."""
        self._reserved -= 1
        self.grant()

    def _remove(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # already handed out
            self._waiters.remove(waiter)
