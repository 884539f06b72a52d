"""gristmill demo: 400 async callers share a thread backend and a process backend.

Each caller is a small request handler. Every request does one blocking job:
a simulated SDK call (5–20 ms ``time.sleep``), a real receipt write or read in
a temporary directory, or a CPU-heavy scoring job (pure-Python prime counting,
about 1.5–5 ms). Blocking I/O goes to a ``WorkGrinder`` on a thread-backed
``LeasedExecutorManager``; CPU work goes to a second grinder on a process-backed
manager. Some jobs fail on purpose, and each failure reaches only the caller
that submitted the job. The jobs live in ``examples/_jobs.py`` because process
workers import them by module name.

A progress line is redrawn four times a second on a terminal (one plain line a
second when stdout is not a TTY, so CI logs stay readable); a summary of the
grinder and manager statistics follows at the end.

Run from the repository root::

    make demo
    .venv/bin/python examples/demo.py
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _jobs
from gristmill import GrinderStats, LeasedExecutorManager, ManagerStats, WorkGrinder

CALLERS = 400
REQUESTS_PER_CALLER = 16
TOTAL_JOBS = CALLERS * REQUESTS_PER_CALLER
SEED = 7
FAILURE_CAUSES = {
    "UpstreamError": "the simulated profile service answered 503",
    "FileNotFoundError": "a receipt was read before it was written",
    "ValueError": "an empty document was sent for scoring",
}


@dataclass
class Backend:
    """One manager, the grinder feeding it, and what the callers measured."""

    label: str
    manager: LeasedExecutorManager
    grinder: WorkGrinder
    latencies: list[float] = field(default_factory=list)
    peak_leased: int = 0


@dataclass
class Tally:
    """Outcomes as the callers saw them."""

    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)


def build_backends() -> tuple[Backend, Backend]:
    """A thread backend for blocking I/O and a process backend for CPU work."""
    io_manager = LeasedExecutorManager(
        backend="thread", max_pools=4, workers_per_pool=8, name_prefix="io"
    )
    cpu_manager = LeasedExecutorManager(
        backend="process",
        max_pools=2,
        min_pools=2,
        workers_per_pool=max(1, (os.cpu_count() or 2) // 2),
        name_prefix="cpu",
    )
    io_grinder = WorkGrinder(
        executor_manager=io_manager,
        batch_size_threshold=24,
        max_wait_seconds=0.02,
        lease_seconds=30.0,
        owner_prefix="io-batch",
    )
    cpu_grinder = WorkGrinder(
        executor_manager=cpu_manager,
        batch_size_threshold=16,
        max_wait_seconds=0.05,
        lease_seconds=30.0,
        owner_prefix="cpu-batch",
    )
    return Backend("io", io_manager, io_grinder), Backend("cpu", cpu_manager, cpu_grinder)


async def call(backend: Backend, tally: Tally, fn: Callable[..., Any], *args: Any) -> None:
    """Submit one job, time it, and count its outcome; a failure stays with this caller."""
    started = time.perf_counter()
    try:
        await backend.grinder.submit(fn, *args)
    except Exception as exc:
        tally.failures[type(exc).__name__] += 1
    else:
        tally.ok += 1
    backend.latencies.append(time.perf_counter() - started)


async def handle_requests(
    index: int, io: Backend, cpu: Backend, receipts: str, tally: Tally
) -> None:
    """One caller: a series of requests with think time in between, each one blocking job."""
    rng = random.Random(SEED * 1_000_003 + index)
    written: list[int] = []
    for step in range(REQUESTS_PER_CALLER):
        await asyncio.sleep(rng.uniform(0.0, 0.25))
        order_id = index * 100 + step
        roll = rng.random()
        if roll < 0.20 and written:
            # One read in ten asks for an order that has no receipt yet.
            wanted = rng.choice(written) if rng.random() < 0.9 else order_id + 1
            await call(io, tally, _jobs.read_receipt, receipts, wanted)
        elif roll < 0.45:
            await call(io, tally, _jobs.fetch_profile, order_id)
        elif roll < 0.70:
            await call(
                io, tally, _jobs.write_receipt, receipts, order_id, rng.randrange(100, 99_999)
            )
            written.append(order_id)
        else:
            size = 0 if order_id % 53 == 0 else rng.randrange(2500, 6000)
            await call(cpu, tally, _jobs.score_document, order_id, size)


def settled(stats: GrinderStats) -> int:
    """Jobs that have an outcome: completed, failed or cancelled."""
    return stats["completed"] + stats["failed"] + stats["cancelled"]


def progress_line(elapsed: float, done: int, rate: float, backends: tuple[Backend, ...]) -> str:
    """One compact status line; also records each manager's peak lease count."""
    parts = [f"{elapsed:4.1f}s {done:>4}/{TOTAL_JOBS} {rate:4.0f}/s"]
    for backend in backends:
        grinder, manager = backend.grinder.stats(), backend.manager.stats()
        backend.peak_leased = max(backend.peak_leased, manager["leased"])
        parts.append(
            f"{backend.label} q{grinder['pending']:>4} run{grinder['in_flight']:>4}"
            f" b{grinder['running_batches']} {manager['leased']}/{manager['total']}"
        )
    return " | ".join(parts)


def draw(line: str, *, final: bool = False) -> None:
    """Overwrite the status line on a TTY (clipped to its width); print plainly otherwise."""
    if not sys.stdout.isatty():
        print(line, flush=True)
        return
    width = shutil.get_terminal_size().columns - 1
    sys.stdout.write("\r" + line[:width] + "\x1b[K" + ("\n" if final else ""))
    sys.stdout.flush()


