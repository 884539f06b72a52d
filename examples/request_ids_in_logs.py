"""Each request's id in the log lines its jobs write, on the thread and the process backend.

A web handler sets ``request_id`` and submits a job. The job logs; the log line
carries the handler's request id, because the job runs in its caller's context
(threads) or receives the variable with the item (processes, through
``propagate_context``). Worker processes forward their records to the parent
(``ProcessLoggingConfig``), where one format prints them all.

Run from the repository root::

    .venv/bin/python examples/request_ids_in_logs.py
"""

from __future__ import annotations

import asyncio
import logging
import sys

from _request_log import request_id, thumbnail
from gristmill import LeasedExecutorManager, ProcessLoggingConfig, WorkGrinder


async def handle(grinder: WorkGrinder, number: int) -> str:
    """A request handler in miniature: its own request id, one job."""
    request_id.set(f"req-{number}")
    return await grinder.submit(thumbnail, number)


async def serve(backend: str) -> list[str]:
    # Worker records go to this parent logger; it hands them on to the root's handler.
    forwarding = ProcessLoggingConfig(
        enabled=True, level="INFO", target_logger=logging.getLogger("workers")
    )
    manager = LeasedExecutorManager(
        backend=backend,
        max_pools=1,
        workers_per_pool=2,
        process_logging=forwarding if backend == "process" else None,
    )
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=4,
        max_wait_seconds=0.05,
        propagate_context=[request_id],  # needed for processes; harmless on threads
    )
    await manager.start()
    await grinder.start()
    try:
        return list(await asyncio.gather(*(handle(grinder, n) for n in range(1, 5))))
    finally:
        await grinder.stop()
        await manager.stop()  # flushes worker records still in the queue


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(request_id)s %(processName)s %(name)s: %(message)s",
    )
    logging.getLogger("gristmill").setLevel(logging.WARNING)  # only the jobs' lines here
    for backend in ("thread", "process"):
        print(f"{backend}: {asyncio.run(serve(backend))}")


if __name__ == "__main__":
    main()
