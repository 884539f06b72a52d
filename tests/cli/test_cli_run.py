"""The ``gristmill`` command, run as a subprocess on real files.

Interruptions are deterministic: items from 500 on wait for a gate file
(:func:`tests.cli.funcs.gated`), the test sends the signal once output has
appeared, and opens the gate only afterwards. Every wait is bounded far
above what a loaded machine needs; no assertion is about a duration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import gristmill._cli

REPO = Path(__file__).resolve().parents[2]
BOUND = 60.0
"""Real seconds a command may take before the test fails (a hang, not a slow machine)."""

FUNCS = "tests.cli.funcs"


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gristmill ARGS`` from the repository root and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "gristmill", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``python -m gristmill ARGS`` in its own session (a process group of its own)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gristmill", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` parsed; fails on a half or invalid line."""
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the output ends in a half line"
    return [json.loads(line) for line in text.splitlines()]


def wait_for_lines(path: Path, count: int) -> None:
    deadline = time.monotonic() + BOUND
    while not (path.exists() and path.read_bytes().count(b"\n") >= count):
        assert time.monotonic() < deadline, f"{path} never reached {count} lines"
        time.sleep(0.02)


# -- results and failures ----------------------------------------------------------------


def test_each_line_gets_a_result_record_in_order(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(300)])
    output = tmp_path / "out.jsonl"
    done = run_cli("map", f"{FUNCS}:square", str(source), "-o", str(output))
    assert done.returncode == 0, done.stderr
    assert records(output) == [{"line": n + 1, "result": n * n} for n in range(300)]
    assert "300 lines" in done.stderr
    assert "300 ok, 0 failed" in done.stderr


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_a_long_mixed_input_comes_out_whole_in_blocks(tmp_path: Path, backend: str) -> None:
    # Plain numbers (one json.loads a block), objects (the C scanner), blank and bad
    # lines (line by line), many thousands of lines so the blocks grow, a small
    # --max-in-flight, and a last line without its newline.
    lines = [str(n) if n % 3 else json.dumps({"n": n, "s": "a, [b]"}) for n in range(20_000)]
    lines[5_000], lines[12_345], lines[7] = "", "{oops", "99"
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines))
    output = tmp_path / "out.jsonl"
    done = run_cli(
        "map", f"{FUNCS}:picky", str(source), "-o", str(output),
        "--backend", backend, "--workers", "2", "--max-in-flight", "3000",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    got = {record["line"]: record for record in records(output)}
    assert sorted(got) == [n + 1 for n in range(20_000) if n != 5_000]
    assert got[12_346]["error"]["type"] == "JSONDecodeError"
    assert got[14]["error"] == {"type": "LookupError", "message": "unlucky"}
    assert got[8]["error"]["type"] == "TypeError"  # 99 gives a set
    assert got[20_000] == {"line": 20_000, "result": 19_999}
    assert got[4] == {"line": 4, "result": {"n": 3, "s": "a, [b]"}}
    assert "20,000 lines" in done.stderr
    assert "19,996 ok, 3 failed, 1 blank" in done.stderr


def test_without_output_the_records_go_to_stdout_and_input_may_be_stdin() -> None:
    done = run_cli("map", f"{FUNCS}:square", "-", stdin="2\n3\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"line": 1, "result": 4}\n{"line": 2, "result": 9}\n'
    assert "output: stdout" in done.stderr


def test_failures_and_bad_lines_become_error_records_and_exit_1(tmp_path: Path) -> None:
    lines = ["1", "-4", "not json", "", "13", "99", '"text"', "{", "2"]
    source = write_lines(tmp_path / "in.jsonl", lines)
    output = tmp_path / "out.jsonl"
    done = run_cli("map", f"{FUNCS}:picky", str(source), "-o", str(output))
    assert done.returncode == 1
    got = {record["line"]: record for record in records(output)}
    assert set(got) == {1, 2, 3, 5, 6, 7, 8, 9}  # line 4 is blank: no record
    assert got[1] == {"line": 1, "result": 1}
    assert got[2]["error"] == {"type": "ValueError", "message": "negative: -4"}
    assert got[3]["error"]["type"] == "JSONDecodeError"
    assert got[5]["error"] == {"type": "LookupError", "message": "unlucky"}
    assert got[6]["error"]["type"] == "TypeError"  # a set is not JSON
    assert got[7] == {"line": 7, "result": "text"}
    assert got[8]["error"]["type"] == "JSONDecodeError"
    assert got[9] == {"line": 9, "result": 2}
    assert "3 ok, 5 failed, 1 blank" in done.stderr
    allowed = run_cli("map", f"{FUNCS}:picky", str(source), "-o", str(output), "--allow-failures")
    assert allowed.returncode == 0


def test_star_spreads_each_array_into_arguments(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", ["[1, 2]", "[10, 20]", "5"])
    output = tmp_path / "out.jsonl"
    done = run_cli("map", f"{FUNCS}:add", str(source), "-o", str(output), "--star")
    assert done.returncode == 1
    got = records(output)
    assert got[:2] == [{"line": 1, "result": 3}, {"line": 2, "result": 30}]
    assert got[2]["error"]["type"] == "TypeError"
    assert "JSON array" in got[2]["error"]["message"]


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_unordered_output_holds_every_record_once(tmp_path: Path, backend: str) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(500)])
    output = tmp_path / "out.jsonl"
    done = run_cli(
        "map",
        f"{FUNCS}:square",
        str(source),
        "-o",
        str(output),
        "--unordered",
        "--backend",
        backend,
        "--workers",
        "2",
    )
    assert done.returncode == 0, done.stderr
    got = sorted(records(output), key=lambda record: int(record["line"]))
    assert got == [{"line": n + 1, "result": n * n} for n in range(500)]


def test_a_run_timeout_fails_the_hung_line_and_the_others_complete(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(20)])
    output = tmp_path / "out.jsonl"
    done = run_cli(
        "map",
        f"{FUNCS}:hang_at",
        str(source),
        "-o",
        str(output),
        "--backend",
        "process",
        "--workers",
        "2",
        "--run-timeout",
        "1",
    )
    assert done.returncode == 1, done.stderr
    got = {record["line"]: record for record in records(output)}
    assert got[8]["error"]["type"] == "TimeoutError"  # input 7 is on line 8
    assert len(got) == 20
    assert all(
        got[n + 1] == {"line": n + 1, "result": n} for n in range(20) if "result" in got[n + 1]
    )


