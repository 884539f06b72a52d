"""One ``gristmill map`` run: read lines, map them on a grinder, write records, handle Ctrl-C.

::

    INPUT ─read_blocks─► grinder map of run_block ─► records, a chunk at a time ─► OUTPUT (flushed)
      │ --resume: skip lines OUTPUT holds     │ block timings size later blocks
      ▼                                       ▼ every 0.125 s
    Ctrl-C / SIGTERM: stop reading, cancel chunks not started,       display (stderr)
    keep writing what was running (at most --grace s), exit 130

Each item of the map is a :class:`~gristmill._cli._lines.Block` of lines, so
the parent makes no object per line and the workers do the JSON work a block
at a time; progress, failures and ``--max-in-flight`` still count lines.

A chunk's records are written in one ``write`` and flushed, so OUTPUT only
ever ends in a whole line once the run is over, however it ends. A second
Ctrl-C, or the grace running out, cancels what still runs; a thread that
cannot be stopped is then left behind by exiting at once (after the flush).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from .. import _clock
from .._bulk import ChunkResult
from .._grinder import WorkGrinder
from .._manager import LeasedExecutorManager
from .._map_policy import CHUNKS_PER_LANE
from .._mapper import Mapper
from ._blocks import BlockSizer, read_blocks
from ._display import Display, Meter, choose_display
from ._lines import (
    Block,
    BlockResult,
    Resume,
    count_items,
    error_line,
    ignore_sigint,
    run_block,
    scan_output,
)
from ._options import MapOptions

__all__ = ["EXIT_FAILURES", "EXIT_INTERRUPTED", "EXIT_OK", "Outcome", "map_lines"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_INTERRUPTED = 130  # as a shell reports a job ended by Ctrl-C

TICK_SECONDS = 0.125

BLOCKS_PER_CHUNK = 8
"""Blocks a map chunk may hold at most: with blocks of about 2 ms, a chunk stays near the
map's own 10 ms target."""


@dataclass
class Outcome:
    """How a run went: what it did, what was there before, and whether it was cut short."""

    done: int = 0
    failed: int = 0
    blank: int = 0
    before: int = 0
    failed_before: int = 0
    total: int | None = None
    seconds: float = 0.0
    interrupted: bool = False
    forced: bool = False  # something was still running when the run was cut short
    notes: list[str] = field(default_factory=list)

    def exit_status(self, allow_failures: bool) -> int:
        """0, 1 when a line (of this run or an earlier one) failed, 130 when interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.failed + self.failed_before and not allow_failures:
            return EXIT_FAILURES
        return EXIT_OK

    def summary(self, output: str) -> str:
        """The one line printed at the end."""
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"gristmill map: {self.done:,} lines in {self.seconds:.1f} s ({rate:,.0f}/s), "
            f"{self.done - self.failed - self.blank:,} ok, {self.failed:,} failed"
        )
        if self.blank:
            text += f", {self.blank:,} blank"
        if self.before:
            text += f"; {self.before:,} done before ({self.failed_before:,} failed)"
        text += f"; output: {output}"
        if self.interrupted:
            text += "; interrupted: run again with --resume to continue"
        return text


async def map_lines(options: MapOptions, fn: Callable[..., Any], err: TextIO) -> Outcome:
    """Run ``fn`` over INPUT into OUTPUT as ``options`` say; report progress on ``err``."""
    outcome = Outcome()
    resume = _resume(options.output) if options.resume else None
    if resume is not None:
        outcome.before, outcome.failed_before = resume.records, resume.failures
    display = choose_display(err)
    if options.input is not None and display.live:  # the total is only worth a read if shown
        with options.input.open("rb") as counting:
            outcome.total = count_items(counting)
    manager, grinder = _grinder(options)
    started = _clock.monotonic()
    try:
        await manager.start()
        await grinder.start()
        blocks, sizer = _in_flight(options)
        with _open_input(options.input) as source, _open_output(options.output, resume) as sink:
            mapper = grinder._mapper(
                partial(run_block, fn, options.star, options.run_timeout is not None),
                (read_blocks(source, sizer, None if resume is None else resume.done),),
                ordered=options.ordered,
                max_in_flight=blocks,
                owner="gristmill-map",
                return_exceptions=True,
            )
            await _drive(mapper, sink, outcome, display, options.grace, sizer)
    finally:
        display.close()
        outcome.seconds = _clock.monotonic() - started
        await grinder.stop(cancel_pending=outcome.interrupted)
        await manager.stop()
    return outcome


def _in_flight(options: MapOptions) -> tuple[int, BlockSizer]:
    """Blocks the map may hold, and a sizer keeping lines in flight under ``--max-in-flight``."""
    lanes = options.pools * options.workers
    blocks = CHUNKS_PER_LANE * BLOCKS_PER_CHUNK * lanes
    lines = options.max_in_flight
    if lines is None:
        return blocks, BlockSizer()
    blocks = min(blocks, lines)
    return blocks, BlockSizer(max_lines=lines // blocks)


async def _drive(
    mapper: Mapper,
    sink: BinaryIO,
    outcome: Outcome,
    display: Display,
    grace: float,
    sizer: BlockSizer,
) -> None:
    """Write every chunk's records while the display ticks; Ctrl-C and SIGTERM stop it."""
    loop = asyncio.get_running_loop()
    writing = asyncio.ensure_future(_write(mapper, sink, outcome, sizer))
    ticking = asyncio.ensure_future(_tick(outcome, display))

    timers: list[asyncio.TimerHandle] = []

    def force() -> None:
        if not writing.done():
            outcome.forced = True
            writing.cancel()

    def interrupt() -> None:
        if outcome.interrupted:
            force()  # a second Ctrl-C: stop waiting
            return
        outcome.interrupted = True
        mapper.stop()
        timers.append(loop.call_later(grace, force))  # running items get this long

    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, interrupt)
    try:
        await writing
    except asyncio.CancelledError:
        if not outcome.forced:  # the run itself was cancelled, not cut short by a signal
            raise
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        for timer in timers:
            timer.cancel()
        ticking.cancel()
        sink.flush()


