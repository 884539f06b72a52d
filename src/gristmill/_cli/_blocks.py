"""Parent side of ``gristmill map``: cut INPUT into blocks of whole lines, sized by what they cost.

::

    INPUT ──read1 (up to 1 MiB)──► buffer ──cut at a newline near `want` bytes──► Block
                                                │  resume: lines OUTPUT holds are left out
                                                ▼
    BlockSizer: want = 1 byte (one line) at first; then TARGET_SECONDS of work per block,
                at most GROWTH x the largest block measured, MAX_BYTES, and max_lines lines

The parent never makes a Python object per line: it finds newlines with
``bytes.rfind`` and counts them with ``bytes.count``, so its cost per line is
a few nanoseconds, and all the JSON work happens in the workers
(:func:`~gristmill._cli._lines.run_block`). Blocks start as single lines, so
a slow function spreads over every worker from the first line, and grow as
fast as their measured cost allows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import BinaryIO

from ._lines import Block, lines_of

__all__ = ["MAX_BYTES", "TARGET_SECONDS", "BlockSizer", "read_blocks"]

TARGET_SECONDS = 0.002
"""Worker time per block once the cost of a byte is known: the per-block cost in
the parent (a map item, its record text written) is then well under 1%, and a
map chunk of about 10 ms holds several blocks."""

MAX_BYTES = 1 << 18
"""Largest block, whatever a byte costs, so that blocks in flight stay a few megabytes."""

GROWTH = 4
"""How many times the largest measured block the next one may be."""

READ_BYTES = 1 << 20
"""Most bytes taken from INPUT at a time."""

_WEIGHT = 0.3  # of each new measurement in the running estimate


class BlockSizer:
    """Learns what a byte of input costs a worker, and says how big the next block should be.

    Args:
        max_lines: Most lines in one block, or ``None`` for no cap (it keeps
            the lines in flight under ``--max-in-flight``).
    """

    __slots__ = ("_largest", "_per_byte", "max_lines", "want")

    def __init__(self, max_lines: int | None = None) -> None:
        self.max_lines = max_lines
        self.want = 1  # bytes: the first blocks are one line each
        self._per_byte: float | None = None
        self._largest = 0

    def observe(self, size: int, seconds: float) -> None:
        """Learn that a block of ``size`` bytes took ``seconds`` in its worker."""
        if size <= 0 or not math.isfinite(seconds) or seconds < 0:
            return
        sample = seconds / size
        previous = self._per_byte
        per_byte = sample if previous is None else previous + _WEIGHT * (sample - previous)
        self._per_byte = per_byte
        self._largest = largest = max(self._largest, size)
        wanted = TARGET_SECONDS / per_byte if per_byte > 0 else math.inf
        self.want = max(1, int(min(wanted, GROWTH * largest, MAX_BYTES)))


def read_blocks(stream: BinaryIO, sizer: BlockSizer, done: bytearray | None) -> Iterator[Block]:
    """Cut ``stream`` into :class:`Block` s as ``sizer`` says; skip the lines ``done`` marks.

    Lines are counted by their newlines (``\\n`` only), from 1; a last line
    without one is a line too. Reading is lazy: each block is cut when it
    is asked for, so it follows the sizer's latest estimate.
    """
    read = getattr(stream, "read1", stream.read)
    number = 1
    tail: list[bytes] = []  # bytes after the last newline seen, waiting for theirs
    while True:
        data = read(READ_BYTES)
        if not data:
            break
        last = data.rfind(b"\n")
        if last < 0:
            tail.append(data)
            continue
        if tail:
            tail.append(data)
            data = b"".join(tail)
            last = data.rfind(b"\n")
        tail = [data[last + 1 :]] if last + 1 < len(data) else []
        start = 0
        while start <= last:
            end = _cut(data, start, last, sizer)
            block = data[start:end]
            lines = block.count(b"\n")
            yield from _unfinished(Block(number, block, lines), done)
            number += lines
            start = end
    rest = b"".join(tail)
    if rest:
        yield from _unfinished(Block(number, rest, 1), done)


def _cut(data: bytes, start: int, last: int, sizer: BlockSizer) -> int:
    """The end of the block starting at ``start``: just after a newline, at most ``last + 1``."""
    limit = start + sizer.want
    if limit > last:
        end = last + 1
    else:
        newline = data.rfind(b"\n", start, limit)
        if newline < 0:  # a line longer than wanted: it goes alone
            newline = data.find(b"\n", start)
        end = newline + 1
    cap = sizer.max_lines
    if cap is not None and data.count(b"\n", start, end) > cap:
        low, high = start, end  # the shortest prefix holding `cap` newlines ends at one
        while low < high:
            middle = (low + high) // 2
            if data.count(b"\n", start, middle + 1) >= cap:
                high = middle
            else:
                low = middle + 1
        end = low + 1
    return end


def _unfinished(block: Block, done: bytearray | None) -> Iterator[Block]:
    """``block``, or the runs of its lines that ``done`` does not mark, as blocks of their own."""
    first = block.first
    if done is None or done.find(1, first, first + block.lines) < 0:
        yield block
        return
    run: list[bytes] = []
    for number, line in enumerate(lines_of(block.data), first):
        if number < len(done) and done[number]:
            if run:
                yield Block(number - len(run), b"".join(run), len(run))
                run = []
        else:
            run.append(line)
    if run:
        yield Block(first + block.lines - len(run), b"".join(run), len(run))
