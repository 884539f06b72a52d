"""Fuzzing with hostile items on process pools, where pickling makes most hostility bite.

The same drawn mixes as the thread-pool fuzzing (:mod:`tests.grinder.test_hostile_items`),
on a process pool: here an item whose callable, argument, result or exception
will not pickle, or will not unpickle on the other side, fails alone with
:class:`~gristmill.UnpicklableError`, and its chunk-mates get their own results.
Fewer examples, since each round trip crosses a process boundary; one pool
serves every example.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import LOOPS, PATHS, Drawn, OwnLoop, own_loop
from tests.grinder.test_hostile_items import mixes
from tests.hostile import KINDS


@pytest.fixture(params=sorted(LOOPS), scope="module")
def process_loop(request: pytest.FixtureRequest) -> Iterator[OwnLoop]:
    """A loop of its own with a started process manager (1 pool × 2 workers) on a fake clock."""
    with own_loop(request.param, "process", max_pools=1) as loop:
        yield loop


@settings(max_examples=60, deadline=None)
@given(drawn=mixes(), max_pending=st.sampled_from([None, 3]))
def test_hostile_items_fail_alone_and_the_pool_keeps_serving(
    process_loop: OwnLoop, drawn: list[Drawn], max_pending: int | None
) -> None:
    process_loop.hostile(drawn, max_pending)
    assert process_loop.manager.stats()["pools_created"] == 1  # no bad item broke the pool


@pytest.mark.parametrize("max_pending", [None, 5])
def test_every_kind_on_every_path_at_once(process_loop: OwnLoop, max_pending: int | None) -> None:
    drawn = [
        Drawn(kind, n, n % 2 == 1, path) for n, kind in enumerate(sorted(KINDS)) for path in PATHS
    ]
    process_loop.hostile(drawn, max_pending)
