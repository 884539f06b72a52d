"""Bulk work: ``map`` over many inputs, and ``enqueue_many`` for one future each.

``map`` reads its inputs lazily, runs them in chunks (no future per item) and
yields results in input order; an item's exception is raised at its place,
or yielded with ``return_exceptions=True``. ``enqueue_many`` queues a whole
group at once and returns a future per item.

Run from the repository root::

    .venv/bin/python examples/bulk_map.py
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib

from gristmill import LeasedExecutorManager, WorkGrinder


def checksum(text: str) -> int:
    """A small CPU job."""
    return zlib.crc32(text.encode())


def parse_port(text: str) -> int:
    """Fails for text that is not a port number."""
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return port


async def main() -> None:
    manager = LeasedExecutorManager(backend="thread", max_pools=2, workers_per_pool=4)
    grinder = WorkGrinder(executor_manager=manager)
    await manager.start()
    await grinder.start()
    try:
        lines = (f"line {i}" for i in range(200_000))  # read lazily, never all in memory
        started = time.perf_counter()
        total = 0
        async for crc in grinder.map(checksum, lines):
            total += crc
        seconds = time.perf_counter() - started
        print(f"map:          200,000 checksums in {seconds:.2f} s (sum {total:,})")

        ports = ["80", "443", "http", "70000", "8080"]
        outcomes = [p async for p in grinder.map(parse_port, ports, return_exceptions=True)]
        for text, port in zip(ports, outcomes, strict=True):  # in input order
            print(f"map:          {text!r:>8} -> {port!r}")

        # Leaving early cancels what the map queued; aclosing() leaves at once.
        async with contextlib.aclosing(grinder.map(checksum, map(str, range(10**9)))) as crcs:
            first = await anext(crcs)
        print(f"map:          first of a billion: {first}, the rest never ran")

        futures = await grinder.enqueue_many(pow, [2, 3, 4], [10, 3, 2])
        print(f"enqueue_many: {[await future for future in futures]}")
        stats = grinder.stats()
        print(
            f"stats:        {stats['submitted']:,} items submitted in "
            f"{stats['batches']:,} batches, {stats['failed']} failed"
        )
    finally:
        await grinder.stop()
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
