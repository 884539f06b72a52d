"""A FastAPI app that runs blocking work through one shared grinder.

The manager and the grinder belong to the app, not to a request, so they are
created and started in the app's *lifespan*: on the server's event loop, once,
before the first request. Every request then awaits ``grinder.submit(...)``,
and requests that arrive close together share batches and leased pools.

Shutdown order matters. The server first stops accepting connections and lets
in-flight requests finish (uvicorn does this before it runs the lifespan's
exit); then the lifespan stops the grinder, which drains whatever is still
queued, and only then the manager, whose ``stop()`` would revoke the leases
that draining batches still hold.

Under overload the app sheds load instead of queueing without bound: the
grinder's queue holds at most ``max_pending`` items, a request that finds it
full is refused at once (``overflow="reject"``), and the app turns that
``GrinderOverloadedError`` into ``503 Service Unavailable`` with a
``Retry-After`` header, which load balancers and clients understand.

``derive_key`` calls ``hashlib.pbkdf2_hmac``, which releases the GIL, so the
thread backend runs several at once. It is a top-level function, so
``GRISTMILL_BACKEND=process`` works too.

Run from the repository root, then try it::

    .venv/bin/python examples/fastapi_app.py
    curl -X POST localhost:8000/hash -H 'content-type: application/json' \\
         -d '{"password": "hunter2", "salt": "pepper"}'
    curl localhost:8000/stats

Tests build the app with ``create_app(...)`` and serve it with their own server.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict, cast

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gristmill import (
    GrinderOverloadedError,
    GrinderStats,
    LeasedExecutorManager,
    ManagerStats,
    WorkGrinder,
)


def derive_key(password: str, salt: str, iterations: int) -> str:
    """The blocking job: PBKDF2-HMAC-SHA256, as a hex string."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()


@dataclass(frozen=True)
class Mill:
    """What the lifespan starts and every request shares."""

    manager: LeasedExecutorManager
    grinder: WorkGrinder


def get_mill(request: Request) -> Mill:
    """Dependency: the manager and grinder the lifespan stored on the app."""
    return cast(Mill, request.app.state.mill)


MillDep = Annotated[Mill, Depends(get_mill)]


class HashRequest(BaseModel):
    """Body of ``POST /hash``; ``iterations`` is capped so no request hogs a worker."""

    password: str
    salt: str
    iterations: int = Field(default=100_000, ge=1, le=1_000_000)


class HashResponse(BaseModel):
    """The derived key, hex-encoded."""

    hash: str


class StatsResponse(TypedDict):
    """Body of ``GET /stats``: both snapshots, as the library returns them."""

    grinder: GrinderStats
    manager: ManagerStats


def create_app(
    *,
    backend: str = "thread",
    max_pools: int = 2,
    workers_per_pool: int = 4,
    max_wait_seconds: float = 0.005,
    batch_size_threshold: int = 64,
    max_pending: int = 10_000,
) -> FastAPI:
    """Build the app; the manager and grinder are created when it starts serving."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager = LeasedExecutorManager(
            backend=backend, max_pools=max_pools, workers_per_pool=workers_per_pool
        )
        grinder = WorkGrinder(
            executor_manager=manager,
            max_wait_seconds=max_wait_seconds,
            batch_size_threshold=batch_size_threshold,
            max_pending=max_pending,
            overflow="reject",
        )
        await manager.start()
        try:
            await grinder.start()
            app.state.mill = Mill(manager, grinder)
            yield
        finally:
            await grinder.stop()  # drains queued work; a no-op if it never started
            await manager.stop()  # only now: no batch holds a lease any more

    app = FastAPI(title="gristmill example", lifespan=lifespan)

    @app.exception_handler(GrinderOverloadedError)
    async def overloaded(request: Request, exc: GrinderOverloadedError) -> JSONResponse:
        return JSONResponse(
            {"detail": "busy, try again shortly"}, status_code=503, headers={"Retry-After": "1"}
        )

    @app.post("/hash")
    async def hash_password(body: HashRequest, mill: MillDep) -> HashResponse:
        key = await mill.grinder.submit(derive_key, body.password, body.salt, body.iterations)
        return HashResponse(hash=key)

    # The snapshots are TypedDicts, which pydantic cannot model on Python 3.11;
    # they are plain JSON already, so skip the response model.
    @app.get("/stats", response_model=None)
    async def stats(mill: MillDep) -> StatsResponse:
        return {"grinder": mill.grinder.stats(), "manager": mill.manager.stats()}

    return app


if __name__ == "__main__":
    uvicorn.run(
        create_app(backend=os.environ.get("GRISTMILL_BACKEND", "thread")),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8000")),
        timeout_graceful_shutdown=30,  # then in-flight requests are cancelled
    )
