"""A batch's chunks in flight, and what the progress board says about them.

Each chunk is one ``executor.submit`` carrying several items. On backends with
a :class:`~gristmill._progress.ProgressBoard` a chunk holds a board slot where
its worker posts which item runs and since when; the run-timeout watchdog and
the salvage of a lost chunk both read it through :class:`Chunks`. Owning loop
only.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ._batched import BatchFunction
from ._job import Job
from ._progress import NOT_STARTED, ProgressBoard

__all__ = ["Chunk", "Chunks"]


@dataclass(slots=True)
class Chunk:
    """One submitted chunk: its items, its board slot (-1 for none) and its future.

    ``call`` is set when the chunk is one call of a batch function over all
    its items: they all run, and all are lost, together.
    """

    jobs: list[Job]
    slot: int
    future: Future[Any] | None = None
    call: BatchFunction[Any, Any] | None = None


class Chunks:
    """The chunks of one batch, and the board readings about them.

    Args:
        board: Where workers post progress, or ``None`` when nobody can tell.
    """

    __slots__ = ("_board", "_lone", "_ran", "records")

    def __init__(self, board: ProgressBoard | None) -> None:
        self._board = board
        self.records: list[Chunk] = []
        self._ran = False
        self._lone: frozenset[Job] | None = None

    @property
    def tracked(self) -> bool:
        """Whether a board tells which item runs."""
        return self._board is not None

    def open(self, jobs: list[Job], call: BatchFunction[Any, Any] | None = None) -> Chunk:
        """Start a chunk record for ``jobs`` (one ``call``, if given), with a board slot if free."""
        return Chunk(jobs, self._board.claim() if self._board is not None else -1, call=call)

    def add(self, chunk: Chunk) -> None:
        """Keep ``chunk``: it reached its executor."""
        self.records.append(chunk)

    def close(self, chunk: Chunk) -> None:
        """Give ``chunk``'s board slot back once it has settled."""
        if self._board is not None and chunk.slot >= 0:
            self._board.release(chunk.slot)
            chunk.slot = -1

    def saw_results(self) -> None:
        """A chunk came back: something certainly ran on the pool."""
        self._ran = True

    def pool_ran(self) -> bool:
        """Whether any item of the batch was seen to start on the pool."""
        board = self._board
        if not self._ran and board is not None:
            self._ran = any(
                board.read(chunk.slot)[0] != NOT_STARTED
                for chunk in self.records
                if chunk.slot >= 0
            )
        return self._ran

    def running_index(self, chunk: Chunk) -> int | None:
        """Which item of ``chunk`` was running; ``None`` when nobody can tell.

        A batch function's call runs all its items at once, so while it runs
        any of them may be at fault: that is ``None`` too.
        """
        if self._board is None or chunk.slot < 0:
            return None
        index = self._board.read(chunk.slot)[0]
        if chunk.call is not None and 0 <= index < len(chunk.jobs):
            return None
        return index

    def running(self, *, include_done: bool = False) -> Iterator[tuple[Chunk, Job, float]]:
        """Yield ``(chunk, item, started)`` for each item the board shows running.

        Chunks whose future is done are skipped unless ``include_done`` (their
        pool died and the board shows where they stopped).
        """
        board = self._board
        if board is None:
            return
        for chunk in self.records:
            if chunk.slot < 0 or chunk.future is None:
                continue
            if chunk.future.done() and not include_done:
                continue
            index, started = board.read(chunk.slot)
            if not 0 <= index < len(chunk.jobs):
                continue
            if chunk.call is None:
                yield chunk, chunk.jobs[index], started
            else:  # one call: every item of it is running
                for job in chunk.jobs:
                    yield chunk, job, started

    def lone_runner(self, items: list[Job]) -> frozenset[Job]:
        """The item running alone in the pool when it died, or nothing if several (or unknown).

        Read once, at the first lost chunk: the pool is dead, so the board no
        longer moves, and chunks settled later still hold their slots. Without
        a board only a batch of one item can tell.
        """
        if self._lone is None:
            if self._board is None:
                running = items if len(items) == 1 else []
            else:
                running = [job for _, job, _ in self.running(include_done=True)]
            self._lone = frozenset(running) if len(running) == 1 else frozenset()
        return self._lone
