"""Parent-side helpers for the fault-injection tests: a batch around one faulty item.

The faulty item sits between good ones that record each run (see
:func:`tests.process.jobs.counted_square`), so a test can tell which good
items kept their result, which ran again, and which never ran before the
fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gristmill import WorkGrinder
from tests.helpers import assert_grinder_settled
from tests.process import jobs
from tests.process.jobs import runs_of

__all__ = [
    "FAULT_BOUND",
    "STOP_BOUND",
    "Surrounded",
    "check_good_items",
    "stop_settled",
    "surround",
]

FAULT_BOUND = 20.0
"""Real seconds within which every future of a faulty batch must settle; only a hang fails it."""

STOP_BOUND = 20.0
"""Real seconds within which ``stop()`` must return, even after a fault; only a hang fails it."""


@dataclass(frozen=True)
class Surrounded:
    """The settled outcomes of a batch: good items before the faulty one, it, good ones after."""

    before: list[object]
    fault: object
    after: list[object]


async def surround(
    grinder: WorkGrinder,
    runs: Path,
    fn: Callable[..., Any],
    *args: Any,
    before: int = 5,
    after: int = 3,
) -> Surrounded:
    """Enqueue squares of ``0..before-1``, then ``fn(*args)``, then squares up to ``before+after``.

    They are enqueued without yielding to the loop, so they form one batch.
    Returns once every future has settled (exceptions are returned, not raised).
    """
    futures: list[asyncio.Future[Any]] = [
        await grinder.enqueue(jobs.counted_square, str(runs), i) for i in range(before)
    ]
    futures.append(await grinder.enqueue(fn, *args))
    futures += [
        await grinder.enqueue(jobs.counted_square, str(runs), i)
        for i in range(before, before + after)
    ]
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), FAULT_BOUND)
    return Surrounded(outcomes[:before], outcomes[before], outcomes[before + 1 :])


def check_good_items(outcome: Surrounded, runs: Path) -> int:
    """Check every good item's result and run count; return how many ran twice.

    With one worker, a batch's first chunk takes at most half of it, so with
    more good items before the faulty one than after it, the first item's
    chunk finished before the faulty one started, and it kept its result.
    Items after the faulty one had not started: they were queued again, and
    ran once. Items that finished inside the faulty item's chunk ran twice.
    """
    before, after = len(outcome.before), len(outcome.after)
    assert before > after, "put the faulty item past the first chunk"
    assert outcome.before == [i * i for i in range(before)]
    assert outcome.after == [i * i for i in range(before, before + after)]
    counts = [runs_of(runs, f"sq{i}") for i in range(before + after)]
    assert counts[0] == 1, counts
    assert counts[before:] == [1] * after, counts
    assert set(counts) <= {1, 2}, counts
    return counts.count(2)


async def stop_settled(grinder: WorkGrinder) -> None:
    """Stop ``grinder`` within a bound, then check every item is accounted for."""
    await asyncio.wait_for(grinder.stop(), STOP_BOUND)
    assert_grinder_settled(grinder)
