"""The pure decision for the items of a lost chunk (``gristmill._salvage.sort_lost``).

Jobs are real futures on a throwaway loop, never awaited; the decision only reads
their state and marks ``attempts`` and ``suspect``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor

import pytest

from gristmill import LeaseExpiredError, WorkerCrashedError
from gristmill._job import Job
from gristmill._progress import NOT_STARTED
from gristmill._salvage import Loss, sort_lost

CRASH = BrokenExecutor("a process in the pool died")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def jobs(loop: asyncio.AbstractEventLoop, count: int) -> list[Job]:
    made = []
    for _ in range(count):
        job = Job(loop=loop)
        job.attempts, job.suspect, job.run_timeout, job.on_cancel = 0, False, None, None
        made.append(job)
    return made


def loss(**changes: object) -> Loss:
    facts: dict[str, object] = {
        "cause": CRASH,
        "running": 1,
        "stillborn": False,
        "victims": None,
        "lone": frozenset(),
        "revoked": False,
        "max_retries": 1,
    }
    facts.update(changes)
    return Loss(**facts)  # type: ignore[arg-type]


def test_the_lone_runner_is_charged_and_everyone_else_goes_back_uncharged(
    loop: asyncio.AbstractEventLoop,
) -> None:
    chunk = jobs(loop, 3)
    verdicts = sort_lost(chunk, loss(running=1, lone=frozenset({chunk[1]})))
    assert verdicts.again == chunk
    assert [job.attempts for job in chunk] == [0, 1, 0]
    assert [job.suspect for job in chunk] == [False, True, False]
    assert verdicts.failed == verdicts.timed_out == []


def test_a_runner_beside_others_becomes_an_uncharged_suspect(
    loop: asyncio.AbstractEventLoop,
) -> None:
    chunk = jobs(loop, 2)
    verdicts = sort_lost(chunk, loss(running=0, lone=frozenset()))
    assert verdicts.again == chunk
    assert (chunk[0].attempts, chunk[0].suspect) == (0, True)


def test_with_no_board_every_item_is_a_suspect(loop: asyncio.AbstractEventLoop) -> None:
    chunk = jobs(loop, 3)
    verdicts = sort_lost(chunk, loss(running=None))
    assert verdicts.again == chunk
    assert all(job.suspect and job.attempts == 0 for job in chunk)


def test_a_spent_crasher_fails_with_worker_crashed_error_naming_the_cause(
    loop: asyncio.AbstractEventLoop,
) -> None:
    (job,) = jobs(loop, 1)
    job.attempts = 1
    verdicts = sort_lost([job], loss(running=0, lone=frozenset({job}), max_retries=1))
    assert verdicts.failed == [job]
    error = verdicts.errors[0][1]
    assert isinstance(error, WorkerCrashedError)
    assert error.__cause__ is CRASH
    assert "2 times, max_retries=1" in str(error)


def test_a_spent_item_of_a_revoked_lease_fails_with_lease_expired_error(
    loop: asyncio.AbstractEventLoop,
) -> None:
    (job,) = jobs(loop, 1)
    verdicts = sort_lost([job], loss(running=0, lone=frozenset({job}), max_retries=0, revoked=True))
    error = verdicts.errors[0][1]
    assert isinstance(error, LeaseExpiredError)
    assert "longer lease_seconds" in str(error)


def test_a_stillborn_pool_fails_every_item_with_its_error(loop: asyncio.AbstractEventLoop) -> None:
    chunk = jobs(loop, 2)
    verdicts = sort_lost(chunk, loss(stillborn=True))
    assert verdicts.failed == chunk
    assert verdicts.errors == [(False, CRASH), (False, CRASH)]
    assert verdicts.again == []


def test_a_kill_for_a_run_timeout_times_out_the_runners_and_requeues_the_rest(
    loop: asyncio.AbstractEventLoop,
) -> None:
    chunk = jobs(loop, 3)
    chunk[0].run_timeout = 2.0
    verdicts = sort_lost(chunk, loss(victims={chunk[0]: True, chunk[1]: False}))
    assert verdicts.timed_out == chunk[:2]
    overran, beside = (outcome[1] for outcome in verdicts.timeouts)
    assert isinstance(overran, TimeoutError)
    assert "run timeout of 2 s" in str(overran)
    assert "another item of its batch overran" in str(beside)
    assert verdicts.again == [chunk[2]]
    assert all(job.attempts == 0 for job in chunk)


def test_an_item_cancelled_meanwhile_is_settled_as_cancelled(
    loop: asyncio.AbstractEventLoop,
) -> None:
    chunk = jobs(loop, 2)
    chunk[1].cancel()
    verdicts = sort_lost(chunk, loss(running=NOT_STARTED))
    assert verdicts.again == [chunk[0]]
    assert verdicts.failed == [chunk[1]]
    assert isinstance(verdicts.errors[0][1], asyncio.CancelledError)
