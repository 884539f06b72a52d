"""backend="dask" is registered lazily: gristmill never imports distributed until asked.

Each check runs in a fresh interpreter, because the test process itself may
already have imported distributed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter with this checkout first on the path; return stdout."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_gristmill_does_not_import_distributed() -> None:
    out = _run(
        """
        import sys
        import gristmill
        from gristmill import LeasedExecutorManager
        LeasedExecutorManager(backend="thread", max_pools=1)
        print("distributed" in sys.modules, "dask" in sys.modules)
        """
    )
    assert out == "False False"


def test_dask_is_listed_when_distributed_is_installed() -> None:
    # find_spec, not importorskip: importing distributed here would install its
    # exception picklers in this process for every later test.
    if importlib.util.find_spec("distributed") is None:
        pytest.skip("distributed is not installed")
    out = _run(
        """
        from gristmill.backends import available_backends
        print("dask" in available_backends())
        """
    )
    assert out == "True"


def test_without_distributed_the_dask_backend_says_what_to_install() -> None:
    out = _run(
        """
        import sys
        sys.modules["distributed"] = None  # as if the package were not installed
        from gristmill import LeasedExecutorManager, UnsupportedBackendError
        from gristmill.backends import available_backends
        try:
            LeasedExecutorManager(backend="dask", max_pools=1)
        except UnsupportedBackendError as exc:
            print("dask" in available_backends(), "|", exc)
        """
    )
    assert out.startswith("False |"), out
    assert "pip install 'gristmill[dask]'" in out
