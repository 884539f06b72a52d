"""``make compat``'s pieces that need no download: the shim and the verdict.

The run itself (leasepool's suite, fetched from the package index) is ``make
compat``, a step of CI; these tests pin down what it relies on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from compat.run import BAR, GUIDE, documented_failures, judge

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "compat" / "shim"


def test_the_shim_answers_import_leasepool_with_gristmill_even_with_leasepool_installed() -> None:
    probe = (
        "import leasepool, leasepool.backends, leasepool.exceptions, gristmill, gristmill.backends;"
        "print(leasepool.__file__);"
        "assert leasepool.WorkGrinder is gristmill.WorkGrinder;"
        "assert leasepool.backends.build_executor is gristmill.backends.build_executor;"
        "assert leasepool.exceptions.LeaseExpiredError is gristmill.LeaseExpiredError;"
        "assert set(leasepool.__all__) == set(gristmill.__all__)"
    )
    env = {**os.environ, "PYTHONPATH": str(SHIM)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve().parent == SHIM / "leasepool"


def test_the_guide_lists_each_remaining_failure_by_its_test_id() -> None:
    listed = documented_failures(GUIDE.read_text())
    assert listed, "docs/migrating.md lists no leasepool test"
    assert all(test.startswith("tests/test_") and "::test_" in test for test in listed)


def test_the_verdict_holds_when_enough_pass_and_every_failure_is_listed() -> None:
    outcomes = {f"tests/t.py::test_{n}": "passed" for n in range(BAR)}
    outcomes |= {"tests/t.py::test_known": "failed", "tests/t.py::test_skip": "skipped"}
    verdict = judge(outcomes, {"tests/t.py::test_known"})
    assert verdict.holds, verdict.problems
    assert verdict.counts == {"passed": BAR, "failed": 1, "skipped": 1}


def test_the_verdict_fails_on_an_unlisted_failure_a_stale_entry_or_too_few_passes() -> None:
    outcomes = {"tests/t.py::test_new": "failed", "tests/t.py::test_fixed": "passed"}
    verdict = judge(outcomes, {"tests/t.py::test_fixed", "tests/t.py::test_gone"}, bar=2)
    assert verdict.problems == [
        "fails, but docs/migrating.md does not list it: tests/t.py::test_new",
        "listed in docs/migrating.md as failing, but it passes: tests/t.py::test_fixed",
        "listed in docs/migrating.md as failing, but it does not exist: tests/t.py::test_gone",
        "only 1 passed; at least 2 must",
    ]
