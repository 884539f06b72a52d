"""Bounded admission: who may add a job to a full queue, and in what order.

With ``max_pending`` set, a caller that finds the queue full either waits for
room (``overflow="wait"``) or is refused at once (``overflow="reject"``).
Waiters are served first come, first served, each with its own future; room
handed to a waiter is reserved for it until it resumes, so a newcomer cannot
take it in between, and a waiter cancelled after being handed room passes it
on (:func:`~gristmill._waiters.await_turn`). A group (``enqueue_many``) is
admitted as a unit: it waits until there is room for all of it, and the
waiters behind it wait their turn.

With ``max_pending_per_owner`` set, each owner has a quota of its own, kept
the same way by :class:`OwnerQuota`: an owner at its quota waits (in a line of
its own, so other owners still get in) or is refused, naming the owner. A
single caller needs room in its owner's quota first, then in the queue; a
group (``enqueue_many``, a ``map`` chunk) is admitted under ``max_pending``
alone, and its jobs count towards their owner's quota once queued. Owning
loop only.

"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Literal

from ._errors import GrinderOverloadedError
from ._owners import OwnerBook
from ._scheduling import owner_key
from ._waiters import await_turn

__all__ = ["Admission", "Overflow"]

Overflow = Literal["wait", "reject"]


class Admission:
    """The gate in front of a grinder's queue.

    Args:
        max_pending: Most jobs the queue may hold, or ``None`` for no bound.
        overflow: What a caller does when the queue is full.
        queued: Returns how many jobs the queue holds now.
        quota: The per-owner quota, if any.

    Attributes:
        bounded: Whether a caller may ever have to wait or be refused.
    """

    __slots__ = (
        "_queued",
        "_reserved",
        "_waiters",
        "_wants",
        "bounded",
        "max_pending",
        "overflow",
        "quota",
    )

    def __init__(
        self,
        max_pending: int | None,
        overflow: Overflow,
        queued: Callable[[], int],
        quota: OwnerQuota | None = None,
    ) -> None:
        self._queued = queued
        self.max_pending = max_pending
        self.overflow = overflow
        self.quota = quota
        self.bounded = max_pending is not None or quota is not None
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._wants: dict[asyncio.Future[int], int] = {}  # room a group waits for, if not 1
        self._reserved = 0

    @property
    def waiting(self) -> int:
        """Callers waiting for room in the queue or in their owner's quota."""
        return len(self._waiters) + (0 if self.quota is None else self.quota.waiting)

    def has_room(self, count: int = 1, owner: object = None) -> bool:
        """Return whether ``count`` new jobs of ``owner`` may join the queue right now.

        Raises:
            TypeError: there is a per-owner quota and ``owner`` is neither a
                ``str`` nor ``None``.
        """
        if not self._queue_has_room(count):
            return False
        return count != 1 or self.quota is None or self.quota.has_room(owner_key(owner))

    async def wait_for_room(self, count: int = 1, owner: object = None) -> None:
        """Return once the caller may add ``count`` jobs of ``owner``; call ``has_room`` first.

        Raises:
            ValueError: ``count`` is more than ``max_pending``, so it could never fit.
            GrinderOverloadedError: the owner's quota or the queue is full and
                the policy is ``"reject"``.
            TypeError: ``owner`` is neither a ``str`` nor ``None`` (with a quota).
            Exception: whatever :meth:`fail_waiters` hands out while waiting.
        """
        quota = self.quota
        if quota is None or count != 1:
            await self._wait_for_queue(count)
            return
        key = owner_key(owner)
        if quota.has_room(key):
            quota.reserve(key)  # held while the caller waits for the queue
        else:
            await quota.wait(key, reject=self.overflow == "reject")
        try:
            if not self._queue_has_room(1):
                await self._wait_for_queue(1)
        except BaseException:
            quota.give_back(key)
            raise
        quota.use(key)

    def _queue_has_room(self, count: int) -> bool:
        limit = self.max_pending
        return limit is None or (
            not self._waiters and self._queued() + self._reserved + count <= limit
        )

    async def _wait_for_queue(self, count: int) -> None:
        """Wait for room for ``count`` jobs in the queue as a whole, first come first served."""
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
        """Fail every caller still waiting for room (in the queue or a quota) with ``error``."""
        self._wants.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        if self.quota is not None:
            self.quota.fail_waiters(error)

    def _pass_on(self, granted: int) -> None:
        """A waiter handed room left without using it: hand the room to the next one."""
        self._reserved -= granted
        self.grant()

    def _remove(self, waiter: asyncio.Future[int]) -> None:
        self._wants.pop(waiter, None)
        with contextlib.suppress(ValueError):  # already handed out
            self._waiters.remove(waiter)
        self.grant()  # a group that left may have been holding up smaller waiters behind it


