"""How few calls can any split strategy make? The lower bound behind the poison-split bar.

Issue 11 asks ``on_error="split"`` to find the items whose presence makes a
batch function raise while every other item still gets its result, and
bars the benchmark at ``10 * ceil(log2 256)`` = 80 extra calls for 10 poison
items. This module computes, by exhaustive dynamic programming, the fewest
extra calls that *any* strategy needs for one poison among ``n`` items, and
sets it beside what gristmill's split makes for every position of the
poison::

    python -m benchmarks.split_bound [N ...]

The model gives the strategy more than it has: it knows there is exactly one
poison. State: ``c`` candidates (one of them is the poison) and whether some
items known to be good still wait for a result. A call is any set; it
succeeds (serving its items) if the poison is not in it, else it fails and
serves nothing. The search ends when the poison is known and every good item
has been served. Extra calls are those after the first, failing, call of all
``n`` items.

The last call of every path must succeed (a failing call serves nothing, and
the path is not over while a good item waits), which is what costs the extra
call over ``log2(n)``: the bound's mean is about ``log2(n) + 0.5``, so for
calls of 250 items (10,000 items cut into even calls of at most 256) no
strategy can average under 8.46 extra calls a poison, and 10 poisons cost
more than 80 on average.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import cache

from gristmill import batched
from gristmill._batched import call_batch

POISON = -1


@cache
def _total(candidates: int, waiting: bool) -> int:
    """Fewest calls, summed over the poison's possible places, from this state on."""
    if candidates == 1:
        return int(waiting)  # the poison is known; one call serves whatever waits
    best = math.inf
    for probe in range(1, candidates):  # call `probe` candidates plus everything waiting
        stays = candidates - probe  # the poison is elsewhere: the call succeeds
        best = min(best, candidates + _total(stays, False) + _total(probe, True))
    return int(best)


def lower_bound(n: int) -> float:
    """The least mean number of extra calls, over the poison's place, of any strategy."""
    return _total(n, True) / n


def gristmill_calls(n: int) -> list[int]:
    """Extra calls gristmill's split makes for one poison, at each place among ``n`` items."""

    @batched(on_error="split")
    def check(items: list[int]) -> list[int]:
        if POISON in items:
            raise ValueError("poison")
        return items

    extra: list[int] = []
    for place in range(n):
        items = list(range(n))
        items[place] = POISON
        _, calls = call_batch(check, items)
        extra.append(calls - 1)
    return extra


def main() -> int:
    """Print the bound and gristmill's split side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[16, 64, 128, 250, 256])
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)
    print(
        "| items per call | ceil(log2 n) | least possible mean | gristmill mean | gristmill max |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        extra = gristmill_calls(n)
        print(
            f"| {n} | {math.ceil(math.log2(n))} | {lower_bound(n):.2f} | "
            f"{sum(extra) / n:.2f} | {max(extra)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
