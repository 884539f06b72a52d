"""Fuzzing with hostile items on thread pools: no item can crash the grinder or harm another.

Hypothesis draws a mix of hostile and innocent items (see :mod:`tests.hostile`
for the kinds), each on a submit path of its own, against an unbounded queue
or a bounded one that makes callers wait for room. :mod:`tests.fuzzing`
checks that each caller gets exactly its own outcome, that every future
resolves once, that nothing escapes into the loop, that the grinder stays
running and that ``stop()`` leaves no lease.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import LOOPS, PATHS, Drawn, OwnLoop, own_loop
from tests.hostile import KINDS

HOSTILE = sorted(kind for kind in KINDS if kind != "innocent")


def items(kinds: list[str]) -> st.SearchStrategy[Drawn]:
    return st.builds(
        Drawn,
        kind=st.sampled_from(kinds),
        n=st.integers(0, 50),
        keyword=st.booleans(),
        path=st.sampled_from(PATHS),
    )


@st.composite
def mixes(draw: st.DrawFn, *, most: int = 10) -> list[Drawn]:
    """Up to ``most`` hostile items and a few innocent ones, shuffled together."""
    drawn = draw(st.lists(items(HOSTILE), min_size=1, max_size=most))
    drawn += draw(st.lists(items(["innocent"]), min_size=1, max_size=6))
    return draw(st.permutations(drawn))


@pytest.fixture(params=sorted(LOOPS), scope="module")
def thread_loop(request: pytest.FixtureRequest) -> Iterator[OwnLoop]:
    """A loop of its own with a started thread manager (2 pools × 2 threads) on a fake clock."""
    with own_loop(request.param, "thread") as loop:
        yield loop


@settings(max_examples=150, deadline=None)
@given(drawn=mixes(), max_pending=st.sampled_from([None, 3]))
def test_hostile_items_fail_alone_and_the_grinder_keeps_running(
    thread_loop: OwnLoop, drawn: list[Drawn], max_pending: int | None
) -> None:
    thread_loop.hostile(drawn, max_pending)


@pytest.mark.parametrize("max_pending", [None, 5])
def test_every_kind_on_every_path_at_once(thread_loop: OwnLoop, max_pending: int | None) -> None:
    drawn = [
        Drawn(kind, n, n % 2 == 1, path) for n, kind in enumerate(sorted(KINDS)) for path in PATHS
    ]
    thread_loop.hostile(drawn, max_pending)
