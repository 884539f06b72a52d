"""Property test of batch functions: every caller's outcome is what ``fn([item])`` alone gives.

Random item lists, caps, keys, ``Exception`` elements and items that make the
whole call raise (with ``on_error="split"``) go through a real grinder; the
oracle is the function called on each item by itself. Nothing is lost, and
nothing is resolved twice (the counters add up to the items submitted).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill import BatchFunction, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import make_manager

# Items are small ints; the last digit says how the item behaves.
RAISES = 7  # an item ending in 7 makes the whole call raise
FAILS = 3  # an item ending in 3 gets an Exception element of its own


def behave(items: list[int]) -> list[object]:
    if any(item % 10 == RAISES for item in items):
        raise LookupError("a poison item is in this call")
    return [ValueError(f"bad {item}") if item % 10 == FAILS else item * 10 for item in items]


def oracle(item: int) -> tuple[bool, object]:
    """What calling the function on the item alone gives: ``(ok, value or error type)``."""
    try:
        (value,) = behave([item])
    except LookupError:
        return False, LookupError
    if isinstance(value, Exception):
        return False, type(value)
    return True, value


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(0, 99), max_size=40),
    cap=st.one_of(st.none(), st.integers(1, 8)),
    groups=st.integers(1, 3),
    dedupe=st.booleans(),
    threshold=st.integers(1, 16),
)
async def test_each_outcome_equals_the_function_on_that_item_alone(
    items: list[int], cap: int | None, groups: int, dedupe: bool, threshold: int
) -> None:
    function: BatchFunction[int, object] = BatchFunction(
        behave,
        max_batch_size=cap,
        key=lambda item: item % groups,
        dedupe=dedupe,
        on_error="split",
    )
    manager = make_manager(FakeClock())
    await manager.start()
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=threshold)
    try:
        await grinder.start()
        futures = [await grinder.enqueue(function, item) for item in items]
        await grinder.stop()  # drains: every item runs
        outcomes: list[tuple[bool, Any]] = []
        for future in futures:
            assert future.done()
            error = future.exception()
            outcomes.append((True, future.result()) if error is None else (False, type(error)))
        assert outcomes == [oracle(item) for item in items]
        stats = grinder.stats()
        assert stats["submitted"] == len(items)
        assert stats["completed"] + stats["failed"] == len(items)
        assert stats["cancelled"] == stats["timed_out"] == 0
    finally:
        await grinder.stop()
        await manager.stop()
    assert asyncio.get_running_loop().is_running()
