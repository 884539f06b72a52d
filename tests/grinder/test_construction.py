"""WorkGrinder construction: the spec's keyword-only signature, defaults and validation,
and our extras (max_concurrent_batches, max_batch_size, clock, owner_prefix, lease_seconds)."""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder, WrongTypeError
from gristmill.testing import FakeClock
from tests.grinder.conftest import SourceFactory
from tests.grinder.fakes import Gate, pool_of
from tests.helpers import stays, wait_until

SPEC_DEFAULTS: dict[str, Any] = {
    "max_wait_seconds": 10.0,
    "batch_size_threshold": 20,
    "lease_seconds": 60.0,
    "owner_prefix": "work-grinder",
    "logger": None,
}


def test_signature_is_keyword_only_with_the_spec_defaults() -> None:
    params = inspect.signature(WorkGrinder).parameters
    assert list(params)[:6] == ["executor_manager", *SPEC_DEFAULTS]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["executor_manager"].default is inspect.Parameter.empty
    for name, default in SPEC_DEFAULTS.items():
        assert params[name].default == default, name
    for extra in ("max_concurrent_batches", "max_batch_size", "clock"):
        assert params[extra].default is None, extra


def test_positional_arguments_are_rejected(manager: LeasedExecutorManager) -> None:
    with pytest.raises(TypeError):
        WorkGrinder(manager)  # type: ignore[call-arg]


def test_defaults_show_in_stats(manager: LeasedExecutorManager) -> None:
    stats = WorkGrinder(executor_manager=manager).stats()
    assert stats["max_wait_seconds"] == 10.0
    assert stats["batch_size_threshold"] == 20
    assert stats["lease_seconds"] == 60.0
    assert stats["max_concurrent_batches"] == manager.max_pools
    assert stats["state"] == "created"
    assert stats["started"] is False


def _options(field: str, value: object) -> dict[str, Any]:
    return {field: value}


BAD_DURATIONS = [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, True, False]
BAD_COUNTS = [0, -1, 2.5, 1.0, True, False, math.nan, math.inf]


@pytest.mark.parametrize("field", ["max_wait_seconds", "lease_seconds"])
@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_bad_duration_raises_value_error_naming_the_field(
    manager: LeasedExecutorManager, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        WorkGrinder(executor_manager=manager, **_options(field, value))


@pytest.mark.parametrize("field", ["batch_size_threshold", "max_concurrent_batches"])
@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_bad_count_raises_value_error_naming_the_field(
    manager: LeasedExecutorManager, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        WorkGrinder(executor_manager=manager, **_options(field, value))


@pytest.mark.parametrize("value", [0, -3, True, 1.5], ids=repr)
def test_bad_max_batch_size_raises_value_error(
    manager: LeasedExecutorManager, value: object
) -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        WorkGrinder(executor_manager=manager, max_batch_size=value)  # type: ignore[arg-type]


def test_max_batch_size_below_threshold_is_rejected(manager: LeasedExecutorManager) -> None:
    with pytest.raises(ValueError, match=r"max_batch_size \(4\) must be >= batch_size_threshold"):
        WorkGrinder(executor_manager=manager, batch_size_threshold=5, max_batch_size=4)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=5, max_batch_size=5)
    assert grinder.stats()["batch_size_threshold"] == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_wait_seconds", "ten"), ("lease_seconds", None), ("owner_prefix", 7)],
)
def test_wrong_type_raises_wrong_type_error(
    manager: LeasedExecutorManager, field: str, value: object
) -> None:
    with pytest.raises(WrongTypeError, match=field):
        WorkGrinder(executor_manager=manager, **_options(field, value))


def test_valid_values_are_kept(manager: LeasedExecutorManager) -> None:
    grinder = WorkGrinder(
        executor_manager=manager,
        max_wait_seconds=2,
        batch_size_threshold=7,
        lease_seconds=0.5,
        max_concurrent_batches=5,
    )
    stats = grinder.stats()
    assert stats["max_wait_seconds"] == 2.0
    assert isinstance(stats["max_wait_seconds"], float)
    assert stats["batch_size_threshold"] == 7
    assert stats["lease_seconds"] == 0.5
    assert stats["max_concurrent_batches"] == 5


async def test_default_max_batch_size_caps_a_backlog_at_4096(make_source: SourceFactory) -> None:
    source = make_source(max_pools=1)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=20)
    await grinder.start()
    try:
        futures = [
            await grinder.enqueue(lambda: pool_of(threading.current_thread().name))
            for _ in range(5000)
        ]
        names = await asyncio.gather(*futures)
    finally:
        await grinder.stop()
    assert [names.count(lease.name) for lease in source.leases] == [4096, 904]


async def test_default_max_batch_size_never_undercuts_a_large_threshold(
    make_source: SourceFactory,
) -> None:
    source = make_source(max_pools=1)
    grinder = WorkGrinder(executor_manager=source, batch_size_threshold=1500)
    await grinder.start()
    try:
        futures = [
            await grinder.enqueue(lambda: pool_of(threading.current_thread().name))
            for _ in range(1500)
        ]
        names = await asyncio.gather(*futures)
    finally:
        await grinder.stop()
    assert len(source.leases) == 1
    assert set(names) == {"lease-1"}


async def test_explicit_clock_drives_max_wait(make_source: SourceFactory) -> None:
    clock = FakeClock()
    grinder = WorkGrinder(executor_manager=make_source(), clock=clock, max_wait_seconds=30.0)
    await grinder.start()
    try:
        future = await grinder.enqueue(int, "5")
        clock.advance(29.0)
        await stays(lambda: not future.done(), what="the job waiting for its max wait")
        clock.advance(1.0)
        assert await future == 5
    finally:
        await grinder.stop()


async def test_owner_prefix_and_lease_seconds_reach_the_manager(
    manager: LeasedExecutorManager,
) -> None:
    grinder = WorkGrinder(
        executor_manager=manager, owner_prefix="mill", lease_seconds=42.0, batch_size_threshold=1
    )
    await grinder.start()
    try:
        with Gate() as gate:
            first = await grinder.enqueue(gate.block)
            await wait_until(lambda: gate.arrived == 1, what="first job running")
            second = await grinder.enqueue(gate.block)
            await wait_until(lambda: gate.arrived == 2, what="second job running")
            leases = manager.stats()["leases"]
            assert sorted(str(lease["owner"]) for lease in leases) == ["mill-1", "mill-2"]
            assert {lease["seconds_until_soft_expiry"] for lease in leases} == {42.0}
        await asyncio.gather(first, second)
    finally:
        await grinder.stop()
