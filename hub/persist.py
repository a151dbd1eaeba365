"""The persistence worker: copies attempt streams from Redis into PostgreSQL.

At least once and idempotent: entries are read through a consumer group and
acknowledged (XACK) only after their rows are committed; the
``(attempt_id, stream_id)`` primary key makes a second copy of the same entry
a no-op. A pass reads every active stream in one pipeline (first this
consumer's pending entries, then new ones), writes all rows with
``copy_records_to_table`` into a temporary table and one
``INSERT … ON CONFLICT DO NOTHING``, then acknowledges in one pipeline.

A worker that read entries and died before acknowledging them leaves them
pending under its consumer name, and a restarted hub reads under a new one:
every sweep also claims (XAUTOCLAIM) entries pending longer than
``claim_idle_s`` under any consumer, copies them like its own and
acknowledges them. A stream never leaves the active set while anything in it
is still pending.

After the acknowledgements every stream of the pass is settled
(``hub/trim.py``): trimmed to what PostgreSQL may not hold yet, and, once its
attempt has ended (PostgreSQL says so) and nothing in it is pending or
unread, set to expire with the attempt's state after ``ended_grace_s``.

Active streams are kept in a Redis set (``keys.active_streams()``, added to by
the hub as it writes); a stream leaves it when its key is gone (expired), so
the sweep keeps claiming for every stream that exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from hub.durable import upsert_violations
from hub.keys import ENDED_GRACE_S, PERSIST_GROUP, Keys, attempt_of
from hub.protocol import decode, encode
from hub.trim import CANDIDATE, GONE, StreamTrimmer
from proctor import audit_chain
from proctor.metrics import Metrics
from proctor.tasks import FailureLog

log = logging.getLogger(__name__)

Row = tuple[int, str, str, str, datetime, str]
Entry = tuple[bytes | str | None, dict[bytes | str, bytes | str] | None]

CLAIM_IDLE_S = 30.0

_CREATE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS attempt_events_in
    (attempt_id bigint, stream_id text, device text, kind text, at timestamptz, data text)
    ON COMMIT DELETE ROWS
"""
# Rows in (attempt, stream id) order: the hub's durable writes take the same
# locks in the same order (hub/durable.py), so two writers never deadlock.
_MERGE = """
INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
SELECT i.attempt_id, i.stream_id, i.device, i.kind, i.at, i.data::jsonb
  FROM attempt_events_in i JOIN attempts a ON a.id = i.attempt_id
 ORDER BY i.attempt_id, i.stream_id COLLATE "C"
ON CONFLICT DO NOTHING
RETURNING attempt_id, stream_id, device, kind, at, data
"""


def _entry_order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return (int(ms), int(seq or 0)) if ms.isdigit() and (seq or "0").isdigit() else (0, 0)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def to_row(stream: str, entry_id: str, fields: dict[bytes | str, bytes | str]) -> Row:
    values = {_s(k): _s(v) for k, v in fields.items()}
    at = datetime.fromtimestamp(int(values.get("at", "0") or 0) / 1000, UTC)
    data = values.get("data") or "{}"
    try:
        parsed = decode(data)
    except ValueError:
        parsed = {"raw": data}
    if "seq" in values and isinstance(parsed, dict):
        parsed["seq"] = int(values["seq"])
    return (
        attempt_of(stream),
        entry_id,
        values.get("device", ""),
        values.get("kind", ""),
        at,
        encode(parsed),
    )


