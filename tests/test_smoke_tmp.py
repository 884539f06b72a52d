import asyncio

from gristmill import WorkGrinder
from gristmill.testing import FakeClock


async def test_threshold_triggers_batch(grinder: WorkGrinder) -> None:
    futs = [await grinder.enqueue(lambda x: x * 2, i) for i in range(4)]
    assert await asyncio.gather(*futs) == [0, 2, 4, 6]


async def test_max_wait_triggers_batch(grinder: WorkGrinder, clock: FakeClock) -> None:
    fut = await grinder.enqueue(lambda: 7)
    await asyncio.sleep(0)
    assert not fut.done()
    clock.advance(9.9)
    await asyncio.sleep(0.01)
    assert not fut.done()
    clock.advance(0.1)
    assert await fut == 7