# -- resume and interruptions ------------------------------------------------------------


def test_resume_skips_the_lines_output_holds_and_cuts_a_half_line(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(50)])
    output = tmp_path / "out.jsonl"
    earlier = [{"line": 3, "result": "kept"}, {"line": 1, "error": {"type": "E", "message": ""}}]
    output.write_text("".join(json.dumps(r) + "\n" for r in earlier) + '{"line": 2, "res')
    done = run_cli("map", f"{FUNCS}:square", str(source), "-o", str(output), "--resume")
    assert done.returncode == 1  # line 1's earlier failure is still in OUTPUT
    got = records(output)
    assert got[:2] == earlier  # kept as they were
    assert sorted(r["line"] for r in got) == list(range(1, 51))
    redone = {r["line"]: r["result"] for r in got[2:]}
    assert redone == {n + 1: n * n for n in range(50) if n + 1 not in (1, 3)}
    assert "48 lines" in done.stderr
    assert "2 done before (1 failed)" in done.stderr


@pytest.mark.parametrize(
    ("backend", "how"),
    [("thread", signal.SIGINT), ("thread", signal.SIGTERM), ("process", signal.SIGINT)],
)
def test_an_interrupted_run_leaves_whole_lines_and_resumes_to_completion(
    tmp_path: Path, backend: str, how: signal.Signals
) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(2000)])
    output = tmp_path / "out.jsonl"
    gate = tmp_path / "gate"
    env = {**os.environ, "GRISTMILL_TEST_GATE": str(gate)}
    args = ["map", f"{FUNCS}:gated", str(source), "-o", str(output), "--backend", backend]
    args += ["--workers", "2", "--grace", "60"]
    run = start(*args, env=env)
    try:
        wait_for_lines(output, 100)  # items below 500 are done; the rest wait for the gate
        os.killpg(run.pid, how)  # as Ctrl-C does: the whole process group
        time.sleep(0.2)
        gate.touch()  # now the running items may finish
        _, stderr = run.communicate(timeout=BOUND)
    finally:
        run.kill()
    assert run.returncode == 130, stderr
    assert "interrupted: run again with --resume" in stderr
    first = records(output)
    lines = [record["line"] for record in first]
    assert lines == list(range(1, len(lines) + 1))  # ordered, whole, no gap
    assert 100 <= len(lines) < 2000
    resumed = run_cli(*args, "--resume", env=env)
    assert resumed.returncode == 0, resumed.stderr
    final = records(output)
    assert sorted(record["line"] for record in final) == list(range(1, 2001))
    assert all(record["result"] == record["line"] - 1 for record in final)


