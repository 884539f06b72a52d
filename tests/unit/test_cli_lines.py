"""What ``gristmill map`` does with one line and with a block of lines, and what resume finds."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gristmill._cli._lines import (
    Block,
    LineFailed,
    count_items,
    error_line,
    run_block,
    run_line,
    scan_output,
)


def record(line: str) -> dict[str, object]:
    assert line.endswith("\n")
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def failure(fn: object, raw: bytes, *, star: bool = False) -> dict[str, object]:
    with pytest.raises(LineFailed) as caught:
        run_line(fn, star, 7, raw)  # type: ignore[arg-type]
    return record(str(caught.value.args[0]))


@pytest.mark.parametrize(
    "raw",
    [b"5\n", b"  5  \r\n", b'"x\\u00e9"\n', b'{"a": [1, 2.5, null]}\n', b"[true]", b"NaN\n"],
)
def test_a_line_round_trips_through_json(raw: bytes) -> None:
    line = run_line(lambda value: value, False, 7, raw)
    expected = json.loads(raw)
    got = record(line)
    assert got["line"] == 7
    assert json.dumps(got["result"]) == json.dumps(expected)


def test_common_results_are_encoded_like_json_dumps() -> None:
    for value in (0, -12, 10**30, "plain", 'quote " and \\ and é', None, True, False, 1.5, [1]):
        line = run_line(lambda _: value, False, 1, b"0")  # noqa: B023 - used at once
        assert line == f'{{"line": 1, "result": {json.dumps(value, ensure_ascii=False)}}}\n'


def test_a_blank_line_gives_no_record() -> None:
    assert run_line(abs, False, 3, b"\n") == ""
    assert run_line(abs, False, 3, b"   \t\r\n") == ""


def test_each_failure_becomes_an_error_record_naming_its_type() -> None:
    assert failure(abs, b"nope\n")["error"] == {
        "type": "JSONDecodeError",
        "message": "Expecting value: line 1 column 1 (char 0)",
    }
    assert failure(abs, b"1 2\n")["error"]["type"] == "JSONDecodeError"  # type: ignore[index]
    assert failure(abs, b"\xff\n")["error"]["type"] == "UnicodeDecodeError"  # type: ignore[index]
    assert failure(abs, b'"a"\n')["error"]["type"] == "TypeError"  # type: ignore[index]
    assert failure(lambda _: {1}, b"1\n")["error"]["type"] == "TypeError"  # type: ignore[index]

    def leave(_: object) -> None:
        raise SystemExit(3)

    assert failure(leave, b"1\n") == {"line": 7, "error": {"type": "SystemExit", "message": "3"}}


def test_star_spreads_an_array_and_refuses_anything_else() -> None:
    assert record(run_line(pow, True, 1, b"[2, 5]\n"))["result"] == 32
    message = failure(pow, b'{"a": 1}\n', star=True)["error"]
    assert message == {
        "type": "TypeError",
        "message": "with --star each line must be a JSON array of positional arguments, "
        "got an object",
    }


def test_an_error_record_from_the_parent_names_the_exception() -> None:
    assert record(error_line(4, TimeoutError("too slow"))) == {
        "line": 4,
        "error": {"type": "TimeoutError", "message": "too slow"},
    }


def block(first: int, *lines: bytes) -> Block:
    return Block(first, b"".join(lines), len(lines))


def test_a_block_of_plain_values_gives_one_record_per_line_in_order() -> None:
    done = run_block(lambda x: x * 2, False, False, block(10, b"1\n", b"2\n", b"3"))
    assert [record(line + "\n") for line in done.text.splitlines()] == [
        {"line": 10, "result": 2},
        {"line": 11, "result": 4},
        {"line": 12, "result": 6},
    ]
    assert (done.failed, done.blank) == (0, 0)
    assert done.seconds >= 0


@pytest.mark.parametrize(
    "lines",
    [
        [b"1\n", b"2,\n"],  # a comma of its own: scanned line by line
        [b"[1\n", b"2]\n"],  # one array over two lines is two bad lines
        [b"1,2\n", b"[3\n", b"4]\n"],  # a split and a merge that would cancel out
        [b'"a\n', b'b"\n'],  # a string cannot span lines
        [b"1\n", b"\n", b"2\n"],  # a blank line
        [b" 1 \r\n", b"2\n"],  # whitespace around a value
        [b"1\n", b"\xff\n"],  # not UTF-8
    ],
)
def test_a_block_never_joins_or_splits_lines(lines: list[bytes]) -> None:
    done = run_block(repr, False, False, block(1, *lines))
    oracle = [_one(repr, number, raw) for number, raw in enumerate(lines, 1)]
    assert done.text == "".join(text for text, _ in oracle)
    assert done.failed == sum(failed for _, failed in oracle)
    assert done.blank == sum(text == "" for text, _ in oracle)


def test_each_line_of_a_block_is_called_once_whatever_fails() -> None:
    calls: list[object] = []

    def picky(value: object) -> object:
        calls.append(value)
        if value == 2:
            raise KeyboardInterrupt("two")
        return {1} if value == 3 else value  # a set is not JSON

    done = run_block(picky, False, False, block(1, b"1\n", b"2\n", b"3\n", b"4\n"))
    assert calls == [1, 2, 3, 4]
    got = [record(line + "\n") for line in done.text.splitlines()]
    assert got[0] == {"line": 1, "result": 1}
    assert got[1] == {"line": 2, "error": {"type": "KeyboardInterrupt", "message": "two"}}
    assert got[2]["error"]["type"] == "TypeError"  # type: ignore[index]
    assert got[3] == {"line": 4, "result": 4}
    assert done.failed == 2


def test_an_error_record_survives_an_exception_that_cannot_print() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    def fail(_: object) -> None:
        raise Unprintable

    done = run_block(fail, False, False, block(1, b"1\n"))
    assert record(done.text)["error"] == {
        "type": "Unprintable",
        "message": "<unprintable Unprintable object>",
    }


def test_a_star_block_spreads_arrays_and_fails_other_lines_alone() -> None:
    done = run_block(pow, True, False, block(1, b"[2, 5]\n", b"3\n", b"[3, 2]\n"))
    got = [record(line + "\n") for line in done.text.splitlines()]
    assert got[0]["result"] == 32
    assert got[2]["result"] == 9
    assert got[1]["error"]["type"] == "TypeError"  # type: ignore[index]


def _one(fn: object, number: int, raw: bytes) -> tuple[str, int]:
    try:
        return run_line(fn, False, number, raw), 0  # type: ignore[arg-type]
    except LineFailed as failed:
        return str(failed.args[0]), 1


def test_count_items_counts_a_last_line_without_a_newline() -> None:
    assert count_items(io.BytesIO(b"")) == 0
    assert count_items(io.BytesIO(b"1\n2\n")) == 2
    assert count_items(io.BytesIO(b"1\n2")) == 2


def test_scan_output_finds_records_failures_and_the_last_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    lines = [
        '{"line": 2, "result": 4}\n',
        '{"line": 9, "error": {"type": "E", "message": "m"}}\n',
        '{"result": 1, "line": 5}\n',  # another key order: parsed in full
        "garbage\n",
        '{"line": 2, "result": "again"}\n',  # a duplicate counts once
    ]
    path.write_text("".join(lines) + '{"line": 7, "re')
    resume = scan_output(path)
    assert [n for n, flag in enumerate(resume.done) if flag] == [2, 5, 9]
    assert (resume.records, resume.failures) == (3, 1)
    assert resume.keep == len("".join(lines).encode())
