"""The soak tests' job: cheap, picklable, and with an outcome known from the item alone.

Process workers import this module by name, so everything the soak sends
across the process boundary lives here.
"""

from __future__ import annotations

import os


class ItemFailedError(Exception):
    """The failure an item was planned to raise; carries the item's number."""

    def __init__(self, item: int) -> None:
        super().__init__(item)
        self.item = item


def expected(item: int) -> int:
    """The result ``grind(item, fails=False)`` returns."""
    return item * 3 + 1


def grind(item: int, fails: bool) -> int:
    """Return :func:`expected` for ``item``, or raise its own :class:`ItemFailedError`."""
    if fails:
        raise ItemFailedError(item)
    return expected(item)


def kill_worker(item: int) -> int:
    """Kill the worker process without cleanup, which breaks its pool; never returns."""
    os._exit(70)
