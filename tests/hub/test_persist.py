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
from tests.support.hub_client import new_attempt, pc_connected
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
    attempt, live, t0 = await pc_connected(hub, pool, settings)
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


async def test_entries_acknowledged_by_a_worker_killed_before_its_trim_are_trimmed_later(
    own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # A wrote, acknowledged and was killed before it settled the stream: the
    # entries are in PostgreSQL and linger in Redis until any worker's next
    # pass of the stream trims them
    attempt = await new_attempt(pool, settings)
    ids = await _entries_read_by_a_dead_worker(own, redis, attempt.attempt_id, 25)
    stream = own.events(attempt.attempt_id)
    entries = await redis.xrange(stream)
    dead = PersistWorker(redis=redis, pool=pool, keys=own, consumer="A")
    await dead._write([to_row(stream, _str(i), f) for i, f in entries])
    await redis.xack(stream, PERSIST_GROUP, *ids)  # then kill -9
    assert await redis.xlen(stream) == len(ids)
    worker = PersistWorker(redis=redis, pool=pool, keys=own, consumer="B")
    assert await worker.run_once(sweep=True) == 0  # nothing left to copy …
    assert await redis.xlen(stream) == 0  # … and nothing left in Redis
    assert worker.trimmed == len(ids)
    assert sorted(await _stored_ids(pool, attempt.attempt_id)) == sorted(ids)


async def _attempt_keys(redis: Redis, own: Keys, attempt_id: int) -> list[str]:
    """The attempt's keys that exist (every per-attempt key of hub/keys.py)."""
    names = [
        own.events(attempt_id),
        own.state(attempt_id),
        own.watchers(attempt_id),
        own.contact(attempt_id),
        own.phone_code_of(attempt_id),
    ]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(name)
        found = await pipe.execute()
    return [name for name, n in zip(names, found, strict=True) if n]


async def _memory(redis: Redis, keys: list[str]) -> int:
    return sum([int(await redis.memory_usage(key) or 0) for key in keys])


async def test_a_live_attempt_stays_flat_and_never_expires_over_many_batches(
    hub: Hub, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # issue #10: 60 batches of 100 heartbeats, each persisted by a worker pass:
    # after every pass the stream is empty again, the attempt's keys neither
    # multiply nor grow, and none of them ever carries an expiry while it runs
    attempt, _live, t0 = await pc_connected(hub, pool, settings)
    stream, state = own.events(attempt.attempt_id), own.state(attempt.attempt_id)
    worker = PersistWorker(redis=redis, pool=pool, keys=own, batch=5000)
    seq = 1
    memory: list[int] = []
    for _ in range(60):
        for _ in range(100):
            seq += 1
            assert await hub.batcher.append(attempt.attempt_id, "pc", seq, "heartbeat", t0 + seq)
        while await redis.scard(own.dirty_streams()):
            await worker.run_once(sweep=False)
        assert await redis.xlen(stream) == 0
        assert await redis.ttl(stream) == -1 and await redis.ttl(state) == -1
        assert await _attempt_keys(redis, own, attempt.attempt_id) == [stream, state]
        memory.append(await _memory(redis, [stream, state]))
    await worker.run_once(sweep=True)
    assert await redis.ttl(stream) == -1 and await redis.ttl(state) == -1
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM attempt_events WHERE attempt_id = $1 AND kind = 'heartbeat'",
            attempt.attempt_id,
        )
    assert stored == 6000 and worker.trimmed >= 6000
    # flat: what the last ten passes leave is what the first ten left (an
    # untrimmed stream of 6,000 heartbeats is some 300 kB)
    print(f"attempt keys after each pass, bytes: first {memory[:3]}, last {memory[-3:]}")
    assert max(memory[-10:]) <= max(memory[:10]) + 256


async def test_ended_attempts_keys_are_gone_after_the_grace_and_stay_gone(
    hub: Hub, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # issue #10: ten attempts run, end and are persisted; after the grace
    # (1 s here) Redis holds nothing of them: not their stream, not their
    # state, not a member of the active or dirty set; reading does not bring
    # a stream back
    attempts = [await new_attempt(pool, settings) for _ in range(10)]
    t0 = time.time()
    for n, attempt in enumerate(attempts):
        live = await hub.attempt(attempt.attempt_id)
        await hub.apply(live, lambda s: s.connect("pc", t0, "c1"), "pc", 1, now=t0)
        for seq in range(2, 12):
            await hub.batcher.append(attempt.attempt_id, "pc", seq, "heartbeat", t0 + seq)
        await hub.end(attempt.attempt_id, "submitted" if n % 2 else "invigilator")
    streams = {own.events(a.attempt_id) for a in attempts}

    async def announced() -> bool:
        return streams <= {_str(s) for s in await redis.smembers(own.active_streams())}

    await eventually(announced)
    worker = PersistWorker(redis=redis, pool=pool, keys=own, ended_grace_s=1)

    async def expiring() -> bool:
        await worker.run_once(sweep=True)
        ttls = [await redis.ttl(s) for s in streams]
        return all(0 < t <= 1 for t in ttls)

    await eventually(expiring)

    async def gone() -> bool:
        await worker.run_once(sweep=True)
        left = [k for a in attempts for k in await _attempt_keys(redis, own, a.attempt_id)]
        active = {_str(s) for s in await redis.smembers(own.active_streams())}
        dirty = {_str(s) for s in await redis.smembers(own.dirty_streams())}
        return not left and not (streams & active) and not (streams & dirty)

    await eventually(gone)
    await worker.run_once(sweep=True)
    await worker.run_once(sweep=False)
    assert not [k for a in attempts for k in await _attempt_keys(redis, own, a.attempt_id)]
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            """SELECT attempt_id, count(*) FILTER (WHERE kind = 'heartbeat') AS beats,
                      count(*) FILTER (WHERE kind = 'ended') AS ends
                 FROM attempt_events WHERE attempt_id = ANY($1::bigint[]) GROUP BY attempt_id""",
            [a.attempt_id for a in attempts],
        )
    assert len(stored) == 10 and all(r["beats"] == 10 and r["ends"] == 1 for r in stored)
