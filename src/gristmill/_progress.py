"""A shared-memory board where process workers post which item of a chunk they run.

A chunk carries many items, and its results only come back when it ends. So
when a worker dies, or overruns a run timeout, the parent could not otherwise
tell which item was running, which had finished, and which never started::

    parent: claim a slot ──► submit(chunk, slot) ──────────────► release the slot
                                   │                                  ▲
    worker: before item i: board[slot] = (now, i); at the end: (now, n)
                                   │                                  │
    parent, on a crash or a timeout check: read(slot) ─► who ran, who runs, who never did

The board is one ``RawArray`` of doubles per manager, two per slot (start
time, item index), handed to every worker process through the pool
initializer. Slots are handed out by the parent, one per chunk in flight, so
a slot never has two writers. Plain aligned 8-byte stores need no lock: a
reader may see a slot one item behind, never a torn value. Times are
``time.monotonic()``, which every process on the machine shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._clock import monotonic

__all__ = ["NOT_STARTED", "ProgressBoard", "install", "restart", "tracker"]

NOT_STARTED = -1
"""Index a slot shows until its chunk's first item starts."""

_board: Any = None  # this worker's view of the board, set by install()
_stamp = -1  # the cell holding the start time of the chunk this worker runs, or -1


class ProgressBoard:
    """Owning-loop side of the board: hands out slots and reads them.

    Args:
        context: The multiprocessing context the pools use.
        slots: How many chunks can be tracked at once.
    """

    __slots__ = ("_cells", "_free")

    def __init__(self, context: Any, slots: int) -> None:
        self._cells: Any = context.RawArray("d", 2 * slots)
        self._free = list(range(slots - 1, -1, -1))

    def claim(self) -> int:
        """Return a free slot, reset to "not started", or -1 if all are taken."""
        if not self._free:
            return -1
        slot = self._free.pop()
        self._cells[2 * slot + 1] = NOT_STARTED
        return slot

    def release(self, slot: int) -> None:
        """Give ``slot`` back once its chunk has settled."""
        if slot >= 0:
            self._free.append(slot)

    def read(self, slot: int) -> tuple[int, float]:
        """Return ``(index of the item running or next to run, when it started)``.

        The index is :data:`NOT_STARTED` before the chunk starts and equals
        the chunk's length once every item has run.
        """
        cells = self._cells
        index = int(cells[2 * slot + 1])
        return index, cells[2 * slot]

    def wrap_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Return pool options whose initializer installs the board in each worker first."""
        wrapped = dict(options)
        wrapped["initializer"] = _init_worker
        wrapped["initargs"] = (
            self._cells,
            options.get("initializer"),
            tuple(options.get("initargs", ())),
        )
        return wrapped


def _init_worker(cells: Any, initializer: Callable[..., object] | None, initargs: Any) -> None:
    install(cells)
    if initializer is not None:
        initializer(*initargs)


def install(cells: Any) -> None:
    """Worker side: remember the board this process posts to."""
    global _board
    _board = cells


def tracker(slot: int) -> Callable[[int], None] | None:
    """Worker side: return the function that posts "item ``i`` starts now" to ``slot``.

    ``None`` when this process has no board or the chunk has no slot.
    """
    global _stamp
    cells = _board
    if cells is None or slot < 0:
        _stamp = -1
        return None
    base = _stamp = 2 * slot
    clock = monotonic

    def post(index: int) -> None:
        cells[base] = clock()
        cells[base + 1] = index

    return post


def restart() -> None:
    """Worker side: the item running now starts over, as the board's clock sees it.

    A ``map`` chunk is one item of its batch but runs many items in turn;
    calling this before each of them makes a run timeout apply to each.
    Nothing happens in a process without a board, or in a chunk without a slot.
    """
    if _stamp >= 0:
        _board[_stamp] = monotonic()
