"""LeasedExecutorManager constructor: defaults, strict validation and executor options."""

from __future__ import annotations

import logging
import math
import multiprocessing
import threading
from typing import Any

import pytest

from gristmill import (
    ExecutorBackend,
    LeasedExecutorManager,
    ProcessLoggingConfig,
    UnsupportedBackendError,
    WrongTypeError,
)
from gristmill.testing import FakeClock
from tests.helpers import make_manager
from tests.manager.support import StartManager, pool_of_lease, thread_name

SIZES = ["max_pools", "min_pools", "units_per_pool", "workers_per_pool"]
DURATIONS = [
    "check_interval",
    "default_lease_seconds",
    "lease_grace_seconds",
    "idle_keepalive_seconds",
]
ZERO_ALLOWED = {"lease_grace_seconds", "idle_keepalive_seconds"}


def build(**options: Any) -> LeasedExecutorManager:
    """Construct a manager with ``max_pools=4`` unless overridden."""
    options.setdefault("max_pools", 4)
    return LeasedExecutorManager(**options)


def test_defaults_match_leasepool() -> None:
    mgr = LeasedExecutorManager(max_pools=3)
    assert mgr.backend == "thread"
    assert mgr.backend is ExecutorBackend.THREAD
    assert mgr.max_pools == 3
    assert mgr.workers_per_pool == 4
    assert mgr.payloads_cross_process is False
    stats = mgr.stats()
    assert (stats["min_pools"], stats["total"], stats["state"]) == (1, 0, "created")


def test_max_pools_is_required() -> None:
    with pytest.raises(TypeError, match="max_pools"):
        LeasedExecutorManager()  # type: ignore[call-arg]


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        LeasedExecutorManager("thread", 2)  # type: ignore[call-arg]


@pytest.mark.parametrize("field", SIZES)
@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, False, math.nan])
def test_size_rejects_non_positive_fractional_and_bool_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        build(**{field: value})


@pytest.mark.parametrize("field", SIZES)
@pytest.mark.parametrize("value", ["2", None, [2]])
def test_size_of_wrong_type_raises_wrong_type_error(field: str, value: object) -> None:
    with pytest.raises(WrongTypeError, match=f"{field} must be an integer > 0"):
        build(**{field: value})


def test_min_pools_above_max_pools_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_pools"):
        build(max_pools=2, min_pools=3)


def test_min_pools_equal_to_max_pools_is_accepted() -> None:
    assert build(max_pools=2, min_pools=2).stats()["min_pools"] == 2


