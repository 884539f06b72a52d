"""Scheduling options together with bulk work and batch functions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gristmill import LeasedExecutorManager, WorkGrinder, batched


@batched
def doubled(items: list[int]) -> list[int]:
    return [item * 2 for item in items]


@pytest.mark.parametrize(
    "options",
    [
        {"scheduler": "fair", "owner_weights": {"a": 2}},
        {"scheduler": "fair", "max_pending_per_owner": 3, "max_pending": 10},
        {"dispatch": "eager"},
    ],
    ids=["fair-weights", "fair-quota", "eager"],
)
async def test_enqueue_many_map_and_batch_functions_work_under_every_scheduler(
    manager: LeasedExecutorManager, options: dict[str, Any]
) -> None:
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=1, **options)
    async with grinder:
        group = await grinder.enqueue_many(abs, [-1, -2, -3], owner="a")
        mapped = [value async for value in grinder.map(abs, range(-20, 0), owner="b")]
        calls = await asyncio.gather(*(grinder.submit(doubled, i, owner="c") for i in range(4)))
    assert [future.result() for future in group] == [1, 2, 3]
    assert mapped == list(range(20, 0, -1))
    assert calls == [0, 2, 4, 6]
    stats = grinder.stats()
    assert stats["submitted"] == stats["completed"] == 3 + 20 + 4
