"""Fixtures for the backend tests: a registry that forgets what a test registered."""

from __future__ import annotations

import pytest

from gristmill._backends import _registry


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each test register names freely; the process-wide table is restored afterwards.

    The registry offers no way to unregister (a name that worked keeps
    working), so the test swaps in a copy of the table.
    """
    monkeypatch.setattr(_registry, "_entries", dict(_registry._entries))
