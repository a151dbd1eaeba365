"""After a bench/hub_load.py run: the acknowledged events looked up in the
Redis streams and in PostgreSQL's ``attempt_events``, those missing by kind.

The persistence worker trims a stream up to what PostgreSQL holds (issue #10,
``hub/trim.py``), so an entry missing from Redis is lost there only if it is
not in PostgreSQL either: ``lost_in_redis`` counts the acknowledged events in
neither (entries by stream id), ``lost_in_postgres`` those not in the record."""

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


Found = tuple[set[tuple[int, str, int]], set[tuple[int, str]], set[tuple[int, str]]]
"""Heartbeats by (attempt, device, seq); focus events and clicks by (attempt, stream id)."""


def _missing_found(stats: Stats, found: Found) -> dict[str, int]:
    heartbeats, focus, clicks = found
    return _missing(stats, heartbeats, _per_attempt(focus), _per_attempt(clicks))


def _per_attempt(entries: set[tuple[int, str]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for attempt_id, _ in entries:
        counts[attempt_id] = counts.get(attempt_id, 0) + 1
    return counts


async def found_in_redis(redis_url: str, prefix: str, stats: Stats) -> Found:
    """The acknowledged events' entries still in the streams (not yet trimmed)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    found: Found = (set(), set(), set())
    try:
        for attempt_id in _attempts(stats):
            stream = f"{prefix}:{{att:{attempt_id}}}:events"
            for entry_id, f in await redis.xrange(stream):
                kind = f[b"kind"]
                if kind == b"heartbeat":
                    found[0].add((attempt_id, f[b"device"].decode(), int(f[b"seq"])))
                elif kind == b"focus":
                    state = json.loads(f[b"data"]).get("state")
                    found[2 if state == "click_outside" else 1].add((attempt_id, entry_id.decode()))
    finally:
        await redis.aclose()
    return found


def lost_in_redis(stats: Stats, in_redis: Found, in_postgres: Found) -> dict[str, int]:
    """Acknowledged events neither in a stream nor (trimmed after being
    written) in PostgreSQL, by kind."""
    union: Found = (
        in_redis[0] | in_postgres[0],
        in_redis[1] | in_postgres[1],
        in_redis[2] | in_postgres[2],
    )
    return _missing_found(stats, union)


async def count_in_postgres(
    database_url: str, stats: Stats, within_s: float = 120.0
) -> tuple[dict[str, int], int, float, Found]:
    """Acknowledged events missing from ``attempt_events`` once the worker has
    caught up (nothing missing, or no progress for 15 s, or ``within_s``):
    the losses by kind, the rows found, the seconds waited, and the entries."""
    import asyncpg

    attempts = _attempts(stats)
    conn = await asyncpg.connect(database_url)
    t0 = time.monotonic()
    last_rows, last_change = -1, t0
    try:
        while True:
            rows = await conn.fetch(
                """SELECT attempt_id, stream_id, device, kind, data->>'state' AS state,
                          (data->>'seq')::bigint AS seq
                     FROM attempt_events WHERE attempt_id = ANY($1::bigint[])
                      AND kind IN ('heartbeat', 'focus')""",
                attempts,
            )
            found = {
                (r["attempt_id"], r["device"], r["seq"]) for r in rows if r["kind"] == "heartbeat"
            }
            entries: Found = (found, set(), set())
            for r in rows:
                if r["kind"] == "focus":
                    entries[2 if r["state"] == "click_outside" else 1].add(
                        (r["attempt_id"], r["stream_id"])
                    )
            missing = _missing_found(stats, entries)
            now = time.monotonic()
            if len(rows) != last_rows:
                last_rows, last_change = len(rows), now
            if not any(missing.values()) or now - last_change > 15 or now - t0 > within_s:
                return missing, len(rows), now - t0, entries
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
