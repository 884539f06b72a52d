"""A script that Ctrl-C stops at once, however much work is queued.

Ctrl-C under ``asyncio.run`` cancels ``main()``. The ``async with`` blocks then
exit on a cancellation, which cuts the grinder's stop short: pending jobs are
cancelled and the process workers still running jobs are killed, so the script
ends within moments instead of after the queued work. SIGTERM is made to do
the same. Left alone, the script runs every job and prints how long it took.

Run from the repository root, and press Ctrl-C while it works::

    .venv/bin/python examples/interrupted_script.py        # 16 jobs, about 1 s
    .venv/bin/python examples/interrupted_script.py 400    # about 25 s
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import _jobs
from gristmill import LeasedExecutorManager, WorkGrinder

JOB_SECONDS = 0.125


async def main(jobs: int) -> None:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM (`kill <pid>`) cancels main() too, as Ctrl-C does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with (
        LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2) as manager,
        WorkGrinder(
            executor_manager=manager, max_wait_seconds=0.01, batch_size_threshold=64
        ) as grinder,
    ):
        started = time.perf_counter()
        futures = [await grinder.enqueue(_jobs.burn_cpu, JOB_SECONDS) for _ in range(jobs)]
        print(f"work is running: {jobs} jobs of {JOB_SECONDS} s on 2 processes", flush=True)
        await asyncio.gather(*futures)
        print(f"done: {jobs} jobs in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 16))
    except KeyboardInterrupt:  # Ctrl-C: asyncio.run re-raises it once main() has unwound
        print("interrupted: pending jobs cancelled, workers stopped", file=sys.stderr)
        sys.exit(130)  # what a shell reports for a program ended by SIGINT
    except asyncio.CancelledError:  # SIGTERM
        print("terminated: pending jobs cancelled, workers stopped", file=sys.stderr)
        sys.exit(143)
