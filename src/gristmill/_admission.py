"""Bounded admission: who may add a job to a full queue, and in what order.

With ``max_pending`` set, a caller that finds the queue full either waits for
room (``overflow="wait"``) or is refused at once (``overflow="reject"``).
Waiters are served first come, first served, each with its own future; room
handed to a waiter is reserved for it until it resumes, so a newcomer cannot
take it in between, and a waiter cancelled after being handed room passes it
on (:func:`~gristmill._waiters.await_turn`). A group (``enqueue_many``) is
admitted as a unit: it waits until there is room for all of it, and the
waiters behind it wait their turn. Owning loop only.
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

    __slots__ = ("_queued", "_reserved", "_waiters", "_wants", "max_pending", "overflow")

    def __init__(
        self, max_pending: int | None, overflow: Overflow, queued: Callable[[], int]
    ) -> None:
        self._queued = queued
        self.max_pending = max_pending
        self.overflow = overflow
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._wants: dict[asyncio.Future[int], int] = {}  # room a group waits for, if not 1
        self._reserved = 0

    @property
    def waiting(self) -> int:
        """Callers waiting for room."""
        return len(self._waiters)

    def has_room(self, count: int = 1) -> bool:
        """Return whether ``count`` new jobs may join the queue right now."""
        limit = self.max_pending
        return limit is None or (
            not self._waiters and self._queued() + self._reserved + count <= limit
        )

    async def wait_for_room(self, count: int = 1) -> None:
        """Return once the caller may add ``count`` jobs; call ``has_room`` first.

        Raises:
            ValueError: ``count`` is more than ``max_pending``, so it could never fit.
            GrinderOverloadedError: the queue is full and the policy is ``"reject"``.
            Exception: whatever :meth:`fail_waiters` hands out while waiting.
        """
        limit = self.max_pending
        if limit is not None and count > limit:
            raise ValueError(
                f"{count} items can never fit a queue of max_pending={limit}; "
                f"enqueue them in groups of at most {limit}"
            )
        if self.overflow == "reject":
            wanted = "" if count == 1 else f" for {count} more"
            raise GrinderOverloadedError(
                f"the grinder's queue is full{wanted} ({self._queued()} pending, max_pending="
                f"{self.max_pending}); retry later, or use overflow='wait' for backpressure"
            )
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if count != 1:
            self._wants[waiter] = count
        try:
            await await_turn(waiter, pass_on=self._pass_on)
        except BaseException:
            self._remove(waiter)  # still queued if it left before its turn came
            raise
        self._reserved -= count

    def grant(self) -> None:
        """Hand whatever room the queue has to the oldest waiters."""
        limit = self.max_pending
        waiters = self._waiters
        while waiters and limit is not None:
            wants = self._wants.get(waiters[0], 1)
            if self._queued() + self._reserved + wants > limit:
                break
            waiter = waiters.popleft()
            self._wants.pop(waiter, None)
            if not waiter.done():
                waiter.set_result(wants)
                self._reserved += wants

    def fail_waiters(self, error: BaseException) -> None:
        """Fail every caller still waiting for room with ``error``."""
        self._wants.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _pass_on(self, granted: int) -> None:
        """A waiter handed room left without using it: hand the room to the next one."""
        self._reserved -= granted
        self.grant()

    def _remove(self, waiter: asyncio.Future[int]) -> None:
        self._wants.pop(waiter, None)
        with contextlib.suppress(ValueError):  # already handed out
            self._waiters.remove(waiter)
        self.grant()  # a group that left may have been holding up smaller waiters behind it
