"""Runs one batch on one lease: chunked submission, per-chunk settlement, salvage.

::

    items ──► chunk_sizes() ──► chunk 1 ──submit──► worker: call_each / run_pickled
                           └──► chunk 2 ──submit──► worker ...      │ posts progress
    chunk done (worker thread) ──call_soon_threadsafe──► settle each item ──► caller futures
    chunk lost (pool broke, killed, revoked) ──► salvage: requeue or fail, item by item
    all chunks settled (or the batch is aborted) ──► lease.release()

Every item handed to :func:`run_batch` leaves it exactly once: settled through
``settle`` (success, its own exception, a chunk-level failure, the batch
aborted by ``stop(cancel_pending=True)``) or handed to ``requeue`` to run
again in a later batch. A chunk is *lost* when its executor broke, was killed,
or was retired with the chunk still queued: the batch reads the progress
board (which item was running, and was it alone in the pool?) and
:mod:`gristmill._salvage` decides each item's fate. While items with a run
timeout are running, the batch watches the board and kills the pool when one
overruns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from ._batching import chunk_sizes
from ._clock import Clock
from ._errors import LeaseExpiredError
from ._job import Job
from ._progress import NOT_STARTED, ProgressBoard
from ._salvage import Loss, sort_lost
from ._source import LeaseLike
from ._worker import Dumps, Outcome, call_each, decode_outcomes, encode_calls, run_pickled

__all__ = ["BatchContext", "Settle", "run_batch"]


Settle = Callable[[Sequence[Job], Iterable[Outcome], float, bool], None]
"""Resolves items with their outcomes, pairwise; owning loop.

Also given when their batch started, and whether the failures are the
grinder's own timeouts (run timeouts), which are counted apart from errors
the items raised themselves.
"""


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What every batch of one grinder shares.

    Attributes:
        workers: Workers behind each lease, to size the chunks.
        dumps: Pickles chunks for backends whose payloads cross a process
            boundary; ``None`` for in-process (thread) pools.
        board: Where process workers post progress, if the backend has one.
        settle: Resolves items.
        requeue: Takes lost items back into the queue.
        observe: Receives each chunk's items and the time they took to run.
        clock: The manager's clock, to tell a revoked lease from a crash.
        max_retries: Attempts an item may be charged before it fails.
    """

    workers: int
    dumps: Dumps | None
    board: ProgressBoard | None
    settle: Settle
    requeue: Callable[[list[Job]], None]
    observe: Callable[[list[Job], float], None]
    clock: Clock
    max_retries: int


@dataclass(slots=True)
class _Chunk:
    jobs: list[Job]
    slot: int
    future: Future[Any] | None = None


async def run_batch(
    context: BatchContext,
    lease: LeaseLike,
    items: list[Job],
    *,
    abort: asyncio.Future[None],
    on_drained: Callable[[], None],
    item_seconds: float | None,
    timed: bool = True,
) -> int:
    """Run ``items`` on ``lease``, release it when every chunk has settled; return items requeued.

    ``abort`` is done once the grinder stops with ``cancel_pending=True``: the
    batch then cancels its callers' futures and the chunks that have not
    started, and returns the lease without waiting for chunks still running.
    The grinder never cancels a batch task itself: a task cancelled before its
    first step would skip this function, stranding its callers and its lease.
    ``on_drained`` is called once no item of the batch is left to settle,
    just before the lease goes back. ``item_seconds`` (the recent run time per
    item, if known) sizes the chunks. ``timed=False`` promises that no item
    has a run timeout, which spares a look at each.
    """
    batch = _Batch(context, lease, items, timed)
    try:
        if abort.done():
            batch.abandon()
            batch.fail(items, asyncio.CancelledError())  # counted as cancelled
            return 0
        batch.submit_all(item_seconds)
        await batch.watch(abort)
    except asyncio.CancelledError:
        batch.abandon()
        raise
    finally:
        on_drained()
        await lease.release()
    return batch.requeued


