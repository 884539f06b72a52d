"""What becomes of the items of a chunk lost with its pool: one decision per item.

A chunk is lost when its pool dies under it (a worker crashed, the pool was
killed for a run timeout, the lease was revoked). Its results died with the
worker, so each item is sorted on its own::

    cancelled meanwhile                        → settled as cancelled
    the pool broke before anything ran on it   → fails with the executor's error
    the pool was killed for a run timeout      → running then: TimeoutError; the rest: again
    was running, alone in the pool            → charged an attempt: again (alone), or,
                                                  once spent, WorkerCrashedError /
                                                  LeaseExpiredError
    was running beside others (or unknown)     → suspect: again, alone, uncharged
    had finished, or had not started          → again, uncharged

Pure apart from the jobs' ``attempts`` and ``suspect`` marks: the batch gathers
the facts (:class:`Loss`), :func:`sort_lost` decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._errors import LeaseExpiredError, WorkerCrashedError
from ._job import Job
from ._naming import repr_of
from ._worker import Outcome

__all__ = ["Loss", "Verdicts", "sort_lost"]


@dataclass(frozen=True, slots=True)
class Loss:
    """What is known about how one chunk was lost.

    Attributes:
        cause: The executor's error, or ``None`` if the chunk was cancelled
            before it reached a worker.
        running: Index in the chunk of the item that was running; ``None``
            when nobody can tell (no progress board), and out of range when
            none was (not started yet, or all done).
        stillborn: The pool broke before any item of the batch started.
        victims: If the pool was killed for a run timeout: the items running
            at that moment, each mapped to whether it overran.
        lone: The item running alone in the pool when it died, if there was
            exactly one; empty otherwise.
        revoked: The lease had passed its hard expiry.
        max_retries: Attempts an item may be charged before it fails.
    """

    cause: BaseException | None
    running: int | None
    stillborn: bool
    victims: Mapping[Job, bool] | None
    lone: frozenset[Job]
    revoked: bool
    max_retries: int


@dataclass(slots=True)
class Verdicts:
    """The sorted items of a lost chunk."""

    again: list[Job] = field(default_factory=list)
    failed: list[Job] = field(default_factory=list)
    errors: list[Outcome] = field(default_factory=list)
    timed_out: list[Job] = field(default_factory=list)
    timeouts: list[Outcome] = field(default_factory=list)

    def fail(self, job: Job, error: BaseException | None) -> None:
        """``job`` fails with ``error``."""
        self.failed.append(job)
        self.errors.append((False, error))


def sort_lost(jobs: list[Job], loss: Loss) -> Verdicts:
    """Decide, item by item, what happens to the items of a lost chunk."""
    verdicts = Verdicts()
    for position, job in enumerate(jobs):
        if job.done():  # cancelled by its caller or by stop(): settle counts it
            verdicts.fail(job, asyncio.CancelledError())
        elif loss.stillborn:
            verdicts.fail(job, loss.cause)
        elif loss.victims is not None:
            if job in loss.victims:
                verdicts.timed_out.append(job)
                verdicts.timeouts.append((False, timeout_error(job, loss.victims[job])))
            else:
                verdicts.again.append(job)
        elif loss.running is None or position == loss.running:
            error = _blame(job, loss)
            if error is None:
                verdicts.again.append(job)
            else:
                verdicts.fail(job, error)
        else:
            verdicts.again.append(job)
    return verdicts


def _blame(job: Job, loss: Loss) -> BaseException | None:
    """``job`` was running when its pool died: charge it if it alone can be at fault.

    With other items running beside it, any of them may have killed the pool:
    each becomes a suspect, uncharged, and runs alone next time, where a death
    is certainly its own. Returns the error once its retries are spent.
    """
    job.suspect = True
    if job not in loss.lone:
        return None
    job.attempts += 1
    if job.attempts <= loss.max_retries:
        return None
    runs = f"{job.attempts} time{'s' if job.attempts > 1 else ''}"
    if loss.revoked:
        return LeaseExpiredError(
            f"the lease ran out while this item was running alone ({runs}); its pool "
            "was retired. Give the grinder a longer lease_seconds"
        )
    error = WorkerCrashedError(
        f"the worker process died while running this item alone ({runs}, max_retries="
        f"{loss.max_retries}): {repr_of(loss.cause)}. The item itself kills its worker "
        "(os._exit, a segfault, running out of memory, or a signal)"
    )
    error.__cause__ = loss.cause
    return error


def timeout_error(job: Job, overran: bool) -> TimeoutError:
    """The error for an item running when its pool was killed for a run timeout."""
    if overran:
        return TimeoutError(
            f"the item ran longer than its run timeout of {job.run_timeout:g} s; its "
            "worker was killed and its pool replaced"
        )
    return TimeoutError(
        "the item was still running when another item of its batch overran its run "
        "timeout; the pool's workers were killed to stop it, and this item with it"
    )
