"""How a job's call reaches its callable and how each caller gets its own outcome:
positional-only ``fn``, ``owner=``, per-item exceptions, cancelling a pending job."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gristmill import WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import wait_until


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


async def test_fn_is_positional_only_so_fn_keyword_reaches_the_callable(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    submitted = asyncio.ensure_future(grinder.submit(echo, 1, fn=5))
    enqueued = await grinder.enqueue(echo, fn="x", args=2)
    clock.advance(10.0)
    assert await asyncio.wait_for(submitted, 10) == ((1,), {"fn": 5})
    assert await asyncio.wait_for(enqueued, 10) == ((), {"fn": "x", "args": 2})


async def test_owner_is_accepted_and_not_passed_to_the_callable(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    submitted = asyncio.ensure_future(grinder.submit(echo, 1, owner="alice", key="v"))
    enqueued = await grinder.enqueue(echo, owner=None)
    clock.advance(10.0)
    assert await asyncio.wait_for(submitted, 10) == ((1,), {"key": "v"})
    assert await asyncio.wait_for(enqueued, 10) == ((), {})


async def test_submit_returns_the_callables_result(grinder: WorkGrinder) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(*(grinder.submit(divmod, 17, d) for d in (1, 2, 3, 5))), 10
    )
    assert results == [(17, 0), (8, 1), (5, 2), (3, 2)]


async def test_a_non_callable_is_rejected_with_type_error(grinder: WorkGrinder) -> None:
    with pytest.raises(TypeError, match="callable"):
        await grinder.enqueue(42)  # type: ignore[call-overload]
    assert grinder.stats()["submitted"] == 0


async def test_only_the_failing_items_caller_gets_its_exception(grinder: WorkGrinder) -> None:
    class Boom(Exception):
        pass

    def job(i: int) -> int:
        if i == 2:
            raise Boom(f"item {i}")
        return i * 10

    futures = [await grinder.enqueue(job, i) for i in range(4)]
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    assert outcomes[:2] == [0, 10]
    assert outcomes[3] == 30
    assert isinstance(outcomes[2], Boom)
    assert str(outcomes[2]) == "item 2"
    stats = grinder.stats()
    assert (stats["completed"], stats["failed"]) == (3, 1)


async def test_submit_reraises_the_callables_own_exception(grinder: WorkGrinder) -> None:
    failing = asyncio.ensure_future(grinder.submit(int, "not a number"))
    fine = [asyncio.ensure_future(grinder.submit(int, str(i))) for i in range(3)]
    with pytest.raises(ValueError, match="invalid literal"):
        await asyncio.wait_for(failing, 10)
    assert await asyncio.gather(*fine) == [0, 1, 2]


async def test_a_cancelled_pending_job_leaves_the_queue_at_once_and_never_runs(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    ran: list[str] = []
    doomed = await grinder.enqueue(ran.append, "doomed")
    kept = await grinder.enqueue(ran.append, "kept")
    assert grinder.stats()["pending"] == 2
    doomed.cancel()
    stats = grinder.stats()  # at once: no loop turn is needed
    assert stats["pending"] == 1
    assert stats["cancelled"] == 1
    clock.advance(10.0)
    await asyncio.wait_for(kept, 10)
    await grinder.stop()
    assert ran == ["kept"]


async def test_cancelling_a_submit_call_removes_its_pending_job(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    ran: list[str] = []
    caller = asyncio.ensure_future(grinder.submit(ran.append, "doomed"))
    await wait_until(lambda: grinder.stats()["pending"] == 1, what="the job queued")
    caller.cancel()
    await wait_until(caller.done, what="the caller cancelled")
    assert caller.cancelled()
    assert grinder.stats()["pending"] == 0
    clock.advance(10.0)
    await grinder.stop()
    assert ran == []
    assert grinder.stats()["cancelled"] == 1
