"""JSON Lines in and out: what ``gristmill map`` does with a block of lines; what resume finds.

::

    INPUT block (lines first..first+k-1, raw bytes) ──► worker: run_block
        decode the block once; scan each line to one JSON value ─┐ any line that is not
        (C scanner, no Python frame per line)                    │ exactly one value: that
                                                                  ▼ block goes line by line
        fn(value) / fn(*values), one line at a time, each exactly once   (run_line)
        encode each result; join the block's records ─► BlockResult(text, failed, blank, seconds)

    {"line": n, "result": ...}                          a success
    {"line": n, "error": {"type": ..., "message": ...}}  bad JSON, fn raised, result not JSON

The worker does all the JSON work, a block at a time, so process pools
spread it over their workers and the parent only cuts raw bytes into blocks
and writes finished text (see :mod:`~gristmill._cli._blocks`). A blank line
gives no record. :func:`scan_output` reads an OUTPUT left by an earlier run:
which lines it holds, how many failed, and where its last whole line ends.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, repeat
from json.encoder import encode_basestring
from json.scanner import make_scanner
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

from .._clock import stopwatch
from .._naming import text_of, type_name
from .._progress import restart

__all__ = [
    "Block",
    "BlockResult",
    "LineFailed",
    "Resume",
    "count_items",
    "error_line",
    "ignore_sigint",
    "lines_of",
    "run_block",
    "run_line",
    "scan_output",
]

_scan = make_scanner(cast(Any, json.JSONDecoder()))  # C scanner: one value at a position
_encode = json.JSONEncoder(ensure_ascii=False).encode
_value, _end = itemgetter(0), itemgetter(1)
_RECORD = '{"line": %d, "result": %s}\n'


class Block(NamedTuple):
    """Consecutive input lines, as read: the unit the parent hands to a worker.

    Attributes:
        first: The number of its first line (lines count from 1).
        data: The lines' raw bytes, each ending in a newline but perhaps the
            input's very last.
        lines: How many lines ``data`` holds.
    """

    first: int
    data: bytes
    lines: int


class BlockResult(NamedTuple):
    """What a worker made of a :class:`Block`.

    Attributes:
        text: The block's output records, in line order, each ending in a newline.
        failed: How many of them are error records.
        blank: How many of its lines were blank (they get no record).
        seconds: How long the worker took, to size later blocks.
    """

    text: str
    failed: int
    blank: int
    seconds: float


class LineFailed(Exception):
    """A line's function (or its JSON) failed; ``args[0]`` is the finished error record."""


def run_block(fn: Callable[..., Any], star: bool, timed: bool, block: Block) -> BlockResult:
    """Worker side: run ``fn`` on every line of ``block``; never raises for a line's failure.

    Each line is called exactly once. The JSON work is done for the whole
    block where it can be: a block whose lines are each exactly one JSON
    value (no blank line, no stray whitespace, valid UTF-8) is decoded by
    the C scanner with no Python code per line; any other block goes line by
    line through :func:`run_line`, whose records are the same. ``timed``
    restarts the run-timeout clock before each line, so the timeout applies
    to each line, not to the block.
    """
    started = stopwatch()
    values = _decode(block.data)
    if values is None or (star and not all(map(isinstance, values, repeat(list)))):
        return _line_by_line(fn, star, timed, block, started)
    first = block.first
    results: list[Any] = []
    append = results.append
    failures: dict[int, str] = {}
    rest = iter(values)
    while True:  # as gristmill._bulk._apply: unguarded until a line raises, then on after it
        try:
            for value in rest:
                if timed:
                    restart()
                append(fn(*value) if star else fn(value))
        except BaseException as exc:  # that line's own failure; the next one still runs
            failures[len(results)] = error_line(first + len(results), exc)
            append(None)
        else:
            break
    encoded = _encode_each(results, failures, first)
    if failures:
        records = [
            failures[index] if index in failures else _RECORD % (first + index, text)
            for index, text in enumerate(encoded)
        ]
        return BlockResult("".join(records), len(failures), 0, stopwatch() - started)
    return BlockResult(_records(first, encoded), 0, 0, stopwatch() - started)


