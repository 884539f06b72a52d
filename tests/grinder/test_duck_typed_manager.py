"""A grinder fed by any object with ``acquire()``: the traits it lacks fall back.

Users write such managers as fakes in their own tests; leasepool's suite has one
(a manager with only ``acquire()``, lending a lease with only ``executor`` and
``release()``).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

import pytest

from gristmill import WorkGrinder, WrongTypeError


class InlineExecutor(Executor):
    """Runs each call at once in ``submit``; the ``fail_from``-th submit and later raise."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.submits = 0
        self.fail_from = fail_from

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submits += 1
        if self.fail_from is not None and self.submits >= self.fail_from:
            raise RuntimeError("submit refused")
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class BareLease:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.released = 0

    async def release(self) -> None:
        self.released += 1


class BareManager:
    """Nothing but ``acquire()``: no max_pools, workers_per_pool, clock, ..."""

    def __init__(self, lease: BareLease) -> None:
        self.lease = lease
        self.calls: list[dict[str, Any]] = []

    async def acquire(self, **options: Any) -> BareLease:
        self.calls.append(options)
        return self.lease


def fail(message: str) -> None:
    raise ValueError(message)


async def test_a_manager_with_only_acquire_runs_batches_and_gets_its_lease_back() -> None:
    lease = BareLease(InlineExecutor())
    manager = BareManager(lease)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=2, lease_seconds=30)
    await grinder.start()
    try:
        first = await grinder.enqueue(abs, -3)
        second = await grinder.enqueue(fail, "boom")
        with pytest.raises(ValueError, match="boom"):
            await second
        # The batch's last item settled: its caller resumes after the lease is back.
        assert lease.released == 1
        assert await first == 3
        assert manager.calls == [{"lease_seconds": 30.0, "owner": "work-grinder-1"}]
    finally:
        await grinder.stop()


async def test_items_whose_submit_fails_get_that_error_and_the_rest_keep_their_results() -> None:
    executor = InlineExecutor(fail_from=2)
    lease = BareLease(executor)
    grinder = WorkGrinder(executor_manager=BareManager(lease), batch_size_threshold=2)
    await grinder.start()
    try:
        first = await grinder.enqueue(abs, -1)
        second = await grinder.enqueue(abs, -2)
        assert await first == 1
        with pytest.raises(RuntimeError, match="submit refused"):
            await second
        # Without workers_per_pool the grinder cuts chunks for one worker: one submit each.
        assert executor.submits == 2
        assert lease.released == 1
    finally:
        await grinder.stop()


async def test_the_fallback_traits_are_one_batch_at_a_time_and_no_run_timeout() -> None:
    grinder = WorkGrinder(executor_manager=BareManager(BareLease(InlineExecutor())))
    assert grinder.stats()["max_concurrent_batches"] == 1
    with pytest.raises(ValueError, match="run_timeout_seconds needs"):
        WorkGrinder(
            executor_manager=BareManager(BareLease(InlineExecutor())), run_timeout_seconds=1.0
        )


async def test_traits_a_manager_has_are_used() -> None:
    class Sized(BareManager):
        max_pools = 3

    grinder = WorkGrinder(executor_manager=Sized(BareLease(InlineExecutor())))
    assert grinder.stats()["max_concurrent_batches"] == 3


async def test_a_lease_without_retire_or_expiry_is_never_taken_for_revoked() -> None:
    class BrokenFutures(InlineExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            future: Future[Any] = Future()
            future.set_exception(RuntimeError("executor lost the call"))
            return future

    lease = BareLease(BrokenFutures())
    grinder = WorkGrinder(executor_manager=BareManager(lease), batch_size_threshold=1)
    await grinder.start()
    try:
        with pytest.raises(RuntimeError, match="executor lost the call"):
            await grinder.submit(abs, -1)
        assert lease.released == 1
    finally:
        await grinder.stop()


@pytest.mark.parametrize("manager", [None, object(), 42])
def test_an_object_without_acquire_is_refused(manager: object) -> None:
    with pytest.raises(WrongTypeError, match="executor_manager must have an async acquire"):
        WorkGrinder(executor_manager=manager)  # type: ignore[arg-type]
