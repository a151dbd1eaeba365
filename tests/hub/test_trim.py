"""The settle script (hub/trim.py) on the real Redis (a Redis Cluster in
``make test-cluster``: every call is on one attempt's slot, rule H8).

Trimming never takes an entry PostgreSQL may lack: one pending for any
consumer (dead or alive), or one the group was never given. Expiry takes
only an ended attempt's fully persisted keys, and the hub's writes undo it.
"""

from __future__ import annotations

import itertools

from redis.asyncio import Redis

from hub import state_schema as fields
from hub.keys import PERSIST_GROUP, Keys
from hub.session import Record, Session, Status
from hub.store import StateStore, StreamBatcher
from hub.trim import CANDIDATE, EXPIRING, GONE, KEPT, StreamTrimmer
from proctor.settings import Settings
from tests.support.components import own_keys

_ids = itertools.count(700_000)


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _stream_of(redis: Redis, keys: Keys, attempt_id: int, ids: list[str]) -> str:
    """A stream holding entries with exactly ``ids``, with the persist group."""
    stream = keys.events(attempt_id)
    for entry_id in ids:
        await redis.xadd(stream, {"kind": "heartbeat"}, id=entry_id)
    await redis.xgroup_create(stream, PERSIST_GROUP, id="0")
    return stream


async def _read(redis: Redis, stream: str, consumer: str, n: int) -> list[str]:
    reply = await redis.xreadgroup(PERSIST_GROUP, consumer, {stream: ">"}, count=n)
    return [_str(entry_id) for entry_id, _ in reply[0][1]] if reply else []


async def _left(redis: Redis, stream: str) -> list[str]:
    return [_str(entry_id) for entry_id, _ in await redis.xrange(stream)]


async def test_only_acknowledged_entries_are_trimmed(redis: Redis, settings: Settings) -> None:
    # rule G3: acknowledged means committed to PostgreSQL; pending (consumer A,
    # which may be dead) and never delivered entries stay
    keys = own_keys(settings, "trim")
    trimmer = StreamTrimmer(redis, keys)
    attempt_id = next(_ids)
    ids = [f"1000-{n}" for n in range(10)]
    stream = await _stream_of(redis, keys, attempt_id, ids)
    held_by_a = await _read(redis, stream, "A", 4)  # 1000-0 … 1000-3, pending
    by_b = await _read(redis, stream, "B", 3)  # 1000-4 … 1000-6
    settled = await trimmer.settle([stream], acks={stream: by_b})
    assert settled[stream].trimmed == 0 and settled[stream].state == KEPT
    assert await _left(redis, stream) == ids  # nothing before A's first pending goes

    await redis.xack(stream, PERSIST_GROUP, *held_by_a[:2])
    assert (await trimmer.settle([stream]))[stream].trimmed == 2
    assert await _left(redis, stream) == ids[2:]

    await redis.xack(stream, PERSIST_GROUP, *held_by_a[2:])
    assert (await trimmer.settle([stream]))[stream].trimmed == 5
    assert await _left(redis, stream) == ids[7:]  # never delivered: kept
    assert await redis.ttl(stream) == -1


async def test_trimming_stops_exactly_after_the_last_delivered_id(
    redis: Redis, settings: Settings
) -> None:
    # ids compare as numbers: 1-9 < 1-10 < 1-99 < 1-100 (a seq's carry)
    keys = own_keys(settings, "trim")
    trimmer = StreamTrimmer(redis, keys)
    ids = ["1-9", "1-10", "1-99", "1-100", "2-0"]
    stream = await _stream_of(redis, keys, next(_ids), ids)
    await trimmer.settle([stream], acks={stream: await _read(redis, stream, "A", 1)})
    assert await _left(redis, stream) == ids[1:]
    await trimmer.settle([stream], acks={stream: await _read(redis, stream, "A", 2)})
    assert await _left(redis, stream) == ids[3:]
    await trimmer.settle([stream], acks={stream: await _read(redis, stream, "A", 2)})
    assert await _left(redis, stream) == []


async def test_a_missing_stream_is_gone_and_is_not_created(
    redis: Redis, settings: Settings
) -> None:
    keys = own_keys(settings, "trim")
    stream = keys.events(next(_ids))
    assert (await StreamTrimmer(redis, keys).settle([stream]))[stream].state == GONE
    assert not await redis.exists(stream)


def _state(attempt_id: int, ended: bool = False) -> dict[str, object]:
    session = Session(attempt_id=attempt_id, started_at=1000.0, deadline_at=5000.0)
    if ended:
        session.status = Status.ENDED
    return session.to_dict()


async def _persisted(redis: Redis, store: StateStore, attempt_id: int) -> str:
    """Everything in the attempt's stream read and acknowledged."""
    stream = store.keys.events(attempt_id)
    await redis.xgroup_create(stream, PERSIST_GROUP, id="0")
    read = await _read(redis, stream, "A", 1000)
    await redis.xack(stream, PERSIST_GROUP, *read)
    return stream