class OwnerQuota:
    """Per-owner room: at most ``limit`` pending items per owner (keys are plain ``str``/``None``).

    Waiters line up per owner, first come first served; room is handed out as
    the owner's items leave the queue (the :class:`~gristmill._owners.OwnerBook`
    calls :meth:`grant`). A caller holds its place (:meth:`reserve`, or handed
    one by :meth:`grant`) until it has queued its item (:meth:`use`) or given
    the place back (:meth:`give_back`), so it cannot lose the place while it
    waits for room in the queue as a whole.

    Args:
        limit: Most items one owner may have pending.
        book: Where the pending counts are kept; the quota listens to it.
    """

    __slots__ = ("_book", "_reserved", "_waiters", "limit")

    def __init__(self, limit: int, book: OwnerBook) -> None:
        self.limit = limit
        self._book = book
        self._waiters: dict[str | None, deque[asyncio.Future[None]]] = {}
        self._reserved: dict[str | None, int] = {}
        book.waiting = self._waiters
        book.on_room = self.grant

    @property
    def waiting(self) -> int:
        """Callers waiting for room in their owner's quota."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def has_room(self, key: str | None) -> bool:
        """Return whether ``key`` may queue one more item now, without waiting."""
        return key not in self._waiters and self._held(key) < self.limit

    async def wait(self, key: str | None, *, reject: bool) -> None:
        """Wait until ``key`` has room, which is then reserved for the caller.

        Raises:
            GrinderOverloadedError: ``reject`` is set; the message names the owner.
        """
        if reject:
            raise GrinderOverloadedError(
                f"owner {key!r} has {self._book.pending_of(key)} items pending "
                f"(max_pending_per_owner={self.limit}); other owners are still admitted. "
                "Retry later, or use overflow='wait' for backpressure"
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, deque()).append(waiter)
        try:
            await await_turn(waiter, pass_on=lambda _: self.give_back(key))
        except BaseException:
            self._remove(key, waiter)
            raise

    def reserve(self, key: str | None) -> None:
        """Hold one of ``key``'s free places for the caller (see :meth:`has_room`)."""
        self._reserved[key] = self._reserved.get(key, 0) + 1

    def use(self, key: str | None) -> None:
        """The caller holding one of ``key``'s reserved places is queuing its item now."""
        self._release(key)

    def give_back(self, key: str | None) -> None:
        """The caller holding ``key``'s reserved room leaves without queuing: pass it on."""
        self._release(key)
        self.grant(key)

    def grant(self, key: str | None) -> None:
        """Hand ``key``'s free room to its oldest waiters."""
        waiters = self._waiters.get(key)
        while waiters and self._held(key) < self.limit:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.reserve(key)
        if waiters is not None and not waiters:
            del self._waiters[key]

    def fail_waiters(self, error: BaseException) -> None:
        """Fail every caller waiting for room in a quota with ``error``."""
        lines, self._waiters = self._waiters, {}
        self._book.waiting = self._waiters
        for waiters in lines.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)

    def _held(self, key: str | None) -> int:
        return self._book.pending_of(key) + self._reserved.get(key, 0)

    def _release(self, key: str | None) -> None:
        count = self._reserved.get(key, 0) - 1
        if count > 0:
            self._reserved[key] = count
        else:
            self._reserved.pop(key, None)

    def _remove(self, key: str | None, waiter: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(key)
        if waiters is None:
            return
        with contextlib.suppress(ValueError):  # already handed room
            waiters.remove(waiter)
        if not waiters:
            del self._waiters[key]
