"""``grinder.map``: read the inputs a chunk at a time, keep a bounded amount in flight, yield.

::

    Inputs ──read k──► ChunkTask ──put──► grinder queue ──► worker: run_chunk
      ▲                                                        │
      │ refill while in flight < max_in_flight                 ▼
    results() ◄── ordered: the oldest chunk once it is done ◄── ChunkJob done (callback)
              ◄── unordered: whichever chunk is done first

One :class:`Mapper` serves one iteration. It never creates a future per item:
each chunk is one :class:`~gristmill._bulk.ChunkJob`, and the items of a
finished chunk are yielded from its :class:`~gristmill._bulk.ChunkResult`.
*In flight* counts the items read from the inputs and not yet yielded, so a
slow chunk at the head of an ordered map holds back the reading, and memory
stays bounded whatever the input's length. Chunk sizes come from
:mod:`gristmill._map_policy`. Leaving the iteration (``break`` then
``aclose()``, an exception, a cancellation) cancels every chunk not yet
yielded: one still queued leaves the queue at once, one waiting in a thread
pool's own queue never starts (its :class:`~gristmill._bulk.Claim` is taken),
one running finishes and its results are dropped. Owning loop only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import _validate as validate
from ._bulk import ChunkJob, ChunkResult, ChunkTask, Claim, encode_task, run_chunk
from ._inputs import Inputs
from ._job import Job
from ._map_policy import CHUNKS_PER_LANE, ChunkSizer, chunk_cap, default_max_in_flight
from ._naming import describe
from ._queue import is_queued
from ._wire import unpicklable
from ._worker import Dumps

__all__ = ["Chunk", "MapOptions", "Mapper", "PutChunks"]

Chunk = tuple[list[Any], "ChunkResult | BaseException", int]
"""What :meth:`Mapper.chunks` yields: the items, their outcome, how many there are."""


class PutChunks(Protocol):
    """How a mapper queues its chunks: the grinder's checks, admission, then ``put_many``."""

    def __call__(
        self,
        fn: Callable[..., Any],
        calls: Sequence[tuple[Any, ...]],
        owner: str | None,
        *,
        weights: Sequence[int],
        due: bool,
    ) -> Awaitable[list[Job]]:
        """Queue one job per call, admitted as a unit; raise as ``enqueue`` would."""


