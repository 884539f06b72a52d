"""Forwarding log records from process-pool workers to a logger in the parent.

Worker processes do not share the parent's logging handlers, so by default
their records are lost. With ``ProcessLoggingConfig(enabled=True, ...)`` each
worker sends its records over a queue and the parent hands them to
``target_logger``, whose handlers format them. A record keeps the name of the
logger that wrote it in the worker (here ``_jobs``) and its ``processName``.

Run from the repository root::

    .venv/bin/python examples/process_logging.py
"""

from __future__ import annotations

import asyncio
import logging

import _jobs
from gristmill import LeasedExecutorManager, ProcessLoggingConfig, WorkGrinder


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[parent] %(name)s %(levelname)s %(message)s")
    relay = logging.StreamHandler()
    relay.setFormatter(logging.Formatter("[%(processName)s] %(name)s %(levelname)s %(message)s"))
    worker_logs = logging.getLogger("workers")
    worker_logs.addHandler(relay)
    worker_logs.propagate = False  # print worker records once, in their own format
    manager = LeasedExecutorManager(
        backend="process",
        max_pools=1,
        workers_per_pool=2,
        process_logging=ProcessLoggingConfig(enabled=True, level="INFO", target_logger=worker_logs),
    )
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=4, max_wait_seconds=0.05)
    await manager.start()
    await grinder.start()
    try:
        results = await asyncio.gather(
            *(grinder.submit(_jobs.logged_square, n) for n in (3, -4, 5, 6))
        )
        logging.getLogger("parent").info("results=%s", results)
    finally:
        await grinder.stop()
        await manager.stop()  # flushes records still in the queue


if __name__ == "__main__":
    asyncio.run(main())
