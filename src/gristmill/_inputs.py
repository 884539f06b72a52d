"""A map's argument iterables: zipped like the builtin ``map``, read lazily, a chunk at a time.

Sync iterables are read on the event loop with C-speed ``islice``; as soon as
one of them is async, every item is read with an ``await`` (an async source
may wait for its data without blocking the loop). Like ``zip``, reading stops
at the shortest iterable. An iterable that raises ``Exception`` part-way
keeps the items it gave before, and its error is kept for the map to raise at
its place, after those items' results; any other ``BaseException`` propagates
at once. Owning loop only.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from itertools import islice
from typing import Any

__all__ = ["Inputs"]


class Inputs:
    """One map's argument iterables.

    Args:
        iterables: Sync or async iterables; one argument of each call comes from each.

    Attributes:
        spread: More than one iterable, so each item is a tuple of arguments.
        exhausted: Nothing more will be read (the shortest iterable ended, or one raised).
        error: The ``Exception`` an iterable raised, if one did.

    Raises:
        TypeError: no iterable, or an argument that is neither iterable nor async iterable.
    """

    __slots__ = ("_sources", "_sync", "error", "exhausted", "spread")

    def __init__(self, iterables: tuple[Iterable[Any] | AsyncIterable[Any], ...]) -> None:
        if not iterables:
            raise TypeError("map() needs at least one iterable of arguments after fn")
        self.spread = len(iterables) > 1
        self.exhausted = False
        self.error: Exception | None = None
        self._sources: list[Iterator[Any] | AsyncIterator[Any]] = [
            _open(number, iterable) for number, iterable in enumerate(iterables, start=1)
        ]
        self._sync: Iterator[Any] | None = None
        sync = [source for source in self._sources if not isinstance(source, AsyncIterator)]
        if len(sync) == len(self._sources):
            self._sync = zip(*sync, strict=False) if self.spread else sync[0]

    @property
    def is_async(self) -> bool:
        """Whether reading needs :meth:`aread` (some iterable is async)."""
        return self._sync is None

    def read(self, size: int) -> list[Any]:
        """Read up to ``size`` items from sync iterables."""
        assert self._sync is not None
        items: list[Any] = []
        try:
            items.extend(islice(self._sync, size))  # keeps what came before an error
        except Exception as exc:
            self._fail(exc)
        if len(items) < size:
            self.exhausted = True
        return items

    async def aread(self, size: int) -> list[Any]:
        """Read up to ``size`` items when some iterable is async."""
        items: list[Any] = []
        try:
            while len(items) < size:
                args = []
                for (
                    source
                ) in self._sources:  # a comprehension would turn StopIteration into RuntimeError
                    if isinstance(source, AsyncIterator):
                        args.append(await anext(source))
                    else:
                        args.append(next(source))
                items.append(tuple(args) if self.spread else args[0])
        except (StopIteration, StopAsyncIteration):
            self.exhausted = True
        except Exception as exc:
            self._fail(exc)
        return items

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self.exhausted = True


def _open(number: int, iterable: object) -> Iterator[Any] | AsyncIterator[Any]:
    if isinstance(iterable, AsyncIterable):
        return aiter(iterable)
    try:
        return iter(iterable)  # type: ignore[call-overload, no-any-return]
    except TypeError:
        raise TypeError(
            f"map() argument #{number} must be an iterable or an async iterable, "
            f"got {type(iterable).__name__}"
        ) from None
