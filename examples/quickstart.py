"""Quickstart: a manager lends thread pools, a grinder batches jobs onto them.

Shows ``async with`` (start, then stop in reverse order), ``submit`` (await one
result), ``enqueue`` (get a future now, await it later), how a job's exception
reaches only its own caller, ``stats()`` and the grinder's ``repr()``.

Run from the repository root::

    .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import time

from gristmill import LeasedExecutorManager, WorkGrinder


def lookup_price(sku: str) -> float:
    """A blocking call, such as a database query or a sync SDK."""
    time.sleep(0.01)
    if sku == "unknown":
        raise KeyError(sku)
    return 9.99 + len(sku)


async def main() -> None:
    # `async with` starts both and stops them in reverse order on the way out: the
    # grinder drains what is pending, or cancels it after an exception or Ctrl-C.
    async with (
        LeasedExecutorManager(backend="thread", max_pools=2, workers_per_pool=4) as manager,
        # A batch starts when 8 jobs are pending or the oldest has waited 50 ms, so a
        # lone request waits at most 50 ms (the default, 10 s, suits background work).
        WorkGrinder(
            executor_manager=manager, batch_size_threshold=8, max_wait_seconds=0.05
        ) as grinder,
    ):
        price = await grinder.submit(lookup_price, "apple")  # typed: float
        print(f"submit:  apple costs {price:.2f}")

        skus = ["kiwi", "fig", "unknown"]
        futures = [await grinder.enqueue(lookup_price, sku) for sku in skus]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for sku, outcome in zip(skus, outcomes, strict=True):
            print(f"enqueue: {sku:<8} -> {outcome!r}")

        stats = grinder.stats()
        print(
            f"stats:   submitted={stats['submitted']} completed={stats['completed']} "
            f"failed={stats['failed']} batches={stats['batches']} pending={stats['pending']}"
        )
        print(f"repr:    {grinder!r}")


# The guard matters for backend="process": each worker process imports this file again.
if __name__ == "__main__":
    asyncio.run(main())
