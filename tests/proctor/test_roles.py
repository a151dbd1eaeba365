"""Process roles (issue #10): web processes hold sockets and peers, a worker
process copies telemetry to PostgreSQL and ends attempts at their deadlines
— the persistence passes off the web processes' event loops."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import asyncpg
import httpx
import pytest

from proctor.app import WORKER, create_app
from proctor.settings import Settings
from tests.support.components import own_keys
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import start_live_server
from tests.support.papers import move_deadline
from tests.support.waits import eventually


async def test_a_web_process_and_a_worker_process_share_the_work(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    # their own key prefix: no other test's worker copies these streams
    own = dataclasses.replace(settings, redis_prefix=own_keys(settings, "roles").prefix)
    web = await start_live_server(own, roles=frozenset({"web"}))
    worker = await start_live_server(own, roles=WORKER)
    try:
        async with httpx.AsyncClient(base_url=worker.url) as http:
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/api/papers")).status_code == 404  # no API on a worker
        attempt = await new_attempt(pool, own)
        pc = await DeviceClient.connect(web.ws_url, "pc", attempt.pc_token)
        try:
            assert (await pc.call("heartbeat"))["type"] == "ack"
        finally:
            await pc.close()

        async def persisted() -> bool:  # by the worker: the web process runs no worker
            async with pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM attempt_events WHERE attempt_id = $1 AND kind = 'heartbeat'",
                        attempt.attempt_id,
                    )
                )

        assert await eventually(persisted)
        await move_deadline(pool, attempt.attempt_id, timedelta(hours=-2))

        async def ended() -> bool:  # the worker's deadline scheduler
            async with pool.acquire() as conn:
                return (
                    await conn.fetchval(
                        "SELECT status FROM attempts WHERE id = $1", attempt.attempt_id
                    )
                    == "ended"
                )

        assert await eventually(ended)
    finally:
        await web.stop()
        await worker.stop()


def test_an_unknown_role_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="roles"):
        create_app(settings, roles=frozenset({"everything"}))
