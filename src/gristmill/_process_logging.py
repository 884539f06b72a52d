"""Forward log records from process-pool workers to a logger in the parent.

Worker processes do not share the parent's logging handlers. When forwarding is
on, each worker gets a :class:`logging.handlers.QueueHandler` on its root logger
and a :class:`~logging.handlers.QueueListener` thread in the parent hands the
records to the target logger::

    worker: logging.getLogger(...).info(...) -> QueueHandler -> mp queue
    parent: QueueListener thread -> target_logger.handle(record)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["LogForwarder", "ProcessLoggingConfig", "config_from_legacy_kwargs"]


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


class _Relay(logging.Handler):
    """Hands each forwarded record to the target logger, which applies its own filters."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self._target = target

    def emit(self, record: logging.LogRecord) -> None:
        if self._target.isEnabledFor(record.levelno):
            self._target.handle(record)


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
    """Owns the queue and listener thread for one manager's process pools."""

    def __init__(self, config: ProcessLoggingConfig, fallback: logging.Logger) -> None:
        self._level = _level_number(config.level)
        self._clear = config.clear_child_handlers
        self._target = config.target_logger or fallback
        self._queue: Any = None
        self._listener: QueueListener | None = None

    def start(self, context: BaseContext) -> None:
        """Create the queue on ``context`` and start relaying records."""
        self._queue = context.Queue()
        self._listener = QueueListener(self._queue, _Relay(self._target))
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
        """Flush what is queued, stop the listener thread and close the queue."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._queue is not None:
            self._queue.close()
            self._queue.join_thread()
            self._queue = None
