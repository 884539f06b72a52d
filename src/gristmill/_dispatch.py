"""Runs one batch on one lease: chunked submission, per-chunk settlement.

::

    items ──► chunk_sizes() ──► chunk 1 ──submit──► worker: run_calls / run_pickled
                           └──► chunk 2 ──submit──► worker ...
    chunk done (worker thread) ──call_soon_threadsafe──► settle each item ──► caller futures
    all chunks settled (or the batch is aborted) ──► lease.release()

Every item handed to :func:`run_batch` is settled exactly once through the
``settle`` callback, whatever happens: success, its own exception, a chunk-level
failure (broken pool, revoked lease), a submit that fails part-way, or the
batch being aborted by ``stop(cancel_pending=True)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, Protocol

from ._batching import chunk_sizes
from ._errors import LeaseExpiredError
from ._job import Job
from ._worker import Dumps, Outcome, decode_outcomes, encode_calls, run_calls, run_pickled

__all__ = ["LeaseLike", "Settle", "run_batch"]


class LeaseLike(Protocol):
    """What a batch needs from a lease: an executor to submit to, and a way back."""

    @property
    def executor(self) -> Executor: ...

    async def release(self) -> None: ...


Settle = Callable[[Sequence[Job], Iterable[Outcome]], None]
"""Resolves items with their outcomes, pairwise; owning loop only."""


async def run_batch(
    lease: LeaseLike,
    items: list[Job],
    *,
    workers: int,
    dumps: Dumps | None,
    settle: Settle,
    abort: asyncio.Future[None],
    on_drained: Callable[[], None],
    item_seconds: float | None,
    observe: Callable[[list[Job], float], None],
) -> None:
    """Run ``items`` on ``lease`` and release it when every chunk has settled.

    ``abort`` is done once the grinder stops with ``cancel_pending=True``: the
    batch then cancels its callers' futures and the chunks that have not
    started, and returns the lease without waiting for chunks still running.
    The grinder never cancels a batch task itself: a task cancelled before its
    first step would skip this function, stranding its callers and its lease.
    ``dumps`` pickles chunks for backends whose payloads cross a process
    boundary, and is ``None`` for in-process (thread) pools. ``on_drained``
    is called once no item of the batch is left to settle, just before the
    lease goes back. ``item_seconds`` (the recent run time per
    item, if known) sizes the chunks; ``observe`` receives each chunk's jobs
    and the time they took to run.
    """
    loop = asyncio.get_running_loop()
    all_settled = loop.create_future()
    unsettled = 0
    submitted: list[Future[Any]] = []

    def chunk_settled() -> None:
        nonlocal unsettled
        unsettled -= 1
        if unsettled == 0 and not all_settled.done():
            all_settled.set_result(None)

    try:
        if abort.done():
            _abandon(items, submitted)
            _fail(settle, items, asyncio.CancelledError())
            return
        start = 0
        for size in chunk_sizes(len(items), workers, item_seconds):
            chunk = items[start : start + size]
            start += size
            worker_fn, payload, runnable = _prepare_chunk(chunk, dumps, settle)
            if not runnable:
                continue
            try:
                future = lease.executor.submit(_timed, worker_fn, payload)
            except BaseException as exc:  # the rest of the batch never reached the executor
                _fail(settle, [*runnable, *items[start:]], exc)
                break
            unsettled += 1
            submitted.append(future)
            future.add_done_callback(
                partial(_deliver, loop, runnable, dumps is not None, settle, chunk_settled, observe)
            )
        if unsettled:
            await asyncio.wait((all_settled, abort), return_when=asyncio.FIRST_COMPLETED)
            if not all_settled.done():
                _abandon(items, submitted)
    except asyncio.CancelledError:
        _abandon(items, submitted)
        raise
    finally:
        on_drained()
        await lease.release()


def _abandon(items: list[Job], submitted: list[Future[Any]]) -> None:
    """Cancel the callers' futures and every chunk that has not started.

    Chunks already running finish in their own time; their outcomes reach
    ``settle`` as usual and are counted as cancelled.
    """
    for job in items:
        job.cancel()
    for future in submitted:
        future.cancel()


def _prepare_chunk(
    chunk: list[Job], dumps: Dumps | None, settle: Settle
) -> tuple[Callable[[Any], Any], Any, list[Job]]:
    """Return the worker function and payload to submit, and the items they carry.

    On cross-process backends an item that will not pickle is settled with its
    own error here and left out of the payload, so no item is settled twice if
    the submit itself then fails.
    """
    if dumps is None:
        return _run_items, chunk, chunk
    calls = [(job.fn, job.args, job.kwargs) for job in chunk]
    payload, bad = encode_calls(calls, dumps)
    bad_index = {index for index, _ in bad}
    settle([chunk[index] for index, _ in bad], [(False, exc) for _, exc in bad])
    runnable = [item for index, item in enumerate(chunk) if index not in bad_index]
    return run_pickled, payload, runnable


def _timed(run: Callable[[Any], Any], payload: Any) -> tuple[Any, float]:
    """Worker side of every chunk: run it and say how long the work took."""
    started = time.perf_counter()
    result = run(payload)
    return result, time.perf_counter() - started


def _run_items(items: list[Job]) -> list[Outcome]:
    """Thread-backend chunk: runs in the pool thread, so the loop does none of this work."""
    return run_calls([(job.fn, job.args, job.kwargs) for job in items])


def _fail(settle: Settle, items: Sequence[Job], exc: BaseException) -> None:
    """Settle every item in ``items`` with the same exception."""
    settle(items, [(False, exc)] * len(items))


def _deliver(
    loop: asyncio.AbstractEventLoop,
    chunk: list[Job],
    cross_process: bool,
    settle: Settle,
    chunk_settled: Callable[[], None],
    observe: Callable[[list[Job], float], None],
    future: Future[Any],
) -> None:
    """Chunk future callback (any thread): settle the chunk on the owning loop."""
    with contextlib.suppress(RuntimeError):  # loop closed: nothing left to resolve
        loop.call_soon_threadsafe(
            _settle_chunk, future, chunk, cross_process, settle, chunk_settled, observe
        )


def _settle_chunk(
    future: Future[Any],
    chunk: list[Job],
    cross_process: bool,
    settle: Settle,
    chunk_settled: Callable[[], None],
    observe: Callable[[list[Job], float], None],
) -> None:
    try:
        if future.cancelled():
            error: BaseException = LeaseExpiredError(
                "the lease was revoked before this item ran; its pool was retired"
            )
            outcomes = [(False, error)] * len(chunk)
        elif (exc := future.exception()) is not None:
            outcomes = [(False, exc)] * len(chunk)
        else:
            result, elapsed = future.result()
            observe(chunk, elapsed)
            outcomes = decode_outcomes(result) if cross_process else result
    except Exception as exc:  # e.g. a result that pickled but will not unpickle here
        outcomes = [(False, exc)] * len(chunk)
    settle(chunk, outcomes)
    chunk_settled()
