"""``map`` on the loky backend: cloudpickle carries lambdas and closures in each chunk."""

from __future__ import annotations

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder
from tests.helpers import assert_grinder_settled, assert_manager_empty

pytest.importorskip("loky")


async def test_a_map_of_a_closure_returns_every_result_with_its_own_exception() -> None:
    manager = LeasedExecutorManager(backend="loky", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager)
    await manager.start()
    await grinder.start()
    try:
        factor = 3
        got = [
            r
            async for r in grinder.map(
                lambda x: 1 // (x % 5) * factor, range(50), return_exceptions=True
            )
        ]
    finally:
        await grinder.stop()
        await manager.stop()
    assert [type(got[i]) for i in range(0, 50, 5)] == [ZeroDivisionError] * 10
    assert [r for i, r in enumerate(got) if i % 5] == [1 // (i % 5) * 3 for i in range(50) if i % 5]
    assert_grinder_settled(grinder)
    assert_manager_empty(manager)
