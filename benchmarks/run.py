"""Command-line runner: every cell in a fresh subprocess, medians, report, JSON.

Run from the repository root::

    python -m benchmarks [--scenario NAME ...] [--systems a,b] [--repeats N]
                         [--quick] [--markdown] [--timeout S]
                         [--gristmill-module NAME]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.cell import REPO_ROOT
from benchmarks.report import format_markdown, format_text, machine_info
from benchmarks.results import Cell, ScenarioResult
from benchmarks.scenarios import ALL_SYSTEMS, SCENARIOS, Scenario

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "latest.json"
# How long a finished cell's worker processes get to exit before being killed.
LEFTOVER_GRACE_SECONDS = 2.0


def _systems(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_SYSTEMS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(ALL_SYSTEMS)}"
        )
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark gristmill against leasepool, asyncio.to_thread, "
        "run_in_executor and a serial loop.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="scenario to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--systems",
        type=_systems,
        default=list(ALL_SYSTEMS),
        help=f"comma-separated systems (default: {','.join(ALL_SYSTEMS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="fresh-process runs per cell (default 3; 1 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown report")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds before a cell run is killed",
    )
    parser.add_argument(
        "--gristmill-module",
        default="gristmill",
        help="module to import for the gristmill column (e.g. leasepool as a stand-in)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_PATH,
        help="where to write the JSON results",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def _end_leftovers(pgid: int, grace: float) -> bool:
    """Kill what is left in the cell's process group after ``grace`` s; True if anything was."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def launch_cell(
    scenario: str, system: str, *, quick: bool, gristmill_module: str, timeout: float
) -> dict[str, Any]:
    """Run one cell in a fresh interpreter (own process group) and return its record."""
    with tempfile.TemporaryDirectory(prefix="gristmill-bench-") as tmp:
        out = Path(tmp) / "result.json"
        log = Path(tmp) / "output.txt"
        command = [sys.executable, "-m", "benchmarks.cell", scenario, system, str(out)]
        command += ["--gristmill-module", gristmill_module]
        if quick:
            command.append("--quick")
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
            try:
                proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            leftovers = _end_leftovers(proc.pid, 0.0 if timed_out else LEFTOVER_GRACE_SECONDS)
            proc.wait()
        record: dict[str, Any]
        if timed_out:
            record = {"status": "timeout", "message": f"killed after {timeout:g} s"}
        elif out.exists():
            record = json.loads(out.read_text())
        else:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            record = {
                "status": "error",
                "message": f"cell exited with {proc.returncode} and no result",
                "trace": tail,
            }
        if leftovers and not timed_out:
            record["leftover_processes"] = True
        return record


def _progress(scenario: str, system: str, repeat: int, record: dict[str, Any]) -> None:
    metrics = record.get("metrics", {})
    figure = next(
        (metrics[key] for key in ("items_per_s", "bytes_per_item") if key in metrics),
        next(iter(metrics.values()), None),
    )
    detail = f"{figure:,.1f}" if isinstance(figure, float) else record.get("message", "")
    print(f"[{scenario}] {system} #{repeat}: {record['status']} {detail}", file=sys.stderr)


def _selected(scenario: Scenario, system: str, chosen: list[str]) -> bool:
    """Whether to run ``system``; a scheduling scenario's variants are all gristmill."""
    if scenario.kind == "scheduling":
        return "gristmill" in chosen
    return system in chosen


def run_scenarios(args: argparse.Namespace) -> list[ScenarioResult]:
    """Run every selected cell ``args.repeats`` times, interleaving systems."""
    available = importlib.util.find_spec(args.gristmill_module) is not None
    results = []
    for name in args.scenario or list(SCENARIOS):
        scenario = SCENARIOS[name]
        systems = [s for s in scenario.systems if _selected(scenario, s, args.systems)]
        cells = {system: Cell(system) for system in systems}
        for repeat in range(1, args.repeats + 1):
            for system in systems:
                if (system == "gristmill" or scenario.kind == "scheduling") and not available:
                    record: dict[str, Any] = {
                        "status": "unavailable",
                        "message": f"cannot import {args.gristmill_module}",
                    }
                else:
                    record = launch_cell(
                        name,
                        system,
                        quick=args.quick,
                        gristmill_module=args.gristmill_module,
                        timeout=args.timeout,
                    )
                cells[system].runs.append(record)
                _progress(name, system, repeat, record)
        results.append(ScenarioResult(scenario, cells))
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the report and write the JSON results."""
    args = parse_args(argv)
    machine = machine_info(args.gristmill_module)
    results = run_scenarios(args)
    report = format_markdown if args.markdown else format_text
    print(report(results, machine, args.quick))
    payload = {
        "machine": machine,
        "settings": {
            "quick": args.quick,
            "repeats": args.repeats,
            "timeout_s": args.timeout,
            "gristmill_module": args.gristmill_module,
        },
        "scenarios": {r.scenario.name: r.to_json(args.quick) for r in results},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
