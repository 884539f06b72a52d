"""Submission patterns: burst, trickle, serial and memory.

Every pattern returns a flat ``dict[str, float]`` of metrics. Latency is
enqueue-to-result: ``loop.time()`` just before ``enqueue`` and again in a
done-callback on the item's future. Throughput is ``n`` divided by the time
from the first enqueue to the last result.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import time

from benchmarks import jobs
from benchmarks.metrics import CpuSnapshot, current_rss_bytes, peak_rss_mib, percentile
from benchmarks.systems import Harness, Job

Metrics = dict[str, float]

# CPU counters tick every 10 ms: a shorter window says nothing about background load.
MIN_BACKGROUND_WINDOW_S = 0.5


class _Timeline:
    """Enqueue and completion times of each item, on the loop's clock."""

    def __init__(self, n: int, clock: asyncio.AbstractEventLoop) -> None:
        self.clock = clock
        self.enqueued = [0.0] * n
        self.done = [0.0] * n

    def mark_done(self, index: int, _future: asyncio.Future[int]) -> None:
        """Record the completion time of item ``index`` (done-callback)."""
        self.done[index] = self.clock.time()


def _summarise(
    enqueued: list[float], done: list[float], start: CpuSnapshot, end: CpuSnapshot
) -> Metrics:
    """Turn per-item timestamps and CPU snapshots into the standard metrics."""
    n = len(done)
    latencies = sorted(d - e for e, d in zip(enqueued, done, strict=True))
    wall = max(done) - min(enqueued)
    metrics: Metrics = {
        "n": float(n),
        "wall_s": wall,
        "items_per_s": n / wall if wall > 0 else float("inf"),
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "cpu_us_per_item": end.seconds_since(start) / n * 1e6,
        "peak_rss_mib": peak_rss_mib(),
    }
    if end.at - start.at >= MIN_BACKGROUND_WINDOW_S:
        metrics["background_cpu_pct"] = end.background_share_since(start) * 100
    return metrics


def _check_results(results: list[int], n: int) -> None:
    """Fail loudly if any item's result went to the wrong future."""
    if results != list(range(n)):
        raise RuntimeError("results do not match their inputs")


async def warm_up(harness: Harness, items: int) -> None:
    """Run ``items`` identity jobs so pools and workers exist before timing."""
    futures = [await harness.enqueue(jobs.identity, i) for i in range(items)]
    _check_results(list(await asyncio.gather(*futures)), items)


async def submit_all(harness: Harness, job: Job, n: int, rate: float | None) -> Metrics:
    """Enqueue ``n`` items from one coroutine, then await them all.

    With ``rate=None`` the items are enqueued back to back (a burst);
    otherwise one item is enqueued every ``1 / rate`` seconds (a trickle).
    """
    loop = asyncio.get_running_loop()
    timeline = _Timeline(n, loop)
    futures: list[asyncio.Future[int]] = []
    start = CpuSnapshot.take()
    origin = loop.time()
    for i in range(n):
        if rate is not None:
            delay = origin + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        timeline.enqueued[i] = loop.time()
        future = await harness.enqueue(job, i)
        future.add_done_callback(functools.partial(timeline.mark_done, i))
        futures.append(future)
    results = list(await asyncio.gather(*futures))
    end = CpuSnapshot.take()
    _check_results(results, n)
    metrics = _summarise(timeline.enqueued, timeline.done, start, end)
    metrics.update(harness.extras())
    return metrics


def serial(job: Job, n: int) -> Metrics:
    """Call ``job`` ``n`` times in a plain loop; every item counts as enqueued at start."""
    done: list[float] = []
    start = CpuSnapshot.take()
    origin = time.monotonic()
    for i in range(n):
        if job(i) != i:
            raise RuntimeError("results do not match their inputs")
        done.append(time.monotonic())
    end = CpuSnapshot.take()
    return _summarise([origin] * n, done, start, end)


async def memory(harness: Harness, n: int) -> Metrics:
    """Queue ``n`` items that cannot dispatch; return RSS growth per item.

    The futures list is allocated before the baseline so that only the
    library's own per-item cost (plus the returned future) is counted.
    Afterwards the grinder is stopped with ``cancel_pending=True``.
    """
    if harness.cancel_all is None:
        raise ValueError("memory scenario needs a grinder")
    futures: list[asyncio.Future[int] | None] = [None] * n
    gc.collect()
    baseline = current_rss_bytes()
    began = time.perf_counter()
    for i in range(n):
        futures[i] = await harness.enqueue(jobs.identity, 0)
    enqueue_s = time.perf_counter() - began
    gc.collect()
    grown = current_rss_bytes() - baseline
    metrics: Metrics = {
        "n": float(n),
        "bytes_per_item": grown / n,
        "enqueue_items_per_s": n / enqueue_s,
        "peak_rss_mib": peak_rss_mib(),
    }
    metrics.update(harness.extras())
    began = time.perf_counter()
    await harness.cancel_all()
    metrics["stop_ms"] = (time.perf_counter() - began) * 1e3
    metrics["cancelled"] = float(sum(1 for f in futures if f is not None and f.cancelled()))
    return metrics
