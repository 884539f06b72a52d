"""The traced FastAPI example under a real uvicorn server, read back from the console exporter.

Requests sent together share a batch. Each request's trace must show its job
as a ``gristmill.item`` span, a child of the request's span, naming its batch;
that batch's span must link back to every request it served.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from typing import Any

from otel_fastapi import console_provider, create_app
from tests.examples.test_fastapi_app import client_for, serving
from tests.helpers import assert_grinder_settled

REQUESTS = 4
ROUNDS = 50


def exported_spans(text: str) -> list[dict[str, Any]]:
    """The JSON objects the console exporter printed, one per span, in order."""
    decoder, spans, position = json.JSONDecoder(), [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        span, position = decoder.raw_decode(text, position)
        spans.append(span)
    return spans


def expected(text: str) -> str:
    digest = text.encode()
    for _ in range(ROUNDS):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


async def test_each_requests_trace_shows_its_item_span_inside_a_batch() -> None:
    out = io.StringIO()
    app = create_app(provider=console_provider(out), batch_size_threshold=REQUESTS)
    texts = [f"document {n}" for n in range(REQUESTS)]
    async with serving(app) as served, client_for(served) as client:
        responses = await asyncio.gather(
            *(client.post("/checksum", json={"text": t, "rounds": ROUNDS}) for t in texts)
        )
    assert [response.json() for response in responses] == [
        {"checksum": expected(text)} for text in texts
    ]
    assert_grinder_settled(served.mill.grinder)
    spans = exported_spans(out.getvalue())  # the server has stopped: every span has ended
    requests = {
        span["context"]["trace_id"]: span for span in spans if span["name"] == "POST /checksum"
    }
    items = {
        span["context"]["trace_id"]: span for span in spans if span["name"] == "gristmill.item"
    }
    batches = {
        span["attributes"]["gristmill.batch.id"]: span
        for span in spans
        if span["name"] == "gristmill.batch"
    }
    assert len(requests) == REQUESTS  # one trace per request
    assert items.keys() == requests.keys()  # each request's trace holds its item span
    for trace_id, item in items.items():
        # Its parent is the request span, or a span FastAPI itself opened inside the
        # request when a global tracer provider is set (then not printed here).
        assert item["parent_id"] is not None
        assert item["attributes"]["code.function.name"] == "otel_fastapi.checksum"
        assert item["attributes"]["gristmill.item.outcome"] == "completed"
        batch = batches[item["attributes"]["gristmill.batch.id"]]
        assert batch["parent_id"] is None
        links = {
            (link["context"]["trace_id"], link["context"]["span_id"]) for link in batch["links"]
        }
        assert (trace_id, item["parent_id"]) in links  # the batch links back to the request
    assert sum(batch["attributes"]["gristmill.batch.size"] for batch in batches.values()) == (
        REQUESTS
    )