def _decode(data: bytes) -> list[Any] | None:
    """Each line's JSON value, or None if some line is not exactly one value and its newline.

    A block with no ``[``, ``{`` or ``,`` at all is parsed in one
    ``json.loads`` of its lines joined by commas: with no brackets and no
    commas of their own, the lines can only parse that way if each is one
    scalar (a line that is not would fail the parse, or merge with its
    neighbour and leave fewer values than lines). Any other block has each
    line scanned on its own, which must end exactly at the line's end.
    """
    try:
        lines = data.decode().split("\n")
    except UnicodeDecodeError:
        return None
    if lines[-1] == "":
        lines.pop()  # the newline ending the last line
    if not (b"[" in data or b"{" in data or b"," in data):
        try:
            values: list[Any] = json.loads("[" + ",".join(lines) + "]")
        except ValueError:  # a blank or malformed line (or a number too long to parse)
            return None
        return values if len(values) == len(lines) else None
    try:
        scanned = list(map(_scan, lines, repeat(0)))
    except (StopIteration, ValueError):  # a blank or malformed line
        return None
    if list(map(_end, scanned)) != list(map(len, lines)):  # text after a value: line by line
        return None
    return list(map(_value, scanned))


def _encode_each(results: list[Any], failures: dict[int, str], first: int) -> list[str]:
    """Each result as JSON; a result that has none fails its own line (into ``failures``)."""
    try:
        kinds = set(map(type, results))
        if kinds == {int}:
            return list(map(int.__repr__, results))
        if kinds == {str}:
            return list(map(encode_basestring, results))
        return list(map(_to_json, results))
    except Exception:
        pass
    encoded: list[str] = []
    for index, result in enumerate(results):
        try:
            encoded.append("" if index in failures else _to_json(result))
        except Exception as exc:
            failures[index] = error_line(first + index, exc)
            encoded.append("")
    return encoded


def _records(first: int, encoded: list[str]) -> str:
    """The success records of lines ``first, first + 1, ...``, in one ``%`` format."""
    count = len(encoded)
    fields = chain.from_iterable(zip(range(first, first + count), encoded, strict=True))
    return (_RECORD * count) % tuple(fields)


def _line_by_line(
    fn: Callable[..., Any], star: bool, timed: bool, block: Block, started: float
) -> BlockResult:
    """The careful path: each line through :func:`run_line`, whatever it holds."""
    records: list[str] = []
    failed = blank = 0
    for number, raw in enumerate(lines_of(block.data), block.first):
        if timed:
            restart()
        try:
            record = run_line(fn, star, number, raw)
        except LineFailed as failure:
            record = failure.args[0]
            failed += 1
        blank += not record
        records.append(record)
    return BlockResult("".join(records), failed, blank, stopwatch() - started)


def lines_of(data: bytes) -> list[bytes]:
    """``data`` cut after each newline (only ``\\n``: the parent counted lines the same way)."""
    parts = data.split(b"\n")
    last = parts.pop()
    lines = [part + b"\n" for part in parts]
    if last:
        lines.append(last)
    return lines


def run_line(fn: Callable[..., Any], star: bool, number: int, raw: bytes) -> str:
    """Turn input line ``number`` into its output line (with the newline).

    A blank line gives ``""``: no record.

    Raises:
        LineFailed: the line is not JSON, ``fn`` raised, or its result is not
            JSON; the exception carries the error record to write.
    """
    try:
        text = raw.decode()
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError):  # no value here, or a malformed one
            end = -1
        # Not one value then the newline: anything but trailing whitespace is a bad line.
        if (end != len(text) - 1 or not text.endswith("\n")) and (
            end < 0 or not text[end:].isspace()
        ):
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
        return _RECORD % (number, _to_json(result))
    except BaseException as exc:  # the line's own failure, whatever it is
        raise LineFailed(error_line(number, exc)) from None


def error_line(number: int, exc: BaseException) -> str:
    """The output line recording that line ``number`` failed with ``exc``."""
    if isinstance(exc, LineFailed):
        return str(exc.args[0])
    error = {"type": type_name(exc), "message": text_of(exc)}
    return f'{{"line": {number}, "error": {_encode(error)}}}\n'


def ignore_sigint() -> None:
    """Process-pool initializer: Ctrl-C is the parent's to handle, not the workers'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
