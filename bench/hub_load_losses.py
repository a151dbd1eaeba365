"""After a bench/hub_load.py run: the acknowledged events looked up in the
Redis streams and in PostgreSQL's ``attempt_events``, those missing by kind."""

from __future__ import annotations

import asyncio
import json
import time

from bench.hub_load_devices import Stats

KINDS = ("heartbeat", "focus", "click_outside")


def _missing(
    stats: Stats,
    heartbeats: set[tuple[int, str, int]],
    focus: dict[int, int],
    clicks: dict[int, int],
) -> dict[str, int]:
    """Acknowledged events of each kind not among those found."""
    return {
        "heartbeat": len(stats.acked_heartbeats - heartbeats),
        "focus": sum(max(0, n - focus.get(a, 0)) for a, n in stats.acked_focus.items()),
        "click_outside": sum(max(0, n - clicks.get(a, 0)) for a, n in stats.acked_clicks.items()),
    }


def _attempts(stats: Stats) -> list[int]:
    return sorted(
        {a for a, _, _ in stats.acked_heartbeats} | set(stats.acked_focus) | set(stats.acked_clicks)
    )


async def count_in_redis(redis_url: str, prefix: str, stats: Stats) -> dict[str, int]:
    """Acknowledged events missing from the streams, by kind."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    found: set[tuple[int, str, int]] = set()
    focus: dict[int, int] = {}
    clicks: dict[int, int] = {}
    try:
        for attempt_id in _attempts(stats):
            stream = f"{prefix}:{{att:{attempt_id}}}:events"
            for _, f in await redis.xrange(stream):
                kind = f[b"kind"]
                if kind == b"heartbeat":
                    found.add((attempt_id, f[b"device"].decode(), int(f[b"seq"])))
                elif kind == b"focus":
                    state = json.loads(f[b"data"]).get("state")
                    counts = clicks if state == "click_outside" else focus
                    counts[attempt_id] = counts.get(attempt_id, 0) + 1
    finally:
        await redis.aclose()
    return _missing(stats, found, focus, clicks)


async def count_in_postgres(
    database_url: str, stats: Stats, within_s: float = 120.0
) -> tuple[dict[str, int], int, float]:
    """Acknowledged events missing from ``attempt_events`` once the worker has
    caught up (nothing missing, or no progress for 15 s, or ``within_s``):
    the losses by kind, the rows found, and the seconds waited."""
    import asyncpg

    attempts = _attempts(stats)
    conn = await asyncpg.connect(database_url)
    t0 = time.monotonic()
    last_rows, last_change = -1, t0
    try:
        while True:
            rows = await conn.fetch(
                """SELECT attempt_id, device, kind, data->>'state' AS state,
                          (data->>'seq')::bigint AS seq
                     FROM attempt_events WHERE attempt_id = ANY($1::bigint[])
                      AND kind IN ('heartbeat', 'focus')""",
                attempts,
            )
            found = {
                (r["attempt_id"], r["device"], r["seq"]) for r in rows if r["kind"] == "heartbeat"
            }
            focus: dict[int, int] = {}
            clicks: dict[int, int] = {}
            for r in rows:
                if r["kind"] == "focus":
                    counts = clicks if r["state"] == "click_outside" else focus
                    counts[r["attempt_id"]] = counts.get(r["attempt_id"], 0) + 1
            missing = _missing(stats, found, focus, clicks)
            now = time.monotonic()
            if len(rows) != last_rows:
                last_rows, last_change = len(rows), now
            if not any(missing.values()) or now - last_change > 15 or now - t0 > within_s:
                return missing, len(rows), now - t0
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
