"""Run one benchmark cell (one scenario, one system, one repeat) in this process.

The runner starts a fresh interpreter per cell::

    python -m benchmarks.cell SCENARIO SYSTEM OUT.json [--quick] [--gristmill-module M]

and reads ``{"status": "ok", "metrics": {...}}`` (or ``"unavailable"`` /
``"error"`` with a ``message``) back from ``OUT.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

from benchmarks import scheduling
from benchmarks.bulk import BULK_SYSTEMS, run_bulk_cell
from benchmarks.scenarios import JOBS, SCENARIOS, SCHEDULING_SCENARIOS, Scenario
from benchmarks.systems import open_harness
from benchmarks.workloads import Metrics, memory, parallel_serial, serial, submit_all, warm_up

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEDULING_SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCHEDULING_SCENARIOS}


def make_importable() -> None:
    """Put the repository root on ``sys.path`` and ``PYTHONPATH``.

    Process-pool workers started with forkserver or spawn import the job
    functions as ``benchmarks.jobs``; they inherit the environment, so
    ``PYTHONPATH`` makes that import work whatever the start method.
    """
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


async def _run_scheduling(
    scenario: Scenario, variant: str, quick: bool, module_name: str
) -> Metrics:
    return await scheduling.run(importlib.import_module(module_name), scenario.name, variant, quick)


async def _run_async(scenario: Scenario, system: str, n: int, gristmill_module: str) -> Metrics:
    async with open_harness(system, scenario, gristmill_module) as harness:
        if scenario.kind == "memory":
            return await memory(harness, n)
        await warm_up(harness, scenario.total_workers)
        rate = scenario.rate if scenario.kind == "trickle" else None
        return await submit_all(harness, JOBS[scenario.job], n, rate)


def run_cell(scenario: Scenario, system: str, quick: bool, gristmill_module: str) -> Metrics:
    """Run ``system`` on ``scenario`` once and return its metrics."""
    if system not in scenario.systems:
        raise ValueError(f"{scenario.name} does not run {system}")
    if scenario.kind == "scheduling":
        return asyncio.run(_run_scheduling(scenario, system, quick, gristmill_module))
    n = scenario.size(quick)
    if system in BULK_SYSTEMS:
        return run_bulk_cell(scenario, system, n)
    if system == "serial":
        return serial(JOBS[scenario.job], n)
    if system == "parallel_serial":
        return parallel_serial(JOBS[scenario.job], n, scenario.total_workers)
    return asyncio.run(_run_async(scenario, system, n, gristmill_module))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: run one cell and write its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("system")
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gristmill-module", default="gristmill")
    args = parser.parse_args(argv)
    make_importable()
    scheduling_cell = SCHEDULING_SCENARIOS_BY_NAME.get(args.scenario) is not None
    module = (
        args.gristmill_module
        if scheduling_cell
        else {"gristmill": args.gristmill_module}.get(args.system, args.system)
    )
    result: dict[str, object]
    try:
        metrics = run_cell(SCENARIOS[args.scenario], args.system, args.quick, args.gristmill_module)
        result = {"status": "ok", "metrics": metrics}
    except Exception as exc:  # any failure is reported to the runner, not raised
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == module
        result = {
            "status": "unavailable" if missing else "error",
            "message": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc().strip().splitlines()[-8:],
        }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
