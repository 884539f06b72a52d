"""loky is optional: the core never imports it, and a missing loky gets an install hint."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gristmill import LeasedExecutorManager, UnsupportedBackendError, available_backends

PROBE = """
import sys
import gristmill
from gristmill import LeasedExecutorManager, available_backends
from gristmill.backends import register_backend

available_backends()
LeasedExecutorManager(backend="thread", max_pools=1)
LeasedExecutorManager(backend="process", max_pools=1)
print(sorted(name for name in ("loky", "cloudpickle") if name in sys.modules))
"""


def test_importing_and_using_the_core_does_not_import_loky() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert probe.stdout.strip() == "[]"


def test_without_loky_the_backend_is_unavailable_and_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "loky", None)  # what a missing package looks like
    assert "loky" not in available_backends()
    with pytest.raises(UnsupportedBackendError, match="needs the loky package") as caught:
        LeasedExecutorManager(backend="loky", max_pools=1)
    assert "pip install 'gristmill[loky]'" in str(caught.value)