@dataclass
class PersistWorker:
    redis: Redis
    pool: asyncpg.Pool
    keys: Keys
    batch: int = 5000
    # Idle pause between passes: telemetry reaches PostgreSQL within about a second
    # (issue #2); under load passes run back to back with full batches anyway.
    idle_s: float = 0.5
    sweep_s: float = 30.0
    max_streams: int = 20_000
    chunk: int = 200
    # Entries pending this long under any consumer belong to a dead worker (a
    # live one acknowledges within a pass): the sweep claims them.
    claim_idle_s: float = CLAIM_IDLE_S
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # An ended attempt's persisted stream and state expire this long after
    # (PROCTOR_ENDED_GRACE): a late reconnect still finds them meanwhile.
    ended_grace_s: int = ENDED_GRACE_S
    copied: int = 0
    trimmed: int = 0
    metrics: Metrics | None = None
    _task: asyncio.Task[None] | None = None
    _known: set[str] = field(default_factory=set)
    _last_sweep: float = -1e9
    trimmer: StreamTrimmer = field(init=False)

    def __post_init__(self) -> None:
        self.trimmer = StreamTrimmer(self.redis, self.keys)

    async def start(self) -> None:
        assert self._task is None
        self._task = asyncio.create_task(self._run(), name="persist-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = FailureLog(log, "persistence pass")
        while True:
            try:
                copied = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.failed(exc, 1.0)
                await asyncio.sleep(1)
                continue
            failures.succeeded()
            if copied < self.batch // 2:
                await asyncio.sleep(self.idle_s)

    async def _ensure_groups(self, streams: list[str]) -> list[str]:
        """Create the group on the streams that lack it; returns the streams
        that are gone (no key: expired, nothing to copy). No MKSTREAM: a
        stream the worker reads must never be created by the reading."""
        new = [s for s in streams if s not in self._known]
        if not new:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in new:
                pipe.xgroup_create(stream, PERSIST_GROUP, id="0")
            results = await pipe.execute(raise_on_error=False)
        gone = []
        for stream, result in zip(new, results, strict=True):
            if isinstance(result, Exception) and "requires the key to exist" in str(result):
                gone.append(stream)
                continue
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result
            self._known.add(stream)
        return gone

    async def run_once(self, sweep: bool | None = None) -> int:
        """One pass; returns the entries copied.

        A pass reads the streams popped from the dirty set. Every
        ``sweep_s`` (and on the first pass) it reads every active stream
        instead, including this consumer's pending entries (what a crash
        left unacknowledged, or a stream whose dirty mark was lost) and the
        entries any consumer left pending longer than ``claim_idle_s``
        (XAUTOCLAIM: a dead worker's reads).
        """
        redis, keys = self.redis, self.keys
        now = time.monotonic()
        if sweep is None:
            sweep = now - self._last_sweep >= self.sweep_s
        if sweep:
            self._last_sweep = now
            streams = sorted(_s(s) for s in await redis.smembers(keys.active_streams()))
        else:
            popped: list[bytes | str] = (
                await redis.spop(keys.dirty_streams(), self.max_streams)  # type: ignore[assignment]
                or []
            )
            streams = sorted({_s(s) for s in popped})
        if not streams:
            return 0
        # Read in chunks, yielding between them: one huge pipeline would hold
        # the event loop (and every websocket) for as long as it takes to pack
        # and parse (measured: seconds at 5,000 streams). Write once.
        rows: list[Row] = []
        acks: dict[str, list[str]] = {}
        gone: list[str] = []
        for first in range(0, len(streams), self.chunk):
            gone += await self._read_streams(streams[first : first + self.chunk], sweep, rows, acks)
            await asyncio.sleep(0)
        if rows:
            await self._write(rows)
        # Only now, the rows committed: acknowledge (trimmed entries too:
        # nothing to write, but off the pending list), then settle.
        lost = set(gone)
        present = [s for s in streams if s not in lost]
        candidates: list[str] = []
        trimmed = 0
        for first in range(0, len(present), self.chunk):
            part = present[first : first + self.chunk]
            settled = await self.trimmer.settle(part, acks={s: acks[s] for s in part if s in acks})
            for stream, result in settled.items():
                trimmed += result.trimmed
                if result.state == CANDIDATE:
                    candidates.append(stream)
                elif result.state == GONE:
                    gone.append(stream)
            await asyncio.sleep(0)
        if candidates:
            await self._expire_ended(candidates)
        if gone:
            await self._forget(gone)
        self.copied += len(rows)
        self.trimmed += trimmed
        if self.metrics is not None:
            self.metrics.persisted.inc(len(rows))
            self.metrics.trimmed.inc(trimmed)
        return len(rows)

    async def _read_streams(
        self, streams: list[str], sweep: bool, rows: list[Row], acks: dict[str, list[str]]
    ) -> list[str]:
        """Read ``streams`` into ``rows`` and ``acks``; returns those gone."""
        redis, keys = self.redis, self.keys
        gone = await self._ensure_groups(streams)
        if gone:
            lost = set(gone)
            streams = [s for s in streams if s not in lost]
        starts = ("0", ">") if sweep else (">",)
        width = len(starts) + (1 if sweep else 0)
        per_stream = max(50, self.batch // len(streams))
        async with redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                for start in starts:
                    pipe.xreadgroup(PERSIST_GROUP, self.consumer, {stream: start}, count=per_stream)
                if sweep:
                    pipe.xautoclaim(
                        stream,
                        PERSIST_GROUP,
                        self.consumer,
                        min_idle_time=int(self.claim_idle_s * 1000),
                        count=per_stream,
                    )
            replies = await pipe.execute(raise_on_error=False)
        again: list[str] = []
        for index, stream in enumerate(streams):
            got = 0
            for position, reply in enumerate(replies[width * index : width * index + width]):
                if isinstance(reply, ResponseError) and "NOGROUP" in str(reply):
                    self._known.discard(stream)
                    again.append(stream)
                    continue
                if isinstance(reply, Exception):
                    raise reply
                claimed = position == len(starts)
                entries = _claimed_entries(reply) if claimed else _read_entries(reply)
                got += len(entries)
                _collect(stream, entries, rows, acks)
            if got >= per_stream:
                again.append(stream)  # more to read: keep it dirty
        if again:
            await redis.sadd(keys.dirty_streams(), *again)
        return gone

    async def _write(self, rows: list[Row]) -> None:
        # A violation's duration arrives as telemetry (rules E3, H3): upsert it.
        violations = [(row[0], decode(row[5])) for row in rows if row[3] == "violation"]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_CREATE_TEMP)
            await conn.copy_records_to_table("attempt_events_in", records=rows)
            inserted = await conn.fetch(_MERGE)
            # rule H7: only the rows this copy wrote join the chains (a
            # redelivered entry is already there); the heads' locks come last,
            # all of them in attempt order (append_many)
            chained: dict[int, list[tuple[audit_chain.Kind, Any]]] = {}
            for row in sorted(
                inserted, key=lambda r: (r["attempt_id"], _entry_order(r["stream_id"]))
            ):
                chained.setdefault(row["attempt_id"], []).append((audit_chain.EVENT, row))
            if violations:
                for attempt_id, links in (await upsert_violations(conn, violations)).items():
                    chained.setdefault(attempt_id, []).extend(links)
            await audit_chain.append_many(conn, chained)

    async def _expire_ended(self, streams: list[str]) -> None:
        """Streams persisted to the last entry whose state says ended: those
        whose attempt PostgreSQL holds as ended (or holds no more) expire
        after the grace, their state with them. The script checks again (an
        entry written meanwhile, or the attempt reopened: not now)."""
        ids = [attempt_of(s) for s in streams]
        async with self.pool.acquire() as conn:
            running = {
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM attempts WHERE id = ANY($1::bigint[]) AND status <> 'ended'",
                    ids,
                )
            }
        done = [s for s in streams if attempt_of(s) not in running]
        if done:
            await self.trimmer.settle(done, grace_s=self.ended_grace_s)

    async def _forget(self, streams: list[str]) -> None:
        """Gone streams leave the active and dirty sets. One written again
        since (the hub's XADD comes before its SADD, so it exists by now)
        goes back into both: every stream holding entries stays found."""
        keys = self.keys
        await self.redis.srem(keys.active_streams(), *streams)
        await self.redis.srem(keys.dirty_streams(), *streams)
        for stream in streams:
            self._known.discard(stream)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.exists(stream)
            exist = await pipe.execute()
        back = [s for s, n in zip(streams, exist, strict=True) if n]
        if back:
            await self.redis.sadd(keys.active_streams(), *back)
            await self.redis.sadd(keys.dirty_streams(), *back)


