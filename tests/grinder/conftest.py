"""Fixtures for the grinder tests: a factory of fake lease sources that cleans up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.grinder.fakes import ThreadLeaseSource

SourceFactory = Callable[..., ThreadLeaseSource]


@pytest.fixture
def make_source() -> Iterator[SourceFactory]:
    """Build :class:`ThreadLeaseSource` objects; their pools are joined at teardown."""
    sources: list[ThreadLeaseSource] = []

    def factory(**options: Any) -> ThreadLeaseSource:
        source = ThreadLeaseSource(**options)
        sources.append(source)
        return source

    yield factory
    for source in sources:
        source.close()
