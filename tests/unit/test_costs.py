"""The per-callable run-time estimate that sizes chunks."""

from __future__ import annotations

import asyncio
import functools
import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gristmill._costs import RunTimes
from gristmill._job import Job


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _jobs(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], count: int) -> list[Job]:
    jobs = []
    for _ in range(count):
        job = Job(loop=loop)
        job.fn = fn
        jobs.append(job)
    return jobs


def fast() -> None:
    """A stand-in job."""


def slow() -> None:
    """Another stand-in job."""


def test_nothing_is_known_at_first(loop: asyncio.AbstractEventLoop) -> None:
    assert RunTimes().estimate(_jobs(loop, fast, 3)) is None


def test_a_chunk_teaches_the_time_per_job(loop: asyncio.AbstractEventLoop) -> None:
    times = RunTimes()
    times.observe(_jobs(loop, fast, 4), 0.004)
    assert times.estimate(_jobs(loop, fast, 2)) == pytest.approx(0.001)


def test_estimates_are_kept_per_callable(loop: asyncio.AbstractEventLoop) -> None:
    times = RunTimes()
    times.observe(_jobs(loop, fast, 10), 0.00001)
    times.observe(_jobs(loop, slow, 2), 0.01)
    assert times.estimate(_jobs(loop, slow, 1)) == pytest.approx(0.005)
    mixed = _jobs(loop, fast, 1) + _jobs(loop, slow, 1)
    assert times.estimate(mixed) == pytest.approx((0.000001 + 0.005) / 2)


def test_one_unknown_callable_makes_the_batch_unknown(loop: asyncio.AbstractEventLoop) -> None:
    times = RunTimes()
    times.observe(_jobs(loop, fast, 1), 0.001)
    assert times.estimate(_jobs(loop, fast, 1) + _jobs(loop, slow, 1)) is None


def test_fresh_lambdas_of_one_definition_share_an_entry(loop: asyncio.AbstractEventLoop) -> None:
    def make() -> Callable[[], None]:
        return lambda: None

    times = RunTimes()
    times.observe(_jobs(loop, make(), 2), 0.002)
    assert times.estimate(_jobs(loop, make(), 1)) == pytest.approx(0.001)


def test_the_estimate_follows_a_change_of_workload(loop: asyncio.AbstractEventLoop) -> None:
    times = RunTimes()
    times.observe(_jobs(loop, fast, 1), 0.001)
    for _ in range(20):
        times.observe(_jobs(loop, fast, 1), 0.1)
    estimate = times.estimate(_jobs(loop, fast, 1))
    assert estimate is not None
    assert estimate == pytest.approx(0.1, rel=0.01)


class Unhashable:
    """A callable object that cannot be hashed, like a ``@dataclass`` with ``__call__``."""

    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> None:
        """A stand-in job."""


class RaisingIdentity:
    """A callable whose ``__hash__``, ``__eq__`` and attribute lookups all raise."""

    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no attribute {name}")

    def __call__(self) -> None:
        """A stand-in job."""


@pytest.mark.parametrize("make", [Unhashable, RaisingIdentity])
def test_any_callable_gets_an_estimate_without_being_hashed_or_compared(
    loop: asyncio.AbstractEventLoop, make: Callable[[], Callable[[], None]]
) -> None:
    times = RunTimes()
    assert times.estimate(_jobs(loop, make(), 2)) is None
    times.observe(_jobs(loop, make(), 4), 0.004)
    times.observe(_jobs(loop, make(), 2) + _jobs(loop, fast, 2), 0.004)
    # Instances of one class share an entry, as fresh lambdas of one definition do.
    assert times.estimate(_jobs(loop, make(), 1)) == pytest.approx(0.001)


def test_methods_and_partials_share_the_entry_of_the_function_they_wrap(
    loop: asyncio.AbstractEventLoop,
) -> None:
    class Holder:
        def run(self) -> None:
            """A stand-in job."""

    times = RunTimes()
    times.observe(_jobs(loop, Holder().run, 2), 0.002)
    times.observe(_jobs(loop, functools.partial(slow), 1), 0.005)
    assert times.estimate(_jobs(loop, Holder().run, 1)) == pytest.approx(0.001)
    assert times.estimate(_jobs(loop, slow, 1)) == pytest.approx(0.005)


def test_the_table_never_keeps_a_callable_object_alive(loop: asyncio.AbstractEventLoop) -> None:
    times = RunTimes()
    job_fn = Unhashable()
    alive = weakref.ref(job_fn)
    times.observe(_jobs(loop, job_fn, 1), 0.001)
    del job_fn
    gc.collect()
    assert alive() is None
