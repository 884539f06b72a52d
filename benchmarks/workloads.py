"""Submission patterns: burst, trickle, serial and memory.

Every pattern returns a flat ``dict[str, float]`` of metrics. Latency is
enqueue-to-result: ``time.perf_counter()`` just before ``enqueue`` and again in
a done-callback on the item's future, for an evenly spaced sample of at most
``LATENCY_SAMPLES`` items (every item in the smaller scenarios). Sampling keeps
the harness's own per-item cost (a callback per future) from drowning the
cheaper systems; it is the same for every system. Results are awaited in
order, one ``await`` each, which costs nothing for a future already done.
Throughput is ``n`` divided by the time from the first enqueue to the last
result.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks import jobs
from benchmarks.metrics import CpuSnapshot, current_rss_bytes, peak_rss_mib, percentile
from benchmarks.systems import Harness, Job

Metrics = dict[str, float]

# CPU counters tick every 10 ms: a shorter window says nothing about background load.
MIN_BACKGROUND_WINDOW_S = 0.5

# Latency percentiles come from at most this many evenly spaced items.
LATENCY_SAMPLES = 2000


class _Timeline:
    """Enqueue and completion times of the sampled items, on ``time.perf_counter``."""

    def __init__(self, samples: int) -> None:
        self.enqueued = [0.0] * samples
        self.done = [0.0] * samples

    def mark_done(self, index: int, _future: asyncio.Future[int]) -> None:
        """Record the completion time of sample ``index`` (done-callback)."""
        self.done[index] = time.perf_counter()


def _summarise(
    n: int,
    enqueued: list[float],
    done: list[float],
    wall: float,
    start: CpuSnapshot,
    end: CpuSnapshot,
) -> Metrics:
    """Turn sampled timestamps, the wall time and CPU snapshots into the standard metrics."""
    latencies = sorted(d - e for e, d in zip(enqueued, done, strict=True))
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
    stride = max(1, n // LATENCY_SAMPLES)
    timeline = _Timeline(len(range(0, n, stride)))
    futures: list[asyncio.Future[int]] = []
    start = CpuSnapshot.take()
    origin = time.perf_counter()
    for i in range(n):
        if rate is not None:
            delay = origin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        if i % stride:
            futures.append(await harness.enqueue(job, i))
            continue
        sample = i // stride
        timeline.enqueued[sample] = time.perf_counter()
        future = await harness.enqueue(job, i)
        future.add_done_callback(functools.partial(timeline.mark_done, sample))
        futures.append(future)
    results = [await future for future in futures]
    wall = time.perf_counter() - origin
    await asyncio.sleep(0)  # the last futures' done-callbacks are queued: let them run
    if not all(timeline.done):
        raise RuntimeError("a sampled item's done-callback never ran")
    end = CpuSnapshot.take()
    _check_results(results, n)
    metrics = _summarise(n, timeline.enqueued, timeline.done, wall, start, end)
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
    return _summarise(n, [origin] * n, done, done[-1] - origin, start, end)


def _serial_share(job: Job, first: int, count: int) -> list[float]:
    """Worker side of :func:`parallel_serial`: run a slice serially, return completion times."""
    done: list[float] = []
    for i in range(first, first + count):
        if job(i) != i:
            raise RuntimeError("results do not match their inputs")
        done.append(time.perf_counter())
    return done


def parallel_serial(job: Job, n: int, workers: int) -> Metrics:
    """The machine's real capacity for ``workers`` processes: serial loops side by side.

    Each of ``workers`` already-started processes runs a plain loop over its
    share of the ``n`` items, all at the same time, with no coordination. On a
    machine whose cores slow each other down (shared caches, SMT siblings,
    a busy host) this is below ``workers x serial``; no pool of that many
    processes can beat it.
    """
    shares = [n // workers + (1 if w < n % workers else 0) for w in range(workers)]
    firsts = [sum(shares[:w]) for w in range(workers)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(jobs.identity, range(workers * 4)))  # start every worker first
        start = CpuSnapshot.take()
        origin = time.perf_counter()
        futures = [
            pool.submit(_serial_share, job, f, c) for f, c in zip(firsts, shares, strict=True)
        ]
        done = [stamp for future in futures for stamp in future.result()]
        end = CpuSnapshot.take()
    return _summarise(n, [origin] * n, done, max(done) - origin, start, end)


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
