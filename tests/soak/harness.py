"""Drives a soak: producers that submit in windows, a monitor that samples RSS, a report.

Async producers ``enqueue`` (or ``enqueue_work``) their share of the items
and OS threads ``submit_from_thread`` theirs. Each producer submits a window of
items, cancels the planned ones (at once, or a little later), then waits for
the whole window before the next: the run comes in waves, so memory the
grinder no longer needs can be reclaimed, and a leak shows as growth across
waves. A monitor task samples this process's RSS each time another
``sample_every`` futures have resolved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import random
import time
from collections.abc import Collection
from dataclasses import dataclass

from gristmill import GrinderStats, Work, WorkGrinder
from tests.soak.jobs import grind, kill_worker
from tests.soak.ledger import AnyFuture, Kind, Ledger, Tally, rss_mib

__all__ = ["Report", "SoakShape", "run_soak"]

MONITOR_PERIOD = 0.01
"""Seconds between the monitor's looks at the resolved count."""
WINDOW_TIMEOUT = 60.0
"""Longest wait for one window: a future that never resolves fails the test, not hangs it."""
CANCEL_LATER_DELAY = 0.005
"""Async producers cancel a ``CANCEL_LATER`` item after up to this many seconds."""
CANCEL_LATER_SUBMITS = 200
"""Thread producers cancel a ``CANCEL_LATER`` item after up to this many more submits."""
SHORT_DEADLINE = 1e-6
"""Deadline of ``DEADLINE`` items: shorter than any dispatch, so they time out unless lucky."""


@dataclass(frozen=True)
class SoakShape:
    """How the items are shared out and watched.

    Attributes:
        async_producers: Tasks that submit through ``enqueue``.
        thread_producers: OS threads that submit through ``submit_from_thread``.
        thread_items: Items submitted by the threads, all told; the last ones.
        window: Items a producer submits before waiting for them all.
        sample_every: Resolved futures between two RSS samples; the first
            sample ends the warm-up.
        seed: Seeds the producers' random cancel moments.
    """

    async_producers: int
    thread_producers: int
    thread_items: int
    window: int
    sample_every: int
    seed: int


@dataclass(frozen=True)
class Report:
    """What a soak measured."""

    items: int
    seconds: float
    samples: list[tuple[int, float]]
    """``(futures resolved, RSS in MiB)``; the first is taken after the warm-up."""
    peak_pending: int
    peak_waiting_for_room: int
    tally: Tally
    stats: GrinderStats

    @property
    def rss_growth_mib(self) -> float:
        """Largest RSS seen after the warm-up, above the first sample."""
        values = [rss for _, rss in self.samples]
        return max(values) - values[0]

    @property
    def late_rss_growth_mib(self) -> float:
        """Largest RSS of the second half of the samples, above the largest of the first half."""
        values = [rss for _, rss in self.samples]
        half = len(values) // 2
        return max(values[half:]) - max(values[:half])

    def summary(self, title: str) -> str:
        """A few lines for the closing note."""
        tally, stats = self.tally, self.stats
        samples = ", ".join(f"{rss:.1f}" for _, rss in self.samples)
        return "\n".join(
            [
                f"{title}: {self.items:,} items in {self.seconds:.1f} s "
                f"({self.items / self.seconds:,.0f} items/s)",
                f"  RSS MiB every {self.samples[0][0]:,} resolved: [{samples}] "
                f"(growth after warm-up {self.rss_growth_mib:+.1f}, "
                f"second half vs first {self.late_rss_growth_mib:+.1f})",
                f"  callers saw: completed={tally.completed:,} failed={tally.failed:,} "
                f"crashed={tally.crashed:,} cancelled={tally.cancelled:,} "
                f"timed_out={tally.timed_out:,} wrong={tally.wrong}",
                f"  grinder: submitted={stats['submitted']:,} completed={stats['completed']:,} "
                f"failed={stats['failed']:,} cancelled={stats['cancelled']:,} "
                f"timed_out={stats['timed_out']:,} retried={stats['retried']:,} "
                f"batches={stats['batches']:,}",
                f"  thread cancels the grinder saw otherwise: never queued="
                f"{self.items - stats['submitted']:,}, completed first="
                f"{stats['completed'] - tally.completed:,} (of {tally.cancelled_from_thread:,})",
                f"  peak pending={self.peak_pending:,} "
                f"peak waiting_for_room={self.peak_waiting_for_room:,}",
            ]
        )


