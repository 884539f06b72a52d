"""How fast one Ctrl-C ends a program with 25 s of queued process work.

Each program runs in its own interpreter with 400 jobs of 0.125 s queued on a
process pool of 2 workers. Once it prints that work is running, one SIGINT is
sent; the time until the interpreter has exited is measured, and every child
process it had (workers, fork server) must be gone. The README's try/finally
pattern took 23 s before a cancellation cut ``stop()`` short.

Run from the repository root (needs psutil, in the bench extra)::

    python -m benchmarks.ctrl_c [--repeats N]

``tests/process/test_ctrl_c.py`` runs the same programs with a generous bound.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = [
    "ASYNC_WITH_PATTERN",
    "DRAINING_PATTERN",
    "PATTERNS",
    "README_PATTERN",
    "START_BOUND",
    "Ending",
    "run_and_signal",
    "write_program",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
START_BOUND = 60.0
"""Seconds a program may take to print that its work is running."""
EXIT_WAIT = 120.0
"""Seconds to wait for a signalled program before killing it."""

PROGRAM = """\
import asyncio
import time

from gristmill import LeasedExecutorManager, WorkGrinder


def crunch(seconds: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        pass
    return seconds


async def running(grinder: WorkGrinder) -> None:
    while grinder.stats()["in_flight"] == 0:  # until a batch is out on the workers
        await asyncio.sleep(0.005)


async def main() -> None:
{body}

if __name__ == "__main__":
    asyncio.run(main())
"""

README_PATTERN = """\
    manager = LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager, max_wait_seconds=0.01,
                          batch_size_threshold=64)
    await manager.start()
    await grinder.start()
    try:
        futures = [await grinder.enqueue(crunch, 0.125) for _ in range(400)]
        await running(grinder)
        print("work is running", flush=True)
        await asyncio.gather(*futures)
    finally:
        await grinder.stop()
        await manager.stop()
"""

ASYNC_WITH_PATTERN = """\
    async with (
        LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2) as manager,
        WorkGrinder(executor_manager=manager, max_wait_seconds=0.01,
                    batch_size_threshold=64) as grinder,
    ):
        futures = [await grinder.enqueue(crunch, 0.125) for _ in range(400)]
        await running(grinder)
        print("work is running", flush=True)
        await asyncio.gather(*futures)
"""

DRAINING_PATTERN = """\
    manager = LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager, max_wait_seconds=0.01,
                          batch_size_threshold=64)
    await manager.start()
    await grinder.start()
    try:
        futures = [await grinder.enqueue(crunch, 0.125) for _ in range(400)]
        await running(grinder)
    finally:
        print("work is running", flush=True)
        await grinder.stop()  # drains 25 s of work, until the SIGINT cancels it
        await manager.stop()
"""


PATTERNS = {
    "readme-try-finally": README_PATTERN,
    "async-with": ASYNC_WITH_PATTERN,
    "sigint-during-a-draining-stop": DRAINING_PATTERN,
}
"""Where the program is when the SIGINT arrives, by name."""


@dataclass
class Ending:
    """How a signalled program ended: seconds from the signal to its exit, and what it left."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    survivors: list[int]


def run_and_signal(args: list[str], sig: signal.Signals, ready: str = "work is running") -> Ending:
    """Start ``args``, wait for the ``ready`` line, send ``sig`` once; see how it ends."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a stray signal reaches no one else
    )
    try:
        lines = _read_until(process, ready)
        children = psutil.Process(process.pid).children(recursive=True)
        sent = time.monotonic()
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=EXIT_WAIT)
        seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Ending(seconds, process.returncode, lines + stdout, stderr, _survivors(children))


def _survivors(children: list[psutil.Process], within: float = 5.0) -> list[int]:
    """The pids among ``children`` still running ``within`` seconds from now.

    A child that has exited but waits to be reaped (a zombie) counts as gone.
    The fork server and the resource tracker notice their parent's exit only
    when their pipe closes, so they get a moment.
    """
    deadline = time.monotonic() + within
    while True:
        alive = [child.pid for child in children if _running(child)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _read_until(process: subprocess.Popen[str], ready: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_BOUND
    seen = ""
    while ready not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([process.stdout], [], [], left)[0]:
            raise AssertionError(f"the program never printed {ready!r}; it printed {seen!r}")
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"the program ended before {ready!r}: {seen!r} {stderr}")
        seen += line
    return seen


def write_program(directory: Path, body: str) -> str:
    """Write the program with ``body`` as its ``main()`` into ``directory``; return its path."""
    script = directory / "program.py"
    script.write_text(PROGRAM.format(body=body))
    return str(script)


def main(argv: list[str] | None = None) -> int:
    """Run every pattern ``--repeats`` times and print a Markdown table of exit times."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ctrl_c")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print("| pattern | runs | median exit, s | max exit, s | children left |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, body in PATTERNS.items():
        with tempfile.TemporaryDirectory() as directory:
            script = write_program(Path(directory), body)
            endings = [run_and_signal([script], signal.SIGINT) for _ in range(args.repeats)]
        seconds = [ending.seconds for ending in endings]
        left = sum(len(ending.survivors) for ending in endings)
        print(
            f"| {name} | {len(endings)} | {statistics.median(seconds):.2f} "
            f"| {max(seconds):.2f} | {left} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
