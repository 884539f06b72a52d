"""What ``gristmill map`` does with one line, which lines it reads, and what resume finds."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gristmill._cli._lines import (
    LineFailed,
    count_items,
    error_line,
    read_items,
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
        run_line(fn, star, (7, raw))  # type: ignore[arg-type]
    return record(str(caught.value.args[0]))


@pytest.mark.parametrize(
    "raw",
    [b"5\n", b"  5  \r\n", b'"x\\u00e9"\n', b'{"a": [1, 2.5, null]}\n', b"[true]", b"NaN\n"],
)
def test_a_line_round_trips_through_json(raw: bytes) -> None:
    line = run_line(lambda value: value, False, (7, raw))
    expected = json.loads(raw)
    got = record(line)
    assert got["line"] == 7
    assert json.dumps(got["result"]) == json.dumps(expected)


def test_common_results_are_encoded_like_json_dumps() -> None:
    for value in (0, -12, 10**30, "plain", 'quote " and \\ and é', None, True, False, 1.5, [1]):
        line = run_line(lambda _: value, False, (1, b"0"))  # noqa: B023 - used at once
        assert line == f'{{"line": 1, "result": {json.dumps(value, ensure_ascii=False)}}}\n'


def test_a_blank_line_gives_no_record() -> None:
    assert run_line(abs, False, (3, b"\n")) == ""
    assert run_line(abs, False, (3, b"   \t\r\n")) == ""


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
    assert record(run_line(pow, True, (1, b"[2, 5]\n")))["result"] == 32
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


def test_read_items_numbers_every_line_and_skips_those_already_done() -> None:
    stream = io.BytesIO(b"a\nb\nc\nd\ne")
    assert list(read_items(stream, None)) == [
        (1, b"a\n"),
        (2, b"b\n"),
        (3, b"c\n"),
        (4, b"d\n"),
        (5, b"e"),
    ]
    done = bytearray(4)
    done[1] = done[3] = 1
    stream = io.BytesIO(b"a\nb\nc\nd\ne")
    assert [number for number, _ in read_items(stream, done)] == [2, 4, 5]


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
