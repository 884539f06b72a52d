"""Batch functions on processes: a numpy function called once over many callers' items.

``normalise`` takes a list of vectors and handles them as one matrix. Each
caller submits one vector; the grinder joins them into calls on the process
backend, where a module-level batch function travels by reference.

Run from the repository root::

    .venv/bin/python examples/batch_numpy.py
"""

from __future__ import annotations

import asyncio

import numpy as np

from gristmill import LeasedExecutorManager, WorkGrinder, batched


@batched(max_batch_size=256)
def normalise(vectors: list[list[float]]) -> list[list[float]]:
    """Scale every vector to unit length, all at once; a zero vector is an error of its own."""
    matrix = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(matrix, axis=1)
    results: list[list[float]] = []
    for row, norm in zip(matrix, norms, strict=True):
        if norm == 0:
            results.append(ValueError("a zero vector has no direction"))  # type: ignore[arg-type]
        else:
            results.append((row / norm).round(6).tolist())
    return results


async def main() -> None:
    manager = LeasedExecutorManager(backend="process", max_pools=1, workers_per_pool=2)
    grinder = WorkGrinder(executor_manager=manager, batch_size_threshold=64, max_wait_seconds=0.01)
    async with manager, grinder:
        vectors = [[float(i), float(i + 1), 2.0] for i in range(100)] + [[0.0, 0.0, 0.0]]
        outcomes = await asyncio.gather(
            *(grinder.submit(normalise, vector) for vector in vectors), return_exceptions=True
        )
        stats = grinder.stats()
    failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    print(f"{len(vectors) - len(failed)} vectors normalised, e.g. {outcomes[3]}")
    print(f"{len(failed)} failed alone: {failed[0]!r}")
    print(f"{stats['batch_calls']} calls of normalise served {len(vectors)} callers")


if __name__ == "__main__":
    asyncio.run(main())