@pytest.mark.parametrize(("grace", "interrupts"), [("0.5", 1), ("60", 2)])
def test_the_grace_ending_or_a_second_interrupt_stops_a_hung_item(
    tmp_path: Path, grace: str, interrupts: int
) -> None:
    source = write_lines(tmp_path / "in.jsonl", [str(n) for n in range(200)])
    output = tmp_path / "out.jsonl"
    args = ["map", f"{FUNCS}:hang_at", str(source), "-o", str(output), "--grace", grace]
    run = start(*args, "--workers", "2", env=dict(os.environ))
    try:
        wait_for_lines(output, 2)  # the item on line 8 hangs, holding up what follows
        for _ in range(interrupts):
            os.killpg(run.pid, signal.SIGINT)
            time.sleep(0.2)
        _, stderr = run.communicate(timeout=BOUND)  # far less than the minute it hangs
    finally:
        run.kill()
    assert run.returncode == 130, stderr
    lines = [record["line"] for record in records(output)]
    assert lines == list(range(1, len(lines) + 1))
    assert len(lines) < 8


# -- the command line itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["map", "no_colon", "x"], "MODULE:FUNC"),
        (["map", "no_such_module_xyz:f", "{input}"], "cannot import 'no_such_module_xyz'"),
        (["map", f"{FUNCS}:missing", "{input}"], "has no 'missing'"),
        (["map", f"{FUNCS}:NOT_A_FUNCTION", "{input}"], "not a function"),
        (["map", f"{FUNCS}:square", "{input}.missing"], "is not a file"),
        (["map", f"{FUNCS}:square", "{input}", "--resume"], "--resume needs -o"),
        (["map", f"{FUNCS}:square", "{input}", "--workers", "0"], "--workers must be > 0"),
        (["map", f"{FUNCS}:square", "{input}", "--max-wait", "-1"], "--max-wait must be > 0"),
        (["map", f"{FUNCS}:square", "{input}", "--pools", "two"], "--pools must be a whole"),
        (["map", f"{FUNCS}:square", "{input}", "--run-timeout", "1"], "--run-timeout needs"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(
    tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_lines(tmp_path / "in.jsonl", ["1"])
    done = run_cli(*(arg.replace("{input}", str(source)) for arg in args))
    assert done.returncode == 2
    assert message in done.stderr


def test_the_console_script_and_the_version() -> None:
    (script,) = metadata.entry_points(group="console_scripts", name="gristmill")
    assert script.load() is gristmill._cli.main
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("gristmill ")
