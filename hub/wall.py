"""Who is watching an attempt's live video (rule H4): a lease per watcher.

The PC page sends full frame rate while at least one invigilator has the
attempt's detail panel open. Several invigilators (or an invigilator and an
administrator) may watch at once, and a browser may vanish without saying
so; so each watcher holds a lease (a sorted-set member scored with its expiry,
key ``Keys.watchers``, in the attempt's ``{att:<id>}`` hash tag, rule H8)
that the panel renews while it polls, and the rate drops when the last live
lease is released. A lease that lapsed (its browser crashed without the
page's exit release) no longer counts: the process holding the PC peer asks
:func:`watched` every few seconds and drops the rate of an attempt nobody
holds a live lease of any more (``webrtc/ingest.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from hub.keys import Keys

LEASE_S = 10.0


async def hold(redis: Redis, keys: Keys, attempt_id: int, watcher: str, now: float) -> bool:
    """Take or renew ``watcher``'s lease; True when nobody watched before."""
    key = keys.watchers(attempt_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        pipe.zadd(key, {watcher: now + LEASE_S})
        pipe.expire(key, int(LEASE_S) + 1)
        _, before, _, _ = await pipe.execute()
    return int(before) == 0


async def release(redis: Redis, keys: Keys, attempt_id: int, watcher: str, now: float) -> bool:
    """Give up ``watcher``'s lease; True when nobody watches any more."""
    key = keys.watchers(attempt_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(key, watcher)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        _, _, left = await pipe.execute()
    return int(left) == 0


async def watched(redis: Redis, keys: Keys, attempt_ids: Iterable[int], now: float) -> set[int]:
    """The attempts among ``attempt_ids`` with a lease still live at ``now``
    (epoch seconds); one round trip."""
    ids = list(attempt_ids)
    if not ids:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for attempt_id in ids:
            pipe.zcount(keys.watchers(attempt_id), f"({now}", "+inf")
        counts = await pipe.execute()
    return {attempt_id for attempt_id, n in zip(ids, counts, strict=True) if int(n) > 0}
