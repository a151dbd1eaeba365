"""Watch leases on the real Redis (rule H4): full frame rate while anyone
watches; a vanished watcher's lease lapses."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from hub.keys import Keys
from hub.wall import LEASE_S, hold, release, watched

T0 = 1_800_000_000.0


async def test_leases_of_several_watchers(redis: Redis) -> None:
    keys = Keys(f"t{secrets.token_hex(4)}")
    assert await hold(redis, keys, 7, "a", T0) is True  # the first watcher
    assert await hold(redis, keys, 7, "b", T0 + 1) is False
    assert await hold(redis, keys, 7, "a", T0 + 2) is False  # a renewal
    assert await release(redis, keys, 7, "a", T0 + 3) is False  # b still watches
    assert await release(redis, keys, 7, "b", T0 + 4) is True
    assert await redis.zcard(keys.watchers(7)) == 0


async def test_a_vanished_watchers_lease_lapses(redis: Redis) -> None:
    keys = Keys(f"t{secrets.token_hex(4)}")
    await hold(redis, keys, 8, "gone", T0)
    await hold(redis, keys, 8, "here", T0 + LEASE_S)
    # "gone" never released; past its lease, the last real watcher leaving ends watching
    assert await release(redis, keys, 8, "here", T0 + LEASE_S + 1) is True
    assert await hold(redis, keys, 8, "next", T0 + 2 * LEASE_S + 5) is True
    assert keys.watchers(8).endswith("{att:8}:watchers")  # rule H8: the attempt's slot


async def test_which_attempts_are_watched_at_a_time(redis: Redis) -> None:
    # what the ingest asks at its tick: a lapsed lease (browser crashed, no
    # release) no longer counts as watching
    keys = Keys(f"t{secrets.token_hex(4)}")
    await hold(redis, keys, 1, "a", T0)
    await hold(redis, keys, 2, "b", T0 + 5)
    assert await watched(redis, keys, [1, 2, 3], T0 + 1) == {1, 2}
    assert await watched(redis, keys, [1, 2, 3], T0 + LEASE_S + 1) == {2}
    assert await watched(redis, keys, [1, 2], T0 + LEASE_S + 6) == set()
    assert await watched(redis, keys, [], T0) == set()
