"""Housekeeping keeps the short-lived account tables bounded (rule A5 rows expire)."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
from redis.asyncio import Redis

from exam_api import ratelimit
from exam_api.housekeeping import Housekeeper, sweep_once
from hub.keys import Keys
from proctor.resources import Resources
from proctor.settings import Settings
from tests.support.accounts import known_captcha


async def test_sweep_deletes_only_expired_rows(pool: asyncpg.Pool) -> None:
    secret = b"k" * 32
    live = await known_captcha(pool, secret)
    dead = await known_captcha(pool, secret, expires_in_s=-5)
    limit = ratelimit.Limit("sweep_test", 5, 60, "x")
    async with pool.acquire() as conn:
        await ratelimit.hit(conn, limit, "old", 1_000.0)  # windows long gone
        await ratelimit.hit(conn, limit, "new", dt.datetime.now(dt.UTC).timestamp())
        counts = await sweep_once(conn, dt.datetime.now(dt.UTC))
        assert counts["captchas"] >= 1 and counts["rate_hits"] >= 1
        ids = {r["id"] for r in await conn.fetch("SELECT id FROM captchas")}
        subjects = {
            r["subject"]
            for r in await conn.fetch("SELECT subject FROM rate_hits WHERE name = 'sweep_test'")
        }
    assert live["captcha_id"] in ids and dead["captcha_id"] not in ids
    assert subjects == {"new"}


async def test_housekeeper_starts_and_stops(
    pool: asyncpg.Pool, redis: Redis, settings: Settings
) -> None:
    res = Resources(settings=settings, pool=pool, redis=redis, keys=Keys(settings.redis_prefix))
    keeper = Housekeeper(res, interval_s=0.01)
    await keeper.start()
    await asyncio.sleep(0.05)
    await keeper.stop()
    await keeper.stop()  # idempotent
