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
        on_cancel: Called with the job if it is cancelled while still queued;
            the grinder clears it when the job leaves the queue.
    """

    __slots__ = ("args", "enqueued_at", "fn", "kwargs", "on_cancel", "owner")

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] | None
    enqueued_at: float
    owner: str | None
    on_cancel: Callable[[Job], None] | None

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel like any future; a queued job also leaves the queue at once."""
        if not super().cancel(msg):
            return False
        hook, self.on_cancel = self.on_cancel, None
        if hook is not None:
            hook(self)
        return True