async def test_an_ended_attempts_persisted_keys_expire_a_running_ones_never(
    redis: Redis, settings: Settings
) -> None:
    keys = own_keys(settings, "trim")
    store = StateStore(redis, keys)
    trimmer = StreamTrimmer(redis, keys)
    attempt_id = next(_ids)
    record = Record("focus", "pc", 1000.0, {"state": "lost"})
    ok = await store.commit(attempt_id, 0, _state(attempt_id), "pc", 1, [record], [])
    stream = await _persisted(redis, store, attempt_id)
    # running: persisted and trimmed, never a candidate, whatever the grace
    for grace in (0, 60):
        settled = await trimmer.settle([stream], grace_s=grace)
        assert settled[stream].state == KEPT
    assert await redis.ttl(stream) == -1 and await redis.ttl(keys.state(attempt_id)) == -1
    assert await redis.xlen(stream) == 0

    ended = await store.commit(
        attempt_id, ok.version, _state(attempt_id, ended=True), "pc", 2, [record], []
    )
    # the end's entry is not persisted yet: not a candidate
    assert (await trimmer.settle([stream]))[stream].state == KEPT
    await redis.xack(stream, PERSIST_GROUP, *await _read(redis, stream, "A", 10))
    # persisted: a candidate (PostgreSQL decides), then expiring after the grace
    assert (await trimmer.settle([stream]))[stream].state == CANDIDATE
    assert await redis.ttl(stream) == -1
    assert (await trimmer.settle([stream], grace_s=60))[stream].state == EXPIRING
    assert 0 < await redis.ttl(stream) <= 60
    assert 0 < await redis.ttl(keys.state(attempt_id)) <= 60

    # a write with entries (a late reconnect's records) undoes the expiry: no
    # entry may expire before it is in PostgreSQL
    late = await store.commit(
        attempt_id, ended.version, _state(attempt_id, ended=True), "phone", 1, [record], []
    )
    assert await redis.ttl(stream) == -1 and await redis.ttl(keys.state(attempt_id)) == -1
    # a new entry written after the candidate check refuses the expiry
    await redis.xack(stream, PERSIST_GROUP, *await _read(redis, stream, "A", 10))
    assert (await trimmer.settle([stream]))[stream].state == CANDIDATE
    await store.commit(
        attempt_id, late.version, _state(attempt_id, ended=True), "phone", 2, [record], []
    )
    assert (await trimmer.settle([stream], grace_s=60))[stream].state == KEPT
    assert await redis.ttl(stream) == -1


async def test_a_reopened_attempt_loses_its_expiry_and_heartbeats_undo_it(
    redis: Redis, settings: Settings
) -> None:
    # rule M3: an attempt reopened after its keys began to expire runs again:
    # its keys must never expire while it runs
    keys = own_keys(settings, "trim")
    store = StateStore(redis, keys)
    await store.load_scripts()
    trimmer = StreamTrimmer(redis, keys)
    attempt_id = next(_ids)
    record = Record("ended", None, 1000.0, {"reason": "invigilator"})
    ended = await store.commit(attempt_id, 0, _state(attempt_id, ended=True), "", 0, [record], [])
    stream = await _persisted(redis, store, attempt_id)
    assert (await trimmer.settle([stream], grace_s=60))[stream].state == EXPIRING

    # a commit without entries of an ended attempt keeps the expiry …
    quiet = await store.commit(
        attempt_id, ended.version, _state(attempt_id, ended=True), "", 0, [], []
    )
    assert await redis.ttl(keys.state(attempt_id)) > 0
    # … a running one (reopened) drops it, with or without entries
    await store.commit(attempt_id, quiet.version, _state(attempt_id), "", 0, [], [])
    assert await redis.ttl(keys.state(attempt_id)) == -1 and await redis.ttl(stream) == -1
    assert (await trimmer.settle([stream], grace_s=60))[stream].state == KEPT

    # the fast path's heartbeat (INGEST) undoes an expiry too
    await redis.expire(stream, 60)
    await redis.expire(keys.state(attempt_id), 60)
    batcher = StreamBatcher(store)
    await batcher.start()
    try:
        assert await batcher.append(attempt_id, "pc", 1, "heartbeat", 1001.0)
    finally:
        await batcher.stop()
    assert await redis.ttl(stream) == -1 and await redis.ttl(keys.state(attempt_id)) == -1


async def test_a_rebuilt_ended_state_expires_after_the_grace(
    redis: Redis, settings: Settings
) -> None:
    # an ended attempt read from PostgreSQL after its grace (hub/rebuild.py)
    # shares a state that expires again: a look at an old attempt leaves nothing
    keys = own_keys(settings, "trim")
    store = StateStore(redis, keys)
    attempt_id = next(_ids)
    state = _state(attempt_id, ended=True)
    ok = await store.commit(attempt_id, 0, state, "", 0, [], [], expire_s=60)
    assert ok.status == "ok"
    assert 0 < await redis.ttl(keys.state(attempt_id)) <= 60
    raw = await redis.hget(keys.state(attempt_id), fields.STATUS)
    assert _str(raw) == "ended"
    # and a running one never
    running = next(_ids)
    await store.commit(running, 0, _state(running), "", 0, [], [], expire_s=60)
    assert await redis.ttl(keys.state(running)) == -1


async def test_settle_reloads_its_script_after_a_redis_flush(
    redis: Redis, settings: Settings
) -> None:
    keys = own_keys(settings, "trim")
    trimmer = StreamTrimmer(redis, keys)
    stream = await _stream_of(redis, keys, next(_ids), ["1-1", "1-2"])
    await redis.script_flush()  # as after a Redis restart
    settled = await trimmer.settle([stream], acks={stream: await _read(redis, stream, "A", 2)})
    assert settled[stream].trimmed == 2 and await redis.xlen(stream) == 0
