"""The Makefile's virtual environment: what ``make demo`` and ``make test`` would do.

Each test copies the Makefile and pyproject.toml into an empty folder, lays out a
``.venv`` the way a user's machine might have it, and asks ``make -n`` (print the
commands, run none) what it would do; nothing is installed. A ``.venv`` left by a
first try under Python 3.10 used to be reused forever, so ``make demo`` kept
failing until ``make clean``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

OLD_PYTHON = "#!/bin/sh\n# Answers the Makefile's version check as a Python 3.10 would.\nexit 1\n"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder with the Makefile and pyproject.toml, and no .venv yet."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def make(checkout: Path, *args: str, dry_run: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``make`` in ``checkout`` as a user would, not as a sub-make of ``make test``.

    An outer ``make`` (CI runs the suite through ``make test``) exports
    ``MAKELEVEL`` and ``MAKEFLAGS``, which would make this one print
    "Entering directory" lines; they are left out.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    return subprocess.run(
        ["make", *(["-n"] if dry_run else []), *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def make_venv(checkout: Path, python: str | None, *, stamps: bool = True) -> None:
    """A ``.venv`` whose ``bin/python`` is ``python`` (a link or a script), with fresh stamps."""
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    target = bin_dir / "python"
    if python == sys.executable:
        target.symlink_to(sys.executable)
    elif python is None:
        target.symlink_to(checkout / "no-such-python")  # a broken link
    else:
        target.write_text(python)
        target.chmod(0o755)
    if stamps:
        for name in (".core-stamp", ".installed-stamp"):
            (checkout / ".venv" / name).touch()
        later = (checkout / "pyproject.toml").stat().st_mtime + 10
        for name in (".core-stamp", ".installed-stamp"):
            os.utime(checkout / ".venv" / name, (later, later))


def test_make_demo_on_a_fresh_checkout_installs_the_library_without_extras(
    checkout: Path,
) -> None:
    result = make(checkout, "demo", f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert f"{sys.executable} -m venv .venv" in result.stdout
    assert ".venv/bin/python -m pip install --quiet -e .\n" in result.stdout
    assert "[dev" not in result.stdout
    assert result.stdout.strip().endswith(
        ".venv/bin/python examples/demo.py\n.venv/bin/python examples/map_cli.py --lines 3000"
    )


def test_make_test_on_a_fresh_checkout_installs_every_extra(checkout: Path) -> None:
    result = make(checkout, "test", f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert "pip install --quiet -e '.[dev,bench,all,docs]'" in result.stdout
    assert result.stdout.strip().endswith(".venv/bin/python -m pytest")


def test_a_healthy_venv_is_reused(checkout: Path) -> None:
    make_venv(checkout, sys.executable)
    result = make(checkout, "demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        ".venv/bin/python examples/demo.py",
        ".venv/bin/python examples/map_cli.py --lines 3000",
    ]


@pytest.mark.parametrize(
    "python", [OLD_PYTHON, None], ids=["older-than-3.11", "missing-interpreter"]
)
def test_a_venv_with_an_old_or_broken_python_is_rebuilt(checkout: Path, python: str | None) -> None:
    make_venv(checkout, python)
    result = make(checkout, "demo", f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "rm -rf .venv" in lines
    assert lines.index("rm -rf .venv") < lines.index(
        f"test -x .venv/bin/python || {sys.executable} -m venv .venv"
    )


def test_an_old_host_python_fails_at_once_and_leaves_no_venv(checkout: Path) -> None:
    old = checkout / "python3.10"
    old.write_text(OLD_PYTHON)
    old.chmod(0o755)
    result = make(checkout, "demo", f"PYTHON={old}", dry_run=False)
    assert result.returncode != 0
    assert "gristmill needs Python 3.11 or newer" in result.stderr
    assert not (checkout / ".venv").exists()


def test_ci_still_runs_make_test() -> None:
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()
