"""Who is watching an attempt's live video (rule H4): a lease per watcher.

The PC page sends full frame rate while at least one invigilator has the
attempt's detail panel open. Several invigilators (or an invigilator and an
administrator) may watch at once, and a browser may vanish without saying
so; so each watcher holds a lease (a sorted-set member scored with its expiry)
that the panel renews while it polls, and the rate drops when the last live
lease is released. A lease that lapsed (its browser crashed without the
page's exit release) no longer counts; nothing sweeps on its own, so the high
rate it left lasts until the next watcher leaves or the attempt ends.

The key lives beside the attempt's other keys, in its ``{att:<id>}`` hash
tag (rule H8). It belongs in ``hub/keys.py``; it is here while that module's
owner is at work on it.
"""

from __future__ import annotations

from redis.asyncio import Redis

from hub.keys import Keys

LEASE_S = 10.0


def watchers_key(keys: Keys, attempt_id: int) -> str:
    """Sorted set: watcher id → lease expiry (epoch seconds)."""
    return f"{keys.tag(attempt_id)}:watchers"


async def hold(redis: Redis, keys: Keys, attempt_id: int, watcher: str, now: float) -> bool:
    """Take or renew ``watcher``'s lease; True when nobody watched before."""
    key = watchers_key(keys, attempt_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        pipe.zadd(key, {watcher: now + LEASE_S})
        pipe.expire(key, int(LEASE_S) + 1)
        _, before, _, _ = await pipe.execute()
    return int(before) == 0


async def release(redis: Redis, keys: Keys, attempt_id: int, watcher: str, now: float) -> bool:
    """Give up ``watcher``'s lease; True when nobody watches any more."""
    key = watchers_key(keys, attempt_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(key, watcher)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        _, _, left = await pipe.execute()
    return int(left) == 0
