"""Migrating from leasepool: a leasepool program with only its import line changed.

gristmill keeps leasepool's constructor keywords, method names, stats keys and
exception names (``LeasePoolError`` and ``LeasePoolNotStartedError`` are
aliases), so this program, written for leasepool, needs no other edit::

    -from leasepool import ExecutorBackend, LeasedExecutorManager, LeasePoolError, WorkGrinder
    +from gristmill import ExecutorBackend, LeasedExecutorManager, LeasePoolError, WorkGrinder

Run from the repository root::

    .venv/bin/python examples/migrating_from_leasepool.py
"""

from __future__ import annotations

import asyncio
import hashlib

from gristmill import ExecutorBackend, LeasedExecutorManager, LeasePoolError, WorkGrinder


def fingerprint(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:12]


async def main() -> None:
    manager = LeasedExecutorManager(
        backend=ExecutorBackend.THREAD, max_pools=2, workers_per_pool=4, name_prefix="up"
    )
    grinder = WorkGrinder(
        executor_manager=manager, max_wait_seconds=0.05, batch_size_threshold=10, lease_seconds=30.0
    )
    await manager.start()
    await grinder.start()
    try:
        blobs = [f"upload-{n}".encode() for n in range(25)]
        prints = await asyncio.gather(*(grinder.submit(fingerprint, b, owner="api") for b in blobs))
        print(f"fingerprinted {len(prints)} uploads, first={prints[0]}")
        async with await manager.acquire(owner="reindex", lease_seconds=10.0) as lease:
            print("reindex:", await lease.run(fingerprint, b"whole-index"))
        held = []
        try:
            for _ in range(3):  # one more than max_pools
                held.append(await manager.acquire(wait=False, owner="overflow"))
        except LeasePoolError as exc:  # LeaseUnavailableError in both libraries
            print(f"lease {len(held) + 1} refused with max_pools=2: {type(exc).__name__}")
        g, m = grinder.stats(), manager.stats()
        print(f"grinder: started={g['started']} pending={g['pending']} stopping={g['stopping']}")
        print(f"manager: backend={m['backend']} leased={m['leased']} total={m['total']}")
        for held_lease in held:
            await held_lease.release()
    finally:
        await grinder.stop()
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
