"""Pure policy for ``grinder.map``: how much it keeps in flight, and how big each chunk is.

A chunk is one job on the grinder carrying many items. Big chunks spread the
fixed cost of a job (a future, a batch, a submit, a hop back to the loop, a
pickle round trip) over many items; small chunks keep the first results
quick, keep every worker busy to the end, and bound what a lost chunk (a
crashed worker, a run timeout) takes with it. So a map starts with chunks of
one item, learns how long an item takes, and then sends chunks of about
:data:`CHUNK_SECONDS` of work, never growing more than :data:`GROWTH` times
past the largest chunk it has measured, and never past :data:`MAX_CHUNK`::

    no measurement yet   1 item per chunk, at most one chunk per worker in flight
    measured             min(CHUNK_SECONDS / seconds per item, GROWTH x largest measured,
                             MAX_CHUNK, max_in_flight / (CHUNKS_PER_LANE x workers))
"""

from __future__ import annotations

import math

__all__ = [
    "CHUNKS_PER_LANE",
    "CHUNK_SECONDS",
    "GROWTH",
    "MAX_CHUNK",
    "ChunkSizer",
    "chunk_cap",
    "default_max_in_flight",
]

CHUNK_SECONDS = 0.01
"""Work per chunk once the item cost is known, as the grinder's own
``CHUNK_TARGET_SECONDS``: the per-chunk cost (a submit, a pickle round trip,
a hop back to the loop: about a hundred microseconds on a process pool) is
then about 1%, and a chunk's items wait at most this long for their neighbours."""

MAX_CHUNK = 1024
"""Most items in one chunk, whatever the item cost: past this the per-chunk
cost is already well under a microsecond per item."""

CHUNKS_PER_LANE = 4
"""Chunks in flight per worker: one running, the next ones queued or waiting
to be yielded, so a worker never waits for the loop, nor the loop for a worker."""

GROWTH = 4
"""How many times the largest measured chunk the next one may be."""

_WEIGHT = 0.3  # of each new measurement in the running estimate


def default_max_in_flight(lanes: int) -> int:
    """Items a map keeps in flight by default on a grinder with ``lanes`` workers in all."""
    return max(1, lanes) * CHUNKS_PER_LANE * MAX_CHUNK


def chunk_cap(max_in_flight: int, lanes: int) -> int:
    """Largest chunk under ``max_in_flight``: room for ``CHUNKS_PER_LANE`` chunks per worker."""
    return max(1, min(MAX_CHUNK, max_in_flight // (CHUNKS_PER_LANE * max(1, lanes))))


class ChunkSizer:
    """Learns the seconds per item of one map from its finished chunks; sizes the next chunk.

    Args:
        cap: The largest chunk allowed (:func:`chunk_cap`).
    """

    __slots__ = ("_cap", "_largest", "_per_item")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._per_item: float | None = None
        self._largest = 0

    @property
    def measured(self) -> bool:
        """Whether a chunk has come back, so the item cost is known."""
        return self._per_item is not None

    def next_size(self) -> int:
        """Items for the next chunk."""
        per_item = self._per_item
        if per_item is None:
            return 1
        wanted = CHUNK_SECONDS / per_item if per_item > 0 else math.inf
        return max(1, int(min(wanted, GROWTH * self._largest, self._cap)))

    def observe(self, items: int, seconds: float) -> None:
        """Learn that a chunk of ``items`` took ``seconds`` in its worker."""
        if items <= 0 or not math.isfinite(seconds) or seconds < 0:
            return
        sample = seconds / items
        previous = self._per_item
        self._per_item = sample if previous is None else previous + _WEIGHT * (sample - previous)
        self._largest = max(self._largest, items)
