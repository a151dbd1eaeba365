"""Housekeeping keeps the short-lived account tables bounded (rule A5 rows expire)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from exam_api import documents, ratelimit, uploads
from exam_api.housekeeping import Housekeeper, sweep_once
from proctor.settings import Settings
from tests.support import files
from tests.support.accounts import known_captcha, signed_in_client, unique_phone
from tests.support.live import LiveServer
from tests.support.users import create_user


async def test_sweep_deletes_only_expired_rows(pool: asyncpg.Pool, tmp_path: Path) -> None:
    secret = b"k" * 32
    live = await known_captcha(pool, secret)
    dead = await known_captcha(pool, secret, expires_in_s=-5)
    limit = ratelimit.Limit("sweep_test", 5, 60, "x")
    async with pool.acquire() as conn:
        await ratelimit.hit(conn, limit, "old", 1_000.0)  # windows long gone
        await ratelimit.hit(conn, limit, "new", dt.datetime.now(dt.UTC).timestamp())
        counts = await sweep_once(conn, tmp_path, dt.datetime.now(dt.UTC))
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
    keeper = Housekeeper(pool, settings.data_dir, interval_s=0.01)
    await keeper.start()
    await asyncio.sleep(0.05)
    await keeper.stop()
    await keeper.stop()  # idempotent


async def test_orphan_uploads_are_removed_after_a_week(
    pool: asyncpg.Pool, server: LiveServer, settings: Settings
) -> None:
    """Uploads never attached to a request go (row and file); attached ones stay."""
    user = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, user.id) as http:
        orphan = (await http.post("/api/uploads", content=files.pdf_bytes())).json()["id"]
        fresh = (await http.post("/api/uploads", content=files.pdf_bytes())).json()["id"]
    root = uploads.uploads_root(settings.data_dir)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE uploads SET created_at = now() - interval '8 days' WHERE id = $1", orphan
        )
        path = uploads.resolve(
            root, await conn.fetchval("SELECT relpath FROM uploads WHERE id = $1", orphan)
        )
        assert path.exists()
        assert await documents.sweep_orphans(conn, root, dt.datetime.now(dt.UTC)) >= 1
        left = {
            r["id"] for r in await conn.fetch("SELECT id FROM uploads WHERE owner_id = $1", user.id)
        }
    assert left == {fresh}
    assert not path.exists()
