"""A queued job: the call to make, and the future its caller awaits, in one object.

Each job *is* its caller's ``asyncio.Future``. That keeps the per-job hot path
to one allocation, and lets a queued job tell the grinder the moment its caller
cancels it: :meth:`Job.cancel` calls the grinder's hook synchronously, which a
done-callback could only do a loop turn later and at the price of a callback
registration per job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["Job"]


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
    """

    __slots__ = (
        "args",
        "attempts",
        "deadline",
        "enqueued_at",
        "fn",
        "kwargs",
        "on_cancel",
        "owner",
        "priority",
        "run_timeout",
        "suspect",
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

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel like any future; a queued job also leaves the queue at once."""
        if not super().cancel(msg):
            return False
        hook, self.on_cancel = self.on_cancel, None
        if hook is not None:
            hook(self)
        return True
