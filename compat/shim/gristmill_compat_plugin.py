"""pytest plugin for ``make compat``: proves the shim is what ``import leasepool`` finds,
and writes every test's outcome to the JSON file named by ``GRISTMILL_COMPAT_RESULTS``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parent
_outcomes: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    import leasepool

    import gristmill

    found = Path(leasepool.__file__ or "").resolve()
    grinder: object = leasepool.WorkGrinder  # the real leasepool's own class, if it answered
    if SHIM not in found.parents or grinder is not gristmill.WorkGrinder:
        raise pytest.UsageError(f"import leasepool found {found}, not the gristmill shim in {SHIM}")
    print(f"leasepool is the shim at {found.parent}, over gristmill {gristmill.__version__}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test's outcome is its call's, unless its setup failed or skipped or its teardown failed."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _outcomes[report.nodeid] = report.outcome
    elif report.when == "teardown" and report.failed:
        _outcomes[report.nodeid] = "failed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("GRISTMILL_COMPAT_RESULTS")
    if target:
        Path(target).write_text(json.dumps(_outcomes, indent=1, sort_keys=True))
