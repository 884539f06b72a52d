"""Runs drawn hostile items (see :mod:`tests.hostile`) through a grinder and checks the invariants.

Every item is submitted on the path drawn for it (``submit``, ``enqueue``,
``submit_work``, ``enqueue_work``, ``submit_from_thread``,
``submit_work_from_thread``), hostile and innocent items mixed, so that they
share batches and chunks. Then:

- every caller gets exactly what its kind promises on this backend: its own
  result, or one exception of exactly the promised type;
- every future resolves exactly once, and the loop reports no error;
- the grinder is still running, and its counters add up;
- after ``stop()`` no lease is held.

Each test runs its examples on a loop of its own (:func:`own_loop`, asyncio
or uvloop), so that an exception escaping into the loop fails the example
instead of ending the test session, and one started manager serves every
example (process pools are slow to start); each example gets a fresh grinder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvloop

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import assert_grinder_settled, assert_manager_empty, make_manager, wait_until
from tests.hostile import Case, build

__all__ = [
    "LOOPS",
    "LOOP_PATHS",
    "PATHS",
    "THREAD_PATHS",
    "Drawn",
    "OwnLoop",
    "own_loop",
    "run_hostile",
]

T = TypeVar("T")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

LOOP_PATHS = ("submit", "enqueue", "submit_work", "enqueue_work")
THREAD_PATHS = ("submit_from_thread", "submit_work_from_thread")
PATHS = LOOP_PATHS + THREAD_PATHS
BOUND = 10.0
"""Real seconds within which every item settles; only a hang fails it."""


@dataclass(frozen=True)
class OwnLoop:
    """A loop of the test's own, with a started manager on it."""

    runner: asyncio.Runner
    manager: LeasedExecutorManager
    clock: FakeClock
    backend: str

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` on the loop; an exception that escapes the loop fails as an assertion."""
        try:
            return self.runner.run(main)
        except Exception:
            raise
        except BaseException as escaped:  # only the loop lets these out: ``main`` catches all
            raise AssertionError(f"{escaped!r} escaped into the event loop") from escaped

    def hostile(self, drawn: list[Drawn], max_pending: int | None) -> None:
        """Run :func:`run_hostile` on this loop's manager."""
        self.run(run_hostile(self.manager, self.clock, self.backend, drawn, max_pending))


@contextmanager
def own_loop(loop: str, backend: str, **manager_options: Any) -> Iterator[OwnLoop]:
    """Open a ``loop`` ("asyncio" or "uvloop") with a started manager; stop and check it after."""
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        clock = FakeClock()
        manager = make_manager(clock, backend=backend, **manager_options)
        runner.run(manager.start())
        try:
            yield OwnLoop(runner, manager, clock, backend)
        finally:
            runner.run(asyncio.wait_for(manager.stop(), BOUND))
        assert_manager_empty(manager)


@dataclass(frozen=True)
class Drawn:
    """One drawn item: its kind, the number that varies its data, and how it is submitted."""

    kind: str
    n: int
    keyword: bool
    path: str


@dataclass
class Seen:
    """What one caller saw, and how many times its future resolved."""

    outcome: object = None
    raised: bool = False
    resolutions: int = 0


def _work(case: Case) -> Work[Any]:
    return Work(case.fn, args=case.args, kwargs=case.kwargs, owner=case.owner)


def _count(seen: Seen) -> Callable[[Any], None]:
    def resolved(_: Any) -> None:
        seen.resolutions += 1

    return resolved


async def _on_loop(grinder: WorkGrinder, case: Case, path: str, seen: Seen) -> None:
    """Submit ``case`` on a loop path and record what its caller sees; never raises."""
    call: Awaitable[Any]
    try:
        if path in ("submit", "submit_work"):
            call = (
                grinder.submit(case.fn, *case.args, owner=case.owner, **case.kwargs)
                if path == "submit"
                else grinder.submit_work(_work(case))
            )
            seen.resolutions += 1  # the await returns (or raises) once
            seen.outcome = await call
            return
        future = await (
            grinder.enqueue(case.fn, *case.args, owner=case.owner, **case.kwargs)
            if path == "enqueue"
            else grinder.enqueue_work(_work(case))
        )
        future.add_done_callback(_count(seen))
        seen.outcome = await future
    except BaseException as error:  # whatever the caller's await raised is its outcome
        seen.outcome, seen.raised = error, True


def _from_thread(
    grinder: WorkGrinder, items: list[tuple[Case, str, Seen]]
) -> list[tuple[concurrent.futures.Future[Any], Seen]]:
    """From a foreign thread: submit each item on its thread path."""
    futures = []
    for case, path, seen in items:
        if path == "submit_from_thread":
            future = grinder.submit_from_thread(
                case.fn, *case.args, owner=case.owner, **case.kwargs
            )
        else:
            future = grinder.submit_work_from_thread(_work(case))
        future.add_done_callback(_count(seen))
        futures.append((future, seen))
    return futures


def _record(future: concurrent.futures.Future[Any], seen: Seen) -> None:
    if future.cancelled():
        seen.outcome, seen.raised = "cancelled", True
        return
    error = future.exception(0)
    seen.outcome, seen.raised = (error, True) if error is not None else (future.result(0), False)


async def run_hostile(
    manager: LeasedExecutorManager,
    clock: FakeClock,
    backend: str,
    drawn: list[Drawn],
    max_pending: int | None,
) -> None:
    """Submit every drawn item to a fresh grinder on ``manager`` and check the invariants."""
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    threshold = min(len(drawn), max_pending or len(drawn))
    grinder = WorkGrinder(
        executor_manager=manager, batch_size_threshold=threshold, max_pending=max_pending
    )
    await grinder.start()
    try:
        items = [(build(d.kind, d.n, d.keyword), d.path, Seen()) for d in drawn]
        tasks = [
            asyncio.ensure_future(_on_loop(grinder, case, path, seen))
            for case, path, seen in items
            if path in LOOP_PATHS
        ]
        on_threads = [item for item in items if item[1] in THREAD_PATHS]
        futures = await asyncio.to_thread(_from_thread, grinder, on_threads)
        await _settle(
            grinder,
            clock,
            lambda: all(task.done() for task in tasks) and all(f.done() for f, _ in futures),
        )
        for future, seen in futures:
            _record(future, seen)
        _check(backend, items, grinder)
    finally:
        try:
            await asyncio.wait_for(grinder.stop(), BOUND)
        finally:
            loop.set_exception_handler(previous_handler)
    assert_grinder_settled(grinder)
    assert manager.leased_count == 0
    assert loop_errors == []


async def _settle(grinder: WorkGrinder, clock: FakeClock, done: Callable[[], bool]) -> None:
    """Wait until ``done()``; when only a partial batch is left, fire its max-wait trigger."""

    def settled() -> bool:
        stats = grinder.stats()
        assert stats["state"] == "running", stats  # fail now rather than wait out the bound
        if done() and stats["in_flight"] == 0:
            return True
        if stats["running_batches"] == 0 and stats["pending"]:
            clock.advance(stats["max_wait_seconds"])
        return False

    await wait_until(settled, timeout=BOUND, what="every item settled")


def _check(backend: str, items: list[tuple[Case, str, Seen]], grinder: WorkGrinder) -> None:
    for case, path, seen in items:
        where = f"{case.kind} via {path} on {backend}: got {type(seen.outcome).__name__}"
        assert seen.resolutions == 1, where
        assert case.expected(backend).holds(seen.outcome, seen.raised), where
    stats = grinder.stats()
    assert stats["state"] == "running", stats
    assert stats["submitted"] == len(items), stats
    assert stats["completed"] + stats["failed"] == len(items), stats
