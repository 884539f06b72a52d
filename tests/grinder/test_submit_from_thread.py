"""submit_from_thread(): the thread-safe gateway for OS threads that do not own the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from gristmill import NotStartedError, WorkGrinder
from gristmill.testing import FakeClock
from tests.grinder.fakes import GATE_TIMEOUT, Gate
from tests.helpers import wait_until


async def test_result_and_exception_reach_a_concurrent_future(grinder: WorkGrinder) -> None:
    def from_worker() -> list[concurrent.futures.Future[int]]:
        return [grinder.submit_from_thread(int, text) for text in ("1", "x", "3", "4")]

    futures = await asyncio.to_thread(from_worker)
    assert all(isinstance(future, concurrent.futures.Future) for future in futures)

    def collect() -> list[object]:
        outcomes: list[object] = []
        for future in futures:
            error = future.exception(GATE_TIMEOUT)
            outcomes.append(error if error is not None else future.result())
        return outcomes

    outcomes = await asyncio.to_thread(collect)
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2:] == [3, 4]


async def test_keywords_and_owner_pass_through_like_enqueue(grinder: WorkGrinder) -> None:
    def from_worker() -> list[object]:
        futures: list[concurrent.futures.Future[dict[str, int]]] = [
            grinder.submit_from_thread(dict, owner="w", fn=1),
            grinder.submit_from_thread(dict, a=2),
            grinder.submit_from_thread(dict),
            grinder.submit_from_thread(dict, owner=None, b=3),
        ]
        return [future.result(GATE_TIMEOUT) for future in futures]

    assert await asyncio.to_thread(from_worker) == [{"fn": 1}, {"a": 2}, {}, {"b": 3}]


async def test_cancelling_the_future_while_pending_cancels_the_job(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    ran: list[str] = []
    future = await asyncio.to_thread(grinder.submit_from_thread, ran.append, "doomed")
    await wait_until(lambda: grinder.stats()["pending"] == 1, what="job queued")
    assert await asyncio.to_thread(future.cancel)
    await wait_until(lambda: grinder.stats()["pending"] == 0, what="job cancelled")
    assert grinder.stats()["cancelled"] == 1
    clock.advance(10.0)
    await grinder.stop()
    assert ran == []
    assert future.cancelled()


async def test_submit_from_thread_while_stopping_raises_runtime_error(
    grinder: WorkGrinder, clock: FakeClock
) -> None:
    with Gate() as gate:
        await grinder.enqueue(gate.block)
        clock.advance(10.0)
        await wait_until(lambda: gate.arrived == 1, what="job running")
        stopping = asyncio.create_task(grinder.stop())
        await wait_until(lambda: grinder.stats()["stopping"], what="stopping")
        with pytest.raises(NotStartedError, match="stopping"):
            await asyncio.to_thread(grinder.submit_from_thread, abs, 1)
    await asyncio.wait_for(stopping, 10)


async def test_a_job_handed_over_just_as_stop_begins_fails_its_future(
    grinder: WorkGrinder,
) -> None:
    box: list[concurrent.futures.Future[int]] = []
    # The worker hands the job over while the loop is blocked in join(), so the
    # hand-over runs on the loop only after stop() has begun: it must fail
    # the future rather than queue work nobody will run.
    worker = threading.Thread(target=lambda: box.append(grinder.submit_from_thread(abs, -1)))
    worker.start()
    worker.join(GATE_TIMEOUT)
    await grinder.stop()
    with pytest.raises(RuntimeError, match="stopping"):
        await asyncio.to_thread(box[0].result, GATE_TIMEOUT)
    assert grinder.stats()["submitted"] == 0


async def test_cancelling_the_future_of_a_running_job_drops_its_result(
    grinder: WorkGrinder,
) -> None:
    with Gate() as gate:
        futures = await _submit_gated(grinder, gate, 4)
        await wait_until(lambda: gate.arrived == 2, what="jobs running")
        # The cancel reaches the job on the loop before to_thread returns: both
        # come back through call_soon_threadsafe from that thread, in order.
        assert await asyncio.to_thread(futures[0].cancel)
    for i, future in enumerate(futures[1:], start=1):
        assert await asyncio.to_thread(future.result, GATE_TIMEOUT) == i
    assert futures[0].cancelled()
    await wait_until(lambda: grinder.stats()["in_flight"] == 0, what="settled")
    stats = grinder.stats()
    assert (stats["completed"], stats["cancelled"]) == (3, 1)


async def _submit_gated(
    grinder: WorkGrinder, gate: Gate, count: int
) -> list[concurrent.futures.Future[int]]:
    def from_worker() -> list[concurrent.futures.Future[int]]:
        return [grinder.submit_from_thread(gate.hold, i) for i in range(count)]

    return await asyncio.to_thread(from_worker)


async def test_a_future_its_thread_cancelled_is_seen_done_by_wait(grinder: WorkGrinder) -> None:
    def cancel_and_wait() -> bool:
        future = grinder.submit_from_thread(int, "1")
        assert future.cancel()
        done, _ = concurrent.futures.wait([future], timeout=GATE_TIMEOUT)
        return future in done

    assert await asyncio.to_thread(cancel_and_wait)


async def test_a_job_cancelled_by_stop_is_seen_done_by_as_completed(grinder: WorkGrinder) -> None:
    future = await asyncio.to_thread(grinder.submit_from_thread, int, "1")
    await grinder.stop(cancel_pending=True)

    def wait_for_it() -> list[concurrent.futures.Future[int]]:
        return list(concurrent.futures.as_completed([future], timeout=GATE_TIMEOUT))

    assert await asyncio.to_thread(wait_for_it) == [future]
    assert future.cancelled()