async def run_soak(grinder: WorkGrinder, ledger: Ledger, shape: SoakShape) -> Report:
    """Push every planned item through ``grinder`` (started), stop it, and report.

    The grinder is stopped (drained) before its stats are read, so the report
    shows it idle.
    """
    items = len(ledger.plan)
    first_thread_item = items - shape.thread_items
    async_ranges = _split(range(first_thread_item), shape.async_producers)
    thread_ranges = _split(range(first_thread_item, items), shape.thread_producers)
    monitor = _Monitor(grinder, ledger, shape.sample_every)
    monitor_task = asyncio.create_task(monitor.run())
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as producers:
            for n, part in enumerate(async_ranges):
                producers.create_task(_produce(grinder, ledger, part, shape.window, shape.seed + n))
            for n, part in enumerate(thread_ranges):
                producers.create_task(
                    asyncio.to_thread(
                        _produce_from_thread, grinder, ledger, part, shape.window, shape.seed - n
                    )
                )
        seconds = time.perf_counter() - started
    finally:
        monitor_task.cancel()
    if not monitor.samples or monitor.samples[-1][0] < ledger.resolved:
        monitor.samples.append((ledger.resolved, rss_mib()))
    await grinder.stop()
    return Report(
        items=items,
        seconds=seconds,
        samples=monitor.samples,
        peak_pending=monitor.peak_pending,
        peak_waiting_for_room=monitor.peak_waiting,
        tally=ledger.tally(),
        stats=grinder.stats(),
    )


def _split(items: range, parts: int) -> list[range]:
    step = -(-len(items) // parts)
    return [items[start : start + step] for start in range(0, len(items), step)]


def _special_work(kind: Kind, item: int) -> Work[int] | None:
    """The :class:`Work` for an item that needs one (per-item options, another job), or None."""
    if kind is Kind.CRASH:
        return Work(kill_worker, (item,))
    if kind is Kind.DEADLINE:
        return Work(grind, (item, False), deadline_seconds=SHORT_DEADLINE)
    return None


async def _produce(
    grinder: WorkGrinder, ledger: Ledger, items: range, window: int, seed: int
) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    for start in range(items.start, items.stop, window):
        futures: list[asyncio.Future[int]] = []
        for item in range(start, min(start + window, items.stop)):
            kind = Kind(ledger.plan[item])
            work = _special_work(kind, item)
            if work is None:
                future = await grinder.enqueue(grind, item, kind is Kind.FAIL)
            else:
                future = await grinder.enqueue_work(work)
            ledger.watch(item, future)
            if kind is Kind.CANCEL_AT_ONCE:
                # enqueue returned a queued job: nothing can have settled it yet.
                ledger.expect(future.cancel(), f"item {item}: cancel() right after enqueue")
            elif kind is Kind.CANCEL_LATER:
                loop.call_later(rng.uniform(0.0, CANCEL_LATER_DELAY), future.cancel)
            futures.append(future)
        _, late = await asyncio.wait(futures, timeout=WINDOW_TIMEOUT)
        _require_all_done(late)


def _produce_from_thread(
    grinder: WorkGrinder, ledger: Ledger, items: range, window: int, seed: int
) -> None:
    rng = random.Random(seed)
    for start in range(items.start, items.stop, window):
        futures: list[concurrent.futures.Future[int]] = []
        later: list[tuple[int, int, concurrent.futures.Future[int]]] = []
        for count, item in enumerate(range(start, min(start + window, items.stop))):
            kind = Kind(ledger.plan[item])
            work = _special_work(kind, item)
            if work is None:
                future = grinder.submit_from_thread(grind, item, kind is Kind.FAIL)
            else:
                future = grinder.submit_work_from_thread(work)
            ledger.watch(item, future)
            if kind is Kind.CANCEL_AT_ONCE:
                future.cancel()
            elif kind is Kind.CANCEL_LATER:
                heapq.heappush(
                    later, (count + rng.randrange(1, CANCEL_LATER_SUBMITS), item, future)
                )
            while later and later[0][0] <= count:
                heapq.heappop(later)[2].cancel()
            futures.append(future)
        for _, _, future in later:
            future.cancel()
        _, late = concurrent.futures.wait(futures, timeout=WINDOW_TIMEOUT)
        _require_all_done(late)


def _require_all_done(late: Collection[AnyFuture]) -> None:
    """Stop the producer when a window outlived ``WINDOW_TIMEOUT``: the soak has failed."""
    if late:
        example = next(iter(late))
        waiter = (
            "concurrent.futures" if isinstance(example, concurrent.futures.Future) else "asyncio"
        )
        raise AssertionError(
            f"{len(late)} futures of a window were not seen done within {WINDOW_TIMEOUT:g} s by "
            f"{waiter}.wait(); one of them: done()={example.done()} "
            f"cancelled()={example.cancelled()}"
        )


class _Monitor:
    """Samples RSS every ``sample_every`` resolutions; tracks the queue's peaks."""

    def __init__(self, grinder: WorkGrinder, ledger: Ledger, sample_every: int) -> None:
        self._grinder = grinder
        self._ledger = ledger
        self._every = sample_every
        self.samples: list[tuple[int, float]] = []
        self.peak_pending = 0
        self.peak_waiting = 0

    async def run(self) -> None:
        next_sample = self._every
        while True:
            stats = self._grinder.stats()
            self.peak_pending = max(self.peak_pending, stats["pending"])
            self.peak_waiting = max(self.peak_waiting, stats["waiting_for_room"])
            resolved = self._ledger.resolved
            if resolved >= next_sample:
                self.samples.append((resolved, rss_mib()))
                next_sample = (resolved // self._every + 1) * self._every
            await asyncio.sleep(MONITOR_PERIOD)
