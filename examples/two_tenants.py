"""Two tenants share one grinder: a backfill floods it, an interactive user trickles in.

Under the default ``"fifo"`` scheduler every interactive request waits behind
the whole backfill. Under ``scheduler="fair"`` each batch is shared between
the tenants that have work pending, so the interactive user keeps its latency
while the backfill still gets the rest of every batch. A per-tenant quota
(``max_pending_per_owner``) keeps either tenant from filling the queue.

Run from the repository root::

    .venv/bin/python examples/two_tenants.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from gristmill import LeasedExecutorManager, WorkGrinder

BACKFILL_ITEMS = 2000
INTERACTIVE_EVERY = 0.01  # seconds between two interactive requests


def render(page: int) -> int:
    time.sleep(0.001)  # a millisecond of blocking work per item
    return page


async def interactive_user(grinder: WorkGrinder, stop: asyncio.Event) -> list[float]:
    """Submit one request at a time, every 10 ms, until told to stop; return the latencies."""
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        await grinder.submit(render, 0, owner="interactive")
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(INTERACTIVE_EVERY)
    return latencies


async def run(scheduler: str) -> None:
    manager = LeasedExecutorManager(max_pools=2, workers_per_pool=4)
    grinder = WorkGrinder(
        executor_manager=manager,
        scheduler=scheduler,  # type: ignore[arg-type]
        max_wait_seconds=0.005,
        batch_size_threshold=16,
        max_batch_size=32,  # short batches: the scheduler decides often
        max_pending_per_owner=5000,
    )
    await manager.start()
    await grinder.start()
    try:
        backfill = [
            await grinder.enqueue(render, page, owner="backfill") for page in range(BACKFILL_ITEMS)
        ]
        stop = asyncio.Event()
        user = asyncio.create_task(interactive_user(grinder, stop))
        started = time.perf_counter()
        await asyncio.gather(*backfill)
        backfill_seconds = time.perf_counter() - started
        stop.set()
        latencies = sorted(await user)
        rows = {row["owner"]: row for row in grinder.stats()["owners"]}
    finally:
        await grinder.stop()
        await manager.stop()
    p50 = statistics.median(latencies) * 1e3
    worst = latencies[-1] * 1e3
    print(
        f"{scheduler:>4}: interactive p50 {p50:6.1f} ms, worst {worst:6.1f} ms over "
        f"{len(latencies)} requests; backfill of {BACKFILL_ITEMS} took {backfill_seconds:.2f} s "
        f"({rows['backfill']['completed']} completed)"
    )


async def main() -> None:
    await run("fifo")
    await run("fair")


if __name__ == "__main__":
    asyncio.run(main())
