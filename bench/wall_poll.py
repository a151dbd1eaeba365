"""The invigilator wall's poll: what one ``GET /api/invigilate/sessions`` costs
with N running sessions in the room (rule H4), and the same live state read
one attempt at a time for comparison.

    .venv/bin/python bench/wall_poll.py --sessions 100 --polls 200

Embedded PostgreSQL and Redis are started in a temporary folder unless
PROCTOR_DATABASE_URL / PROCTOR_REDIS_URL are set. Each session gets a shared
state in Redis (both devices connected, cameras live, some violations, some
cameras lost), heartbeats and two snapshots with face flags in PostgreSQL.
A poll is what the endpoint does: one SQL query, one Redis pipeline, the pure
tiles, the sort. ``naive_*`` reads the same Redis state with one round trip
per attempt. The last line printed is one JSON object (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from exam_api.invigilation import live_states, running_attempts  # noqa: E402
from exam_api.wall import build_tile, sort_key  # noqa: E402
from hub.keys import Keys  # noqa: E402
from hub.session import Camera, Session  # noqa: E402
from proctor.clock import SystemClock  # noqa: E402
from proctor.db import apply_schema, create_pool  # noqa: E402
from proctor.embedded import start_services  # noqa: E402
from proctor.outages import OutageLog  # noqa: E402
from proctor.settings import load_settings  # noqa: E402
from proctor.state import Base  # noqa: E402


@dataclass(frozen=True)
class Bench:
    """The shared resources and the key layout, as the wiring passes them."""

    base: Base
    keys: Keys

    @property
    def pool(self) -> Any:
        return self.base.pool

    @property
    def redis(self) -> Redis:
        return self.base.redis


async def seed(res: Bench, sessions: int) -> list[int]:
    """A room with ``sessions`` running attempts, their shared state and snapshots."""
    now = datetime.now(UTC)
    t = now.timestamp()
    async with res.pool.acquire() as conn:
        tag = f"{int(t * 1000)}"
        class_id = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"bench-room-{tag}"
        )
        paper_id = await conn.fetchval(
            "INSERT INTO papers (class_id, kind, title, time_limit_s)"
            " VALUES ($1, 'formal', 'bench', 5400) RETURNING id",
            class_id,
        )
        user_ids = [
            await conn.fetchval(
                "INSERT INTO users (username, password_hash, role, real_name)"
                " VALUES ($1, 'x', 'candidate', $2) RETURNING id",
                f"bench-{tag}-{i}",
                f"考生{i}",
            )
            for i in range(sessions)
        ]
        ids = [
            await conn.fetchval(
                "INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id",
                uid,
                paper_id,
                now,
                now + timedelta(minutes=90),
            )
            for uid in user_ids
        ]
        await conn.executemany(
            "INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path, faces)"
            " VALUES ($1, $2, 'random', $3, 'x', 'x.jpg', $4)",
            [
                (aid, device, now - timedelta(seconds=i % 40), i % 3)
                for i, aid in enumerate(ids)
                for device in ("pc", "phone")
            ],
        )
    async with res.redis.pipeline(transaction=False) as pipe:
        for i, aid in enumerate(ids):
            s = Session(attempt_id=aid, started_at=t - 600, deadline_at=t + 4800)
            for device in ("pc", "phone"):
                s.connect(device, t - 600)
                s.camera(device, Camera.LIVE, t - 600)
            for k in range(i % 4):
                s.click_outside(t - 500 + 10 * k)
            if i % 7 == 0:
                s.camera("phone", Camera.ASLEEP, t - 30)
            pipe.hset(
                res.keys.state(aid),
                mapping={
                    "v": 1,
                    "s": json.dumps(s.to_dict()),
                    "hb:pc": int((t - i % 9) * 1000),
                    "hb:phone": int((t - i % 11) * 1000),
                },
            )
        await pipe.execute()
    return [class_id]


async def poll(res: Bench, class_ids: list[int]) -> tuple[float, float, float, int]:
    """One wall poll; returns (sql ms, redis ms, tiles ms, tiles)."""
    t0 = time.perf_counter()
    async with res.pool.acquire() as conn:
        facts = await running_attempts(conn, class_ids, 1000)
    t1 = time.perf_counter()
    states = await live_states(res.redis, res.keys, [f.attempt_id for f in facts])
    t2 = time.perf_counter()
    now = time.time()
    tiles = [build_tile(f, *states[f.attempt_id], now) for f in facts]
    tiles.sort(key=sort_key)
    t3 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, len(tiles)


async def naive_redis(res: Bench, attempt_ids: list[int]) -> float:
    t0 = time.perf_counter()
    for aid in attempt_ids:
        await res.redis.hmget(res.keys.state(aid), ["s", "hb:pc", "hb:phone"])
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(os.environ)
    with tempfile.TemporaryDirectory(prefix="wall-bench-") as tmp:
        services = start_services(settings.database_url, settings.redis_url, Path(tmp))
        try:
            assert services.database_url and services.redis_url
            pool = await create_pool(services.database_url, min_size=1, max_size=4)
            redis = Redis.from_url(services.redis_url)
            try:
                async with pool.acquire() as conn:
                    await apply_schema(conn)
                res = Bench(Base(settings, pool, redis, SystemClock(), OutageLog()), Keys("bench"))
                class_ids = await seed(res, args.sessions)
                await poll(res, class_ids)  # warm up (prepared statements, connections)
                sql, red, tiles, totals = [], [], [], []
                count = 0
                for _ in range(args.polls):
                    a, b, c, count = await poll(res, class_ids)
                    sql.append(a)
                    red.append(b)
                    tiles.append(c)
                    totals.append(a + b + c)
                async with pool.acquire() as conn:
                    ids = [f.attempt_id for f in await running_attempts(conn, class_ids, 1000)]
                naive = [await naive_redis(res, ids) for _ in range(min(args.polls, 50))]
            finally:
                await redis.aclose()
                await pool.close()
        finally:
            services.stop()
    return {
        "bench": "wall_poll",
        "sessions": args.sessions,
        "tiles": count,
        "polls": args.polls,
        "p50_poll_ms": pct(totals, 0.5),
        "p99_poll_ms": pct(totals, 0.99),
        "p50_sql_ms": pct(sql, 0.5),
        "p50_redis_pipeline_ms": pct(red, 0.5),
        "p50_tiles_ms": pct(tiles, 0.5),
        "p50_redis_one_by_one_ms": pct(naive, 0.5),
        "mean_poll_ms": round(statistics.mean(totals), 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--polls", type=int, default=200)
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
