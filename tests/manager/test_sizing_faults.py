"""The sizing loop survives every fault of its steps and counts them (issue 9, defect 4)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import pytest

from gristmill.testing import FakeClock
from tests.backends.support import RecordingBackend, RecordingExecutor
from tests.manager.support import StartManager


class FlakyBackend(RecordingBackend):
    """Thread pools whose ``create()`` and ``shutdown()`` fail while the test says so."""

    def __init__(self) -> None:
        super().__init__("flaky")
        self.create_failures = 0
        self.shutdown_failures = 0

    def create(self, *, workers: int, name: str, options: Mapping[str, Any]) -> Executor:
        if self.create_failures:
            self.create_failures -= 1
            raise OSError("no file descriptors left")
        executor = super().create(workers=workers, name=name, options=options)
        assert isinstance(executor, RecordingExecutor)
        backend = self

        original = executor.shutdown

        def shutdown(wait: bool = True, *, cancel_futures: bool = False) -> None:
            if backend.shutdown_failures:
                backend.shutdown_failures -= 1
                raise OSError("shutdown failed")
            original(wait=wait, cancel_futures=cancel_futures)

        executor.shutdown = shutdown  # type: ignore[method-assign]
        return executor


class Signal:
    def __init__(self) -> None:
        self.units = 0
        self.error: Exception | None = None

    def __call__(self) -> int:
        if self.error is not None:
            raise self.error
        return self.units


@pytest.fixture
def backend() -> FlakyBackend:
    return FlakyBackend()


async def test_a_failed_create_is_retried_at_the_next_check(
    start_manager: StartManager, clock: FakeClock, backend: FlakyBackend
) -> None:
    signal = Signal()
    mgr = await start_manager(backend=backend, max_pools=4, units_per_pool=10, size_provider=signal)
    assert mgr.total_count == 1
    signal.units, backend.create_failures = 25, 1
    clock.advance(120.0)  # the check wants 3 pools; the first create fails
    stats = mgr.stats()
    assert (stats["desired"], stats["total"], stats["sizing_failures"]) == (3, 1, 1)
    assert stats["state"] == "running"
    clock.advance(120.0)  # the loop is still alive and grows now
    assert (mgr.total_count, mgr.stats()["sizing_failures"]) == (3, 1)


async def test_a_failing_size_provider_keeps_the_target_and_the_loop(
    start_manager: StartManager, clock: FakeClock, backend: FlakyBackend
) -> None:
    signal = Signal()
    signal.units = 25
    mgr = await start_manager(backend=backend, max_pools=4, units_per_pool=10, size_provider=signal)
    signal.error = ValueError("metrics backend down")
    clock.advance(120.0)
    clock.advance(120.0)
    assert (mgr.stats()["desired"], mgr.stats()["sizing_failures"]) == (3, 2)
    signal.error, signal.units = None, 35
    clock.advance(120.0)
    assert (mgr.stats()["desired"], mgr.total_count) == (4, 4)


async def test_a_failing_trim_is_counted_and_retried(
    start_manager: StartManager, clock: FakeClock, backend: FlakyBackend
) -> None:
    signal = Signal()
    signal.units = 25
    mgr = await start_manager(
        backend=backend,
        max_pools=4,
        units_per_pool=10,
        size_provider=signal,
        idle_keepalive_seconds=0.0,
    )
    assert mgr.total_count == 3
    signal.units, backend.shutdown_failures = 0, 1
    clock.advance(120.0)  # shrinking to 1: the first shutdown fails
    assert mgr.stats()["sizing_failures"] == 1
    clock.advance(120.0)
    assert mgr.total_count == 1
    assert mgr.stats()["state"] == "running"
