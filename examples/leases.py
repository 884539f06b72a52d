"""Leases: borrow an executor pool directly, without a grinder.

Shows ``acquire`` / ``run`` / ``release``, ``async with``, ``wait=False``
raising ``LeaseUnavailableError``, ``timeout=`` raising ``TimeoutError``, the
expiry times in ``stats()``, and a lease that is revoked once it is overdue.

Run from the repository root::

    .venv/bin/python examples/leases.py
"""

from __future__ import annotations

import asyncio
import threading

from gristmill import LeasedExecutorManager, LeaseExpiredError, LeaseUnavailableError


async def main() -> None:
    # One pool, so a second borrower must wait; overdue leases are revoked 0.2 s late.
    manager = LeasedExecutorManager(max_pools=1, workers_per_pool=2, lease_grace_seconds=0.2)
    await manager.start()
    try:
        lease = await manager.acquire(owner="nightly-report", lease_seconds=30.0)
        worker = await lease.run(threading.current_thread)
        print(f"{lease!r} ran a call on thread {worker.name}")
        for info in manager.stats()["leases"]:
            soft, hard = info["seconds_until_soft_expiry"], info["seconds_until_hard_expiry"]
            print(f"stats: {info['lease_id']} due back in {soft:.1f}s, revoked in {hard:.1f}s")
        try:
            await manager.acquire(wait=False)
        except LeaseUnavailableError as exc:
            print(f"wait=False  -> LeaseUnavailableError: {exc}")
        try:
            await manager.acquire(timeout=0.1)
        except TimeoutError as exc:
            print(f"timeout=0.1 -> TimeoutError: {exc}")
        await lease.release()

        async with await manager.acquire(owner="with-block") as borrowed:
            squares = await asyncio.gather(*(borrowed.run(pow, n, 2) for n in range(5)))
            print(f"async with: {squares}, leased={manager.stats()['leased']}")
        print(f"after the block: leased={manager.stats()['leased']}")

        forgetful = await manager.acquire(owner="forgetful", lease_seconds=0.1)
        await asyncio.sleep(0.4)  # past lease_seconds + grace: the pool is revoked
        try:
            forgetful.executor.submit(print, "too late")
        except LeaseExpiredError as exc:
            print(f"overdue -> LeaseExpiredError: {exc}")
        stats = manager.stats()
        print(f"leases_revoked={stats['leases_revoked']} pools_retired={stats['pools_retired']}")
    finally:
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
