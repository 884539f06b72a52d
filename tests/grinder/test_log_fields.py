"""Log records about batches and leases carry their batch id, owner and pool as ``extra`` fields.

A structured formatter (JSON, structlog's ``ProcessorFormatter``) then gets
them as record attributes, without parsing the message.
"""

from __future__ import annotations

import logging
import threading

import pytest

from gristmill import LeasedExecutorManager
from tests.grinder.conftest import GrinderFactory


def records(caplog: pytest.LogCaptureFixture, logger: str, start: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == logger and record.getMessage().startswith(start)
    ]


async def test_batch_records_carry_the_batch_id_owner_and_pool(
    make_grinder: GrinderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gristmill")
    grinder = await make_grinder(batch_size_threshold=1)
    await grinder.submit(abs, -1)
    await grinder.stop()
    (start,) = records(caplog, "gristmill.grinder", "batch start")
    (end,) = records(caplog, "gristmill.grinder", "batch end")
    for record in (start, end):
        assert record.batch_id == "work-grinder-1"  # type: ignore[attr-defined]
        assert record.owner == "work-grinder-1"  # type: ignore[attr-defined]
        assert record.pool.startswith("gristmill-thread-")  # type: ignore[attr-defined]
    assert "chunks=1 requeued=0" in end.getMessage()


async def test_lease_records_carry_the_owner_pool_and_lease_id(
    manager: LeasedExecutorManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gristmill")
    lease = await manager.acquire(owner="report-7")
    await lease.release()
    for message in ("lease granted", "lease released"):
        (record,) = records(caplog, "gristmill.manager", message)
        assert record.owner == "report-7"  # type: ignore[attr-defined]
        assert record.pool == lease.pool_name  # type: ignore[attr-defined]
        assert record.lease_id == lease.lease_id  # type: ignore[attr-defined]


def thread_name() -> str:
    return threading.current_thread().name


async def test_a_lease_names_the_pool_its_work_runs_on(manager: LeasedExecutorManager) -> None:
    async with await manager.acquire(owner="named") as lease:
        assert (await lease.run(thread_name)).startswith(f"{lease.pool_name}_")
