"""``map`` on the dask backend: chunks carry lambdas, and each item keeps its own exception."""

from __future__ import annotations

from gristmill import WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager


async def test_a_map_of_a_lambda_over_a_dask_pool(clock: FakeClock, address: str) -> None:
    manager = make_manager(clock, backend="dask", address=address, max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager)
    await manager.start()
    await grinder.start()
    try:
        table = {n: n * n for n in range(0, 60, 2)}
        got = [r async for r in grinder.map(lambda n: table[n], range(60), return_exceptions=True)]
        unordered = [r async for r in grinder.map(lambda n: -n, range(60), ordered=False)]
    finally:
        await grinder.stop()
        await manager.stop()
    assert [got[n] for n in range(0, 60, 2)] == [n * n for n in range(0, 60, 2)]
    assert all(isinstance(got[n], KeyError) for n in range(1, 60, 2))
    assert sorted(unordered) == sorted(-n for n in range(60))
    assert_grinder_settled(grinder)
    assert_manager_empty(manager)
