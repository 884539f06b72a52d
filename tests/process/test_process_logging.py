"""Forwarding of process-worker log records to a logger in the parent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gristmill import ProcessLoggingConfig
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.process import jobs

WORKER_LOGGER = "tests.process.worker"


class _Capture(logging.Handler):
    """Keeps the records that the jobs logged in a worker."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == WORKER_LOGGER:
            self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def target() -> Iterator[tuple[logging.Logger, _Capture]]:
    """A parent logger at DEBUG that keeps what reaches it and does not propagate."""
    logger = logging.getLogger("tests.process.forwarded")
    capture = _Capture()
    logger.addHandler(capture)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, capture
    logger.removeHandler(capture)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


async def _log_in_worker(clock: FakeClock, messages: list[tuple[int, str]], **options: Any) -> int:
    """Start a one-worker process manager, log ``messages`` in the worker; return its pid."""
    manager = make_manager(clock, backend="process", max_pools=1, workers_per_pool=1, **options)
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            pids = {await lease.run(jobs.log_message, WORKER_LOGGER, lv, m) for lv, m in messages}
    finally:
        await manager.stop()
    (pid,) = pids
    return pid


async def test_config_forwards_worker_records_at_its_level_and_keeps_the_initializer(
    clock: FakeClock, target: tuple[logging.Logger, _Capture]
) -> None:
    logger, capture = target
    manager = make_manager(
        clock,
        backend="process",
        max_pools=1,
        workers_per_pool=1,
        process_logging=ProcessLoggingConfig(enabled=True, level="INFO", target_logger=logger),
        initializer=jobs.remember,
        initargs=("user initializer ran",),
    )
    await manager.start()
    try:
        async with await manager.acquire() as lease:
            pid = await lease.run(jobs.log_message, WORKER_LOGGER, logging.DEBUG, "too quiet")
            await lease.run(jobs.log_message, WORKER_LOGGER, logging.INFO, "hello from a worker")
            value, _ = await lease.run(jobs.initialized_value_and_pid)
            await wait_until(lambda: capture.records != [], what="a forwarded record")
    finally:
        await manager.stop()

    assert value == "user initializer ran"
    # The DEBUG record was logged first, so it would have arrived first.
    assert capture.messages() == ["hello from a worker"]
    (record,) = capture.records
    assert (record.name, record.levelno, record.process) == (WORKER_LOGGER, logging.INFO, pid)


async def test_leasepool_keywords_forward_worker_records_through_the_target_level(
    clock: FakeClock, target: tuple[logging.Logger, _Capture]
) -> None:
    logger, capture = target
    logger.setLevel(logging.WARNING)
    pid = await _log_in_worker(
        clock,
        [
            (logging.DEBUG, "below the worker level"),
            (logging.INFO, "below the target level"),
            (logging.WARNING, "loud enough"),
        ],
        forward_process_logs=True,
        process_log_level="INFO",
        process_log_target_logger=logger,
    )

    # stop() joined the workers and flushed the queue, so every forwarded record is here.
    assert capture.messages() == ["loud enough"]
    assert capture.records[0].process == pid


async def test_worker_records_are_not_forwarded_by_default(
    clock: FakeClock, target: tuple[logging.Logger, _Capture]
) -> None:
    logger, capture = target
    # Unforwarded, the records would go to the manager's own logger.
    await _log_in_worker(clock, [(logging.ERROR, "stays in the worker")], logger=logger)

    assert capture.records == []


def test_config_is_off_by_default() -> None:
    assert ProcessLoggingConfig().enabled is False


@pytest.mark.parametrize("level", ["LOUD", ""])
def test_config_rejects_an_unknown_level_name(level: str) -> None:
    with pytest.raises(ValueError, match="level"):
        ProcessLoggingConfig(enabled=True, level=level)


@pytest.mark.parametrize("level", [1.5, True, None])
def test_config_rejects_a_level_of_the_wrong_type(level: Any) -> None:
    with pytest.raises(TypeError, match="level"):
        ProcessLoggingConfig(enabled=True, level=level)


def test_config_rejects_a_target_that_is_not_a_logger() -> None:
    with pytest.raises(TypeError, match="target_logger"):
        ProcessLoggingConfig(enabled=True, target_logger="tests.process")  # type: ignore[arg-type]


def test_config_accepts_level_names_in_any_case_and_numbers() -> None:
    assert ProcessLoggingConfig(level="debug").level == "debug"
    assert ProcessLoggingConfig(level=logging.ERROR).level == logging.ERROR


def test_legacy_keywords_validate_the_level_at_construction() -> None:
    with pytest.raises(ValueError, match="level"):
        make_manager(
            FakeClock(), backend="process", forward_process_logs=True, process_log_level="x"
        )
