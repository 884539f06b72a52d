"""The FastAPI example under a real uvicorn server: results, ``/stats`` and shutdown.

Each test serves ``create_app(...)`` with ``uvicorn.Server`` on 127.0.0.1 and an
ephemeral port, and drives it with ``httpx.AsyncClient``. The server runs in its
own thread with its own event loop, as it does in production: ``Server.run()``
owns its loop, which keeps uvicorn's connection handling and the grinder apart
from the client on the test's loop (a blocking call on one cannot stall the
other). The server's loop is the same kind as the test's, so the asyncio and
uvloop runs of each test also serve on asyncio and on uvloop.

Shutdown tests hold a job on a ``threading.Event`` gate, submitted with
``submit_from_thread`` on a one-pool, one-worker app: while the gate is shut,
the held batch keeps the only lease and everything after it stays queued.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import uvicorn
import uvloop
from fastapi import FastAPI

from fastapi_app import Mill, create_app, derive_key
from tests.helpers import assert_grinder_settled, assert_manager_empty, wait_until

ITERATIONS = 1000  # cheap enough for 50 requests, still a real PBKDF2 run
CONCURRENT = 50  # in the concurrency test
REQUESTS = 10  # in the stats and shutdown tests


@dataclass(frozen=True)
class Served:
    """A running server, the thread that runs it, and the app's manager and grinder."""

    server: uvicorn.Server
    thread: threading.Thread
    port: int
    mill: Mill


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[Served]:
    """Serve ``app`` until the block exits (or the test shuts the server down itself)."""
    kind = "uvloop" if isinstance(asyncio.get_running_loop(), uvloop.Loop) else "asyncio"
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, loop=kind, ws="none", log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        await wait_until(lambda: server.started or not thread.is_alive(), what="server startup")
        assert server.started, "uvicorn exited during startup"
        port: int = server.servers[0].sockets[0].getsockname()[1]
        yield Served(server, thread, port, cast(Mill, app.state.mill))
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive(), "uvicorn did not shut down"


def client_for(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{served.port}", timeout=10)


def expected_hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS).hex()


async def post_hash(client: httpx.AsyncClient, password: str, salt: str) -> httpx.Response:
    body = {"password": password, "salt": salt, "iterations": ITERATIONS}
    return await client.post("/hash", json=body)


async def get_stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/stats")
    assert response.status_code == 200, response.text
    stats: dict[str, Any] = response.json()
    return stats


async def poll_stats(
    client: httpx.AsyncClient, predicate: Callable[[dict[str, Any]], bool], what: str
) -> None:
    """Fetch ``/stats`` until ``predicate`` holds; fail after 10 s."""
    try:
        async with asyncio.timeout(10):
            while True:
                if predicate(await get_stats(client)):
                    return
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def wait_until_refused(port: int) -> None:
    """Return once the port refuses connections: the server has begun shutting down."""
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except ConnectionRefusedError:
                    return
                writer.close()
                await writer.wait_closed()
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError("the server kept accepting connections after should_exit") from None


def hold(entered: threading.Event, gate: threading.Event) -> str:
    """A job that occupies its worker until the test opens ``gate``."""
    entered.set()
    if not gate.wait(timeout=10):
        raise TimeoutError("the test never opened the gate")
    return "released"


def credentials(count: int) -> list[tuple[str, str]]:
    return [(f"user-{i}", f"salt-{i % 7}") for i in range(count)]


async def test_concurrent_requests_each_get_their_own_result() -> None:
    async with serving(create_app()) as served, client_for(served) as client:
        pairs = credentials(CONCURRENT)
        responses = await asyncio.gather(*(post_hash(client, p, s) for p, s in pairs))
    for (password, salt), response in zip(pairs, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json() == {"hash": expected_hash(password, salt)}


async def test_stats_report_the_work_done() -> None:
    async with serving(create_app()) as served, client_for(served) as client:
        before = await get_stats(client)
        await asyncio.gather(*(post_hash(client, p, s) for p, s in credentials(REQUESTS)))
        after = await get_stats(client)
    assert before["grinder"]["submitted"] == 0
    grinder, manager = after["grinder"], after["manager"]
    assert grinder["state"] == "running"
    assert (grinder["submitted"], grinder["completed"]) == (REQUESTS, REQUESTS)
    assert (grinder["failed"], grinder["pending"], grinder["in_flight"]) == (0, 0, 0)
    assert grinder["batches"] >= 1
    assert manager["state"] == "running"
    assert manager["backend"] == "thread"
    assert manager["leases_granted"] >= grinder["batches"]  # one lease per batch


async def test_invalid_request_is_rejected_before_reaching_the_grinder() -> None:
    async with serving(create_app()) as served, client_for(served) as client:
        response = await client.post("/hash", json={"password": "p", "salt": "s", "iterations": 0})
        stats = await get_stats(client)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "iterations"]
    assert stats["grinder"]["submitted"] == 0


