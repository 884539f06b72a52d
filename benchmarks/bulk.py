"""Bulk work (issue 12): ``map``, ``enqueue_many``, the ``gristmill`` command, and memory.

Each function runs one cell and returns its metrics:

- :func:`map_cell`: ``grinder.map(job, range(n))``, results consumed with ``async for``.
- :func:`enqueue_many_cell`: ``await grinder.enqueue_many(job, range(n))``, then each future
  awaited in order; :func:`enqueue_loop_cell` the same with a loop of ``enqueue``.
- :func:`cli_cell`: ``python -m gristmill map benchmarks.jobs:JOB`` over an n-line file, in
  a subprocess; the wall time covers the whole command (interpreter and pool start
  included). Beside it, where the time goes per line, measured serially in this
  process: cutting the input into blocks, the workers' JSON work (decode, call,
  encode) and writing.
- :func:`map_memory_cell`: a map of ``n`` items; the process RSS is sampled every 10% of
  the items, to show it stays flat.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.metrics import CpuSnapshot, current_rss_bytes, peak_rss_mib
from benchmarks.scenarios import JOBS, Scenario
from benchmarks.systems import LEASE_SECONDS
from benchmarks.workloads import MIN_BACKGROUND_WINDOW_S, Metrics

if TYPE_CHECKING:
    from gristmill import WorkGrinder

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


@asynccontextmanager
async def started(scenario: Scenario) -> AsyncIterator[WorkGrinder]:
    """A manager and grinder configured as ``scenario`` says, warmed up."""
    from gristmill import LeasedExecutorManager, WorkGrinder  # only cells that need it import it

    manager = LeasedExecutorManager(
        backend=scenario.backend,
        max_pools=scenario.max_pools,
        min_pools=scenario.max_pools,
        workers_per_pool=scenario.workers_per_pool,
    )
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        max_wait_seconds=scenario.max_wait_seconds,
        batch_size_threshold=scenario.batch_size_threshold,
        lease_seconds=LEASE_SECONDS,
    )
    await grinder.start()
    try:
        warm = [r async for r in grinder.map(JOBS["identity"], range(scenario.total_workers * 4))]
        assert warm == list(range(scenario.total_workers * 4))
        yield grinder
    finally:
        await grinder.stop()
        await manager.stop()


def _throughput(n: int, wall: float, start: CpuSnapshot, end: CpuSnapshot) -> Metrics:
    metrics: Metrics = {
        "n": float(n),
        "wall_s": wall,
        "items_per_s": n / wall,
        "cpu_us_per_item": end.seconds_since(start) / n * 1e6,
        "peak_rss_mib": peak_rss_mib(),
    }
    if end.at - start.at >= MIN_BACKGROUND_WINDOW_S:
        metrics["background_cpu_pct"] = end.background_share_since(start) * 100
    return metrics


async def map_cell(scenario: Scenario, n: int) -> Metrics:
    """Map ``scenario.job`` over ``range(n)``; check every result."""
    job = JOBS[scenario.job]
    async with started(scenario) as grinder:
        start = CpuSnapshot.take()
        began = time.perf_counter()
        expected = 0
        async for result in grinder.map(job, range(n)):
            if result != expected:
                raise RuntimeError("map results out of order")
            expected += 1
        wall = time.perf_counter() - began
        end = CpuSnapshot.take()
        batches = grinder.stats()["batches"]
    if expected != n:
        raise RuntimeError(f"map yielded {expected} of {n} results")
    metrics = _throughput(n, wall, start, end)
    metrics["batches"] = float(batches)
    return metrics


async def enqueue_many_cell(scenario: Scenario, n: int) -> Metrics:
    """``enqueue_many`` of ``range(n)``, then every future awaited in order."""
    return await _enqueue_cell(
        scenario, n, lambda grinder, job: grinder.enqueue_many(job, range(n))
    )


async def enqueue_loop_cell(scenario: Scenario, n: int) -> Metrics:
    """A loop of ``await grinder.enqueue(job, i)``, then every future awaited in order.

    The same path as the ``gristmill`` burst cell, measured as :func:`enqueue_many_cell`
    is, so the cost of the calls themselves compares directly.
    """

    async def loop(grinder: WorkGrinder, job: Callable[..., Any]) -> list[asyncio.Future[Any]]:
        return [await grinder.enqueue(job, i) for i in range(n)]

    return await _enqueue_cell(scenario, n, loop)


async def _enqueue_cell(
    scenario: Scenario,
    n: int,
    enqueue: Callable[[WorkGrinder, Callable[..., Any]], Awaitable[list[asyncio.Future[Any]]]],
) -> Metrics:
    """Time ``enqueue`` (which queues ``range(n)``) apart, then the awaits of its futures."""
    job = JOBS[scenario.job]
    async with started(scenario) as grinder:
        start = CpuSnapshot.take()
        began = time.perf_counter()
        futures = await enqueue(grinder, job)
        enqueued = time.perf_counter() - began
        results = [await future for future in futures]
        wall = time.perf_counter() - began
        end = CpuSnapshot.take()
    if results != list(range(n)):
        raise RuntimeError("results do not match their inputs")
    metrics = _throughput(n, wall, start, end)
    metrics["enqueue_us_per_item"] = enqueued / n * 1e6
    return metrics


async def map_memory_cell(scenario: Scenario, n: int) -> Metrics:
    """Map over ``range(n)``, sampling the RSS and the live Python blocks every 10% of the items.

    ``sys.getallocatedblocks()`` counts the Python objects alive: flat means nothing
    is kept per item. The RSS may still rise a little at first, as the allocator's
    high-water mark settles, and then stay.
    """
    job = JOBS[scenario.job]
    step = max(1, n // 10)
    rss: list[int] = []
    blocks: list[int] = []
    async with started(scenario) as grinder:
        began = time.perf_counter()
        seen = 0
        async for _ in grinder.map(job, range(n)):
            seen += 1
            if seen % step == 0:
                rss.append(current_rss_bytes())
                blocks.append(sys.getallocatedblocks())
        wall = time.perf_counter() - began
    if seen != n:
        raise RuntimeError(f"map yielded {seen} of {n} results")
    return {
        "n": float(n),
        "items_per_s": n / wall,
        "rss_first_tenth_mib": rss[0] / MIB,
        "rss_half_mib": rss[len(rss) // 2 - 1] / MIB,
        "rss_end_mib": rss[-1] / MIB,
        "rss_growth_mib": (rss[-1] - rss[0]) / MIB,
        "blocks_growth": float(blocks[-1] - blocks[0]),
        "peak_rss_mib": peak_rss_mib(),
    }


def cli_cell(scenario: Scenario, n: int) -> Metrics:
    """Run the ``gristmill`` command over an ``n``-line file; break its cost down per line."""
    with tempfile.TemporaryDirectory(prefix="gristmill-cli-bench-") as tmp:
        source, output = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        source.write_text("".join(f"{i}\n" for i in range(n)))
        command = [sys.executable, "-m", "gristmill", "map", f"benchmarks.jobs:{scenario.job}"]
        command += [str(source), "-o", str(output), "--backend", scenario.backend]
        command += ["--pools", str(scenario.max_pools)]
        command += ["--workers", str(scenario.workers_per_pool)]
        start = CpuSnapshot.take()
        began = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - began
        end = CpuSnapshot.take()
        if done.returncode != 0:
            raise RuntimeError(f"gristmill map exited {done.returncode}: {done.stderr[-500:]}")
        lines = output.read_bytes().count(b"\n")
        if lines != n:
            raise RuntimeError(f"gristmill map wrote {lines} of {n} lines")
        metrics = _throughput(n, wall, start, end)
        internal = re.search(r"in ([0-9.]+) s", done.stderr)
        if internal:
            metrics["internal_items_per_s"] = n / float(internal.group(1))
        metrics.update(_cost_per_line(source, JOBS[scenario.job]))
    return metrics


def _cost_per_line(source: Path, job: Callable[..., Any]) -> Metrics:
    """Microseconds per line, serially: cut the blocks, do the workers' JSON work, write."""
    from gristmill._cli._blocks import BlockSizer, read_blocks
    from gristmill._cli._lines import run_block

    sizer = BlockSizer()
    sizer.want = 1 << 15  # about where a run's blocks settle for lines this cheap
    with source.open("rb") as stream:
        began = time.perf_counter()
        blocks = list(read_blocks(stream, sizer, None))
        read = time.perf_counter() - began
    began = time.perf_counter()
    texts = [run_block(job, False, False, block).text for block in blocks]
    work = time.perf_counter() - began
    with tempfile.TemporaryFile() as sink:
        began = time.perf_counter()
        for text in texts:
            sink.write(text.encode())
        write = time.perf_counter() - began
    n = sum(block.lines for block in blocks)
    return {
        "read_us_per_line": read / n * 1e6,
        "json_us_per_line": work / n * 1e6,
        "write_us_per_line": write / n * 1e6,
    }


def run_bulk_cell(scenario: Scenario, system: str, n: int) -> Metrics:
    """Run one of the bulk systems on ``scenario``."""
    if system == "gristmill_cli":
        return cli_cell(scenario, n)
    if scenario.kind == "bulk-memory":
        return asyncio.run(map_memory_cell(scenario, n))
    if system == "gristmill_map":
        return asyncio.run(map_cell(scenario, n))
    if system == "gristmill_enqueue_many":
        return asyncio.run(enqueue_many_cell(scenario, n))
    if system == "gristmill_enqueue":
        return asyncio.run(enqueue_loop_cell(scenario, n))
    raise ValueError(f"{system!r} is not a bulk system")


BULK_SYSTEMS = ("gristmill_map", "gristmill_enqueue_many", "gristmill_enqueue", "gristmill_cli")