async def show_progress(backends: tuple[Backend, ...], started: float) -> None:
    """Redraw the status line 4×/s on a TTY; print one plain line per second otherwise."""
    every = 1 if sys.stdout.isatty() else 4
    recent: deque[tuple[float, int]] = deque([(started, 0)], maxlen=5)
    tick = 0
    while True:
        await asyncio.sleep(0.25)
        tick += 1
        now = time.perf_counter()
        done = sum(settled(backend.grinder.stats()) for backend in backends)
        recent.append((now, done))
        span = now - recent[0][0]
        rate = (done - recent[0][1]) / span if span > 0 else 0.0
        line = progress_line(now - started, done, rate, backends)
        if tick % every == 0:
            draw(line)


async def run_scene(io: Backend, cpu: Backend) -> tuple[Tally, float]:
    """Run every caller to completion while the progress line updates."""
    tally = Tally()
    print(f"{CALLERS} callers x {REQUESTS_PER_CALLER} requests = {TOTAL_JOBS} jobs")
    print("legend: q=pending  run=in flight  b=running batches  n/m=pools leased/total\n")
    with tempfile.TemporaryDirectory(prefix="gristmill-demo-") as receipts:
        started = time.perf_counter()
        progress = asyncio.create_task(show_progress((io, cpu), started))
        try:
            await asyncio.gather(
                *(handle_requests(i, io, cpu, receipts, tally) for i in range(CALLERS))
            )
        finally:
            progress.cancel()
        wall = time.perf_counter() - started
    draw(progress_line(wall, TOTAL_JOBS, TOTAL_JOBS / wall, (io, cpu)), final=True)
    print()
    return tally, wall


def percentile_ms(samples: list[float], pct: int) -> float:
    """The ``pct``-th percentile of ``samples`` in milliseconds."""
    return statistics.quantiles(samples, n=100)[pct - 1] * 1000


def backend_rows(backend: Backend, grinder: GrinderStats, manager: ManagerStats) -> list[str]:
    """The summary column for one backend, in row order."""
    lat = backend.latencies
    return [
        f"{manager['backend']}, {manager['max_pools']} pools x {manager['workers_per_pool']}",
        f"{grinder['submitted']}",
        f"{grinder['completed']} / {grinder['failed']} / {grinder['cancelled']}",
        f"{grinder['batches']} (avg {grinder['submitted'] / max(1, grinder['batches']):.1f} jobs)",
        f"{percentile_ms(lat, 50):.0f} / {percentile_ms(lat, 95):.0f} / {max(lat) * 1000:.0f}",
        f"{backend.peak_leased} of {manager['max_pools']}",
        f"{manager['pools_created']} / {manager['pools_retired']} / {manager['pools_broken']}",
        f"{manager['leases_granted']} / {manager['leases_released']} / {manager['leases_revoked']}",
    ]


def print_summary(
    backends: tuple[Backend, ...],
    grinders: list[GrinderStats],
    managers: list[ManagerStats],
    tally: Tally,
    wall: float,
) -> None:
    """Print the per-backend table, failures by type and the totals."""
    labels = [
        "backend",
        "jobs submitted",
        "completed / failed / cancelled",
        "batches",
        "latency p50 / p95 / max (ms)",
        "peak pools leased (sampled)",
        "pools created / retired / broken",
        "leases granted / released / revoked",
    ]
    columns = [backend_rows(b, g, m) for b, g, m in zip(backends, grinders, managers, strict=True)]
    print(f"{'':<36}" + "".join(f"{b.label:>26}" for b in backends))
    for row, label in enumerate(labels):
        print(f"{label:<36}" + "".join(f"{column[row]:>26}" for column in columns))
    print("\nfailures by type (each raised in its own caller only):")
    for name, count in tally.failures.most_common():
        print(f"  {name:<18} {count:>4}  {FAILURE_CAUSES.get(name, '')}")
    failed = sum(tally.failures.values())
    print(
        f"\ntotal: {tally.ok + failed} jobs, {tally.ok} ok, {failed} failed"
        f" in {wall:.2f} s wall = {(tally.ok + failed) / wall:.0f} jobs/s"
    )


def accounting_problems(grinders: list[GrinderStats], tally: Tally) -> list[str]:
    """Cross-check the grinders' counters against what the callers saw."""
    problems = [
        f"grinder counters do not add up: {stats}"
        for stats in grinders
        if stats["submitted"] != settled(stats) or stats["in_flight"] or stats["pending"]
    ]
    failed = sum(stats["failed"] for stats in grinders)
    if sum(stats["completed"] for stats in grinders) != tally.ok:
        problems.append(f"callers saw {tally.ok} results, grinders completed a different number")
    if failed != sum(tally.failures.values()) or tally.ok + failed != TOTAL_JOBS:
        problems.append(f"callers saw {dict(tally.failures)}, grinders failed {failed}")
    return problems


async def main() -> None:
    io, cpu = build_backends()
    backends = (io, cpu)
    for backend in backends:
        await backend.manager.start()
        await backend.grinder.start()
    try:
        tally, wall = await run_scene(io, cpu)
    finally:
        for backend in backends:
            await backend.grinder.stop()
        grinders = [backend.grinder.stats() for backend in backends]
        managers = [backend.manager.stats() for backend in backends]
        for backend in backends:
            await backend.manager.stop()
    print_summary(backends, grinders, managers, tally, wall)
    problems = accounting_problems(grinders, tally)
    for problem in problems:
        print(f"ACCOUNTING ERROR: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print("accounting: every job settled exactly once; grinder counters match the callers")


if __name__ == "__main__":
    asyncio.run(main())