async def test_shutdown_answers_every_in_flight_request_then_stops_the_mill() -> None:
    entered, gate = threading.Event(), threading.Event()
    async with serving(create_app(max_pools=1, workers_per_pool=1)) as served:
        mill = served.mill
        try:
            held = mill.grinder.submit_from_thread(hold, entered, gate)
            await wait_until(entered.is_set, what="the held job to start")
            async with client_for(served) as client:
                pairs = credentials(REQUESTS)
                requests = [asyncio.create_task(post_hash(client, p, s)) for p, s in pairs]
                # Every request is inside its handler, queued behind the held job.
                await poll_stats(
                    client, lambda s: s["grinder"]["pending"] == REQUESTS, "all requests queued"
                )
                served.server.should_exit = True
                await wait_until_refused(served.port)
                # uvicorn lets in-flight requests finish before it runs the lifespan's exit.
                assert mill.grinder.stats_from_thread(timeout=5)["state"] == "running"
                gate.set()
                responses = await asyncio.gather(*requests)
        finally:
            gate.set()
        await asyncio.to_thread(served.thread.join, 10)
    assert await asyncio.wrap_future(held) == "released"
    for (password, salt), response in zip(pairs, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json() == {"hash": expected_hash(password, salt)}
    grinder_stats = mill.grinder.stats()
    assert grinder_stats["state"] == "stopped"
    assert grinder_stats["completed"] == REQUESTS + 1
    assert_grinder_settled(mill.grinder)
    manager_stats = mill.manager.stats()
    assert manager_stats["state"] == "stopped"
    assert manager_stats["leases_revoked"] == 0
    assert_manager_empty(mill.manager)


async def test_lifespan_drains_the_grinder_before_stopping_the_manager() -> None:
    entered, gate = threading.Event(), threading.Event()
    async with serving(create_app(max_pools=1, workers_per_pool=1)) as served:
        mill = served.mill
        try:
            held = mill.grinder.submit_from_thread(hold, entered, gate)
            await wait_until(entered.is_set, what="the held job to start")
            queued = mill.grinder.submit_from_thread(derive_key, "late", "salt", ITERATIONS)
            served.server.should_exit = True
            await wait_until(
                lambda: mill.grinder.stats_from_thread(timeout=5)["stopping"],
                what="the lifespan to start stopping the grinder",
            )
            # The grinder drains first; the manager still lends it pools meanwhile.
            assert mill.manager.stats()["state"] == "running"
        finally:
            gate.set()
        assert await asyncio.wrap_future(held) == "released"
        assert await asyncio.wrap_future(queued) == expected_hash("late", "salt")
        await asyncio.to_thread(served.thread.join, 10)
    manager_stats = mill.manager.stats()
    assert manager_stats["state"] == "stopped"
    assert manager_stats["leases_revoked"] == 0  # every lease came back before stop()
    assert_manager_empty(mill.manager)
    assert_grinder_settled(mill.grinder)


async def test_a_full_queue_sheds_load_with_503_and_retry_after() -> None:
    entered, gate = threading.Event(), threading.Event()
    app = create_app(max_pools=1, workers_per_pool=1, max_pending=1)
    async with serving(app) as served:
        mill = served.mill
        try:
            held = mill.grinder.submit_from_thread(hold, entered, gate)
            await wait_until(entered.is_set, what="the held job to start")
            async with client_for(served) as client:
                queued = asyncio.create_task(post_hash(client, "first", "salt"))
                await poll_stats(client, lambda s: s["grinder"]["pending"] == 1, "one queued")
                refused = await post_hash(client, "second", "salt")
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "1"
                gate.set()
                accepted = await queued
        finally:
            gate.set()
        assert await asyncio.wrap_future(held) == "released"
    assert accepted.status_code == 200
    assert accepted.json() == {"hash": expected_hash("first", "salt")}
    assert mill.grinder.stats()["rejected"] == 1
