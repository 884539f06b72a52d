"""Adaptive sizing: the pool count follows a size signal you provide.

The manager keeps ``max(min_pools, ceil(size / units_per_pool))`` pools warm,
capped at ``max_pools``. It reads ``size_provider`` every ``check_interval``
seconds, or at once after ``notify_scale_changed()``. Surplus idle pools are
shut down after ``idle_keepalive_seconds``; a leased pool is never taken away.

Run from the repository root::

    .venv/bin/python examples/adaptive_sizing.py
"""

from __future__ import annotations

import asyncio

from gristmill import LeasedExecutorManager


def show(manager: LeasedExecutorManager, event: str) -> None:
    stats = manager.stats()
    print(
        f"{event:<26} desired={stats['desired']} total={stats['total']} "
        f"idle={stats['available']} leased={stats['leased']}"
    )


async def main() -> None:
    backlog = {"depth": 0}  # stands in for a broker's queue depth or a count of users
    manager = LeasedExecutorManager(
        max_pools=4,
        min_pools=1,
        units_per_pool=10,
        size_provider=lambda: backlog["depth"],
        check_interval=60.0,  # a slow safety net; we notify whenever the signal moves
        idle_keepalive_seconds=0.3,
    )
    await manager.start()
    try:
        show(manager, "started, depth=0")
        for depth in (25, 100):
            backlog["depth"] = depth
            print(f"depth={depth} asks for {manager.desired_executor_count()} pools")
            manager.notify_scale_changed()
            show(manager, "after notify_scale_changed")
        lease = await manager.acquire(owner="long-job")
        backlog["depth"] = 0
        manager.notify_scale_changed()
        show(manager, "depth=0, one pool leased")
        await asyncio.sleep(0.5)
        show(manager, "keep-alive ran out")
        await lease.release()
        show(manager, "lease released")
    finally:
        await manager.stop()


if __name__ == "__main__":
    asyncio.run(main())
