"""The shared state's Lua scripts and the stream batcher, on the real Redis."""

from __future__ import annotations

import asyncio
import itertools
import json

from redis.asyncio import Redis

from hub.keys import Keys
from hub.session import Record, Session
from hub.store import StateStore, StreamBatcher
from proctor.settings import Settings

_ids = itertools.count(900_000)


def _store(redis: Redis, settings: Settings) -> StateStore:
    return StateStore(redis, Keys(f"{settings.redis_prefix}s"))


def _state(attempt_id: int) -> dict[str, object]:
    return Session(attempt_id=attempt_id, started_at=1000.0, deadline_at=5000.0).to_dict()


async def test_compare_and_set_refuses_a_stale_writer(redis: Redis, settings: Settings) -> None:
    # rule H8: two processes that read the same version cannot both write
    store = _store(redis, settings)
    await store.load_scripts()
    attempt_id = next(_ids)
    first = await store.commit(attempt_id, 0, _state(attempt_id), "", 0, [], [])
    assert (first.status, first.version) == ("ok", 1)
    stale = await store.commit(attempt_id, 0, _state(attempt_id), "", 0, [], [])
    assert stale.status == "conflict" and stale.version == 1
    assert json.loads(stale.state)["a"] == attempt_id  # the current state, to re-apply on


async def test_commit_appends_records_and_drops_a_stored_seq(
    redis: Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    attempt_id = next(_ids)
    record = Record("focus", "pc", 1234.5, {"state": "lost", "cause": "blur"})
    ok = await store.commit(attempt_id, 0, _state(attempt_id), "pc", 1, [record], [])
    assert ok.status == "ok" and len(ok.stream_ids) == 1
    again = await store.commit(attempt_id, ok.version, _state(attempt_id), "pc", 1, [record], [])
    assert again.status == "dup"
    entries = await redis.xrange(store.keys.events(attempt_id))
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"kind"] == b"focus" and fields[b"at"] == b"1234500"
    assert (await store.load(attempt_id)).acked == {"pc": 1, "phone": 0}


async def test_commit_publishes_to_the_attempt_channel(redis: Redis, settings: Settings) -> None:
    store = _store(redis, settings)
    attempt_id = next(_ids)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.keys.channel(attempt_id))
    try:
        sends = [{"to": "all", "m": {"type": "state"}}]
        await store.commit(attempt_id, 0, _state(attempt_id), "", 0, [], sends)
        message = None
        for _ in range(50):
            message = await pubsub.get_message(timeout=0.2)
            if message is not None:
                break
        assert message is not None and json.loads(message["data"]) == sends
    finally:
        await pubsub.aclose()


async def test_batcher_stores_each_seq_once_in_order(redis: Redis, settings: Settings) -> None:
    # nothing lost or counted twice: a resent heartbeat is found stored
    store = _store(redis, settings)
    await store.load_scripts()
    batcher = StreamBatcher(store, max_batch=7)
    await batcher.start()
    try:
        attempt_id = next(_ids)
        ids = await asyncio.gather(
            *(
                batcher.append(attempt_id, "phone", seq, "heartbeat", 1000.0 + seq)
                for seq in range(1, 21)
            )
        )
        assert all(ids)
        assert await batcher.append(attempt_id, "phone", 5, "heartbeat", 1100.0) is None
        entries = await redis.xrange(store.keys.events(attempt_id))
        assert [int(f[b"seq"]) for _, f in entries] == list(range(1, 21))
        dirty = await redis.smembers(store.keys.dirty_streams())
        assert store.keys.events(attempt_id).encode() in dirty
    finally:
        await batcher.stop()


async def test_batcher_reloads_scripts_after_a_redis_flush(
    redis: Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    await store.load_scripts()
    batcher = StreamBatcher(store)
    await batcher.start()
    try:
        await redis.script_flush()  # as after a Redis restart
        attempt_id = next(_ids)
        assert await batcher.append(attempt_id, "pc", 1, "heartbeat", 1000.0)
    finally:
        await batcher.stop()
