"""``make compat``: run leasepool 0.1.3's own test suite against gristmill.

::

    pip download leasepool==0.1.3 (sdist) ──► compat/.cache/ (kept, never committed)
        │ sha256 checked, unpacked afresh
        ▼
    pytest on its tests/, with compat/shim first on PYTHONPATH:
        import leasepool ──► compat/shim/leasepool ──► gristmill
        (the plugin refuses to run if the real leasepool answers instead)
        ▼
    outcomes ──► verdict: at least BAR pass, and every failure is one that
                 docs/migrating.md lists with its reason (and none listed passes)

A failure that docs/migrating.md does not list is run once more before it
counts, so a test that only lost a race on a loaded machine does not fail CI.
Exits 0 when the verdict holds, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "compat" / "shim"
CACHE = ROOT / "compat" / ".cache"
GUIDE = ROOT / "docs" / "migrating.md"
VERSION = "0.1.3"
SDIST = CACHE / f"leasepool-{VERSION}.tar.gz"
SHA256 = "9ba860b3a2858a7f06d69163aacb61956357b51e71b46689520118d0c9b2f9bb"
BAR = 150
"""Tests of the 156 in leasepool 0.1.3's suite that must pass against gristmill."""

_TEST_ID = re.compile(r"`(tests/[\w/]+\.py::[^`\s]+)`")


@dataclass(frozen=True)
class Verdict:
    """What a run came to: the counts, and each reason it fails (none: it holds)."""

    counts: Mapping[str, int]
    problems: list[str]

    @property
    def holds(self) -> bool:
        return not self.problems


def documented_failures(guide: str) -> set[str]:
    """Return the test ids (```tests/x.py::name```) the migration guide lists as failing."""
    return set(_TEST_ID.findall(guide))


def judge(outcomes: Mapping[str, str], documented: set[str], bar: int = BAR) -> Verdict:
    """Decide whether ``outcomes`` (test id -> passed/failed/skipped) meet the bar.

    It holds when at least ``bar`` tests passed, every failure is in
    ``documented``, and every documented test ran and failed (a listed
    failure that now passes, or no longer exists, makes the guide wrong).
    """
    counts = Counter(outcomes.values())
    failed = {test for test, outcome in outcomes.items() if outcome == "failed"}
    problems = [
        f"fails, but docs/migrating.md does not list it: {test}"
        for test in sorted(failed - documented)
    ]
    for test in sorted(documented - failed):
        state = "passes" if test in outcomes else "does not exist"
        problems.append(f"listed in docs/migrating.md as failing, but it {state}: {test}")
    if counts["passed"] < bar:
        problems.append(f"only {counts['passed']} passed; at least {bar} must")
    return Verdict(counts=dict(counts), problems=problems)


def fetch() -> Path:
    """Download leasepool's sdist into the cache unless it is there; check it; return the path."""
    if not SDIST.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"leasepool=={VERSION}", "--dest", str(CACHE)],
            check=True,
        )  # fmt: skip
    digest = hashlib.sha256(SDIST.read_bytes()).hexdigest()
    if digest != SHA256:
        SDIST.unlink()
        raise SystemExit(f"{SDIST.name} has sha256 {digest}, expected {SHA256}; removed it")
    return SDIST


def unpack(sdist: Path) -> Path:
    """Unpack ``sdist`` afresh into the cache; return the project folder."""
    target = CACHE / f"leasepool-{VERSION}"
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(CACHE, filter="data")
    return target


def run_suite(project: Path, tests: list[str], results: Path) -> dict[str, str]:
    """Run ``tests`` (all of them if empty) of the unpacked project with the shim first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), env.get("PYTHONPATH")]))
    env["GRISTMILL_COMPAT_RESULTS"] = str(results)
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "gristmill_compat_plugin", "--timeout=60", "-o", "timeout_method=thread",
        "-o", "asyncio_default_fixture_loop_scope=function", *(tests or ["tests"]),
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=project, env=env, check=False)
    if finished.returncode not in (0, 1):  # 1: some tests failed; anything else: it did not run
        raise SystemExit(f"pytest could not run leasepool's suite (exit {finished.returncode})")
    outcomes: dict[str, str] = json.loads(results.read_text())
    return outcomes


def main() -> int:
    project = unpack(fetch())
    results = CACHE / "results.json"
    outcomes = run_suite(project, [], results)
    documented = documented_failures(GUIDE.read_text())
    again = sorted(t for t, o in outcomes.items() if o == "failed" and t not in documented)
    if again:
        print(f"\n== running {len(again)} unlisted failure(s) once more")
        for test, outcome in run_suite(project, again, results).items():
            if outcome == "passed":
                print(f"passed on the second run (flaky under load?): {test}")
            outcomes[test] = outcome
    verdict = judge(outcomes, documented)
    counts = verdict.counts
    print(f"\nleasepool {VERSION}'s own suite against gristmill (bar: {BAR} passed):")
    for problem in verdict.problems:
        print(f"  PROBLEM: {problem}")
    print(f"compat: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
          f"{counts.get('skipped', 0)} skipped of {len(outcomes)}")  # fmt: skip
    return 0 if verdict.holds else 1


if __name__ == "__main__":
    sys.exit(main())
