"""Batch-function benchmarks (issue 11): gristmill ``@batched`` against its peers, side by side.

Scenarios:

* ``sqlite-insert``: 50,000 rows into a file-backed SQLite database (WAL,
  durable commits) from 500 concurrent callers (100 rows each, one at a
  time; the systems that commit every row alone insert 5,000, at the same
  concurrency, since only their rate is compared). Systems: gristmill
  ``@batched`` over ``executemany``, gristmill with one job per row,
  ``asyncio.to_thread`` per row, ``async-batcher`` (a sync batch handler on an
  executor) and ``aiodataloader`` (its batch-load function through
  ``to_thread``). Every system writes through one writer thread.
* ``vector-cpu``: a small numpy simulation on the process backend,
  ``@batched`` against one job per item (the same numpy code over one item).
* ``poison-split``: 10,000 items, 10 of them poison, ``on_error="split"`` and
  ``max_batch_size=256``, against the same run without poison.
* ``batch-overhead``: what a batched item costs the event loop: 100,000 items
  from 500 concurrent callers through a batch function that does nothing,
  gristmill ``@batched`` against ``aiodataloader``; ``loop_cpu_us`` is the
  CPU time of the loop's thread per item.

Each cell runs in a fresh interpreter; the order of systems rotates between
repeats, and the report gives medians. Run::

    .venv/bin/python -m benchmarks.batching --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

Row = tuple[int, str]

SCENARIOS: dict[str, tuple[str, ...]] = {
    "sqlite-insert": ("batched", "per-row", "to_thread", "async-batcher", "aiodataloader"),
    "vector-cpu": ("batched", "per-item"),
    "poison-split": ("clean", "poisoned"),
    "batch-overhead": ("batched", "aiodataloader"),
}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- sqlite-insert ---------------------------------------------------------------------------


async def _callers(insert: Callable[[tuple[int, str]], Awaitable[Any]], n: int) -> list[float]:
    """500 callers insert ``n`` rows between them, each row awaited; return the latencies."""
    callers = 500
    latencies: list[float] = []

    async def caller(first: int) -> None:
        for row_id in range(first, n, callers):
            started = time.perf_counter()
            await insert((row_id, f"payload-{row_id}"))
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(caller(first) for first in range(callers)))
    return latencies


def _dataloader(batch: Callable[[list[Row]], list[None]]) -> Any:
    """An aiodataloader ``DataLoader`` whose batch-load function runs ``batch`` on one thread."""
    from aiodataloader import DataLoader

    writer = ThreadPoolExecutor(1)

    async def load(rows: list[Row]) -> list[None]:
        return await asyncio.get_running_loop().run_in_executor(writer, batch, rows)

    return DataLoader(load, max_batch_size=256, cache=False)


async def _sqlite(system: str, n: int) -> dict[str, float]:
    from benchmarks import batch_jobs
    from gristmill import LeasedExecutorManager, WorkGrinder

    if system in ("per-row", "to_thread"):
        n //= 10  # a durable commit per row is slow: a smaller run gives the same rate

    with tempfile.TemporaryDirectory() as folder:
        batch_jobs.open_database(str(Path(folder) / "bench.db"))
        started = time.perf_counter()
        if system in ("batched", "per-row"):
            # Two one-thread pools, so the next batch is handed over while one
            # commits (the peers queue theirs on their executor); the lock still
            # lets one write at a time.
            manager = LeasedExecutorManager(max_pools=2, workers_per_pool=1)
            grinder = WorkGrinder(
                executor_manager=manager,
                batch_size_threshold=256,
                max_wait_seconds=0.002,
                dispatch="eager",
            )
            async with manager, grinder:
                started = time.perf_counter()  # the pool is up, as the peers' executors are
                fn: Any = batch_jobs.insert_batch if system == "batched" else batch_jobs.insert_one
                latencies = await _callers(partial(grinder.submit, fn), n)
        elif system == "to_thread":
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))

            async def insert(row: tuple[int, str]) -> Any:
                return await asyncio.to_thread(batch_jobs.insert_one, row)

            latencies = await _callers(insert, n)
        elif system == "async-batcher":
            from async_batcher.batcher import AsyncBatcher

            class Inserter(AsyncBatcher):  # type: ignore[misc]
                def process_batch(self, batch: list[tuple[int, str]]) -> list[None]:
                    return batch_jobs.insert_many(batch)

            batcher = Inserter(
                max_batch_size=256, max_queue_time=0.002, executor=ThreadPoolExecutor(1)
            )
            latencies = await _callers(batcher.process, n)
            await batcher.stop()
        else:
            latencies = await _callers(_dataloader(batch_jobs.insert_many).load, n)
        seconds = time.perf_counter() - started
        count = batch_jobs.close_database()
    assert count == n, f"{system} wrote {count} rows, not {n}"
    return {
        "items_per_s": n / seconds,
        "p50_ms": 1000 * _percentile(latencies, 0.5),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
    }


# -- vector-cpu --------------------------------------------------------------------------------


async def _vector(system: str, n: int) -> dict[str, float]:
    from benchmarks import batch_jobs
    from gristmill import LeasedExecutorManager, WorkGrinder

    if system == "per-item":
        n //= 25  # one item per call is slow: a smaller run gives the same rate
    xs = [i / n for i in range(n)]
    manager = LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=1024, max_wait_seconds=0.002
    )
    async with manager, grinder:
        started = time.perf_counter()
        if system == "batched":
            futures = [await grinder.enqueue(batch_jobs.simulate_batch, x) for x in xs]
        else:
            futures = [await grinder.enqueue(batch_jobs.simulate_one, x) for x in xs]
        results = await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    assert abs(results[-1] - batch_jobs.simulate_one(xs[-1])) < 1e-9
    return {"items_per_s": n / seconds}


# -- poison-split ------------------------------------------------------------------------------


async def _poison(system: str, n: int) -> dict[str, float]:
    from benchmarks import batch_jobs
    from gristmill import LeasedExecutorManager, WorkGrinder

    items = list(range(n))
    if system == "poisoned":
        for k in range(10):
            items[(k * 997 + 13) % n] = batch_jobs.POISON
    manager = LeasedExecutorManager(max_pools=2, workers_per_pool=2)
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=256,
        max_wait_seconds=0.002,
        dispatch="eager",
    )
    async with manager, grinder:
        started = time.perf_counter()
        futures = [await grinder.enqueue(batch_jobs.checked, item) for item in items]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        seconds = time.perf_counter() - started
        stats = grinder.stats()
    failed = sum(isinstance(outcome, ValueError) for outcome in outcomes)
    good = all(
        outcome == item * 2 for item, outcome in zip(items, outcomes, strict=True) if item >= 0
    )
    assert good, "a good item did not get its own result"
    assert failed == items.count(batch_jobs.POISON)
    return {
        "seconds": seconds,
        "calls": float(stats["batch_calls"]),
        "split_calls": float(stats["split_calls"]),
        "failed": float(failed),
    }


# -- batch-overhead -----------------------------------------------------------------------------


async def _overhead(system: str, n: int) -> dict[str, float]:
    from benchmarks import batch_jobs
    from gristmill import LeasedExecutorManager, WorkGrinder

    if system == "batched":
        manager = LeasedExecutorManager(max_pools=2, workers_per_pool=1)
        grinder = WorkGrinder(
            executor_manager=manager, batch_size_threshold=256, max_wait_seconds=0.002
        )
        async with manager, grinder:
            cpu, began = time.thread_time(), time.perf_counter()
            await _callers(partial(grinder.submit, batch_jobs.nothing_batch), n)
            seconds, cpu = time.perf_counter() - began, time.thread_time() - cpu
    else:
        loader = _dataloader(batch_jobs.nothing)
        cpu, began = time.thread_time(), time.perf_counter()
        await _callers(loader.load, n)
        seconds, cpu = time.perf_counter() - began, time.thread_time() - cpu
    return {"items_per_s": n / seconds, "loop_cpu_us": cpu / n * 1e6}


RUNNERS = {
    "sqlite-insert": _sqlite,
    "vector-cpu": _vector,
    "poison-split": _poison,
    "batch-overhead": _overhead,
}
SIZES = {
    "sqlite-insert": (50_000, 5_000),
    "vector-cpu": (50_000, 5_000),
    "poison-split": (10_000, 2_000),
    "batch-overhead": (100_000, 10_000),
}


def _cell(scenario: str, system: str, quick: bool) -> dict[str, float]:
    n = SIZES[scenario][1 if quick else 0]
    return asyncio.run(RUNNERS[scenario](system, n))


def _run_cell(scenario: str, system: str, quick: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.batching", "--cell", scenario, system]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _report(results: dict[str, dict[str, list[dict[str, float]]]]) -> str:
    lines: list[str] = []
    for scenario, systems in results.items():
        lines.append(f"\n### {scenario}\n")
        keys = list(next(iter(systems.values()))[0])
        lines.append("| system | " + " | ".join(keys) + " | runs |")
        lines.append("| --- |" + " ---: |" * (len(keys) + 1))
        medians: dict[str, dict[str, float]] = {}
        for system, runs in systems.items():
            medians[system] = {key: statistics.median(run[key] for run in runs) for key in keys}
            cells = " | ".join(f"{medians[system][key]:,.2f}" for key in keys)
            lines.append(f"| {system} | {cells} | {len(runs)} |")
        lines.extend(_ratios(scenario, medians))
    return "\n".join(lines)


def _ratios(scenario: str, m: dict[str, dict[str, float]]) -> list[str]:
    if scenario == "sqlite-insert":
        batched = m["batched"]["items_per_s"]
        best_peer = max(m["async-batcher"]["items_per_s"], m["aiodataloader"]["items_per_s"])
        peer_p99 = min(m["async-batcher"]["p99_ms"], m["aiodataloader"]["p99_ms"])
        return [
            "",
            f"- batched / per-row: {batched / m['per-row']['items_per_s']:.1f}× (bar 10×)",
            f"- batched / best of async-batcher and aiodataloader: {batched / best_peer:.2f}× "
            "(bar 1.5×)",
            f"- p99: batched {m['batched']['p99_ms']:.1f} ms, best peer {peer_p99:.1f} ms "
            "(bar: no worse)",
        ]
    if scenario == "vector-cpu":
        ratio = m["batched"]["items_per_s"] / m["per-item"]["items_per_s"]
        return ["", f"- batched / per-item: {ratio:.1f}× (bar 20×)"]
    if scenario == "batch-overhead":
        ratio = m["batched"]["loop_cpu_us"] / m["aiodataloader"]["loop_cpu_us"]
        return ["", f"- loop CPU per item, batched / aiodataloader: {ratio:.2f}×"]
    extra = m["poisoned"]["calls"] - m["clean"]["calls"]
    bound = 10 * 8
    slowdown = m["poisoned"]["seconds"] / m["clean"]["seconds"]
    return [
        "",
        f"- extra calls with 10 poison items: {extra:.0f} (bar: at most {bound})",
        f"- wall time poisoned / clean: {slowdown:.2f}× (bar 2×)",
    ]


def main() -> int:
    """Run every scenario (or one ``--cell``) and print a Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", nargs=2, metavar=("SCENARIO", "SYSTEM"))
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(_cell(args.cell[0], args.cell[1], args.quick)))
        return 0
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for scenario in args.scenario or list(SCENARIOS):
        systems = SCENARIOS[scenario]
        results[scenario] = {system: [] for system in systems}
        for repeat in range(args.repeats):
            shift = repeat % len(systems)
            for system in systems[shift:] + systems[:shift]:  # rotate the order
                results[scenario][system].append(_run_cell(scenario, system, args.quick))
    print(_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
