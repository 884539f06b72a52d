"""The single gateway between foreign OS threads and an owning event loop.

Every hop from another thread onto a loop goes through :func:`post`, the one
place that meets a loop that has closed meanwhile. The helpers built on it
either drop the hop (nothing on a closed loop is waiting any more) or, where a
caller expects an answer, raise :class:`NotStartedError` instead of asyncio's
bare ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

from ._errors import NotStartedError
from ._worker import stop_iteration_error

__all__ = ["call_in_loop", "enqueue_from_thread", "mirror", "post", "post_or_raise", "wrap_call"]

T = TypeVar("T")


def post(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> bool:
    """Schedule ``fn(*args)`` on ``loop``'s thread; False if the loop has closed. Any thread."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # "Event loop is closed": nobody there is waiting any more
        return False
    return True


def post_or_raise(
    loop: asyncio.AbstractEventLoop, what: str, fn: Callable[..., object], *args: object
) -> None:
    """Like :func:`post`, for a call whose caller waits for an answer. Any thread.

    Raises:
        NotStartedError: the loop has closed; ``what`` names the owner.
    """
    if not post(loop, fn, *args):
        raise NotStartedError(
            f"the event loop that ran the {what} is closed; it was not stopped with stop() "
            "before its loop ended. Create and start a new one on a running loop"
        )


def call_in_loop(
    loop: asyncio.AbstractEventLoop, what: str, fn: Callable[[], T]
) -> concurrent.futures.Future[T]:
    """Run ``fn()`` on ``loop``'s thread and return a future for its outcome. Any thread.

    Raises:
        NotStartedError: the loop has closed.
    """
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not result.set_running_or_notify_cancel():
            return
        try:
            result.set_result(fn())
        except BaseException as exc:
            result.set_exception(exc)

    post_or_raise(loop, what, run)
    return result


def mirror(
    source: asyncio.Future[T], target: concurrent.futures.Future[T], loop: asyncio.AbstractEventLoop
) -> None:
    """Copy ``source``'s outcome into ``target``; cancelling ``target`` cancels ``source``.

    Call on ``loop``'s thread; ``target`` may be waited on or cancelled from any thread.
    """

    def copy(done: asyncio.Future[T]) -> None:
        if done.cancelled():
            target.cancel()
            # Only this wakes concurrent.futures.wait() and as_completed(); ``copy``
            # is the one caller, so ``target`` is still pending or just cancelled.
            target.set_running_or_notify_cancel()
            return
        if not target.set_running_or_notify_cancel():
            return
        exc = done.exception()
        if exc is None:
            target.set_result(done.result())
        else:
            target.set_exception(exc)

    def propagate_cancel(done: concurrent.futures.Future[T]) -> None:
        if done.cancelled():
            post(loop, source.cancel)

    source.add_done_callback(copy)
    target.add_done_callback(propagate_cancel)


def enqueue_from_thread(
    loop: asyncio.AbstractEventLoop,
    what: str,
    put_now: Callable[[], asyncio.Future[T] | None],
    put_later: Callable[[], Coroutine[Any, Any, asyncio.Future[T]]],
) -> concurrent.futures.Future[T]:
    """Queue work on ``loop`` from another thread; return a future for its outcome. Any thread.

    On the loop, ``put_now()`` queues the work and returns its future, or
    returns ``None`` when it must wait (a full queue): ``put_later()`` then
    runs as a task that waits for room, queues the work and returns its
    future. Either way the work's future is mirrored into the returned one,
    never awaited by a task: a task that awaited it would re-raise a job's
    ``KeyboardInterrupt`` or ``SystemExit`` out of the event loop, and end
    cancelled by a job's ``CancelledError``. An error from ``put_now`` or
    ``put_later`` fails the returned future. Cancelling the returned future
    cancels the work, or the wait for room.
    A wait cancelled from the loop's side (the loop shutting down) fails the
    returned future with ``NotStartedError``.

    Raises:
        NotStartedError: the loop has closed.
    """
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def put() -> None:
        try:
            future = put_now()
        except BaseException as exc:
            _fail(result, exc)
            return
        if future is not None:
            mirror(future, result, loop)
            return
        waiting = loop.create_task(put_later())
        waiting.add_done_callback(partial(_queued, result, loop))
        result.add_done_callback(partial(_cancel_wait, waiting, loop))

    post_or_raise(loop, what, put)
    return result


def _queued(
    result: concurrent.futures.Future[T],
    loop: asyncio.AbstractEventLoop,
    waiting: asyncio.Task[asyncio.Future[T]],
) -> None:
    """The wait for room ended: mirror the queued work, or pass on why it was not queued."""
    if waiting.cancelled():
        if result.cancelled():  # the caller asked for it
            result.set_running_or_notify_cancel()  # wakes concurrent.futures.wait(); see mirror
            return
        _fail(  # nobody on this side cancels the wait: the loop is shutting down
            result,
            NotStartedError(
                "the event loop shut down while this call waited for room in the queue; the "
                "work was never queued"
            ),
        )
        return
    exc = waiting.exception()
    if exc is not None:
        _fail(result, exc)
    else:
        mirror(waiting.result(), result, loop)


def _cancel_wait(
    waiting: asyncio.Task[Any],
    loop: asyncio.AbstractEventLoop,
    done: concurrent.futures.Future[Any],
) -> None:
    """The caller's future is done (any thread): if it was cancelled, stop waiting for room."""
    if done.cancelled():
        post(loop, waiting.cancel)


def _fail(result: concurrent.futures.Future[Any], exc: BaseException) -> None:
    if result.set_running_or_notify_cancel():
        result.set_exception(exc)


def wrap_call(
    source: concurrent.futures.Future[T], fn: Callable[..., Any], loop: asyncio.AbstractEventLoop
) -> asyncio.Future[T]:
    """Return a future on ``loop`` that takes the outcome of ``source``, the call of ``fn``.

    Like :func:`asyncio.wrap_future`, but a ``StopIteration`` raised by ``fn``
    arrives as the ``RuntimeError`` of :func:`stop_iteration_error`, since an
    asyncio future refuses to carry one (``wrap_future`` would fail inside a
    loop callback and never resolve). Cancelling the returned future does not
    cancel ``source``: the awaiting caller does that. Call on ``loop``'s thread.
    """
    target: asyncio.Future[T] = loop.create_future()
    source.add_done_callback(partial(_forward, loop, partial(_copy_call, fn, target)))
    return target


def _forward(
    loop: asyncio.AbstractEventLoop,
    copy: Callable[[concurrent.futures.Future[Any]], None],
    done: concurrent.futures.Future[Any],
) -> None:
    """Runs on whichever thread resolved ``done``; the copy happens on ``loop``."""
    post(loop, copy, done)


def _copy_call(
    fn: Callable[..., Any], target: asyncio.Future[Any], done: concurrent.futures.Future[Any]
) -> None:
    if target.done():  # the awaiting caller was cancelled
        return
    if done.cancelled():
        target.cancel()
        return
    exc = done.exception()
    if exc is None:
        target.set_result(done.result())
    elif isinstance(exc, StopIteration):
        target.set_exception(stop_iteration_error(fn, exc))
    else:
        target.set_exception(exc)
