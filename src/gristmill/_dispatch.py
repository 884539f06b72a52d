"""Runs one batch on one lease: chunked submission, per-chunk settlement, salvage.

::

    items ──► chunk_sizes() ──► chunk 1 ──submit──► worker: call_each / run_pickled
                           └──► chunk 2 ──submit──► worker ...      │ posts progress
    chunk done (worker thread) ──post()──► settle each item ──► caller futures
    chunk lost (pool broke, killed, revoked) ──► salvage: requeue or fail, item by item
    all chunks settled (or the batch is aborted) ──► return; the engine releases the lease

Every item handed to :func:`dispatch_batch` leaves it exactly once, through its
:class:`BatchOwner`: settled (success, its own exception, a chunk-level
failure, the batch aborted by ``stop(cancel_pending=True)``) or requeued to
run again in a later batch. A chunk is *lost* when its executor broke, was
killed, or was retired with the chunk still queued: the batch reads the
progress board through :class:`~gristmill._chunks.Chunks` and
:func:`~gristmill._salvage.sort_lost` decides each item's fate. While items
with a run timeout are running, a :class:`~gristmill._watchdog.Watchdog`
tells the batch when to kill the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

from ._batched import BatchFunction, plan_calls
from ._batching import chunk_sizes
from ._bridge import post
from ._chunks import Chunk, Chunks
from ._clock import Clock, stopwatch
from ._context import Carrier
from ._errors import LeaseExpiredError, NotStartedError
from ._job import Job, items_in
from ._progress import NOT_STARTED, ProgressBoard
from ._salvage import Loss, sort_lost
from ._source import LeaseLike
from ._watchdog import Watchdog
from ._worker import (
    Call,
    Dumps,
    Outcome,
    call_each,
    decode_outcomes,
    encode_calls,
    run_call,
    run_pickled,
    run_pickled_call,
)

__all__ = ["BatchContext", "BatchOwner", "Dispatched", "dispatch_batch"]


class BatchOwner(Protocol):
    """What a batch reports back to the grinder that launched it. Owning loop."""

    def settle(
        self,
        jobs: Sequence[Job],
        outcomes: Iterable[Outcome],
        *,
        started: float,
        timed_out: bool = False,
    ) -> None:
        """Resolve ``jobs`` with ``outcomes``, pairwise; ``started`` is when the batch began.

        ``timed_out``: the failures are the grinder's own run timeouts.
        """

    def requeue(self, jobs: list[Job]) -> None:
        """Take back items whose pool was lost under them, to run in a later batch."""

    def observe(self, jobs: list[Job], *, seconds: float) -> None:
        """Learn that ``jobs`` ran, one after another, in ``seconds``."""

    def called(self, function: BatchFunction[Any, Any], *, items: int, calls: int) -> None:
        """A batch function ran over ``items`` items in ``calls`` calls (splits included)."""

    def drained(self) -> None:
        """The batch has nothing left to settle."""


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What every batch of one grinder shares.

    Attributes:
        owner: Where the batch reports settled, lost and timed items.
        workers: Workers behind each lease, to size the chunks.
        dumps: Pickles chunks for backends whose payloads cross a process
            boundary; ``None`` for in-process (thread) pools.
        board: Where process workers post progress, if the backend has one.
        clock: The manager's clock, to tell a revoked lease from a crash.
        max_retries: Attempts an item may be charged before it fails.
        carrier: Ships each item's chosen context variables and trace context
            to process workers; ``None`` when there is nothing to ship.
    """

    owner: BatchOwner
    workers: int
    dumps: Dumps | None
    board: ProgressBoard | None
    clock: Clock
    max_retries: int
    carrier: Carrier | None = None


class Dispatched(NamedTuple):
    """What became of a batch, for its span and log line.

    Attributes:
        requeued: Items handed back to run in a later batch.
        chunks: Chunks submitted to the executor.
    """

    requeued: int
    chunks: int


