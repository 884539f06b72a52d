"""One ``gristmill map`` run: read lines, map them on a grinder, write records, handle Ctrl-C.

::

    INPUT ─read_items─► grinder map (chunks) ─► records, a chunk at a time ─► OUTPUT (flushed)
      │ --resume: skip lines OUTPUT holds             │
      ▼                                               ▼ every 0.125 s
    Ctrl-C / SIGTERM: stop reading, cancel chunks not started,       display (stderr)
    keep writing what was running (at most --grace s), exit 130

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
from .._mapper import Mapper
from ._display import Display, Meter, choose_display
from ._lines import (
    Resume,
    count_items,
    error_line,
    ignore_sigint,
    read_items,
    run_line,
    scan_output,
)
from ._options import MapOptions

__all__ = ["EXIT_FAILURES", "EXIT_INTERRUPTED", "EXIT_OK", "Outcome", "map_lines"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_INTERRUPTED = 130  # as a shell reports a job ended by Ctrl-C

TICK_SECONDS = 0.125


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
        with _open_input(options.input) as source, _open_output(options.output, resume) as sink:
            items = read_items(source, None if resume is None else resume.done)
            mapper = grinder._mapper(
                partial(run_line, fn, options.star),
                (items,),
                ordered=options.ordered,
                max_in_flight=options.max_in_flight,
                owner="gristmill-map",
                return_exceptions=True,
            )
            await _drive(mapper, sink, outcome, display, options.grace)
    finally:
        display.close()
        outcome.seconds = _clock.monotonic() - started
        await grinder.stop(cancel_pending=outcome.interrupted)
        await manager.stop()
    return outcome


async def _drive(
    mapper: Mapper, sink: BinaryIO, outcome: Outcome, display: Display, grace: float
) -> None:
    """Write every chunk's records while the display ticks; Ctrl-C and SIGTERM stop it."""
    loop = asyncio.get_running_loop()
    writing = asyncio.ensure_future(_write(mapper, sink, outcome))
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


async def _write(mapper: Mapper, sink: BinaryIO, outcome: Outcome) -> None:
    """Turn each finished chunk into its records and write them in one go."""
    chunks = mapper.chunks()
    try:
        async for items, result, weight in chunks:
            lines, failed = _records(items, result)
            sink.write("".join(lines).encode())
            sink.flush()
            outcome.done += weight
            outcome.failed += failed
            outcome.blank += lines.count("")
    finally:
        await chunks.aclose()


def _records(
    items: list[tuple[int, bytes]], result: ChunkResult | BaseException
) -> tuple[list[str], int]:
    """A chunk's output lines, and how many of them are errors."""
    if isinstance(result, BaseException):  # the whole chunk failed: a crash, a timeout
        return [error_line(number, result) for number, _ in items], len(items)
    if result.errors is None:
        return result.values, 0
    errors = result.errors
    lines = [
        error_line(items[index][0], errors[index]) if index in errors else value
        for index, value in enumerate(result.values)
    ]
    return lines, len(errors)


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
