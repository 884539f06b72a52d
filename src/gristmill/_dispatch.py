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
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, Protocol

from ._batching import chunk_sizes
from ._errors import LeaseExpiredError
from ._worker import decode_outcomes, encode_calls, run_calls, run_pickled

__all__ = ["Item", "LeaseLike", "Settle", "run_batch"]


class Item:
    """One queued call and the future its caller awaits."""

    __slots__ = ("args", "enqueued_at", "fn", "future", "kwargs", "owner")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        future: asyncio.Future[Any],
        enqueued_at: float,
        owner: str | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.future = future
        self.enqueued_at = enqueued_at
        self.owner = owner


class LeaseLike(Protocol):
    """What a batch needs from a lease: an executor to submit to, and a way back."""

    @property
    def executor(self) -> Executor: ...

    async def release(self) -> None: ...


Settle = Callable[[Item, bool, Any], None]
"""Resolves one item: ``settle(item, ok, result_or_exception)``; owning loop only."""


async def run_batch(
    lease: LeaseLike,
    items: list[Item],
    *,
    workers: int,
    cross_process: bool,
    settle: Settle,
    abort: asyncio.Future[None],
) -> None:
    """Run ``items`` on ``lease`` and release it when every chunk has settled.

    ``abort`` is done once the grinder stops with ``cancel_pending=True``: the
    batch then cancels its callers' futures and the chunks that have not
    started, and returns the lease without waiting for chunks still running.
    The grinder never cancels a batch task itself: a task cancelled before its
    first step would skip this function, stranding its callers and its lease.
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
            for item in items:
                settle(item, False, asyncio.CancelledError())
            return
        start = 0
        for size in chunk_sizes(len(items), workers):
            chunk = items[start : start + size]
            start += size
            worker_fn, payload, runnable = _prepare_chunk(chunk, cross_process, settle)
            if not runnable:
                continue
            try:
                future = lease.executor.submit(worker_fn, payload)
            except BaseException as exc:  # the rest of the batch never reached the executor
                for item in [*runnable, *items[start:]]:
                    settle(item, False, exc)
                break
            unsettled += 1
            submitted.append(future)
            future.add_done_callback(
                partial(_deliver, loop, runnable, cross_process, settle, chunk_settled)
            )
        if unsettled:
            await asyncio.wait((all_settled, abort), return_when=asyncio.FIRST_COMPLETED)
            if not all_settled.done():
                _abandon(items, submitted)
    except asyncio.CancelledError:
        _abandon(items, submitted)
        raise
    finally:
        await lease.release()


def _abandon(items: list[Item], submitted: list[Future[Any]]) -> None:
    """Cancel the callers' futures and every chunk that has not started.

    Chunks already running finish in their own time; their outcomes reach
    ``settle`` as usual and are counted as cancelled.
    """
    for item in items:
        item.future.cancel()
    for future in submitted:
        future.cancel()


def _prepare_chunk(
    chunk: list[Item], cross_process: bool, settle: Settle
) -> tuple[Callable[[Any], Any], Any, list[Item]]:
    """Return the worker function and payload to submit, and the items they carry.

    On cross-process backends an item that will not pickle is settled with its
    own error here and left out of the payload, so no item is settled twice if
    the submit itself then fails.
    """
    calls = [(item.fn, item.args, item.kwargs) for item in chunk]
    if not cross_process:
        return run_calls, calls, chunk
    payload, bad = encode_calls(calls)
    bad_index = {index for index, _ in bad}
    for index, exc in bad:
        settle(chunk[index], False, exc)
    runnable = [item for index, item in enumerate(chunk) if index not in bad_index]
    return run_pickled, payload, runnable


def _deliver(
    loop: asyncio.AbstractEventLoop,
    chunk: list[Item],
    cross_process: bool,
    settle: Settle,
    chunk_settled: Callable[[], None],
    future: Future[Any],
) -> None:
    """Chunk future callback (any thread): settle the chunk on the owning loop."""
    with contextlib.suppress(RuntimeError):  # loop closed: nothing left to resolve
        loop.call_soon_threadsafe(
            _settle_chunk, future, chunk, cross_process, settle, chunk_settled
        )


def _settle_chunk(
    future: Future[Any],
    chunk: list[Item],
    cross_process: bool,
    settle: Settle,
    chunk_settled: Callable[[], None],
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
            result = future.result()
            outcomes = decode_outcomes(result) if cross_process else result
    except Exception as exc:  # e.g. a result that pickled but will not unpickle here
        outcomes = [(False, exc)] * len(chunk)
    for item, (ok, value) in zip(chunk, outcomes, strict=True):
        settle(item, ok, value)
    chunk_settled()