async def _write(mapper: Mapper, sink: BinaryIO, outcome: Outcome, sizer: BlockSizer) -> None:
    """Turn each finished chunk into its records and write them in one go."""
    chunks = mapper.chunks()
    try:
        async for blocks, result, _ in chunks:
            texts: list[str] = []
            for index, block in enumerate(blocks):
                done = _block_outcome(block, result, index)
                if isinstance(done, BaseException):  # the block never ran: a crash, a timeout
                    numbers = range(block.first, block.first + block.lines)
                    texts.extend(error_line(number, done) for number in numbers)
                    outcome.failed += block.lines
                else:
                    texts.append(done.text)
                    outcome.failed += done.failed
                    outcome.blank += done.blank
                    sizer.observe(len(block.data), done.seconds)
                outcome.done += block.lines
            sink.write("".join(texts).encode())
            sink.flush()
    finally:
        await chunks.aclose()


def _block_outcome(
    block: Block, result: ChunkResult | BaseException, index: int
) -> BlockResult | BaseException:
    """What became of the ``index``-th block of a chunk."""
    if isinstance(result, BaseException):  # the whole chunk failed
        return result
    if result.errors is not None and index in result.errors:
        return result.errors[index]
    done: BlockResult = result.values[index]
    return done


async def _tick(outcome: Outcome, display: Display) -> None:
    meter = Meter()
    while True:
        done = outcome.before + outcome.done
        meter.add(_clock.monotonic(), outcome.done)
        left = None if outcome.total is None else max(0, outcome.total - done)
        display.show(
            done,
            outcome.total,
            outcome.failed + outcome.failed_before,
            meter.rate(),
            None if left is None else meter.seconds_left(left),
        )
        await asyncio.sleep(TICK_SECONDS)


def _grinder(options: MapOptions) -> tuple[LeasedExecutorManager, WorkGrinder]:
    extra: dict[str, Any] = {}
    if options.backend in ("process", "loky"):
        extra["initializer"] = ignore_sigint
    manager = LeasedExecutorManager(
        backend=options.backend,
        max_pools=options.pools,
        min_pools=options.pools,
        workers_per_pool=options.workers,
        name_prefix="gristmill-map",
        **extra,
    )
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=options.batch_size,
        max_wait_seconds=options.max_wait,
        run_timeout_seconds=options.run_timeout,
        max_retries=options.retries,
        owner_prefix="gristmill-map",
    )
    return manager, grinder


def _resume(output: Path | None) -> Resume | None:
    """Read what OUTPUT holds, and cut off a half line a killed run left at its end."""
    if output is None or not output.exists():
        return None
    resume = scan_output(output)
    if output.stat().st_size > resume.keep:
        with output.open("r+b") as stream:
            stream.truncate(resume.keep)
    return resume


@contextlib.contextmanager
def _open_input(path: Path | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdin.buffer
        return
    with path.open("rb") as stream:
        yield stream


@contextlib.contextmanager
def _open_output(path: Path | None, resume: Resume | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdout.buffer
        return
    with path.open("ab" if resume is not None else "wb") as stream:
        yield stream
