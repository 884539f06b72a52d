"""A BaseException raised by a job stays inside that job, on every submit path.

``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``, ``CancelledError``
and a ``BaseException`` of the user's own, raised by a job, reach that job's
caller, and only it, as themselves: nothing escapes into the event loop (an
asyncio task that awaits a future holding the first two re-raises them out of
``run_forever``), and no other item is cancelled or failed.

``CancelledError`` is delivered like any other exception of the job, as
``asyncio.to_thread`` delivers it: the caller's ``await`` (or ``result()``)
raises it, while the future itself was *not* cancelled (``cancelled()`` is
False and ``exception()`` returns the job's error). A caller that must tell it
from a cancellation of its own checks ``future.cancelled()``.

Each run gets an event loop of its own (asyncio, then uvloop) so that an
exception escaping the loop fails the test instead of ending the session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop

from gristmill import LeasedExecutorManager, Work, WorkGrinder
from gristmill.testing import FakeClock
from tests.helpers import make_manager, wait_until
from tests.process import jobs

KINDS = ("KeyboardInterrupt", "SystemExit", "GeneratorExit", "CancelledError", "CustomBaseError")
LOOP_PATHS = ("submit", "enqueue", "submit_work", "enqueue_work")
THREAD_PATHS = ("submit_from_thread", "submit_work_from_thread")
BOUND = 30.0
"""Real seconds within which every future settles; only a hang fails it."""

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@dataclass
class Settled:
    """How one item's future ended, seen from its caller."""

    path: str
    label: str
    cancelled: bool
    result: object = None
    error: BaseException | None = None


async def _settle(path: str, label: str, awaitable: Awaitable[Any]) -> Settled:
    """Await a loop path's call and record how it ended; catches what a caller would see."""
    try:
        future = await awaitable if path.startswith("enqueue") else awaitable
        if isinstance(future, asyncio.Future):
            try:
                result = await future
            except BaseException:  # the caller's own view: what its await raised
                return Settled(path, label, future.cancelled(), error=future.exception())
            return Settled(path, label, False, result)
        return Settled(path, label, False, await future)
    except BaseException as error:  # submit(): only the raise is visible
        return Settled(path, label, False, error=error)


Call = tuple[str, str, Callable[..., Any], object]
"""``(path, label, fn, arg)``: one item, and the submit path it takes."""


def _loop_call(
    grinder: WorkGrinder, path: str, fn: Callable[..., Any], arg: object
) -> Awaitable[Any]:
    if path == "submit":
        return grinder.submit(fn, arg)
    if path == "enqueue":
        return grinder.enqueue(fn, arg)
    if path == "submit_work":
        return grinder.submit_work(Work(fn, args=(arg,)))
    return grinder.enqueue_work(Work(fn, args=(arg,)))


def _thread_calls(
    grinder: WorkGrinder, calls: list[Call]
) -> list[tuple[str, str, concurrent.futures.Future[Any]]]:
    """From a foreign thread: submit each call on its thread path."""
    futures = []
    for path, label, fn, arg in calls:
        if path == "submit_from_thread":
            future = grinder.submit_from_thread(fn, arg)
        else:
            future = grinder.submit_work_from_thread(Work(fn, args=(arg,)))
        futures.append((path, label, future))
    return futures


def _thread_settled(path: str, label: str, future: concurrent.futures.Future[Any]) -> Settled:
    if future.cancelled():
        return Settled(path, label, True)
    error = future.exception(0)
    return Settled(path, label, False, None if error is not None else future.result(0), error)


@dataclass
class Gate:
    """Holds the grinder's one batch slot until opened: a job that waits on it."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    open: Callable[[], None]


def _gate(backend: str, tmp_path: Path) -> Gate:
    if backend == "thread":
        event = threading.Event()
        return Gate(event.wait, (BOUND,), event.set)
    path = tmp_path / "open"  # not "gate": the job records its run in a file of that name
    return Gate(jobs.wait_for_file, (str(tmp_path), "gate", str(path)), path.touch)


async def _run(backend: str, bounded: bool, tmp_path: Path) -> list[Settled]:
    """Queue one raising and one innocent item per kind and path behind a gate; settle them all."""
    manager: LeasedExecutorManager = make_manager(FakeClock(), backend=backend, max_pools=1)
    await manager.start()
    grinder = WorkGrinder(
        executor_manager=manager,
        batch_size_threshold=1,
        max_concurrent_batches=1,
        max_pending=1 if bounded else None,
    )
    await grinder.start()
    gate = _gate(backend, tmp_path)
    held = await grinder.enqueue(gate.fn, *gate.args)  # the one batch slot
    await wait_until(lambda: grinder.stats()["running_batches"] == 1, what="the gate to run")
    filler = await grinder.enqueue(jobs.square, -1)  # a bounded queue is now full
    calls = [
        (path, label, fn, arg)
        for number, kind in enumerate(KINDS)
        for path in (*LOOP_PATHS, *THREAD_PATHS)
        for label, fn, arg in (
            (kind, jobs.raise_base_exception, kind),
            ("innocent", jobs.square, number),
        )
    ]
    tasks = [
        asyncio.ensure_future(_settle(path, label, _loop_call(grinder, path, fn, arg)))
        for path, label, fn, arg in calls
        if path in LOOP_PATHS
    ]
    thread_calls: list[Call] = [call for call in calls if call[0] in THREAD_PATHS]
    futures = await asyncio.to_thread(_thread_calls, grinder, thread_calls)
    if bounded:  # every item waits for room behind the filler
        await wait_until(lambda: grinder.stats()["waiting_for_room"] == len(calls), what="waits")
    else:
        await wait_until(lambda: grinder.stats()["pending"] == len(calls) + 1, what="queueing")
    gate.open()
    settled = await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
    await asyncio.to_thread(concurrent.futures.wait, [future for _, _, future in futures], BOUND)
    settled += [_thread_settled(*entry) for entry in futures]
    assert await held is not None
    assert await filler == 1
    stats = grinder.stats()
    assert stats["state"] == "running", stats
    assert stats["failed"] == len(KINDS) * (len(LOOP_PATHS) + len(THREAD_PATHS)), stats
    await grinder.stop()
    await manager.stop()
    assert manager.leased_count == 0
    return settled


def _check(settled: list[Settled]) -> None:
    assert len(settled) == 2 * len(KINDS) * (len(LOOP_PATHS) + len(THREAD_PATHS))
    for item in settled:
        where = f"{item.label} via {item.path}"
        assert not item.cancelled, where
        if item.label == "innocent":
            assert item.error is None, where
            assert isinstance(item.result, int), where
            continue
        error = item.error
        assert type(error).__name__ == item.label, where
        assert error is not None
        if item.label == "SystemExit":
            assert isinstance(error, SystemExit), where
            assert error.code == 3, where
        else:
            assert error.args == ("raised by the job",), where
    innocent = sorted(item.result for item in settled if item.label == "innocent")  # type: ignore[type-var]
    assert innocent == sorted(n * n for n in range(len(KINDS)) for _ in range(6))


@pytest.mark.parametrize("loop", sorted(LOOPS))
@pytest.mark.parametrize("bounded", [False, True], ids=["unbounded", "bounded"])
@pytest.mark.parametrize("backend", ["thread", "process"])
def test_a_base_exception_from_a_job_reaches_only_its_caller_as_itself(
    backend: str, bounded: bool, loop: str, tmp_path: Path
) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        try:
            settled = runner.run(_run(backend, bounded, tmp_path))
        except BaseException as escaped:  # what escaped the loop is the finding
            pytest.fail(f"{escaped!r} escaped into the event loop")
    _check(settled)