@pytest.mark.parametrize("field", DURATIONS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, True])
def test_duration_rejects_nan_inf_negative_and_bool(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        build(**{field: value})


@pytest.mark.parametrize("field", DURATIONS)
@pytest.mark.parametrize("value", ["five", None, [5]])
def test_duration_of_wrong_type_raises_wrong_type_error(field: str, value: object) -> None:
    with pytest.raises(WrongTypeError, match=f"{field} must be a finite number"):
        build(**{field: value})


@pytest.mark.parametrize("field", DURATIONS)
def test_duration_given_as_a_numeric_string_is_read_as_seconds(field: str) -> None:
    build(**{field: "2.5"})  # leasepool read durations with float(); so does gristmill


@pytest.mark.parametrize("field", sorted(set(DURATIONS) - ZERO_ALLOWED))
def test_zero_check_interval_and_lease_length_are_rejected(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        build(**{field: 0})


async def test_zero_grace_revokes_a_lease_the_moment_it_runs_out(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(lease_grace_seconds=0)
    lease = await mgr.acquire(lease_seconds=10.0)
    assert lease.hard_expires_at == lease.soft_expires_at == clock.time() + 10.0
    clock.advance(9.9)
    assert mgr.stats()["leases_revoked"] == 0
    clock.advance(0.1)
    assert mgr.stats()["leases_revoked"] == 1


async def test_zero_keepalive_retires_a_surplus_idle_pool_at_once(
    start_manager: StartManager,
) -> None:
    units = [40]
    mgr = await start_manager(
        max_pools=4, units_per_pool=10, size_provider=lambda: units[0], idle_keepalive_seconds=0
    )
    assert mgr.total_count == 4
    units[0] = 0
    mgr.notify_scale_changed()
    assert (mgr.total_count, mgr.stats()["pools_retired"]) == (1, 3)


async def test_integer_durations_are_taken_as_seconds(
    start_manager: StartManager, clock: FakeClock
) -> None:
    mgr = await start_manager(check_interval=1, default_lease_seconds=60, lease_grace_seconds=1)
    lease = await mgr.acquire()
    assert lease.soft_expires_at == clock.time() + 60.0
    assert lease.hard_expires_at == clock.time() + 61.0
    await lease.release()


@pytest.mark.parametrize("backend", ["fiber", "THREADS", ""])
def test_unknown_backend_raises_unsupported_backend_error(backend: str) -> None:
    with pytest.raises(UnsupportedBackendError, match="thread") as info:
        build(backend=backend)
    assert isinstance(info.value, ValueError)


def test_backend_accepts_enum_member_and_plain_string() -> None:
    assert build(backend=ExecutorBackend.THREAD).backend == "thread"
    assert build(backend="thread").backend is ExecutorBackend.THREAD


@pytest.mark.parametrize("option", ["mp_context", "max_tasks_per_child", "thread_name_prefix"])
def test_executor_option_the_backend_does_not_take_is_a_type_error(option: str) -> None:
    with pytest.raises(TypeError, match=option):
        build(**{option: None})


def test_every_unknown_executor_option_is_named() -> None:
    with pytest.raises(TypeError, match="bogus_a, bogus_b"):
        build(bogus_b=1, bogus_a=2)


def test_max_workers_points_at_workers_per_pool() -> None:
    with pytest.raises(TypeError, match="workers_per_pool"):
        build(max_workers=3)


def test_size_provider_must_be_callable() -> None:
    with pytest.raises(TypeError, match="size_provider"):
        build(size_provider=5)


def test_name_prefix_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="name_prefix"):
        build(name_prefix=7)


def test_process_logging_must_be_a_config() -> None:
    with pytest.raises(TypeError, match="process_logging"):
        build(process_logging={"enabled": True})


async def test_initializer_runs_in_every_pool_thread(start_manager: StartManager) -> None:
    initialized: list[tuple[str, str]] = []
    lock = threading.Lock()

    def remember(tag: str) -> None:
        with lock:
            initialized.append((thread_name(), tag))

    mgr = await start_manager(max_pools=1, initializer=remember, initargs=("hello",))
    async with await mgr.acquire() as lease:
        ran_on = await lease.run(thread_name)
    assert (ran_on, "hello") in initialized


async def test_name_prefix_names_pools_and_leases(start_manager: StartManager) -> None:
    mgr = await start_manager(name_prefix="mill")
    async with await mgr.acquire() as lease:
        assert lease.lease_id.startswith("mill-")
        assert (await pool_of_lease(lease)).startswith("mill-thread-")


async def test_leasepool_process_log_keywords_are_accepted_by_thread_backend(
    start_manager: StartManager,
) -> None:
    mgr = await start_manager(
        forward_process_logs=True,
        process_log_level="DEBUG",
        process_log_target_logger=logging.getLogger("tests.target"),
        clear_process_log_handlers=False,
    )
    async with await mgr.acquire() as lease:
        assert await lease.run(sum, [1, 2, 3]) == 6


async def test_process_logging_takes_a_config_and_refuses_anything_else(
    start_manager: StartManager,
) -> None:
    mgr = await start_manager(process_logging=ProcessLoggingConfig(enabled=False))
    async with await mgr.acquire() as lease:  # a thread manager runs as usual with one
        assert await lease.run(sum, [1, 2, 3]) == 6
    with pytest.raises(TypeError, match="process_logging must be a ProcessLoggingConfig"):
        build(process_logging={"enabled": False})


async def test_custom_logger_receives_lifecycle_events(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mgr = make_manager(clock, logger=logging.getLogger("tests.custom"))
    with caplog.at_level(logging.INFO, logger="tests.custom"):
        await mgr.start()
        await mgr.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "tests.custom"]
    assert any("manager started" in m for m in messages), messages
    assert any("manager stopped" in m for m in messages), messages


def test_mp_context_is_the_non_fork_default_unless_one_is_given() -> None:
    default = LeasedExecutorManager(backend="process", max_pools=1).mp_context
    assert default is not None
    assert default.get_start_method() in {"forkserver", "spawn"}
    spawn = multiprocessing.get_context("spawn")
    given = LeasedExecutorManager(backend="process", max_pools=1, mp_context=spawn)
    assert given.mp_context is spawn
    assert LeasedExecutorManager(backend="thread", max_pools=1).mp_context is None
