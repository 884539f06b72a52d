"""Pure batch policy: when a batch is due, how big it is, how it is chunked.

The spec fixes *when*: a batch is due once ``batch_size_threshold`` items are
pending or the oldest has waited ``max_wait_seconds`` (and at once while the
grinder drains on stop). Opt-in rules only bring that moment forward: a free
batch slot under ``dispatch="eager"``, an item's deadline under the
``"fair"`` scheduler. The rest is ours: a backlog is shared out over the
leases that are free, no batch grows past ``max_batch_size``, and each batch
reaches its executor as a few chunks, so one ``submit`` carries many items.
"""

from __future__ import annotations

import math

__all__ = [
    "CHUNKS_PER_WORKER",
    "CHUNK_TARGET_SECONDS",
    "MAX_CHUNKS",
    "batch_size",
    "chunk_sizes",
    "due_at",
]

CHUNKS_PER_WORKER = 2
"""Chunks in flight per pool worker, at the start of a batch."""

CHUNK_TARGET_SECONDS = 0.01
"""Smallest chunk worth sending, in expected work: below this the per-chunk cost
(a submit, a thread hop, a pickle round trip) starts to show."""


MAX_CHUNKS = 64
"""Most chunks one batch is cut into; it bounds the slots a batch needs on the progress board."""


def due_at(
    *,
    pending: int,
    threshold: int,
    oldest_at: float | None,
    max_wait: float,
    flushing: bool,
    overdue: int = 0,
    eager: bool = False,
    start_by: float | None = None,
) -> float | None:
    """Return the clock time at which the next batch is due, or ``None`` if nothing is pending.

    ``-inf`` means "due now": the threshold is met, the grinder is flushing, or
    ``overdue`` items were left behind by an earlier cut that was already due
    (a backlog split over several leases or capped at ``max_batch``). Such a
    remainder keeps its turn instead of waiting ``max_wait`` all over again.

    Two opt-in rules start a batch sooner, never later: ``eager`` (the
    ``"eager"`` dispatch) makes anything pending due now, for the caller asks
    only while a batch slot is free; ``start_by`` (the ``"fair"`` scheduler)
    is the latest start that lets the item nearest its deadline make it, and
    wins over ``max_wait`` when it is earlier.
    """
    if pending <= 0 or oldest_at is None:
        return None
    if flushing or overdue > 0 or pending >= threshold or eager:
        return -math.inf
    due = oldest_at + max_wait
    return due if start_by is None else min(due, start_by)


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
    """Split ``items`` into chunks that shrink as the batch is used up.

    Each chunk takes ``1 / (CHUNKS_PER_WORKER * workers)`` of what is left
    (guided self-scheduling), so the executor hands the last, small chunks to
    whichever worker is free and no worker is left with a long tail. A chunk
    is never smaller than ``CHUNK_TARGET_SECONDS`` of work at the expected
    ``item_seconds``, nor smaller than an even share over
    ``CHUNKS_PER_WORKER * workers`` chunks: fast items travel in a few large
    chunks, slow ones in many small ones. With no estimate the chunks shrink
    all the way down to single items. There are never more than
    :data:`MAX_CHUNKS` chunks.
    """
    if items <= 0:
        return []
    lanes = CHUNKS_PER_WORKER * max(1, workers)
    floor = 1
    if item_seconds is not None and item_seconds > 0:
        floor = min(math.ceil(items / lanes), max(1, int(CHUNK_TARGET_SECONDS / item_seconds)))
    sizes = _guided(items, lanes, floor)
    if len(sizes) > MAX_CHUNKS:  # very many lanes: raise the floor to stay under the cap
        sizes = _guided(items, lanes, max(floor, math.ceil(items / MAX_CHUNKS)))
    return sizes


def _guided(items: int, lanes: int, floor: int) -> list[int]:
    """Guided self-scheduling: each chunk takes ``1/lanes`` of what is left, at least ``floor``."""
    sizes: list[int] = []
    remaining = items
    while remaining:
        size = min(remaining, max(floor, math.ceil(remaining / lanes)))
        sizes.append(size)
        remaining -= size
    return sizes
