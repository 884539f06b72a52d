"""One manager run bracketed by its backend's ``open()`` and ``close()``.

The bracket holds even when ``start()`` is cancelled while ``open()`` runs in
its worker thread: the thread cannot be stopped, so ``open()`` finishes on its
own and ``close()`` waits for it before releasing what it acquired::

    start() ── open() in a thread (shielded) ──┐
                                               ├── close() waits, then closes
    stop()  ── pools shut down ── close() ─────┘
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from ._base import Backend

__all__ = ["BackendSession"]


class BackendSession:
    """Calls ``backend.close()`` once after every ``backend.open()``, whatever happened."""

    def __init__(self, backend: Backend, logger: logging.Logger) -> None:
        self._backend = backend
        self._logger = logger
        self._opened: threading.Event | None = None

    async def open(self, options: Mapping[str, Any]) -> None:
        """Run ``backend.open(options)`` in a worker thread; from now on a close is due.

        Owning loop. Cancelling the caller does not cancel ``open()``: it runs
        to the end, and :meth:`close` waits for it.

        Raises:
            Exception: whatever ``backend.open`` raised.
        """
        opened = self._opened = threading.Event()
        await asyncio.shield(asyncio.to_thread(self._open, options, opened))

    def close(self) -> None:
        """If an ``open()`` was started, wait for it, then run ``backend.close()``.

        Blocking: run it in a worker thread. Never raises; an error from the
        backend is logged.
        """
        opened, self._opened = self._opened, None
        if opened is None:
            return
        opened.wait()
        try:
            self._backend.close()
        except Exception:
            self._logger.warning("closing backend=%s failed", self._backend.name, exc_info=True)

    def _open(self, options: Mapping[str, Any], opened: threading.Event) -> None:
        try:
            self._backend.open(options)
        finally:
            opened.set()
