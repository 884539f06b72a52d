"""LogForwarder's listener and its bounded stop, driven through fake queues (no processes).

A real worker killed by SIGKILL can leave half a record in the queue's pipe, so
the listener blocks in ``get()`` forever; these fakes reproduce that without
killing anything.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

import pytest

from gristmill import ProcessLoggingConfig
from gristmill._process_logging import LogForwarder

GATE_TIMEOUT = 10.0
MANAGER_LOGGER = "tests.unit.manager"


class FakeQueue:
    """The parts of a multiprocessing queue the forwarder uses, backed by ``queue.Queue``."""

    def __init__(self) -> None:
        self.items: queue.Queue[object] = queue.Queue()
        self.closed = False
        self.join_cancelled = False

    def get(self) -> object:
        return self.items.get(timeout=GATE_TIMEOUT)

    def put_nowait(self, item: object) -> None:
        self.items.put_nowait(item)

    def close(self) -> None:
        self.closed = True

    def cancel_join_thread(self) -> None:
        self.join_cancelled = True


class StuckQueue(FakeQueue):
    """A queue whose ``get()`` never returns until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = threading.Event()

    def get(self) -> object:
        self.waiting.set()
        self.release.wait(GATE_TIMEOUT)
        return None  # the sentinel: lets the abandoned daemon thread end after the test


class UnreadableQueue(FakeQueue):
    """A queue whose every writer is gone: ``get()`` reports end of file."""

    def get(self) -> object:
        raise EOFError


class FakeContext:
    """Hands the forwarder a prepared fake queue instead of a multiprocessing one."""

    def __init__(self, fake: FakeQueue) -> None:
        self.fake = fake

    def Queue(self, maxsize: int = 0) -> FakeQueue:  # multiprocessing spells it so
        return self.fake


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def target() -> Iterator[tuple[logging.Logger, Keep]]:
    logger = logging.getLogger("tests.unit.forwarded")
    keep = Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, keep
    logger.removeHandler(keep)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    logger.filters.clear()


def _forwarder(target: logging.Logger, *, stop_timeout: float = 2.0) -> LogForwarder:
    config = ProcessLoggingConfig(enabled=True, target_logger=target)
    return LogForwarder(config, logging.getLogger(MANAGER_LOGGER), stop_timeout=stop_timeout)


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("worker", level, __file__, 1, message, None, None)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the forwarder itself logged, on the manager's logger."""
    return [record.getMessage() for record in caplog.records if record.name == MANAGER_LOGGER]


def _stop_in_thread(forwarder: LogForwarder) -> threading.Thread:
    """Run the blocking ``stop()`` in a thread so that a hang fails instead of hanging."""
    stopper = threading.Thread(target=forwarder.stop, daemon=True)
    stopper.start()
    stopper.join(GATE_TIMEOUT)
    return stopper


def test_stop_gives_up_on_a_stuck_listener_within_its_bound(
    target: tuple[logging.Logger, Keep], caplog: pytest.LogCaptureFixture
) -> None:
    stuck = StuckQueue()
    forwarder = _forwarder(target[0], stop_timeout=0.2)
    try:
        forwarder.start(FakeContext(stuck))
        assert stuck.waiting.wait(GATE_TIMEOUT)
        with caplog.at_level(logging.WARNING, logger=MANAGER_LOGGER):
            stopper = _stop_in_thread(forwarder)
        assert not stopper.is_alive(), "stop() did not return"
        (warning,) = _warnings(caplog)
        assert "did not stop within 0.2s" in warning
        assert stuck.items.get_nowait() is None  # the sentinel was still offered
        assert (stuck.closed, stuck.join_cancelled) == (True, True)
    finally:
        stuck.release.set()


def test_stop_relays_every_queued_record_then_ends_the_listener(
    target: tuple[logging.Logger, Keep], caplog: pytest.LogCaptureFixture
) -> None:
    logger, keep = target
    fake = FakeQueue()
    forwarder = _forwarder(logger)
    forwarder.start(FakeContext(fake))
    for level, message in [
        (logging.INFO, "one"),
        (logging.DEBUG, "too low"),
        (logging.ERROR, "two"),
    ]:
        fake.put_nowait(_record(level, message))
    with caplog.at_level(logging.WARNING, logger=MANAGER_LOGGER):
        stopper = _stop_in_thread(forwarder)
    assert not stopper.is_alive()
    assert keep.messages == ["one", "two"]
    assert _warnings(caplog) == []
    assert (fake.closed, fake.join_cancelled) == (True, True)
    forwarder.stop()  # a second stop is a no-op


def test_a_failing_filter_does_not_end_forwarding(
    target: tuple[logging.Logger, Keep], capsys: pytest.CaptureFixture[str]
) -> None:
    logger, keep = target

    def refuse_first(record: logging.LogRecord) -> bool:
        if record.getMessage() == "first":
            raise ValueError("filter broke")
        return True

    logger.addFilter(refuse_first)
    fake = FakeQueue()
    forwarder = _forwarder(logger)
    forwarder.start(FakeContext(fake))
    fake.put_nowait(_record(logging.INFO, "first"))
    fake.put_nowait(_record(logging.INFO, "second"))
    assert not _stop_in_thread(forwarder).is_alive()
    assert keep.messages == ["second"]
    assert "filter broke" in capsys.readouterr().err


def test_listener_ends_when_the_queue_cannot_be_read(
    target: tuple[logging.Logger, Keep], caplog: pytest.LogCaptureFixture
) -> None:
    fake = UnreadableQueue()
    forwarder = _forwarder(target[0])
    forwarder.start(FakeContext(fake))
    with caplog.at_level(logging.WARNING, logger=MANAGER_LOGGER):
        assert not _stop_in_thread(forwarder).is_alive()
    assert _warnings(caplog) == []
    assert (fake.closed, fake.join_cancelled) == (True, True)
