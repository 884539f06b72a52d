"""Calling a grinder from plain OS threads.

Code that is not async (a sync library's callback thread, a legacy worker)
hands work over with ``submit_from_thread``, which returns a thread-safe
``concurrent.futures.Future``, and reads ``stats_from_thread``. On the loop's
own thread use the async API: ``submit_from_thread`` raises ``WrongLoopError``.

Run from the repository root::

    .venv/bin/python examples/from_threads.py
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib

from gristmill import LeasedExecutorManager, WorkGrinder, WrongLoopError


def checksum(text: str) -> int:
    time.sleep(0.005)  # pretend this reads the text from disk
    return zlib.crc32(text.encode())


def legacy_worker(index: int, grinder: WorkGrinder) -> None:
    """Runs on its own OS thread and blocks on thread-safe futures."""
    futures = [grinder.submit_from_thread(checksum, f"doc-{index}-{i}") for i in range(10)]
    total = sum(future.result(timeout=10) for future in futures)
    stats = grinder.stats_from_thread(timeout=1)
    print(f"thread {index}: 10 checksums sum to {total}; grinder in_flight={stats['in_flight']}")


async def main() -> None:
    manager = LeasedExecutorManager(max_pools=2, workers_per_pool=4)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=16, max_wait_seconds=0.02)
    await manager.start()
    await grinder.start()
    try:
        threads = [threading.Thread(target=legacy_worker, args=(n, grinder)) for n in range(4)]
        for thread in threads:
            thread.start()
        # Join the threads off the loop thread, so the loop stays free to serve them.
        await asyncio.gather(*(asyncio.to_thread(thread.join) for thread in threads))
        try:
            grinder.submit_from_thread(checksum, "on the loop thread")
        except WrongLoopError as exc:
            print(f"loop thread: submit_from_thread -> WrongLoopError: {exc}")
        print(f"done: {grinder.stats()['completed']} jobs completed")
    finally:
        await grinder.stop()
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
