"""What ``gristmill map`` shows on stderr: a live progress display on a terminal, then a summary.

On a terminal the display shows done/total, items per second, the time left
and the failures, redrawn a few times a second: with ``rich`` (the ``cli``
extra, ``pip install 'gristmill[cli]'``) as a progress bar, without it as one
plain line redrawn in place. Elsewhere (a pipe, a log file) nothing is shown
until the one-line summary at the end. :class:`Meter` is the pure part: the
rate over the last few seconds, and the time left at that rate.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol, TextIO

__all__ = ["Display", "Meter", "choose_display", "format_seconds"]

WINDOW_SECONDS = 5.0
"""The rate is measured over about this many recent seconds."""


class Meter:
    """Items per second over a recent window, and the time left at that rate."""

    __slots__ = ("_samples",)

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        """Record that ``done`` items were done at ``now``."""
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and now - samples[1][0] >= WINDOW_SECONDS:
            samples.popleft()

    def rate(self) -> float:
        """Items per second over the window (0 until two samples are apart)."""
        if len(self._samples) < 2:
            return 0.0
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        return (last - first) / (end - start) if end > start else 0.0

    def seconds_left(self, remaining: int) -> float | None:
        """Seconds to do ``remaining`` items at the current rate, or ``None`` if unknown."""
        rate = self.rate()
        return remaining / rate if rate > 0 else None


def format_seconds(seconds: float | None) -> str:
    """``1:02:03``, ``2:03`` or ``-:--`` for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Display(Protocol):
    """A live view of a run's progress.

    Attributes:
        live: Whether anything is shown while the run goes on.
    """

    live: bool

    def show(
        self, done: int, total: int | None, failed: int, rate: float, left: float | None
    ) -> None:
        """Redraw with the latest figures."""

    def close(self) -> None:
        """Take the live view off the screen (the summary follows)."""


class _Quiet:
    """Not a terminal: nothing live, only the summary."""

    live = False

    def show(
        self, done: int, total: int | None, failed: int, rate: float, left: float | None
    ) -> None:
        """Show nothing."""

    def close(self) -> None:
        """Nothing to take down."""


class _Line:
    """A terminal without ``rich``: one line, redrawn in place."""

    live = True

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def show(
        self, done: int, total: int | None, failed: int, rate: float, left: float | None
    ) -> None:
        """Redraw the line."""
        of = f"/{total:,}" if total is not None else ""
        line = (
            f"{done:,}{of} items  {rate:,.0f} items/s  ETA {format_seconds(left)}  "
            f"failures {failed:,}"
        )
        self._stream.write(f"\r{line}\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        """End the line."""
        self._stream.write("\r\x1b[K")
        self._stream.flush()


class _Rich:
    """A terminal with ``rich``: a progress bar with the figures beside it."""

    live = True

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("[bold]gristmill map"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} items/s"),
            TextColumn("ETA {task.fields[left]}"),
            TextColumn("[red]{task.fields[failed]} failed"),
            console=Console(file=stream),
            auto_refresh=False,
            transient=True,
        )
        self._task = self._progress.add_task("map", total=None, rate="0", left="-:--", failed=0)
        self._progress.start()

    def show(
        self, done: int, total: int | None, failed: int, rate: float, left: float | None
    ) -> None:
        """Move the bar and the figures."""
        self._progress.update(
            self._task,
            completed=done,
            total=total,
            rate=f"{rate:,.0f}",
            left=format_seconds(left),
            failed=f"{failed:,}",
        )
        self._progress.refresh()

    def close(self) -> None:
        """Take the bar down."""
        self._progress.stop()


def choose_display(stream: TextIO) -> Display:
    """The display for ``stream``: ``rich`` or a plain line on a terminal, else none."""
    if not stream.isatty():
        return _Quiet()
    try:
        return _Rich(stream)
    except ImportError:
        return _Line(stream)
