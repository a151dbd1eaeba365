"""Running attempts made straight in PostgreSQL for the benchmarks that need
sessions to connect (bench/hub_load.py, bench/video_load.py --production)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta


async def make_attempts(database_url: str, secret: bytes, sessions: int) -> list[int]:
    import asyncpg

    from proctor.db import apply_schema

    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
        stamp = f"{os.getpid()}_{int(time.time())}"
        user_ids = [
            r["id"]
            for r in await conn.fetch(
                """INSERT INTO users (username, password_hash, role, real_name)
                   SELECT 'bench_' || $1 || '_' || g, 'x', 'candidate', '压测考生'
                     FROM generate_series(1, $2) g RETURNING id""",
                stamp,
                sessions,
            )
        ]
        class_id = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"bench_{stamp}"
        )
        paper_id = await conn.fetchval(
            """INSERT INTO papers (class_id, kind, title, time_limit_s)
               VALUES ($1, 'mock', '压测试卷', 7200) RETURNING id""",
            class_id,
        )
        now = datetime.now(UTC)
        rows = await conn.fetch(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               SELECT u, $2, $3, $4 FROM unnest($1::bigint[]) u RETURNING id""",
            user_ids,
            paper_id,
            now,
            now + timedelta(hours=2),
        )
        return sorted(r["id"] for r in rows)
    finally:
        await conn.close()
