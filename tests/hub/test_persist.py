"""The persistence worker on the real PostgreSQL and Redis (rule G3).

Telemetry reaches ``attempt_events`` through the attempt's stream. A stream
written only by commits (camera states, focus losses …, never a heartbeat)
and the ingest's camera measurements (applied through the hub) must be
marked dirty too, or they would wait for the worker's sweep.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from hub.keys import Keys
from hub.live import Hub
from hub.persist import PersistWorker
from hub.session import Camera
from proctor.settings import Settings
from tests.support.components import own_keys, started_hub
from tests.support.hub_client import new_attempt
from tests.support.waits import eventually


@pytest.fixture
def own(settings: Settings) -> Keys:
    """A key prefix of its own: no other worker (the live server's) pops
    this test's dirty set."""
    return own_keys(settings, "persist")


@pytest.fixture
async def hub(
    own: Keys, settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[Hub]:
    async with started_hub(settings, pool, redis, keys=own) as parts:
        yield parts.hub


async def _kinds(pool: asyncpg.Pool, attempt_id: int) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT kind, coalesce(data->>'state', '') AS state FROM attempt_events
                WHERE attempt_id = $1 ORDER BY at, stream_id""",
            attempt_id,
        )
    return [(r["kind"], r["state"]) for r in rows]


async def test_events_of_an_attempt_without_heartbeats_reach_postgresql(
    hub: Hub, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # rule G3: devices that send no heartbeat at all, only a camera state and
    # a focus loss; the worker's dirty pass (no sweep) copies them
    attempt = await new_attempt(pool, settings)
    live = await hub.attempt(attempt.attempt_id)
    t0 = time.time()
    await hub.apply(live, lambda s: s.connect("pc", t0, "c1"), "pc", 1, now=t0)
    await hub.apply(
        live, lambda s: s.camera_measured("pc", Camera.LIVE, t0 + 0.1), "pc", 2, now=t0 + 0.1
    )
    await hub.apply(live, lambda s: s.focus_lost("visibility", t0 + 0.2), "pc", 3, now=t0 + 0.2)
    stream = own.events(attempt.attempt_id)

    async def dirty() -> bool:
        return bool(await redis.sismember(own.dirty_streams(), stream))

    await eventually(dirty)  # the batcher marks it after the commit, no heartbeat needed
    worker = PersistWorker(redis=redis, pool=pool, keys=own)
    copied = 0
    while await dirty():
        copied += await worker.run_once(sweep=False)
    assert copied >= 3
    kinds = await _kinds(pool, attempt.attempt_id)
    assert ("connect", "") in kinds
    assert ("camera", "live") in kinds
    assert ("focus", "lost") in kinds
    assert all(kind != "heartbeat" for kind, _ in kinds)

    # the ingest's measurement of the camera, applied through the hub (the
    # one owner of the session's camera state), is marked with its entry
    await hub.camera_measured(attempt.attempt_id, "pc", Camera.LOST)
    await eventually(dirty)
    assert await worker.run_once(sweep=False) == 1
    assert ("camera", "lost") in await _kinds(pool, attempt.attempt_id)
