"""What PostgreSQL holds of an attempt's stream (``attempt_events``).

The stream in Redis is only a buffer: the persistence worker trims it once
its entries are in PostgreSQL (``hub/trim.py``), so tests that look for an
entry look for it here, where it stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Recorded:
    stream_id: str
    device: str
    kind: str
    data: dict[str, Any]


async def recorded(pool: asyncpg.Pool, attempt_id: int) -> list[Recorded]:
    """The attempt's copied stream entries, in stream order."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT stream_id, device, kind, data FROM attempt_events
                WHERE attempt_id = $1
                ORDER BY split_part(stream_id, '-', 1)::bigint,
                         split_part(stream_id, '-', 2)::bigint""",
            attempt_id,
        )
    return [Recorded(r["stream_id"], r["device"], r["kind"], dict(r["data"])) for r in rows]
