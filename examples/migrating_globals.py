"""Migrating a program whose workers read a global that ``main()`` sets.

This is a leasepool program after the one-line switch::

    -from leasepool import LeasedExecutorManager
    +from gristmill import LeasedExecutorManager

It runs unchanged, and on threads it prints what it printed before. On
process pools one line can differ: leasepool (on Linux, before Python 3.14)
starts workers by forking the parent, so they inherit ``GREETING`` as
``main()`` set it; gristmill starts them with ``forkserver`` (or ``spawn``),
so each worker imports this module afresh and sees the value it has at import
time. Python 3.14 made the same change to its own default. Two ways to get the
old result, both shown below:

- pass ``mp_context=multiprocessing.get_context("fork")``: leasepool's
  behaviour exactly (fork is unsafe in a parent with threads);
- or hand workers what they need through ``initializer``/``initargs``, which
  works with every start method.

Run from the repository root::

    .venv/bin/python examples/migrating_globals.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

from gristmill import LeasedExecutorManager

GREETING = "unset"  # main() sets the real value, after import


def greet(name: str) -> str:
    return f"{GREETING}, {name}"


def set_greeting(greeting: str) -> None:
    """Worker initializer: sets the global in each worker, whatever the start method."""
    global GREETING
    GREETING = greeting


async def greet_on(backend: str, **options: Any) -> str:
    manager = LeasedExecutorManager(backend=backend, max_pools=1, workers_per_pool=1, **options)
    await manager.start()
    try:
        async with await manager.acquire(owner="example") as lease:
            result: str = await lease.run(greet, "world")
            return result
    finally:
        await manager.stop()


async def main() -> None:
    global GREETING
    GREETING = "hello"
    print("thread:                 ", await greet_on("thread"))
    print("process, default start: ", await greet_on("process"))
    if "fork" in multiprocessing.get_all_start_methods():
        fork = multiprocessing.get_context("fork")
        print("process, fork:          ", await greet_on("process", mp_context=fork))
    print(
        "process, initializer:   ",
        await greet_on("process", initializer=set_greeting, initargs=(GREETING,)),
    )


if __name__ == "__main__":
    asyncio.run(main())
