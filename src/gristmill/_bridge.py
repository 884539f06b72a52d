"""The single gateway between foreign OS threads and an owning event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

__all__ = ["call_in_loop", "mirror"]

T = TypeVar("T")


def call_in_loop(
    loop: asyncio.AbstractEventLoop, fn: Callable[[], T]
) -> concurrent.futures.Future[T]:
    """Run ``fn()`` on ``loop``'s thread and return a future for its outcome. Any thread."""
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not result.set_running_or_notify_cancel():
            return
        try:
            result.set_result(fn())
        except BaseException as exc:
            result.set_exception(exc)

    loop.call_soon_threadsafe(run)
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
            return
        if not target.set_running_or_notify_cancel():
            return
        exc = done.exception()
        if exc is None:
            target.set_result(done.result())
        else:
            target.set_exception(exc)

    def propagate_cancel(done: concurrent.futures.Future[T]) -> None:
        if done.cancelled() and not loop.is_closed():
            loop.call_soon_threadsafe(source.cancel)

    source.add_done_callback(copy)
    target.add_done_callback(propagate_cancel)