def _read_entries(reply: object) -> list[Entry]:
    """The entries of an XREADGROUP reply on one stream."""
    entries: list[Entry] = []
    for _, stream_entries in reply or []:  # type: ignore[attr-defined]
        entries.extend(stream_entries)
    return entries


def _claimed_entries(reply: object) -> list[Entry]:
    """The entries of an XAUTOCLAIM reply: ``[next, entries]`` (Redis 6.2) or
    ``[next, entries, deleted ids]`` (Redis 7). An entry trimmed from the
    stream comes back without fields (6.2) or as a deleted id (7): nothing to
    copy, but it is acknowledged so that it leaves the pending list."""
    if not isinstance(reply, list | tuple) or len(reply) < 2:
        return []
    entries: list[Entry] = list(reply[1] or [])
    if len(reply) > 2:
        entries.extend((entry_id, None) for entry_id in reply[2] or [])
    return entries


def _collect(
    stream: str, entries: list[Entry], rows: list[Row], acks: dict[str, list[str]]
) -> None:
    """Rows to write and ids to acknowledge; an entry seen twice in one pass
    (read as this consumer's own pending and claimed too) counts once."""
    seen = set(acks.get(stream, ()))
    for entry_id_b, fields in entries:
        if entry_id_b is None:
            continue
        entry_id = _s(entry_id_b)
        if entry_id in seen:
            continue
        seen.add(entry_id)
        acks.setdefault(stream, []).append(entry_id)
        if fields:
            rows.append(to_row(stream, entry_id, fields))
