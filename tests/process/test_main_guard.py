"""A program without its ``if __name__ == "__main__":`` guard gets one clear error.

With the forkserver and spawn start methods every process worker imports the
main module again. Without the guard the stdlib used to print a page of
bootstrapping ``RuntimeError`` and ``BrokenProcessPool`` tracebacks (and leaked
semaphores) from every worker; the manager now refuses to start first. Each
program runs in its own interpreter, as a user would run it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gristmill import LeasedExecutorManager, MissingMainGuardError

ROOT = Path(__file__).resolve().parents[2]

BODY = """\
import asyncio
import hashlib

from gristmill import LeasedExecutorManager, WorkGrinder


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def main() -> None:
    async with (
        LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2) as manager,
        WorkGrinder(executor_manager=manager, max_wait_seconds=0.01) as grinder,
    ):
        print(await grinder.submit(digest, b"hello"))

"""


def _run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, *args, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_program_without_the_guard_fails_once_with_a_clear_error(
    tmp_path: Path, method: str
) -> None:
    source = BODY.replace(
        'backend="process",', f'backend="process", mp_context=mp.get_context({method!r}),'
    )
    source = "import multiprocessing as mp\n" + source + "asyncio.run(main())\n"
    result = _run(tmp_path, source)
    assert result.returncode == 1
    assert result.stdout == ""
    stderr = result.stderr
    assert stderr.count("Traceback (most recent call last)") == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("gristmill._errors.MissingMainGuardError: the manager is started")
    assert 'if __name__ == "__main__":' in last
    assert "program.py (line" in last
    for noise in ("bootstrapping", "BrokenProcessPool", "leaked"):
        assert noise not in stderr


def test_the_same_program_with_the_guard_runs(tmp_path: Path) -> None:
    source = BODY + 'if __name__ == "__main__":\n    asyncio.run(main())\n'
    result = _run(tmp_path, source)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 64
    assert result.stderr == ""


def test_a_program_run_as_a_module_without_the_guard_fails_the_same_way(tmp_path: Path) -> None:
    (tmp_path / "program.py").write_text(BODY + "asyncio.run(main())\n")
    result = subprocess.run(
        [sys.executable, "-m", "program"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "MissingMainGuardError" in result.stderr.strip().splitlines()[-1]


def test_thread_pools_need_no_guard(tmp_path: Path) -> None:
    source = BODY.replace('backend="process"', 'backend="thread"') + "asyncio.run(main())\n"
    result = _run(tmp_path, source)
    assert result.returncode == 0, result.stderr


def test_code_given_with_dash_c_is_not_checked() -> None:
    # Workers cannot import a function defined in -c code, so a builtin runs instead.
    code = BODY.replace('digest, b"hello"', 'len, b"hello"') + "asyncio.run(main())\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "5\n"


async def test_a_worker_still_importing_the_main_module_refuses_to_start_a_manager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    # What the stdlib sets in a worker while it imports the main module.
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    manager = LeasedExecutorManager(max_pools=1)
    with pytest.raises(MissingMainGuardError, match="while it was importing the program's main"):
        await manager.start()
    assert manager.stats()["state"] == "created"


def test_the_error_text_names_the_guard() -> None:
    assert 'if __name__ == "__main__":' in textwrap.dedent(MissingMainGuardError.__doc__ or "")
