"""The run-timeout watchdog of one batch: when to look, and who overran.

Items with a run timeout run on process pools whose workers post to the
progress board when each item starts. The batch sleeps until the earliest
moment an item could overrun, then asks :meth:`Watchdog.overran`; if one did,
the batch kills the pool. The items running at that moment are the victims:
the overrunner fails with its own ``TimeoutError``, the others with one that
says why. Times are the machine's monotonic clock, which the workers share.
Owning loop only.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._chunks import Chunks
from ._clock import monotonic
from ._job import Job

__all__ = ["Watchdog"]

_SLACK = 0.001
"""Wake this much after the earliest possible overrun, so the check finds it."""


class Watchdog:
    """Watches the running items of one batch against their run timeouts.

    Args:
        chunks: The batch's chunks, read through the board.
        items: The batch's items.
        timed: False promises that no item has a run timeout (a cheap path).

    Attributes:
        killed: The pool was killed for a run timeout (or abandoned with one pending).
        victims: Items running when the pool was killed, mapped to whether each overran.
    """

    __slots__ = ("_chunks", "_shortest", "killed", "victims")

    def __init__(self, chunks: Chunks, items: list[Job], *, timed: bool) -> None:
        self._chunks = chunks
        timeouts = (
            [job.run_timeout for job in items if job.run_timeout is not None] if timed else []
        )
        self._shortest = min(timeouts) if timeouts else None
        self.killed = False
        self.victims: Mapping[Job, bool] = {}

    @property
    def armed(self) -> bool:
        """Whether some item has a run timeout the board can enforce."""
        return self._shortest is not None and self._chunks.tracked

    def next_check(self) -> float | None:
        """Seconds until an item could first overrun, or ``None`` if there is nothing to watch."""
        if self._shortest is None or not self._chunks.tracked or self.killed:
            return None
        now = monotonic()
        soonest = now + self._shortest  # an item starting right now
        for _, job, started in self._chunks.running():
            if job.run_timeout is not None:
                soonest = min(soonest, started + job.run_timeout)
        return max(0.0, soonest - now) + _SLACK

    def overran(self) -> bool:
        """Return whether a running item has overrun; if so, mark the victims and ``killed``."""
        now = monotonic()
        running = [(job, now - started) for _, job, started in self._chunks.running()]
        late = {job: job.run_timeout is not None and ran >= job.run_timeout for job, ran in running}
        if not any(late.values()):
            return False
        self.victims, self.killed = late, True
        return True
