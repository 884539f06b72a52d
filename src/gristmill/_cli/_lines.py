"""JSON Lines in and out: what ``gristmill map`` does with each line, and what it finds on resume.

::

    INPUT line n (bytes) ──► worker: run_line ── decode ── fn(arg) / fn(*args) ── encode
                                                   │           │                    │
                    {"line": n, "error": {"type": ..., "message": ...}} ◄──────────┘ any failure
                    {"line": n, "result": ...}                          ◄── success

The worker does the JSON work, so process pools spread it over their
workers; the parent only reads raw lines and writes finished ones. A blank
line gives no record. A failed
line raises :class:`LineFailed` carrying its record, so the grinder counts it
as a failed item. :func:`scan_output` reads an OUTPUT left by an earlier run:
which lines it holds, how many failed, and where its last whole line ends.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, compress, count, repeat
from json.encoder import encode_basestring
from json.scanner import make_scanner
from operator import not_
from pathlib import Path
from typing import Any, BinaryIO, cast

__all__ = [
    "LineFailed",
    "Resume",
    "count_items",
    "error_line",
    "ignore_sigint",
    "read_items",
    "run_line",
    "scan_output",
]

Item = tuple[int, bytes]
"""One input line: its number (from 1) and its raw bytes."""

_scan = make_scanner(cast(Any, json.JSONDecoder()))  # C scanner: one value at a position
_encode = json.JSONEncoder(ensure_ascii=False).encode


class LineFailed(Exception):
    """A line's function (or its JSON) failed; ``args[0]`` is the finished error record."""


def run_line(fn: Callable[..., Any], star: bool, item: Item) -> str:
    """Worker side: turn one input line into its output line (with the newline).

    A blank line gives ``""``: no record.

    Raises:
        LineFailed: the line is not JSON, ``fn`` raised, or its result is not
            JSON; the exception carries the error record to write.
    """
    number, raw = item
    try:
        text = raw.decode()
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError):  # no value here, or a malformed one
            end = -1
        # Not one value then the newline: anything but trailing whitespace is a bad line.
        if (end != len(text) - 1 or text[end] != "\n") and (end < 0 or not text[end:].isspace()):
            if text.isspace() or not text:
                return ""
            value = json.loads(text.rstrip("\r\n"))  # raises JSONDecodeError: where, why
        if star:
            if not isinstance(value, list):
                raise TypeError(
                    "with --star each line must be a JSON array of positional arguments, "
                    f"got {_json_type(value)}"
                )
            result = fn(*value)
        else:
            result = fn(value)
        return f'{{"line": {number}, "result": {_to_json(result)}}}\n'
    except BaseException as exc:  # the line's own failure, whatever it is
        raise LineFailed(error_line(number, exc)) from None


def error_line(number: int, exc: BaseException) -> str:
    """The output line recording that line ``number`` failed with ``exc``."""
    if isinstance(exc, LineFailed):
        return str(exc.args[0])
    error = {"type": type(exc).__name__, "message": str(exc)}
    return f'{{"line": {number}, "error": {_encode(error)}}}\n'


def ignore_sigint() -> None:
    """Process-pool initializer: Ctrl-C is the parent's to handle, not the workers'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_items(stream: BinaryIO, done: bytearray | None) -> Iterator[Item]:
    """``(number, raw)`` for each line of ``stream`` to run, skipping those ``done`` marks.

    Built from C iterators only: no Python code runs per line in the parent.
    """
    items = zip(count(1), stream)
    if done is None:
        return items
    return compress(items, chain(map(not_, memoryview(done)[1:]), repeat(True)))


def count_items(stream: BinaryIO) -> int:
    """How many lines ``stream`` holds (read to its end), a last one without newline included."""
    lines = 0
    tail = b"\n"
    while block := stream.read(1 << 20):
        lines += block.count(b"\n")
        tail = block[-1:]
    return lines + (tail != b"\n")


@dataclass
class Resume:
    """What an earlier run left in OUTPUT.

    Attributes:
        done: ``done[n]`` is 1 when line ``n`` has a record.
        records: Records found.
        failures: Of those, error records.
        keep: Bytes of OUTPUT up to the end of its last whole line; a half
            line after it (a run killed mid-write) is cut off.
    """

    done: bytearray
    records: int
    failures: int
    keep: int


def scan_output(path: Path) -> Resume:
    """Read the records an earlier run wrote to ``path``."""
    resume = Resume(bytearray(), 0, 0, 0)
    with path.open("rb") as stream:
        for raw in stream:
            if not raw.endswith(b"\n"):
                break  # a half line: cut off and run again
            resume.keep += len(raw)
            parsed = _record(raw)
            if parsed is None:
                continue
            number, failed = parsed
            done = resume.done
            if number >= len(done):
                done.extend(bytes(max(number + 1 - len(done), len(done))))
            if not done[number]:
                done[number] = 1
                resume.records += 1
                resume.failures += failed
    return resume


_PREFIX = b'{"line": '


def _record(raw: bytes) -> tuple[int, bool] | None:
    """``(line number, is an error)`` of one OUTPUT line, or ``None`` if it is no record."""
    if raw.startswith(_PREFIX):  # our own format: no need for a full parse
        end = raw.find(b",", len(_PREFIX))
        if end > 0 and raw[len(_PREFIX) : end].isdigit():
            return int(raw[len(_PREFIX) : end]), raw.startswith(b' "error"', end + 1)
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or type(record.get("line")) is not int:
        return None
    number = record["line"]
    return (number, "error" in record) if number > 0 else None


def _to_json(value: Any) -> str:
    """Encode a result, with the common scalars first."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _encode(value)


def _json_type(value: Any) -> str:
    return {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
