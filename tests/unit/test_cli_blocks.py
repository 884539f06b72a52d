"""``gristmill map`` a block at a time: blocks are cut right, and give what their lines would.

The oracles are the simplest readings: the input split after each newline,
and :func:`~gristmill._cli._lines.run_line` called on each line alone.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gristmill._cli import _blocks
from gristmill._cli._blocks import MAX_BYTES, BlockSizer, read_blocks
from gristmill._cli._lines import Block, LineFailed, run_block, run_line
from gristmill._cli._options import parse
from gristmill._cli._run import _in_flight

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=',[]{}"\\ a1é:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
fragments = st.sampled_from(
    [b"", b" ", b"\r", b"[1", b"2]", b"1,2", b"]", b'"a', b'b"', b"{", b"}", b"\xff", b"1 2", b"x"]
)
raw_lines = st.one_of(
    json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    st.lists(fragments, min_size=1, max_size=3).map(b"".join),
)


def oracle(fn: object, star: bool, first: int, lines: list[bytes]) -> tuple[str, int, int]:
    texts: list[str] = []
    failed = 0
    for number, raw in enumerate(lines, first):
        try:
            texts.append(run_line(fn, star, number, raw))  # type: ignore[arg-type]
        except LineFailed as failure:
            texts.append(str(failure.args[0]))
            failed += 1
    return "".join(texts), failed, texts.count("")


def picky(value: object) -> object:
    """Fails for some values and returns a non-JSON set for others."""
    if value == 13 or value == "a":
        raise LookupError(value)
    if value is True:
        return {1}
    return value


@settings(max_examples=300, deadline=None)
@given(
    st.lists(raw_lines, min_size=1, max_size=12),
    st.booleans(),
    st.integers(min_value=1, max_value=10**6),
    st.booleans(),
)
def test_a_block_gives_exactly_what_its_lines_give_one_by_one(
    lines: list[bytes], last_newline: bool, first: int, star: bool
) -> None:
    raws = [line + b"\n" for line in lines]
    if not last_newline and lines[-1]:  # an empty last line without a newline is no line
        raws[-1] = lines[-1]
    calls: list[object] = []

    def counted(*args: object) -> object:
        calls.append(args)
        return picky(args[0] if args else None)

    done = run_block(counted, star, False, Block(first, b"".join(raws), len(raws)))
    by_block = list(calls)
    calls.clear()
    text, failed, blank = oracle(counted, star, first, raws)
    assert (done.text, done.failed, done.blank) == (text, failed, blank)
    assert by_block == calls  # the same calls, in the same order, each once


def numbered(data: bytes) -> list[tuple[int, bytes]]:
    parts = data.split(b"\n")
    last = parts.pop()
    lines = [part + b"\n" for part in parts] + ([last] if last else [])
    return list(enumerate(lines, 1))


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, like a pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        piece = self._data[self._at : self._at + min(self._step, len(buffer))]
        buffer[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=6).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.booleans(),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5),
    st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
    st.integers(min_value=1, max_value=9),
    st.lists(st.booleans(), max_size=40),
)
def test_blocks_hold_every_line_once_in_order_under_any_sizes(
    lines: list[bytes],
    last_newline: bool,
    wants: list[int],
    max_lines: int | None,
    step: int,
    marks: list[bool],
) -> None:
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    sizer = BlockSizer(max_lines=max_lines)
    done = bytearray([0, *marks]) if marks else None
    seen: list[tuple[int, bytes]] = []
    stream = io.BufferedReader(Trickle(data, step))  # type: ignore[type-var]
    with mock.patch.object(_blocks, "READ_BYTES", step):
        for index, block in enumerate(read_blocks(stream, sizer, done)):
            sizer.want = wants[index % len(wants)]  # the sizer changes its mind between blocks
            assert block.lines == len(numbered(block.data)) >= 1
            assert max_lines is None or block.lines <= max_lines
            seen += [(block.first + offset - 1, raw) for offset, raw in numbered(block.data)]
    expected = [
        (number, raw)
        for number, raw in numbered(data)
        if done is None or number >= len(done) or not done[number]
    ]
    assert seen == expected


def test_a_stream_without_read1_is_read_too() -> None:
    class Plain:
        def __init__(self, data: bytes) -> None:
            self._stream = io.BytesIO(data)

        def read(self, size: int) -> bytes:
            return self._stream.read(size)

    blocks = list(read_blocks(Plain(b"1\n2\n3"), BlockSizer(), None))  # type: ignore[arg-type]
    assert [(b.first, b.data, b.lines) for b in blocks] == [
        (1, b"1\n", 1),
        (2, b"2\n", 1),
        (3, b"3", 1),
    ]


def test_the_sizer_starts_at_one_line_grows_by_steps_and_stops_at_its_cap() -> None:
    sizer = BlockSizer()
    assert sizer.want == 1
    sizer.observe(10, 1e-9)  # cheap: only GROWTH x the largest block so far
    assert sizer.want == 40
    for _ in range(20):
        sizer.observe(sizer.want, sizer.want * 1e-12)
    assert sizer.want == MAX_BYTES
    slow = BlockSizer()
    slow.observe(100, 1.0)  # 10 ms a byte: a block of one line (one byte asked)
    assert slow.want == 1
    slow.observe(0, 1.0)  # nothing learnt from an empty or nonsense sample
    slow.observe(10, float("nan"))
    assert slow.want == 1


@pytest.mark.parametrize("limit", [None, 1, 7, 100, 10**6])
def test_the_lines_in_flight_stay_under_max_in_flight(limit: int | None) -> None:
    options = parse(["map", "m:f", "in.jsonl", "--workers", "2", "--pools", "2"])
    blocks, sizer = _in_flight(replace(options, max_in_flight=limit))
    assert blocks >= 1
    if limit is None:
        assert sizer.max_lines is None
    else:
        assert sizer.max_lines is not None
        assert sizer.max_lines >= 1
        assert blocks * sizer.max_lines <= limit