async def dispatch_batch(
    context: BatchContext,
    lease: LeaseLike,
    items: list[Job],
    *,
    abort: asyncio.Future[None],
    item_seconds: float | None,
    timed: bool = True,
    grouped: bool = False,
) -> Dispatched:
    """Run ``items`` on ``lease`` until every chunk has settled; say how it went.

    ``abort`` is done once the grinder stops with ``cancel_pending=True``: the
    batch then cancels its callers' futures and the chunks that have not
    started, and returns without waiting for chunks still running. The
    grinder never cancels a batch task itself, so a cancellation means the
    loop is shutting down: the items still pending fail with
    ``NotStartedError``. ``item_seconds`` (the recent run time per item, if
    known) sizes the chunks. ``timed=False`` promises that no item has a run
    timeout, which spares a look at each; ``grouped=False``, that none
    belongs to a batch function. The caller releases the lease.
    """
    batch = _Batch(context, lease, items, timed)
    try:
        if abort.done():
            batch.abandon()
        else:
            batch.submit_all(item_seconds, grouped=grouped)
            await batch.watch(abort)
    except asyncio.CancelledError:
        batch.abandon(NotStartedError("the event loop shut down while this item's batch ran"))
        raise
    finally:
        context.owner.drained()
    return Dispatched(requeued=batch.requeued, chunks=batch.chunks_sent)


