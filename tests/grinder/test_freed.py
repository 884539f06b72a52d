"""A finished job is freed by reference counting alone, with its batch and its result.

When a batch's jobs sat in a reference cycle (the executor's future keeps its
done callbacks, one of which held the borrower's future, which held the
batch), every finished job, its arguments and its result waited for the
cyclic garbage collector, whose full passes then paused the loop for tens of
milliseconds under load. These tests run with that collector off.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder, batched
from tests.helpers import wait_until


class Payload:
    """A result that can be watched for being freed."""


def make_payload(_: int) -> Payload:
    return Payload()


@batched(max_batch_size=8)
def make_payloads(items: list[int]) -> list[Payload]:
    return [Payload() for _ in items]


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_cyclic_gc")
@pytest.mark.parametrize("fn", [make_payload, make_payloads], ids=["plain", "batched"])
async def test_finished_jobs_and_their_results_are_freed_without_the_cyclic_collector(
    manager: LeasedExecutorManager, fn: object
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=16, max_wait_seconds=0.001)
    async with grinder:
        futures = [await grinder.enqueue(fn, n) for n in range(64)]  # type: ignore[call-overload]
        results = [await future for future in futures]
        jobs = [weakref.ref(future) for future in futures]
        payloads = [weakref.ref(result) for result in results]
        del futures, results
        await wait_until(lambda: grinder.stats()["running_batches"] == 0, what="batches done")
        await wait_until(
            lambda: not any(ref() for ref in jobs + payloads), what="jobs and results freed"
        )