@dataclass(frozen=True, slots=True)
class MapOptions:
    """One map's settings, already checked.

    Attributes:
        ordered: Yield in input order (else as chunks finish).
        max_in_flight: Most items read and not yet yielded.
        return_exceptions: Yield an item's exception instead of raising it.
        owner: The label of every chunk job.
        lanes: Workers behind the grinder in all (concurrent batches × workers per pool).
        dumps: Pickles chunks for process backends; ``None`` for thread pools.
        timed: Items have a run timeout, to apply per item.
    """

    ordered: bool
    max_in_flight: int
    return_exceptions: bool
    owner: str | None
    lanes: int
    dumps: Dumps | None
    timed: bool

    @classmethod
    def build(
        cls,
        *,
        ordered: object,
        max_in_flight: object,
        return_exceptions: object,
        owner: str | None,
        lanes: int,
        dumps: Dumps | None,
        timed: bool,
    ) -> MapOptions:
        """Check what the caller chose; ``max_in_flight=None`` follows ``lanes``.

        Raises:
            TypeError: ``ordered`` or ``return_exceptions`` is not a bool.
            ValueError: ``max_in_flight`` is not a whole number > 0.
            WrongTypeError: ``max_in_flight`` is not a number at all.
        """
        for name, flag in (("ordered", ordered), ("return_exceptions", return_exceptions)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        limit = (
            default_max_in_flight(lanes)
            if max_in_flight is None
            else validate.positive_int("max_in_flight", max_in_flight)
        )
        return cls(
            ordered=bool(ordered),
            max_in_flight=limit,
            return_exceptions=bool(return_exceptions),
            owner=owner,
            lanes=lanes,
            dumps=dumps,
            timed=timed,
        )


class Mapper:
    """One iteration of ``grinder.map``.

    Args:
        fn: The user's function.
        inputs: Its argument iterables.
        put: Where chunks are queued.
        options: The map's settings.
    """

    def __init__(
        self, fn: Callable[..., Any], inputs: Inputs, put: PutChunks, options: MapOptions
    ) -> None:
        self._fn = fn
        self._inputs = inputs
        self._put = put
        self._options = options
        self._sizer = ChunkSizer(chunk_cap(options.max_in_flight, options.lanes))
        self._max_chunks = CHUNKS_PER_LANE * max(1, options.lanes)
        self._chunks: deque[ChunkJob] = deque()  # not yet yielded, in input order
        self._done: deque[ChunkJob] = deque()  # finished, in finishing order (unordered)
        self._dropped: set[ChunkJob] = set()  # cancelled by stop(): nothing to yield
        self._claims: dict[ChunkJob, Claim] = {}  # thread backends: who starts each chunk
        self._items: dict[ChunkJob, list[Any]] = {}  # each chunk's items, until yielded
        self._wake: asyncio.Future[None] | None = None
        self._in_flight = 0  # items read and not yet yielded
        self._read = 0  # items read so far
        self._stopped = False

    @property
    def in_flight(self) -> int:
        """Items read from the inputs and not yet yielded."""
        return self._in_flight

    def stop(self) -> None:
        """Read no more input and cancel the chunks that have not started; running ones finish.

        The iteration then yields the results of the chunks that were running
        (or done) and ends. On process backends a chunk already handed to a
        worker process counts as started. Owning loop, any time (a signal
        handler included).
        """
        self._stopped = True
        for job in self._chunks:
            if not job.done() and self._unstarted(job):
                self._dropped.add(job)
                job.cancel()

    def _unstarted(self, job: ChunkJob) -> bool:
        """Whether ``job`` has not started, claiming it so that it never does."""
        claim = self._claims.get(job)
        return claim.take() if claim is not None else is_queued(job)

    async def results(self) -> AsyncGenerator[Any, None]:
        """The iteration: each item's result (or exception), in order or as they finish."""
        chunks = self.chunks()
        return_exceptions = self._options.return_exceptions
        try:
            async for _, outcome, weight in chunks:
                if isinstance(outcome, BaseException):
                    for _ in range(weight):
                        if not return_exceptions:
                            raise outcome
                        yield outcome
                elif outcome.errors is None:
                    for value in outcome.values:
                        yield value
                else:
                    errors = outcome.errors
                    for index, value in enumerate(outcome.values):
                        if index not in errors:
                            yield value
                        elif return_exceptions:
                            yield errors[index]
                        else:
                            raise errors[index]
        finally:
            await chunks.aclose()

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """The iteration a chunk at a time: ``(items, outcome, weight)``.

        ``outcome`` is the chunk's :class:`~gristmill._bulk.ChunkResult`, or
        the exception that failed all of its ``weight`` items. Items count as
        in flight until the consumer asks for the next chunk; the lists of
        items and values are emptied then, so they are freed at once even
        while the grinder's own records of the batch wait for the garbage
        collector.
        """
        try:
            self._check_function()
            while True:
                await self._refill()
                job = self._next_done()
                if job is None:
                    if not self._chunks:
                        break
                    await self._wait()
                    continue
                items, outcome = self._items.pop(job), self._outcome(job)
                yield items, outcome, job.weight
                self._in_flight -= job.weight
                _empty(items, outcome)
            if self._inputs.error is not None:
                raise self._inputs.error
        finally:
            self._abandon()

    async def _refill(self) -> None:
        """Read and queue chunks while the in-flight bounds allow."""
        inputs, sizer, options = self._inputs, self._sizer, self._options
        while not (inputs.exhausted or self._stopped):
            room = options.max_in_flight - self._in_flight
            chunks = len(self._chunks)
            if room <= 0 or chunks >= self._max_chunks:
                return
            if not sizer.measured and chunks >= options.lanes:
                return  # learn the item cost before sending more
            size = min(sizer.next_size(), room)
            items = await inputs.aread(size) if inputs.is_async else inputs.read(size)
            if items and not self._stopped:
                await self._send(items)

    async def _send(self, items: list[Any]) -> None:
        options = self._options
        claim = None
        payload: ChunkTask | bytes
        if options.dumps is None:
            claim = Claim()
            payload = ChunkTask(self._fn, items, self._inputs.spread, options.timed, claim=claim)
        else:
            task = ChunkTask(self._fn, items, self._inputs.spread, options.timed)
            payload = encode_task(task, options.dumps, self._read)
        self._read += len(items)
        self._in_flight += len(items)
        try:
            jobs = await self._put(
                run_chunk, [(payload,)], options.owner, weights=[len(items)], due=True
            )
        except BaseException:
            self._in_flight -= len(items)
            raise
        job = jobs[0]
        assert isinstance(job, ChunkJob)
        self._chunks.append(job)
        self._items[job] = items
        if claim is not None:
            self._claims[job] = claim
        job.add_done_callback(self._on_done)

    def _next_done(self) -> ChunkJob | None:
        """The next chunk to yield, if one is ready; chunks dropped by ``stop()`` are skipped."""
        while True:
            if self._options.ordered:
                chunks = self._chunks
                if not chunks or not chunks[0].done():
                    return None
                job = chunks.popleft()
            else:
                if not self._done:
                    return None
                job = self._done.popleft()
                self._chunks.remove(job)
            self._claims.pop(job, None)
            if job not in self._dropped:
                return job
            self._dropped.discard(job)
            del self._items[job]
            self._in_flight -= job.weight

    def _outcome(self, job: ChunkJob) -> ChunkResult | BaseException:
        """The chunk's result, or the exception that failed all its items."""
        if job.cancelled():
            return asyncio.CancelledError()
        exc = job.exception()
        if exc is not None:
            return exc
        result: ChunkResult = job.result()
        return result

    async def _wait(self) -> None:
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    def _on_done(self, future: asyncio.Future[Any]) -> None:
        """A chunk finished (done-callback, owning loop): learn from it and wake the iteration."""
        job = future
        assert isinstance(job, ChunkJob)
        if not job.cancelled() and job.exception() is None:
            self._sizer.observe(job.weight, job.result().seconds)
        if not self._options.ordered:
            self._done.append(job)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _check_function(self) -> None:
        """On process backends, fail at once if ``fn`` itself cannot travel to the workers."""
        dumps = self._options.dumps
        if dumps is None:
            return
        try:
            dumps(self._fn)
        except Exception as problem:
            raise unpicklable(
                f"the function ({describe(self._fn)})",
                problem,
                "map a function defined at the top level of a module (lambdas and closures "
                "cannot be pickled), or use the thread backend",
            ) from problem

    def _abandon(self) -> None:
        """The iteration ended: cancel every chunk it has not yielded."""
        self._stopped = True
        for job in self._chunks:
            if not job.done():
                self._unstarted(job)  # a chunk not yet started never will
                job.cancel()
        self._chunks.clear()
        self._done.clear()
        self._dropped.clear()
        self._claims.clear()
        self._items.clear()


def _empty(items: list[Any], outcome: ChunkResult | BaseException) -> None:
    """Free a yielded chunk's items and results: the job holding them may outlive them.

    A finished batch is freed by the cyclic garbage collector (its chunk futures
    keep their done-callbacks), and a job keeps its result; emptying the lists
    keeps a long map's memory flat between collections.
    """
    items.clear()
    if isinstance(outcome, ChunkResult):
        outcome.values.clear()
