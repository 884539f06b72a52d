"""A fault inside the engine breaks the grinder cleanly (issue 9, defect 2).

Faults are injected into the engine's own steps (the batch cut, the chunk
sizing, the run-time estimate), the only way to make correct code crash.
Whichever step fails, every caller gets ``GrinderCrashedError`` chained to the
fault, and every lease the grinder held goes back to the manager at once: no
waiting for the lease's hard expiry.
"""

from __future__ import annotations

import asyncio

import pytest

from gristmill import GrinderCrashedError, LeasedExecutorManager, WorkGrinder
from tests.helpers import wait_until

FAULTS = [
    "gristmill._engine.batch_size",  # in the runner, holding a fresh lease
    "gristmill._dispatch.chunk_sizes",  # in a batch task, before any chunk is sent
    "gristmill._costs.RunTimes.estimate",  # in a batch task, before dispatch
]


@pytest.mark.parametrize("target", FAULTS)
async def test_a_crash_fails_every_caller_and_releases_every_lease(
    manager: LeasedExecutorManager, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    fault = RuntimeError("injected engine fault")

    def explode(*args: object, **kwargs: object) -> None:
        raise fault

    monkeypatch.setattr(target, explode)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2)
    await grinder.start()
    futures = [await grinder.enqueue(pow, 2, i) for i in range(5)]
    await asyncio.wait(futures, timeout=10)
    for future in futures:
        error = future.exception()
        assert isinstance(error, GrinderCrashedError)
        assert error.__cause__ is fault
    await wait_until(lambda: manager.leased_count == 0, what="the leases to come back")
    assert grinder.stats()["state"] == "broken"
    lease = await manager.acquire(wait=False)  # a pool is free now, not after hard expiry
    await lease.release()
    with pytest.raises(GrinderCrashedError):
        await grinder.submit(pow, 2, 3)
    await grinder.stop()
    assert manager.stats()["leases"] == []
