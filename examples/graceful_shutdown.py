"""Shutting a grinder down: drain everything, or cancel what has not finished.

``stop()`` runs every pending job at once, without waiting for ``max_wait_seconds``.
``stop(cancel_pending=True)`` cancels pending jobs and abandons running batches:
callers get ``CancelledError``, though a job already running on a thread still
finishes. A stopped grinder refuses new work with ``NotStartedError``.

Run from the repository root::

    .venv/bin/python examples/graceful_shutdown.py
"""

from __future__ import annotations

import asyncio
import time

from gristmill import LeasedExecutorManager, NotStartedError, WorkGrinder


def slow_job(n: int, finished: list[int]) -> int:
    time.sleep(0.1)
    finished.append(n)
    return n


async def run(manager: LeasedExecutorManager, *, cancel_pending: bool) -> WorkGrinder:
    # A 30 s max wait and a threshold of 4: only the first four start before stop().
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, max_wait_seconds=30)
    await grinder.start()
    finished: list[int] = []
    futures = [await grinder.enqueue(slow_job, n, finished) for n in range(4)]
    await asyncio.sleep(0.01)  # the first batch is now running
    futures += [await grinder.enqueue(slow_job, n, finished) for n in range(4, 10)]
    started = time.perf_counter()
    await grinder.stop(cancel_pending=cancel_pending)
    print(f"stop(cancel_pending={cancel_pending}) took {time.perf_counter() - started:.2f}s")
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    await asyncio.sleep(0.2)  # abandoned jobs already on a thread still run to the end
    print("  callers got:", *(o if isinstance(o, int) else "X" for o in outcomes), "(X: cancelled)")
    print(f"  jobs that ran to the end: {sorted(finished)}")
    return grinder


async def main() -> None:
    manager = LeasedExecutorManager(max_pools=1, workers_per_pool=2)
    await manager.start()
    try:
        await run(manager, cancel_pending=False)
        stopped = await run(manager, cancel_pending=True)
        await stopped.enqueue(slow_job, 99, [])
    except NotStartedError as exc:
        print(f"enqueue after stop -> NotStartedError: {exc}")
    finally:
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