class _Batch:
    """One batch in flight: submission, settlement, and the hand-offs to watchdog and salvage."""

    def __init__(
        self, context: BatchContext, lease: LeaseLike, items: list[Job], timed: bool
    ) -> None:
        self.context = context
        self.owner = context.owner
        self.lease = lease
        self.items = items
        self.started_at = context.clock.time()
        self.chunks = Chunks(context.board if context.dumps is not None else None)
        self.watchdog = Watchdog(self.chunks, items, timed=timed)
        self.unsettled = 0
        self.unsent = items  # until submit_all takes them
        self.all_settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.requeued = 0
        self.chunks_sent = 0

    def submit_all(self, item_seconds: float | None, *, grouped: bool) -> None:
        """Cut the batch into chunks and submit them; settle what never gets there.

        ``grouped``: some items may belong to batch functions, to be joined
        into calls (one chunk per call) before the rest is chunked.
        """
        self.unsent = []  # from here on, every item is settled or submitted below
        units = self._units(item_seconds, grouped)
        loop = asyncio.get_running_loop()
        for number, (jobs, call) in enumerate(units):
            worker_fn, payload, runnable = self._prepare(jobs, call)
            if not runnable:
                continue
            chunk = self.chunks.open(runnable, call)
            try:
                chunk.future = self.lease.executor.submit(_timed, worker_fn, payload, chunk.slot)
            except BaseException as exc:  # the rest of the batch never reached the executor
                self.chunks.close(chunk)
                rest = [job for later, _ in units[number + 1 :] for job in later]
                self._never_ran([*runnable, *rest], exc)
                return
            self.unsettled += 1
            self.chunks_sent += 1
            self.chunks.add(chunk)
            chunk.future.add_done_callback(partial(_deliver, loop, self, chunk))

    def _units(
        self, item_seconds: float | None, grouped: bool
    ) -> list[tuple[list[Job], BatchFunction[Any, Any] | None]]:
        """The batch's chunks: one per call of a batch function, then the plain items."""
        items = self.items
        units: list[tuple[list[Job], BatchFunction[Any, Any] | None]] = []
        singles = items
        if grouped:
            plan = plan_calls([job.fn for job in items], [job.args for job in items])
            for index, error in plan.refused:
                self.fail([items[index]], error)
            units = [([items[i] for i in members], call) for call, members in plan.calls]
            singles = [items[i] for i in plan.singles]
        start = 0
        for size in chunk_sizes(len(singles), self.context.workers, item_seconds):
            units.append((singles[start : start + size], None))
            start += size
        return units

    async def watch(self, abort: asyncio.Future[None]) -> None:
        """Wait for every chunk, killing the pool if an item overruns its run timeout.

        The last chunk completes ``all_settled`` before it settles its items,
        so the batch wakes ahead of their callers and the lease goes back
        before they resume (as in leasepool). An abort wakes the batch too.
        """
        wake = partial(_complete, self.all_settled)
        abort.add_done_callback(wake)
        try:
            await self._watch(abort)
        finally:
            abort.remove_done_callback(wake)

    async def _watch(self, abort: asyncio.Future[None]) -> None:
        watchdog = self.watchdog
        while self.unsettled:
            wait = watchdog.next_check()
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
                if watchdog.armed:
                    # Nothing will watch the abandoned chunks: stop them now rather
                    # than let a hung item hold its pool past its run timeout.
                    watchdog.killed = True
                    await self.lease.retire()
                return
            if wait is not None and watchdog.overran():
                await self.lease.retire()

    def abandon(self, error: BaseException | None = None) -> None:
        """Give up on the batch: fail (or cancel) the callers, cancel chunks not yet started.

        Items that never reached the executor are settled here. Chunks already
        running finish in their own time; their outcomes reach ``settle`` as
        usual and are counted as cancelled.
        """
        for job in self.items:
            if job.done():
                continue
            if error is None:
                job.cancel()
            else:
                job.set_exception(error)
        for chunk in self.chunks.records:
            if chunk.future is not None:
                chunk.future.cancel()
        unsent, self.unsent = self.unsent, []
        self.fail(unsent, asyncio.CancelledError())

    def chunk_done(self, chunk: Chunk) -> None:
        """Owning loop: settle or salvage a finished chunk."""
        future = chunk.future
        assert future is not None
        jobs = chunk.jobs
        if self.unsettled == 1:  # the last chunk: wake the batch ahead of the callers
            _complete(self.all_settled)
        try:
            if future.cancelled():
                self._salvage(chunk, None, started=False)
            elif isinstance(exc := future.exception(), BrokenExecutor) or (
                exc is not None and self._pool_taken()
            ):  # some executors fail killed work with errors of their own
                self._salvage(chunk, exc, started=True)
            elif exc is not None:
                self.fail(jobs, exc)
            else:
                result, elapsed = future.result()
                self.chunks.saw_results()
                self.owner.observe(jobs, seconds=elapsed)
                if chunk.call is not None:
                    result, calls = result
                    self.owner.called(chunk.call, items=len(jobs), calls=calls)
                outcomes = decode_outcomes(result) if self.context.dumps else result
                self.owner.settle(jobs, outcomes, started=self.started_at)
        except Exception as exc:  # e.g. a result that pickled but will not unpickle here
            self.fail([job for job in jobs if not job.done()], exc)
        finally:
            self.chunks.close(chunk)
            # A future keeps its done-callbacks, and ours holds the batch: drop the
            # chunk's link back to it, so a finished batch is freed at once, not by
            # the cycle collector.
            chunk.future = None
            self.unsettled -= 1

    def fail(self, jobs: Sequence[Job], exc: BaseException) -> None:
        """Settle every item in ``jobs`` with the same exception."""
        if jobs:
            self.owner.settle(jobs, [(False, exc)] * len(jobs), started=self.started_at)

    def _prepare(
        self, chunk: list[Job], call: BatchFunction[Any, Any] | None
    ) -> tuple[Callable[..., Any], Any, list[Job]]:
        """Return the worker function and payload to submit, and the items they carry.

        On cross-process backends an item that will not pickle (its call, or a
        context value it carries) is settled with its own error here and left
        out of the payload, so no item is settled twice if the submit itself
        then fails.
        """
        dumps, carrier = self.context.dumps, self.context.carrier
        if dumps is None:
            if call is None:
                return _run_items, chunk, chunk
            return run_call, (call, chunk), chunk
        if carrier is None or call is not None:  # a batch function's call carries no one context
            calls = [(job.fn, job.args, job.kwargs) for job in chunk]
        else:
            chunk, calls = self._carry(carrier, chunk)
        payload, bad = encode_calls(calls, dumps)
        worker_fn = run_pickled if call is None else run_pickled_call
        if not bad:
            return worker_fn, payload, chunk
        bad_index = {index for index, _ in bad}
        self.owner.settle(
            [chunk[index] for index, _ in bad],
            [(False, exc) for _, exc in bad],
            started=self.started_at,
        )
        return worker_fn, payload, [job for i, job in enumerate(chunk) if i not in bad_index]

    def _carry(self, carrier: Carrier, chunk: list[Job]) -> tuple[list[Job], list[Call]]:
        """Wrap each call with the context it carries; settle those whose context will not go."""
        jobs: list[Job] = []
        calls: list[Call] = []
        for job in chunk:
            call = carrier.carry(job)
            if isinstance(call, BaseException):
                self.owner.settle([job], [(False, call)], started=self.started_at)
            else:
                jobs.append(job)
                calls.append(call)
        return jobs, calls

    def _never_ran(self, jobs: list[Job], exc: BaseException) -> None:
        """A submit failed: the items go back if the pool was taken away, else they fail.

        A revoked lease, or a pool broken by an item that ran, is no fault of
        these items. A pool broken before anything ran on it would break again
        for them, so they fail with its error instead of looping.
        """
        if isinstance(exc, LeaseExpiredError) or (
            isinstance(exc, BrokenExecutor) and self.chunks.pool_ran()
        ):
            self._requeue(jobs)
        else:
            self.fail(jobs, exc)

    def _salvage(self, chunk: Chunk, cause: BaseException | None, *, started: bool) -> None:
        """A chunk was lost with its pool: gather what is known and let ``sort_lost`` decide.

        A pool that broke before any item of the batch started (a failing
        initializer, workers that could not boot) fails the items with its
        error: running them again elsewhere would only break the next pool.
        Without a progress board that cannot be seen, except that a batch of
        one item (a suspect's lone retry) is taken to have started it.
        """
        chunks, watchdog = self.chunks, self.watchdog
        lone_retry = not chunks.tracked and len(self.items) == 1
        loss = Loss(
            cause=cause,
            running=chunks.running_index(chunk) if started else NOT_STARTED,
            stillborn=started and not lone_retry and not chunks.pool_ran(),
            victims=watchdog.victims if watchdog.killed else None,
            lone=chunks.lone_runner(self.items) if started else frozenset(),
            revoked=self._pool_taken(),
            max_retries=self.context.max_retries,
        )
        verdicts = sort_lost(chunk.jobs, loss)
        self._requeue(verdicts.again)
        if verdicts.failed:
            self.owner.settle(verdicts.failed, verdicts.errors, started=self.started_at)
        if verdicts.timed_out:
            self.owner.settle(
                verdicts.timed_out, verdicts.timeouts, started=self.started_at, timed_out=True
            )

    def _pool_taken(self) -> bool:
        """Whether the pool was killed for a run timeout or revoked at its lease's expiry."""
        return self.watchdog.killed or self.context.clock.time() >= self.lease.hard_expires_at

    def _requeue(self, jobs: list[Job]) -> None:
        gone = [job for job in jobs if job.done()]  # cancelled while in flight
        if gone:
            self.fail(gone, asyncio.CancelledError())
            jobs = [job for job in jobs if not job.done()]
        if jobs:
            self.requeued += items_in(jobs)  # items, as the tally counts them
            self.owner.requeue(jobs)


def _complete(done: asyncio.Future[None], *_: object) -> None:
    """Resolve ``done`` unless it already is; also an ``abort`` done-callback."""
    if not done.done():
        done.set_result(None)


def _timed(run: Callable[[Any, int], Any], payload: Any, slot: int) -> tuple[Any, float]:
    """Worker side of every chunk: run it and say how long the work took."""
    started = stopwatch()
    result = run(payload, slot)
    return result, stopwatch() - started


def _run_items(items: list[Job], slot: int) -> list[Outcome]:
    """Thread-backend chunk: runs in the pool thread, so the loop does none of this work.

    Each call runs in its own job's context, the copy of its caller's (an
    empty one for a caller whose context was empty).
    """
    return call_each(
        [(job.fn, job.args, job.kwargs) for job in items],
        contexts=[job.context for job in items],
    )


def _deliver(
    loop: asyncio.AbstractEventLoop, batch: _Batch, chunk: Chunk, future: Future[Any]
) -> None:
    """Chunk future callback (any thread): settle the chunk on the owning loop."""
    post(loop, batch.chunk_done, chunk)
