"""Items that cannot cross the process boundary fail alone, with a clear UnpicklableError.

The jobs are enqueued without yielding, so they form one batch; good and bad
items alternate, so every chunk of that batch holds both kinds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from gristmill import LeasedExecutorManager, RemoteTraceback, UnpicklableError, WorkGrinder
from tests.process import jobs

Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


async def _run_alternating(grinder: WorkGrinder, bad: list[Job]) -> list[object]:
    """Run each bad job followed by a good one; check the good ones, return the bad outcomes.

    With 2 workers a batch is cut into 4 chunks, so 4 or more bad jobs put a
    bad and a good job side by side in every chunk.
    """
    futures: list[asyncio.Future[Any]] = []
    for i, (fn, args, kwargs) in enumerate(bad):
        futures.append(await grinder.enqueue(fn, *args, **kwargs))
        futures.append(await grinder.enqueue(jobs.square, i))
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[1::2] == [i * i for i in range(len(bad))]
    stats = await grinder.astats()
    assert stats["batches"] == 1
    # A bad item is its own failure, not a lost worker: nothing ran again.
    assert (stats["failed"], stats["retried"]) == (len(bad), 0), stats
    return outcomes[0::2]


async def test_unpicklable_arguments_fail_only_their_own_item(
    process_grinder: WorkGrinder,
) -> None:
    bad: list[Job] = [
        (jobs.describe, (lambda: None,), {}),
        (jobs.describe, (threading.Lock(),), {}),
        (jobs.describe, (1,), {"label": threading.Lock()}),
        (lambda: 1, (), {}),
    ]
    errors = await _run_alternating(process_grinder, bad)

    for error in errors:
        assert isinstance(error, UnpicklableError)
        assert isinstance(error, TypeError)
        assert "cannot be pickled" in str(error)
    assert "positional argument #1 (a function " in str(errors[0])
    assert "<lambda>" in str(errors[0])
    assert "positional argument #1 (a _thread.lock)" in str(errors[1])
    assert "keyword argument 'label' (a _thread.lock)" in str(errors[2])
    assert "the function " in str(errors[3])
    assert "<lambda>" in str(errors[3])
    assert "top level of a module" in str(errors[3])


async def test_unpicklable_results_and_exceptions_fail_only_their_own_item(
    process_manager: LeasedExecutorManager, process_grinder: WorkGrinder
) -> None:
    bad: list[Job] = [
        (jobs.return_lock, (), {}),
        (jobs.return_generator, (), {}),
        (jobs.raise_two_arg_error, (), {}),
        (jobs.return_lambda, (), {}),
    ]
    errors = await _run_alternating(process_grinder, bad)

    lock_error, generator_error, exception_error, lambda_error = errors
    assert isinstance(lock_error, UnpicklableError)
    assert "the result (a _thread.lock)" in str(lock_error)
    assert "return picklable data" in str(lock_error)
    assert isinstance(generator_error, UnpicklableError)
    assert "the result (a generator)" in str(generator_error)
    assert isinstance(exception_error, UnpicklableError)
    assert "the exception (a " in str(exception_error)
    assert "TwoArgError)" in str(exception_error)
    # The original error and where it was raised are kept as the remote traceback.
    cause = exception_error.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "raise_two_arg_error" in cause.text
    assert "code 7: bad input" in cause.text
    assert isinstance(lambda_error, UnpicklableError)
    assert "the result (a function return_lambda.<locals>.<lambda>)" in str(lambda_error)
    # The worker survived every bad result: its pool was never replaced.
    assert process_manager.stats()["pools_created"] == 1


async def test_result_that_pickles_but_does_not_unpickle_fails_only_its_item(
    process_grinder: WorkGrinder,
) -> None:
    errors = await _run_alternating(process_grinder, [(jobs.return_two_arg_error, (), {})] * 4)

    for error in errors:
        assert isinstance(error, UnpicklableError)
        assert "result" in str(error)
        assert "TwoArgError" in str(error)


async def test_arguments_that_pickle_but_do_not_unpickle_fail_only_their_own_item(
    process_grinder: WorkGrinder,
) -> None:
    bad: list[Job] = [
        (jobs.describe, (jobs.TwoArgError(1, "as an argument"),), {}),
        (jobs.describe, (1,), {"label": jobs.Unloadable()}),
        (jobs.describe, (2, jobs.Unloadable()), {}),
        (jobs.describe, (jobs.Unloadable(),), {}),
    ]
    errors = await _run_alternating(process_grinder, bad)

    for error in errors:
        assert isinstance(error, UnpicklableError)
        assert "was pickled in the parent but cannot be unpickled in the worker" in str(error)
        assert isinstance(error.__cause__, RemoteTraceback)
    assert "positional argument #1 (a tests.process.jobs.TwoArgError)" in str(errors[0])
    assert "missing 1 required positional argument" in str(errors[0])
    assert "keyword argument 'label' (a tests.process.jobs.Unloadable)" in str(errors[1])
    assert "RuntimeError: refusing to be rebuilt" in str(errors[1])
    assert "positional argument #2 (a tests.process.jobs.Unloadable)" in str(errors[2])
    assert "positional argument #1 (a tests.process.jobs.Unloadable)" in str(errors[3])
    # The pool survived: the next job runs normally.
    assert await process_grinder.submit(jobs.square, 9) == 81
