"""Building blocks for the pure tests of the ``"fair"`` queue: jobs, queues, a clockless book.

Jobs are real futures on a throwaway loop that never runs; the queue only reads
their fields and calls their ``on_cancel`` hook.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from gristmill._fair_queue import FairQueue
from gristmill._job import Job
from gristmill._owners import OwnerBook
from gristmill._scheduler_settings import SchedulerSettings

__all__ = ["fair_queue", "make_job", "settings"]


def settings(
    *,
    weights: Mapping[str | None, float] | None = None,
    aging: float | None = None,
    per_owner: int | None = None,
) -> SchedulerSettings:
    """Validated ``"fair"`` settings, as the grinder would build them."""
    return SchedulerSettings.build(
        scheduler="fair",
        dispatch="wait",
        owner_weights=weights,
        max_pending_per_owner=per_owner,
        priority_aging_seconds=aging,
    )


def fair_queue(
    chosen: SchedulerSettings | None = None,
    *,
    book: OwnerBook | None = None,
    estimate: float | None = None,
) -> tuple[FairQueue, list[Job]]:
    """A :class:`FairQueue` and the list its cancellation callback appends to."""
    cancelled: list[Job] = []
    queue = FairQueue(
        chosen or settings(), cancelled.append, book or OwnerBook(), lambda _job: estimate
    )
    return queue, cancelled


def make_job(
    loop: asyncio.AbstractEventLoop,
    tag: object = None,
    *,
    owner: str | None = None,
    priority: int = 0,
    at: float = 0.0,
    deadline: float = math.inf,
) -> Job:
    """A job as ``Engine.put`` would make it; ``tag`` is kept in its ``args`` to recognise it."""
    job = Job(loop=loop)
    job.fn, job.args, job.kwargs = repr, (tag,), None
    job.owner, job.priority, job.enqueued_at, job.deadline = owner, priority, at, deadline
    job.run_timeout, job.attempts, job.suspect, job.on_cancel = None, 0, False, None
    return job
