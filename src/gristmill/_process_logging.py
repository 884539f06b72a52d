"""Forward log records from process-pool workers to a logger in the parent.

Worker processes do not share the parent's logging handlers. When forwarding is
on, each worker gets a :class:`logging.handlers.QueueHandler` on its root logger
and a daemon listener thread in the parent hands the records to the target
logger::

    worker: logging.getLogger(...).info(...) -> QueueHandler -> mp queue
    parent: listener thread -> target_logger.handle(record), until the sentinel

The listener is ours rather than :class:`~logging.handlers.QueueListener`
because stopping must be bounded: a worker killed by SIGKILL (a revoked lease,
a broken pool) can leave half a message in the queue's pipe, and a listener
blocked on it would never see the sentinel. ``stop()`` waits a little, then
abandons the daemon thread with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from logging.handlers import QueueHandler
from typing import Any, Protocol

__all__ = [
    "LogForwarder",
    "ProcessLoggingConfig",
    "QueueContext",
    "config_from_legacy_kwargs",
    "start_forwarding",
]

_SENTINEL = None
"""Put by ``stop()`` to end the listener; workers only ever put log records."""


class QueueContext(Protocol):
    """What the forwarder needs from a multiprocessing context: a way to make a queue."""

    def Queue(self, maxsize: int = 0) -> Any:  # the name multiprocessing gives it
        """Return a queue that worker processes can put to and this process can get from."""


@dataclass(frozen=True, slots=True)
class ProcessLoggingConfig:
    """Opt-in forwarding of process-worker logs to the parent.

    Attributes:
        enabled: Forward worker records at all. Off by default.
        level: The workers' root-logger level, as a number or a name ("INFO").
        target_logger: Parent logger that receives the records; defaults to the
            manager's logger.
        clear_child_handlers: Remove handlers a worker inherited or configured
            before installing the forwarding handler, so records are not
            printed twice.
    """

    enabled: bool = False
    level: int | str = logging.INFO
    target_logger: logging.Logger | None = None
    clear_child_handlers: bool = True

    def __post_init__(self) -> None:
        _level_number(self.level)
        if self.target_logger is not None and not isinstance(self.target_logger, logging.Logger):
            raise TypeError(
                "target_logger must be a logging.Logger or None, got "
                f"{type(self.target_logger).__name__}; pass logging.getLogger(name)"
            )


def _level_number(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, int | str):
        raise TypeError(f"level must be an int or a level name, got {type(level).__name__}")
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"level {level!r} is not a logging level name")
    return number


def config_from_legacy_kwargs(
    *,
    forward: bool,
    level: int | str,
    target_logger: logging.Logger | None,
    clear_handlers: bool,
) -> ProcessLoggingConfig | None:
    """Build a config from leasepool's flat ``forward_process_logs=...`` keywords."""
    if not forward:
        return None
    return ProcessLoggingConfig(
        enabled=True, level=level, target_logger=target_logger, clear_child_handlers=clear_handlers
    )


def start_forwarding(
    config: ProcessLoggingConfig | None,
    options: Mapping[str, Any],
    *,
    default_context: Callable[[], QueueContext],
    logger: logging.Logger,
) -> tuple[dict[str, Any], LogForwarder | None]:
    """Start forwarding if ``config`` asks for it; return the executor options and the forwarder.

    The queue is made on the pools' own multiprocessing context (``mp_context``
    in ``options``, else ``default_context()``), which is pinned in the
    returned options so that every pool uses the same one.
    """
    if config is None or not config.enabled:
        return dict(options), None
    wrapped = dict(options)
    context = wrapped.get("mp_context") or default_context()
    wrapped["mp_context"] = context
    forwarder = LogForwarder(config, logger)
    forwarder.start(context)
    return forwarder.wrap_options(wrapped), forwarder


def _relay(queue: Any, target: logging.Logger) -> None:
    """Listener thread: hand each record to ``target`` until the sentinel arrives.

    Also ends when the queue can no longer be read (every writer gone, or the
    queue closed under it).
    """
    while True:
        try:
            record = queue.get()
        except (EOFError, OSError, ValueError):
            return
        if record is _SENTINEL:
            return
        if not target.isEnabledFor(record.levelno):
            continue
        try:
            target.handle(record)
        except Exception:  # a failing filter must not end forwarding; report like logging does
            if logging.raiseExceptions:
                traceback.print_exc(file=sys.stderr)


def _init_worker(
    queue: Any,
    level: int,
    clear: bool,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    """Runs first in every worker: route its logging to the parent, then the user's initializer."""
    root = logging.getLogger()
    if clear:
        for handler in list(root.handlers):
            root.removeHandler(handler)
    root.addHandler(QueueHandler(queue))
    root.setLevel(level)
    if initializer is not None:
        initializer(*initargs)


class LogForwarder:
    """Owns the queue and listener thread for one manager's process pools.

    ``start()`` and ``stop()`` are called by the manager, ``stop()`` from a
    worker thread because it may block for up to ``stop_timeout`` seconds.
    """

    def __init__(
        self, config: ProcessLoggingConfig, fallback: logging.Logger, *, stop_timeout: float = 2.0
    ) -> None:
        self._level = _level_number(config.level)
        self._clear = config.clear_child_handlers
        self._target = config.target_logger or fallback
        self._logger = fallback
        self._stop_timeout = stop_timeout
        self._queue: Any = None
        self._listener: threading.Thread | None = None

    def start(self, context: QueueContext) -> None:
        """Create the queue on ``context`` and start relaying records."""
        self._queue = context.Queue()
        self._listener = threading.Thread(
            target=_relay,
            args=(self._queue, self._target),
            name="gristmill-process-logs",
            daemon=True,
        )
        self._listener.start()

    def wrap_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Return executor options whose initializer installs forwarding first."""
        wrapped = dict(options)
        wrapped["initializer"] = _init_worker
        wrapped["initargs"] = (
            self._queue,
            self._level,
            self._clear,
            options.get("initializer"),
            tuple(options.get("initargs", ())),
        )
        return wrapped

    def stop(self) -> None:
        """Relay what is queued, stop the listener and close the queue; never hangs.

        Blocking: waits at most ``stop_timeout`` seconds for the listener to
        reach the sentinel. A listener stuck on a half-written message (its
        writer was killed) is logged and left behind; it is a daemon thread.
        The queue is closed without joining its feeder thread, so neither this
        call nor interpreter exit waits on the pipe.
        """
        queue, listener = self._queue, self._listener
        self._queue = self._listener = None
        if queue is None:
            return
        with contextlib.suppress(OSError, ValueError):  # closed: the listener ends on its own
            queue.put_nowait(_SENTINEL)
        if listener is not None:
            listener.join(self._stop_timeout)
            if listener.is_alive():
                self._logger.warning(
                    "process log forwarding did not stop within %.1fs (a killed worker may have "
                    "left a partial record in the queue); abandoning its listener thread",
                    self._stop_timeout,
                )
        queue.close()
        queue.cancel_join_thread()
