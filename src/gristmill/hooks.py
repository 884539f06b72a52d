"""Hooks: a typed way to watch what a manager and a grinder do.

Subclass :class:`Hooks`, override the methods you care about, and pass an
instance as ``hooks=`` to :class:`~gristmill.LeasedExecutorManager` and
:class:`~gristmill.WorkGrinder`. The Prometheus collector in
:mod:`gristmill.prometheus` is built on this interface; an OpenTelemetry
exporter or a log line per batch fits the same way::

    class LogBatches(gristmill.Hooks):
        def on_batch_end(self, event: gristmill.BatchEnd) -> None:
            log.info("batch %s: %d items in %.3f s", event.owner, event.size, event.seconds)

Every method is called on the owning event loop's thread, synchronously, so
it must be quick and must not block. An exception raised by a hook is logged
and otherwise ignored: watching never breaks the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

__all__ = [
    "BatchCall",
    "BatchEnd",
    "BatchStart",
    "Hooks",
    "ItemDone",
    "ItemOutcome",
    "LeaseEvent",
    "LeaseKind",
]

ItemOutcome = Literal["completed", "failed", "cancelled", "timed_out", "rejected"]
"""What became of one item.

``timed_out`` covers a deadline that passed before dispatch and a run past its
run timeout (the caller sees ``TimeoutError``); ``rejected`` is an item refused
by a full queue with ``overflow="reject"``; ``failed`` is any other exception.
"""

LeaseKind = Literal["granted", "released", "expired", "revoked"]
"""What happened to a lease.

``expired``: it passed its hard expiry and its pool was retired. ``revoked``:
its pool was taken away for another reason (it broke, it was retired on
purpose, or the manager stopped).
"""


@dataclass(frozen=True, slots=True)
class BatchStart:
    """A batch got its lease and is about to run.

    Attributes:
        owner: The batch's lease owner label (``<owner_prefix>-<n>``).
        size: Items in the batch.
        queue_wait_seconds: How long its oldest item waited in the queue.
    """

    owner: str
    size: int
    queue_wait_seconds: float


@dataclass(frozen=True, slots=True)
class BatchEnd:
    """Every item of a batch has settled (or gone back to the queue) and its lease is returned.

    Attributes:
        owner: The batch's lease owner label.
        size: Items the batch started with.
        seconds: Wall time from the batch's start to its end.
        requeued: Items sent back to the queue after a crash, a run timeout
            or a revoked lease, to run in a later batch.
    """

    owner: str
    size: int
    seconds: float
    requeued: int


@dataclass(frozen=True, slots=True)
class ItemDone:
    """One item's future has been resolved (or the item was refused).

    Attributes:
        outcome: What became of it.
        queue_wait_seconds: Time from enqueue to dispatch; for items that
            never ran (cancelled or expired in the queue, rejected), the time
            they spent queued.
    """

    outcome: ItemOutcome
    queue_wait_seconds: float


@dataclass(frozen=True, slots=True)
class BatchCall:
    """A batch function (:func:`gristmill.batched`) ran over some callers' items.

    Attributes:
        function: The batch function's qualified name.
        items: Items the call served.
        calls: Calls of the function it took: 1, or more when ``on_error="split"``
            retried it in halves.
    """

    function: str
    items: int
    calls: int


@dataclass(frozen=True, slots=True)
class LeaseEvent:
    """A lease was granted, given back, expired or revoked.

    Attributes:
        kind: What happened.
        lease_id: The lease.
        owner: Its owner label, if any.
        pool: The name of the pool it covers.
    """

    kind: LeaseKind
    lease_id: str
    owner: str | None
    pool: str


Event = TypeVar("Event", BatchStart, BatchEnd, BatchCall, ItemDone, LeaseEvent)


class Hooks:
    """Base class for observers; every method does nothing until overridden.

    Item hooks run once per item, so keep them cheap: a counter increment or
    a histogram observation, not I/O.
    """

    def on_batch_start(self, event: BatchStart) -> None:
        """A batch is about to run on its lease."""

    def on_batch_end(self, event: BatchEnd) -> None:
        """A batch finished and returned its lease."""

    def on_item_done(self, event: ItemDone) -> None:
        """An item was settled, expired, cancelled or rejected."""

    def on_batch_call(self, event: BatchCall) -> None:
        """A batch function was called over several callers' items."""

    def on_lease(self, event: LeaseEvent) -> None:
        """A lease was granted, released, expired or revoked."""


def notify(hook: Callable[[Event], None], event: Event, logger: logging.Logger) -> None:
    """Call one hook method; log and swallow what it raises, so watching never breaks work."""
    try:
        hook(event)
    except Exception:
        logger.exception("hook %s failed; ignoring", getattr(hook, "__qualname__", hook))
