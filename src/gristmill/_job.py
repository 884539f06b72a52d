"""A queued job: the call to make, and the future its caller awaits, in one object.

Each job *is* its caller's ``asyncio.Future``. That keeps the per-job hot path
to one allocation, and lets a queued job tell the grinder the moment its caller
cancels it: :meth:`Job.cancel` calls the grinder's hook synchronously, which a
done-callback could only do a loop turn later and at the price of a callback
registration per job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from contextvars import Context
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._tracing import ItemTrace

__all__ = ["Job", "items_in"]


class Job(asyncio.Future[Any]):
    """One call queued on a grinder; the future its caller awaits.

    Attributes:
        fn: The callable to run.
        args: Its positional arguments.
        kwargs: Its keyword arguments, or ``None`` for none.
        enqueued_at: Clock time at which it was queued.
        owner: The caller's label, if any.
        deadline: Clock time by which it must be dispatched (``inf`` for none).
        run_timeout: Seconds it may run before its worker is killed, or ``None``.
        priority: Higher goes first under the ``"fair"`` scheduler; 0 by default.
        attempts: Runs it was charged for: it was running alone in its pool
            when the pool died (or its lease was revoked).
        suspect: It was running when its pool died. A suspect runs alone in
            its next batch, so that a death there is certainly its own.
        on_cancel: Called with the job if it is cancelled while still queued;
            the grinder clears it when the job leaves the queue.
        context: A copy of the caller's ``contextvars`` context, taken when
            the job was queued, or ``None`` if that context was empty. The
            thread backend runs the call inside it; process-like backends
            read the variables they propagate from it.
        trace: The job's OpenTelemetry item span and its caller's span
            context; set only when the grinder traces.
        weight: Items the job stands for, as the grinder counts them: 1, or
            the items of a ``map`` chunk (:class:`~gristmill._bulk.ChunkJob`).
        failures: Of those items, how many failed although the job itself
            returned: 0, except for a ``map`` chunk whose items raised.
    """

    __slots__ = (
        "args",
        "attempts",
        "context",
        "deadline",
        "enqueued_at",
        "fn",
        "kwargs",
        "on_cancel",
        "owner",
        "priority",
        "run_timeout",
        "suspect",
        "trace",
    )

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] | None
    enqueued_at: float
    owner: str | None
    deadline: float
    priority: int
    run_timeout: float | None
    attempts: int
    suspect: bool
    on_cancel: Callable[[Job], None] | None
    context: Context | None
    trace: ItemTrace | None

    # Class-level defaults, not slots: a plain job never sets them (``Engine.put``
    # stays as it is), and ChunkJob's slots of the same names take precedence.
    weight: int = 1
    failures: int = 0

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel like any future; a queued job also leaves the queue at once."""
        if not super().cancel(msg):
            return False
        hook, self.on_cancel = self.on_cancel, None
        if hook is not None:
            hook(self)
        return True


_weight = attrgetter("weight")


def items_in(jobs: Iterable[Job]) -> int:
    """Return how many items ``jobs`` stand for: the sum of their weights."""
    return sum(map(_weight, jobs))
