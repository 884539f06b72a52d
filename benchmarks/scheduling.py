"""Scheduling scenarios (issue 10): noisy neighbour, priority, deadlines, eager, many owners.

Each scenario compares *variants* of one gristmill grinder (``fifo`` against
``fair``, a stream with and without a flood beside it, ...) rather than
different libraries. A variant runs in its own fresh interpreter like every
other cell; :func:`run` is its entry point and returns flat metrics.

Latencies are enqueue-to-result on ``time.perf_counter``, taken with a
done-callback on each measured item's future.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks import jobs
from benchmarks.metrics import percentile

Metrics = dict[str, float]

# Every scenario runs on the thread backend with these pools unless it says otherwise.
POOLS, WORKERS = 4, 4
FLOOD = 50_000  # items the noisy owner (or the low priority) enqueues at once
QUICK_FLOOD = 5_000
STREAM_GAP = 0.005  # seconds between two items of the measured stream
ALONE_STREAM = 400  # items of the stream when it runs alone (2 s)
QUICK_ALONE_STREAM = 100


async def _grinder(module: Any, **options: Any) -> tuple[Any, Any]:
    manager = module.LeasedExecutorManager(
        backend="thread", max_pools=options.pop("pools", POOLS), min_pools=1,
        workers_per_pool=options.pop("workers", WORKERS),
    )  # fmt: skip
    await manager.start()
    grinder = module.WorkGrinder(executor_manager=manager, lease_seconds=600.0, **options)
    await grinder.start()
    # Warm up: every pool and worker exists before anything is timed.
    warm = [await grinder.enqueue(jobs.identity, i) for i in range(POOLS * WORKERS * 4)]
    await asyncio.gather(*warm)
    return manager, grinder


async def _close(manager: Any, grinder: Any) -> None:
    await grinder.stop(cancel_pending=True)
    await manager.stop()


class _Stream:
    """Enqueue one item every ``gap`` seconds until stopped; record each item's latency."""

    def __init__(self, enqueue: Callable[[], Coroutine[Any, Any, asyncio.Future[Any]]]) -> None:
        self._enqueue = enqueue
        self.latencies: list[float] = []
        self.futures: list[asyncio.Future[Any]] = []

    def _done(self, started: float, _future: asyncio.Future[Any]) -> None:
        self.latencies.append(time.perf_counter() - started)

    async def run(self, stop: asyncio.Event | None, count: int | None, gap: float) -> None:
        origin = time.perf_counter()
        index = 0
        while (stop is None or not stop.is_set()) and (count is None or index < count):
            delay = origin + index * gap - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.perf_counter()
            future = await self._enqueue()
            future.add_done_callback(functools.partial(self._done, started))
            self.futures.append(future)
            index += 1
        await asyncio.gather(*self.futures)
        await asyncio.sleep(0)  # the last done-callbacks

    def summary(self, prefix: str) -> Metrics:
        ordered = sorted(self.latencies)
        return {
            f"{prefix}_n": float(len(ordered)),
            f"{prefix}_p50_ms": percentile(ordered, 0.50) * 1e3,
            f"{prefix}_p99_ms": percentile(ordered, 0.99) * 1e3,
        }


async def _flood_and_stream(
    module: Any,
    quick: bool,
    *,
    flood: Callable[[Any, int], Coroutine[Any, Any, asyncio.Future[Any]]] | None,
    stream: Callable[[Any, int], Coroutine[Any, Any, asyncio.Future[Any]]],
    prefix: str,
    **options: Any,
) -> Metrics:
    """A flood enqueued at once (if any) and a stream beside it until the flood is done."""
    manager, grinder = await _grinder(module, **options)
    try:
        counter = iter(range(10**9))
        measured = _Stream(lambda: stream(grinder, next(counter)))
        if flood is None:
            await measured.run(None, QUICK_ALONE_STREAM if quick else ALONE_STREAM, STREAM_GAP)
            return measured.summary(prefix)
        size = QUICK_FLOOD if quick else FLOOD
        stop = asyncio.Event()
        started = time.perf_counter()
        flooded = [await flood(grinder, i) for i in range(size)]
        beside = asyncio.create_task(measured.run(stop, None, STREAM_GAP))
        await asyncio.gather(*flooded)
        flood_seconds = time.perf_counter() - started
        stop.set()
        await beside
        metrics = measured.summary(prefix)
        metrics["flood_items_per_s"] = size / flood_seconds
        return metrics
    finally:
        await _close(manager, grinder)


