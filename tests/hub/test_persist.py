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

from hub.keys import PERSIST_GROUP, Keys
from hub.live import Hub
from hub.persist import PersistWorker, to_row
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


# ----- a dead worker's pending entries (issue #9) ------------------------------


async def _entries_read_by_a_dead_worker(
    own: Keys, redis: Redis, attempt_id: int, n: int
) -> list[str]:
    """``n`` heartbeats in the attempt's stream, read under consumer "A" with
    XREADGROUP and never acknowledged: a worker killed between read and write."""
    stream = own.events(attempt_id)
    at_ms = int(time.time() * 1000)
    ids = []
    for k in range(n):
        fields = {"device": "pc", "kind": "heartbeat", "at": at_ms + k, "data": "{}"}
        ids.append(_str(await redis.xadd(stream, fields)))  # type: ignore[arg-type]
    await redis.sadd(own.active_streams(), stream)
    await redis.xgroup_create(stream, PERSIST_GROUP, id="0", mkstream=True)
    read = await redis.xreadgroup(PERSIST_GROUP, "A", {stream: ">"}, count=n)
    assert len(read[0][1]) == n
    return ids


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _stored_ids(pool: asyncpg.Pool, attempt_id: int) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT stream_id FROM attempt_events WHERE attempt_id = $1", attempt_id
        )
    return [r["stream_id"] for r in rows]


async def test_entries_a_dead_worker_left_pending_reach_postgresql(
    own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # rule G3, issue #9: consumer A read the entries and died; a restarted hub's
    # worker runs under another name (B) and must claim them
    attempt = await new_attempt(pool, settings)
    ids = await _entries_read_by_a_dead_worker(own, redis, attempt.attempt_id, 120)
    stream = own.events(attempt.attempt_id)
    worker = PersistWorker(
        redis=redis, pool=pool, keys=own, consumer="B", claim_idle_s=0.2, batch=100
    )

    async def all_stored() -> bool:
        await worker.run_once(sweep=True)
        return sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids)

    await eventually(all_stored)
    assert (await redis.xpending(stream, PERSIST_GROUP))["pending"] == 0
    assert await redis.xlen(stream) == 0  # acknowledged, so trimmed (hub/trim.py)


async def test_a_worker_that_wrote_and_died_before_its_ack_loses_and_doubles_nothing(
    own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # rule G3: consumer A read 40 entries, committed their rows and was killed
    # before XACK: they stay pending, so no trim takes them; B claims and copies
    # them again (no error, no second row), acknowledges, and only then trims
    attempt = await new_attempt(pool, settings)
    ids = await _entries_read_by_a_dead_worker(own, redis, attempt.attempt_id, 40)
    stream = own.events(attempt.attempt_id)
    dead = PersistWorker(redis=redis, pool=pool, keys=own, consumer="A")
    entries = await redis.xrange(stream)
    await dead._write([to_row(stream, _str(i), f) for i, f in entries])  # its write, then kill -9
    assert sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids)

    # a live worker's passes meanwhile trim nothing of A's pending entries
    patient = PersistWorker(redis=redis, pool=pool, keys=own, consumer="B", claim_idle_s=3600.0)
    await patient.run_once(sweep=True)
    assert await redis.xlen(stream) == len(ids)

    worker = PersistWorker(redis=redis, pool=pool, keys=own, consumer="B", claim_idle_s=0.05)

    async def claimed_and_trimmed() -> bool:
        await worker.run_once(sweep=True)
        return await redis.xlen(stream) == 0

    await eventually(claimed_and_trimmed)
    assert (await redis.xpending(stream, PERSIST_GROUP))["pending"] == 0
    assert sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids)  # once each


async def test_a_stream_with_a_dead_workers_entries_stays_active_until_claimed(
    own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # the attempt ended while A's reads were pending and not yet idle long enough
    # to claim: the sweep must neither drop the stream from the active set (or
    # nobody would claim them) nor let it expire
    attempt = await new_attempt(pool, settings)
    ids = await _entries_read_by_a_dead_worker(own, redis, attempt.attempt_id, 3)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE attempts SET status = 'ended' WHERE id = $1", attempt.attempt_id)
    stream = own.events(attempt.attempt_id)
    patient = PersistWorker(redis=redis, pool=pool, keys=own, consumer="B", claim_idle_s=3600.0)
    assert await patient.run_once(sweep=True) == 0
    assert await redis.sismember(own.active_streams(), stream)
    assert await redis.ttl(stream) == -1 and await redis.xlen(stream) == 3

    worker = PersistWorker(redis=redis, pool=pool, keys=own, consumer="C", claim_idle_s=0.05)

    async def retired() -> bool:
        await worker.run_once(sweep=True)
        return bool(await redis.ttl(stream) > 0)

    await eventually(retired)  # persisted and ended: expiring after the grace
    assert sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids)
    assert await redis.sismember(own.active_streams(), stream)  # until it is gone


async def test_an_entry_trimmed_while_pending_leaves_the_pending_list(
    own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # XAUTOCLAIM of an entry the stream's MAXLEN trimmed: nothing to copy, but
    # it must not stay pending (and keep the stream active) forever
    attempt = await new_attempt(pool, settings)
    ids = await _entries_read_by_a_dead_worker(own, redis, attempt.attempt_id, 3)
    stream = own.events(attempt.attempt_id)
    await redis.xdel(stream, ids[0])
    worker = PersistWorker(redis=redis, pool=pool, keys=own, consumer="B", claim_idle_s=0.05)

    async def none_pending() -> bool:
        await worker.run_once(sweep=True)
        return bool((await redis.xpending(stream, PERSIST_GROUP))["pending"] == 0)

    await eventually(none_pending)
    assert sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids[1:])