class _Batch:
    """One batch in flight: its chunks, what is still unsettled, and its watchdog."""

    def __init__(
        self, context: BatchContext, lease: LeaseLike, items: list[Job], timed: bool
    ) -> None:
        self.context = context
        self.lease = lease
        self.items = items
        self.started_at = context.clock.time()
        self.chunks: list[_Chunk] = []
        self.unsettled = 0
        self.all_settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.requeued = 0
        timeouts = (
            [job.run_timeout for job in items if job.run_timeout is not None] if timed else []
        )
        self.min_timeout = min(timeouts) if timeouts else None
        self.killed = False  # for a run timeout
        self.ran = False  # an item was seen to start on the pool
        self.victims: dict[Job, bool] = {}  # running when killed -> overran?
        self.lone_runner: frozenset[Job] | None = None  # see _running_at_loss

    def submit_all(self, item_seconds: float | None) -> None:
        """Cut the batch into chunks and submit them; settle what never gets there."""
        context, items = self.context, self.items
        loop = asyncio.get_running_loop()
        board = context.board if context.dumps is not None else None
        start = 0
        for size in chunk_sizes(len(items), context.workers, item_seconds):
            chunk = items[start : start + size]
            start += size
            worker_fn, payload, runnable = self._prepare(chunk)
            if not runnable:
                continue
            record = _Chunk(runnable, board.claim() if board is not None else -1)
            try:
                record.future = self.lease.executor.submit(_timed, worker_fn, payload, record.slot)
            except BaseException as exc:  # the rest of the batch never reached the executor
                self._release_slot(record)
                self._never_ran([*runnable, *items[start:]], exc)
                return
            self.unsettled += 1
            self.chunks.append(record)
            record.future.add_done_callback(partial(_deliver, loop, self, record))

    async def watch(self, abort: asyncio.Future[None]) -> None:
        """Wait for every chunk, killing the pool if an item overruns its run timeout.

        Without a run timeout to watch, the batch awaits ``all_settled`` itself,
        which the last chunk completes before it settles its items, so the
        lease goes back before their callers resume (as in leasepool).
        """
        wake = partial(_complete, self.all_settled)  # an abort wakes the batch too
        abort.add_done_callback(wake)
        try:
            await self._watch(abort)
        finally:
            abort.remove_done_callback(wake)

    async def _watch(self, abort: asyncio.Future[None]) -> None:
        while self.unsettled:
            wait = self._next_check()
            if wait is None:
                await self.all_settled
            else:
                await asyncio.wait(
                    (self.all_settled, abort), timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
            if not self.unsettled:
                return
            if abort.done():
                self.abandon()
                if self.min_timeout is not None and self.context.board is not None:
                    # Nothing will watch the abandoned chunks: stop them now rather
                    # than let a hung item hold its pool past its run timeout.
                    self.killed = True
                    await self.lease.retire()
                return
            if wait is not None and self._find_overruns():
                self.killed = True
                await self.lease.retire()

    def abandon(self) -> None:
        """Cancel the callers' futures and every chunk that has not started.

        Chunks already running finish in their own time; their outcomes reach
        ``settle`` as usual and are counted as cancelled.
        """
        for job in self.items:
            job.cancel()
        for record in self.chunks:
            if record.future is not None:
                record.future.cancel()

    def chunk_done(self, record: _Chunk) -> None:
        """Owning loop: settle or salvage a finished chunk."""
        future = record.future
        assert future is not None
        jobs = record.jobs
        if self.unsettled == 1:  # the last chunk: wake the batch ahead of the callers
            _complete(self.all_settled)
        try:
            if future.cancelled():
                self._salvage(record, None, started=False)
            elif isinstance(exc := future.exception(), BrokenExecutor) or (
                exc is not None and self._pool_taken()
            ):  # some executors fail killed work with errors of their own
                self._salvage(record, exc, started=True)
            elif exc is not None:
                self.fail(jobs, exc)
            else:
                result, elapsed = future.result()
                self.ran = True
                self.context.observe(jobs, elapsed)
                outcomes = decode_outcomes(result) if self.context.dumps else result
                self.context.settle(jobs, outcomes, self.started_at, False)
        except Exception as exc:  # e.g. a result that pickled but will not unpickle here
            self.fail([job for job in jobs if not job.done()], exc)
        finally:
            self._release_slot(record)
            self.unsettled -= 1

    def _prepare(self, chunk: list[Job]) -> tuple[Callable[..., Any], Any, list[Job]]:
        """Return the worker function and payload to submit, and the items they carry.

        On cross-process backends an item that will not pickle is settled with
        its own error here and left out of the payload, so no item is settled
        twice if the submit itself then fails.
        """
        dumps = self.context.dumps
        if dumps is None:
            return _run_items, chunk, chunk
        payload, bad = encode_calls([(job.fn, job.args, job.kwargs) for job in chunk], dumps)
        if not bad:
            return run_pickled, payload, chunk
        bad_index = {index for index, _ in bad}
        self.context.settle(
            [chunk[index] for index, _ in bad],
            [(False, exc) for _, exc in bad],
            self.started_at,
            False,
        )
        return run_pickled, payload, [job for i, job in enumerate(chunk) if i not in bad_index]

    def _never_ran(self, jobs: list[Job], exc: BaseException) -> None:
        """A submit failed: the items go back if the pool was taken away, else they fail.

        A revoked lease, or a pool broken by an item that ran, is no fault of
        these items. A pool broken before anything ran on it would break again
        for them, so they fail with its error instead of looping.
        """
        if isinstance(exc, LeaseExpiredError) or (
            isinstance(exc, BrokenExecutor) and self._pool_ran()
        ):
            self._requeue(jobs)
        else:
            self.fail(jobs, exc)

    def _salvage(self, record: _Chunk, cause: BaseException | None, *, started: bool) -> None:
        """A chunk was lost with its pool: gather what is known and let ``sort_lost`` decide.

        A pool that broke before any item of the batch started (a failing
        initializer, workers that could not boot) fails the items with its
        error: running them again elsewhere would only break the next pool.
        Without a progress board that cannot be seen, except that a batch of
        one item (a suspect's lone retry) is taken to have started it.
        """
        lone_retry = self.context.board is None and len(self.items) == 1
        loss = Loss(
            cause=cause,
            running=self._running_index(record) if started else NOT_STARTED,
            stillborn=started and not lone_retry and not self._pool_ran(),
            victims=self.victims if self.killed else None,
            lone=self._running_at_loss() if started else frozenset(),
            revoked=self._pool_taken(),
            max_retries=self.context.max_retries,
        )
        verdicts = sort_lost(record.jobs, loss)
        self._requeue(verdicts.again)
        if verdicts.failed:
            self.context.settle(verdicts.failed, verdicts.errors, self.started_at, False)
        if verdicts.timed_out:
            self.context.settle(verdicts.timed_out, verdicts.timeouts, self.started_at, True)

    def _running_at_loss(self) -> frozenset[Job]:
        """The item running alone in the pool when it died, or nothing if several (or unknown).

        Read once, at the first lost chunk: the pool is dead, so the board no
        longer moves, and chunks settled later still hold their slots.
        """
        if self.lone_runner is None:
            board = self.context.board
            if board is None:
                running = self.items if len(self.items) == 1 else []
            else:
                running = [job for _, job, _ in self._running(board, include_done=True)]
            self.lone_runner = frozenset(running) if len(running) == 1 else frozenset()
        return self.lone_runner

    def _pool_taken(self) -> bool:
        """Whether the pool was killed for a run timeout or revoked at its lease's expiry."""
        return self.killed or self.context.clock.time() >= self.lease.hard_expires_at

    def _pool_ran(self) -> bool:
        """Whether any item of this batch was seen to start on the pool."""
        board = self.context.board
        if not self.ran and board is not None:
            self.ran = any(
                board.read(chunk.slot)[0] != NOT_STARTED for chunk in self.chunks if chunk.slot >= 0
            )
        return self.ran

    def _running_index(self, record: _Chunk) -> int | None:
        """Which item of a lost chunk was running; ``None`` when nobody can tell."""
        board = self.context.board
        if board is None or record.slot < 0:
            return None
        return board.read(record.slot)[0]

    def _next_check(self) -> float | None:
        """Seconds until an item could first overrun, or ``None`` if none has a run timeout."""
        board = self.context.board
        if self.min_timeout is None or board is None or self.killed:
            return None
        now = time.monotonic()
        soonest = now + self.min_timeout  # an item starting right now
        for _, job, started in self._running(board):
            if job.run_timeout is not None:
                soonest = min(soonest, started + job.run_timeout)
        return max(0.0, soonest - now) + 0.001

    def _find_overruns(self) -> bool:
        """Mark the items running now as victims; return whether any overran."""
        board = self.context.board
        assert board is not None
        now = time.monotonic()
        running = list(self._running(board))
        overran = False
        for _, job, started in running:
            late = job.run_timeout is not None and now - started >= job.run_timeout
            overran = overran or late
        if overran:
            self.victims = {
                job: job.run_timeout is not None and now - started >= job.run_timeout
                for _, job, started in running
            }
        return overran

    def _running(
        self, board: ProgressBoard, *, include_done: bool = False
    ) -> Iterable[tuple[_Chunk, Job, float]]:
        """Yield ``(chunk, item, started)`` for each item the board shows running.

        Chunks whose future is done are skipped unless ``include_done`` (their
        pool died and the board shows where they stopped).
        """
        for record in self.chunks:
            if record.slot < 0 or record.future is None:
                continue
            if record.future.done() and not include_done:
                continue
            index, started = board.read(record.slot)
            if 0 <= index < len(record.jobs):
                yield record, record.jobs[index], started

    def _requeue(self, jobs: list[Job]) -> None:
        gone = [job for job in jobs if job.done()]  # cancelled while in flight
        if gone:
            self.fail(gone, asyncio.CancelledError())
            jobs = [job for job in jobs if not job.done()]
        if jobs:
            self.requeued += len(jobs)
            self.context.requeue(jobs)

    def fail(self, jobs: Sequence[Job], exc: BaseException | None) -> None:
        """Settle every item in ``jobs`` with the same exception."""
        self.context.settle(jobs, [(False, exc)] * len(jobs), self.started_at, False)

    def _release_slot(self, record: _Chunk) -> None:
        board = self.context.board
        if board is not None and record.slot >= 0:
            board.release(record.slot)
            record.slot = -1


def _complete(done: asyncio.Future[None], *_: object) -> None:
    if not done.done():
        done.set_result(None)


def _timed(run: Callable[[Any, int], Any], payload: Any, slot: int) -> tuple[Any, float]:
    """Worker side of every chunk: run it and say how long the work took."""
    started = time.perf_counter()
    result = run(payload, slot)
    return result, time.perf_counter() - started


def _run_items(items: list[Job], slot: int) -> list[Outcome]:
    """Thread-backend chunk: runs in the pool thread, so the loop does none of this work."""
    return call_each([(job.fn, job.args, job.kwargs) for job in items])


def _deliver(
    loop: asyncio.AbstractEventLoop, batch: _Batch, record: _Chunk, future: Future[Any]
) -> None:
    """Chunk future callback (any thread): settle the chunk on the owning loop."""
    with contextlib.suppress(RuntimeError):  # loop closed: nothing left to resolve
        loop.call_soon_threadsafe(batch.chunk_done, record)
