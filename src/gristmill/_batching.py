"""Pure batch policy: when a batch is due, how big it is, how it is chunked.

The spec fixes *when*: a batch is due once ``batch_size_threshold`` items are
pending or the oldest has waited ``max_wait_seconds`` (and at once while the
grinder drains on stop). The rest is ours: a backlog is shared out over the
leases that are free, no batch grows past ``max_batch_size``, and each batch
reaches its executor as a few chunks, so one ``submit`` carries many items.
"""

from __future__ import annotations

import math

__all__ = ["CHUNKS_PER_WORKER", "CHUNK_TARGET_SECONDS", "batch_size", "chunk_sizes", "due_at"]

CHUNKS_PER_WORKER = 2
"""Fewest chunks per pool worker: two keeps every worker busy while a straggler finishes."""

CHUNK_TARGET_SECONDS = 0.01
"""Slow items are cut into chunks of about this much work, so callers hear back
early and the workers share the batch evenly; fast items stay in a few big
chunks, where the per-chunk cost (a submit, a thread hop, a pickle round trip)
would otherwise dominate."""


def due_at(
    *,
    pending: int,
    threshold: int,
    oldest_at: float | None,
    max_wait: float,
    flushing: bool,
    overdue: int = 0,
) -> float | None:
    """Return the clock time at which the next batch is due, or ``None`` if nothing is pending.

    ``-inf`` means "due now": the threshold is met, the grinder is flushing, or
    ``overdue`` items were left behind by an earlier cut that was already due
    (a backlog split over several leases or capped at ``max_batch``). Such a
    remainder keeps its turn instead of waiting ``max_wait`` all over again.
    """
    if pending <= 0 or oldest_at is None:
        return None
    if flushing or overdue > 0 or pending >= threshold:
        return -math.inf
    return oldest_at + max_wait


def batch_size(*, pending: int, threshold: int, slots: int, max_batch: int) -> int:
    """Return how many pending items the next batch takes.

    A backlog is split evenly over ``slots`` (the batches that could start
    now, this one included), never below ``threshold`` per batch, never above
    ``max_batch``, and never more than is pending. A cut does not leave behind
    fewer than ``threshold`` items unless ``max_batch`` forces it: such a
    remainder rides along with this batch instead of forming a tiny one.
    """
    share = math.ceil(pending / max(1, slots))
    size = max(0, min(pending, max_batch, max(threshold, share)))
    if 0 < pending - size < threshold:
        size = min(pending, max_batch)
    return size


def chunk_sizes(items: int, workers: int, item_seconds: float | None = None) -> list[int]:
    """Split ``items`` into near-equal chunks.

    There are ``CHUNKS_PER_WORKER * workers`` chunks, or more when the
    measured run time per item (``item_seconds``, unknown for a first batch)
    says a chunk would take longer than ``CHUNK_TARGET_SECONDS``; never more
    chunks than items.
    """
    if items <= 0:
        return []
    count = CHUNKS_PER_WORKER * max(1, workers)
    if item_seconds is not None and item_seconds > 0:
        count = max(count, math.ceil(items * item_seconds / CHUNK_TARGET_SECONDS))
    count = min(items, count)
    base, extra = divmod(items, count)
    return [base + 1] * extra + [base] * (count - extra)