# Short batches (32 items of 1 ms on 4 threads: about 8 ms each), so a cut comes often.
_SHARED = {"max_wait_seconds": 0.005, "batch_size_threshold": 32, "max_batch_size": 32}


async def noisy_neighbour(module: Any, variant: str, quick: bool) -> Metrics:
    """Owner A floods 50,000 1-ms items; owner B sends one every 5 ms: B's latency, A's rate."""

    async def owner_a(grinder: Any, i: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await grinder.enqueue(jobs.sleep_1ms, i, owner="A")
        return future

    async def owner_b(grinder: Any, i: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await grinder.enqueue(jobs.sleep_1ms, i, owner="B")
        return future

    scheduler = "fifo" if variant == "fifo" else "fair"
    return await _flood_and_stream(
        module,
        quick,
        flood=None if variant == "alone" else owner_a,
        stream=owner_b,
        prefix="b",
        scheduler=scheduler,
        **_SHARED,
    )


async def priority(module: Any, variant: str, quick: bool) -> Metrics:
    """One owner floods at priority 0 and streams at priority 10 (or 0): the stream's latency."""
    work = module.Work
    stream_priority = 0 if variant == "same-priority" else 10

    async def low(grinder: Any, i: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await grinder.enqueue_work(
            work(jobs.sleep_1ms, args=(i,), owner="app")
        )
        return future

    async def high(grinder: Any, i: int) -> asyncio.Future[Any]:
        item = work(jobs.sleep_1ms, args=(i,), owner="app", priority=stream_priority)
        future: asyncio.Future[Any] = await grinder.enqueue_work(item)
        return future

    return await _flood_and_stream(
        module,
        quick,
        flood=None if variant == "alone" else low,
        stream=high,
        prefix="high",
        scheduler="fair",
        **_SHARED,
    )


DEADLINES = (0.05, 0.2, 1.0, 5.0)  # seconds, given to the items in turn
DEADLINE_WORKERS = 4
DEADLINE_JOB_SECONDS = 0.01
OVERLOAD = 1.2
OVERLOAD_SECONDS = 4.0
QUICK_OVERLOAD_SECONDS = 1.0


async def deadlines(module: Any, variant: str, quick: bool) -> Metrics:
    """1.2x overload for a few seconds, items with mixed deadlines: the share that misses.

    One pool of four threads runs 10-ms jobs (400/s); items arrive at 480/s.
    A miss is an item that failed with ``TimeoutError`` (not dispatched by its
    deadline); ``late`` also counts items whose result came after it.
    """
    manager, grinder = await _grinder(
        module,
        pools=1,
        workers=DEADLINE_WORKERS,
        scheduler="fair" if variant == "edf" else "fifo",
        max_wait_seconds=0.005,
        batch_size_threshold=8,
        max_batch_size=8,  # what is cut is dispatched: keep a cut close to its run
    )
    try:
        rate = OVERLOAD * DEADLINE_WORKERS / DEADLINE_JOB_SECONDS
        count = int(rate * (QUICK_OVERLOAD_SECONDS if quick else OVERLOAD_SECONDS))
        finished: list[tuple[float, float, asyncio.Future[Any]]] = []
        ends: dict[int, float] = {}

        def ended(index: int, _future: asyncio.Future[Any]) -> None:
            ends[index] = time.perf_counter()

        origin = time.perf_counter()
        for i in range(count):
            delay = origin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            seconds = DEADLINES[i % len(DEADLINES)]
            item = module.Work(jobs.sleep_10ms, args=(i,), deadline_seconds=seconds)
            queued = time.perf_counter()
            future = await grinder.enqueue_work(item)
            future.add_done_callback(functools.partial(ended, i))
            finished.append((queued, seconds, future))
        await asyncio.gather(*(future for _, _, future in finished), return_exceptions=True)
        await asyncio.sleep(0)
        missed = sum(isinstance(f.exception(), TimeoutError) for _, _, f in finished)
        late = sum(
            isinstance(future.exception(), TimeoutError) or ends[index] - queued > seconds
            for index, (queued, seconds, future) in enumerate(finished)
        )
        per_class = {
            f"miss_pct_{int(seconds * 1000)}ms": 100.0
            * sum(isinstance(f.exception(), TimeoutError) for _, s, f in finished if s == seconds)
            / sum(1 for _, s, _ in finished if s == seconds)
            for seconds in DEADLINES
        }
        return {
            "n": float(count),
            "miss_pct": 100.0 * missed / count,
            "late_pct": 100.0 * late / count,
            **per_class,
        }
    finally:
        await _close(manager, grinder)


async def eager(module: Any, variant: str, quick: bool) -> Metrics:
    """A lone item at a time, default max_wait (10 s): its latency under eager and wait."""
    manager, grinder = await _grinder(module, dispatch=variant)
    try:
        count = (20 if quick else 100) if variant == "eager" else (1 if quick else 2)
        latencies = []
        for i in range(count):
            started = time.perf_counter()
            await grinder.submit(jobs.identity, i)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
        latencies.sort()
        return {
            "n": float(count),
            "p50_ms": percentile(latencies, 0.5) * 1e3,
            "p99_ms": percentile(latencies, 0.99) * 1e3,
        }
    finally:
        await _close(manager, grinder)


OWNERS = 100_000
QUICK_OWNERS = 20_000


async def many_owners(module: Any, variant: str, quick: bool) -> Metrics:
    """Enqueue one item for each of 100,000 owners into a grinder that holds them: the rate."""
    manager = module.LeasedExecutorManager(backend="thread", max_pools=1, workers_per_pool=1)
    await manager.start()
    grinder = module.WorkGrinder(
        executor_manager=manager,
        scheduler=variant,
        batch_size_threshold=1_000_001,
        max_wait_seconds=3600.0,
    )
    await grinder.start()
    try:
        count = QUICK_OWNERS if quick else OWNERS
        owners = [f"tenant-{i}" for i in range(count)]
        futures = []
        enqueue = grinder.enqueue
        began = time.perf_counter()
        for owner in owners:
            futures.append(await enqueue(jobs.identity, 0, owner=owner))
        seconds = time.perf_counter() - began
        return {"n": float(count), "enqueue_items_per_s": count / seconds}
    finally:
        await _close(manager, grinder)


WORKLOADS: dict[str, Callable[[Any, str, bool], Coroutine[Any, Any, Metrics]]] = {
    "noisy-neighbour": noisy_neighbour,
    "priority": priority,
    "deadlines": deadlines,
    "eager": eager,
    "many-owners": many_owners,
}


async def run(module: Any, scenario: str, variant: str, quick: bool) -> Metrics:
    """Run one variant of one scheduling scenario and return its metrics."""
    return await WORKLOADS[scenario](module, variant, quick)


def bars(scenario: str, medians: dict[str, Metrics]) -> list[str]:
    """Return the issue's bars for ``scenario``, judged on the medians of this run."""

    def ratio(variant: str, key: str, other: str, other_key: str | None = None) -> float | None:
        mine = medians.get(variant, {}).get(key)
        theirs = medians.get(other, {}).get(other_key or key)
        return None if mine is None or not theirs else mine / theirs

    checks: list[tuple[str, float | None, float, bool]] = []  # text, value, bar, at most
    if scenario == "noisy-neighbour":
        checks = [
            ("B p99 fair / B p99 alone", ratio("fair", "b_p99_ms", "alone"), 3.0, True),
            ("A rate fair / A rate fifo", ratio("fair", "flood_items_per_s", "fifo"), 0.9, False),
        ]
    elif scenario == "priority":
        checks = [("high p99 flood / alone", ratio("flood", "high_p99_ms", "alone"), 3.0, True)]
    elif scenario == "deadlines":
        checks = [("miss share edf / fifo", ratio("edf", "miss_pct", "fifo"), 0.5, True)]
    elif scenario == "eager":
        p50 = medians.get("eager", {}).get("p50_ms")
        checks = [("eager p50 ms", p50, 5.0, True)]
    elif scenario == "many-owners":
        checks = [
            ("enqueue rate fair / fifo", ratio("fair", "enqueue_items_per_s", "fifo"), 0.5, False)
        ]
    lines = []
    for text, value, bar, at_most in checks:
        if value is None:
            lines.append(f"bar {text}: not measured")
            continue
        met = value <= bar if at_most else value >= bar
        sign = "<=" if at_most else ">="
        lines.append(f"bar {text} = {value:.3g} ({sign} {bar:g}): {'met' if met else 'NOT met'}")
    return lines
