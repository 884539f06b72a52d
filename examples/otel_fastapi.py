"""A traced FastAPI app: each request's trace shows its job as an item span inside a batch.

The grinder is built with ``tracing=provider``. For every job it opens a
``gristmill.item`` span, a child of the request's span, which lasts from the
moment the handler queued the job until its result was back; its attributes
name the batch that ran it (``gristmill.batch.id``), how long it queued and how
it ended. Each batch gets a ``gristmill.batch`` span of its own, a root linked
to the request span of every item it carried, so from a request you can find
its batch and from a batch every request it served.

Spans go to OpenTelemetry's console exporter, one JSON object per span.
Requests that arrive together share a batch: send a few at once and compare
their item spans' ``gristmill.batch.id``.

Run from the repository root (``pip install "gristmill[otel,web]" opentelemetry-sdk``)::

    .venv/bin/python examples/otel_fastapi.py
    for i in 1 2 3; do curl -s -X POST localhost:8000/checksum \\
        -H 'content-type: application/json' -d "{\\"text\\": \\"doc $i\\"}" & done; wait

Tests build the app with ``create_app(provider=...)`` and serve it themselves.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO, cast

import uvicorn
from fastapi import FastAPI, Request, Response
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, Field

from gristmill import LeasedExecutorManager, WorkGrinder


def checksum(text: str, rounds: int) -> str:
    """The blocking job: hash ``text`` ``rounds`` times."""
    digest = text.encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


@dataclass(frozen=True)
class Mill:
    """What the lifespan starts and every request shares."""

    manager: LeasedExecutorManager
    grinder: WorkGrinder


class ChecksumRequest(BaseModel):
    """Body of ``POST /checksum``."""

    text: str
    rounds: int = Field(default=10_000, ge=1, le=1_000_000)


class ChecksumResponse(BaseModel):
    """The final digest, hex-encoded."""

    checksum: str


def console_provider(out: TextIO = sys.stdout) -> TracerProvider:
    """A tracer provider that prints every span to ``out`` the moment it ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": "gristmill-example"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    return provider


def create_app(
    *,
    provider: TracerProvider,
    backend: str = "thread",
    max_wait_seconds: float = 0.02,
    batch_size_threshold: int = 16,
) -> FastAPI:
    """Build the app; its grinder traces through ``provider``."""
    tracer = provider.get_tracer("otel_fastapi")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager = LeasedExecutorManager(backend=backend, max_pools=2, workers_per_pool=2)
        grinder = WorkGrinder(
            executor_manager=manager,
            max_wait_seconds=max_wait_seconds,
            batch_size_threshold=batch_size_threshold,
            tracing=provider,
        )
        await manager.start()
        try:
            await grinder.start()
            app.state.mill = Mill(manager, grinder)
            yield
        finally:
            await grinder.stop()
            await manager.stop()

    app = FastAPI(title="gristmill tracing example", lifespan=lifespan)

    # A stand-in for OpenTelemetry's FastAPI instrumentation: one server span per
    # request, current while the handler runs, so the item span becomes its child.
    # (Recent FastAPI versions open spans of their own through the *global* tracer
    # provider, which this example leaves unset; in an app that sets it, the item
    # span's parent is FastAPI's endpoint span, inside the request's trace.)
    @app.middleware("http")
    async def trace_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, kind=SpanKind.SERVER):
            return await call_next(request)

    @app.post("/checksum")
    async def post_checksum(body: ChecksumRequest, request: Request) -> ChecksumResponse:
        grinder = cast(Mill, request.app.state.mill).grinder
        return ChecksumResponse(checksum=await grinder.submit(checksum, body.text, body.rounds))

    return app


if __name__ == "__main__":
    uvicorn.run(
        create_app(
            provider=console_provider(), backend=os.environ.get("GRISTMILL_BACKEND", "thread")
        ),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8000")),
    )
