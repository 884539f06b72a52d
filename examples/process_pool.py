"""Process pools: CPU-bound jobs, remote tracebacks, and unpicklable arguments.

Jobs for ``backend="process"`` must be importable top-level functions (here
from ``examples/_jobs.py``). A job that raises gives its caller the original
exception with the worker's traceback attached as a ``RemoteTraceback``
``__cause__``. An argument that cannot be pickled fails only its own job: the
rest of the batch still runs.

Run from the repository root::

    .venv/bin/python examples/process_pool.py
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import _jobs
from gristmill import LeasedExecutorManager, RemoteTraceback, UnpicklableError, WorkGrinder


async def main() -> None:
    manager = LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=8, max_wait_seconds=0.1)
    await manager.start()
    await grinder.start()
    try:
        started = time.perf_counter()
        counts = await asyncio.gather(
            *(grinder.submit(_jobs.count_primes, 60_000) for _ in range(8))
        )
        print(f"8 x count_primes(60000) = {counts[0]} each, {time.perf_counter() - started:.2f}s")
        print(f"parent pid {os.getpid()}, worker pid {await grinder.submit(os.getpid)}")

        # These three land in one batch; only the bad ones fail.
        good = await grinder.enqueue(_jobs.score_document, 1, 5000)
        empty = await grinder.enqueue(_jobs.score_document, 2, 0)
        locked = await grinder.enqueue(_jobs.score_document, 3, threading.Lock())
        print(f"good document scored {await good}")
        try:
            await empty
        except ValueError as exc:
            remote = exc.__cause__
            if isinstance(remote, RemoteTraceback):
                print(f"ValueError: {exc}\nworker traceback:{remote.text}")
        try:
            await locked
        except UnpicklableError as exc:
            print(f"UnpicklableError: {exc}")
    finally:
        await grinder.stop()
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
