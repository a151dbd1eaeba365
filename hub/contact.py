"""Two-way contact between invigilators and candidates (rule L1).

Every message of an attempt — a candidate's text or call (呼叫监考员) from the
PC or the phone, an invigilator's text (to one attempt or to a whole room) or
"answered" — is a row of ``contact_messages``, numbered per attempt (``idx``,
gap-free: taken under the attempt's advisory lock, so numbers commit in
order). PostgreSQL is the record; Redis only carries the news: once stored, a
message is published on the attempt's channel to ``devices`` and
``watchers``, so whichever hub process holds a device or a watcher pushes it.

Never lost, never shown twice: each device acknowledges (``seen``) the highest
index it holds with nothing missing below, kept in ``contact_cursors``; a
device that (re)connects gets every message after its cursor in one
``messages`` batch, after it subscribed to the channel (so nothing published
meanwhile is missed); the pages drop an index they hold already. A
candidate's message carries the device's client id: a resend after a drop is
stored once. A hostile device cannot skip messages by acknowledging far
ahead: the cursor never passes the attempt's last index.

Rate limits are counted from the stored rows (every process sees them):
a candidate's attempt sends at most :data:`CANDIDATE_LIMIT` messages a
minute, an invigilator :data:`STAFF_LIMIT` (a room message counts once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from hub.errors import NotAllowed, SessionEnded
from hub.fanout import WATCHERS, envelope
from hub.keys import Keys
from proctor import audit_chain
from proctor.clock import Clock

MAX_TEXT = 500  # characters of one message (the column's check)
CANDIDATE_LIMIT = 6  # messages per attempt per window
STAFF_LIMIT = 30  # messages per invigilator per window (a room message: one)
LIMIT_WINDOW_S = 60.0
CATCH_UP_BATCH = 100  # messages in one ``messages`` batch; the next after its ack
CALL_TEXT = "考生呼叫监考员"
ANSWERED_TEXT = "监考员已收到您的呼叫，请稍候。"
DEVICES_AUDIENCE = "devices"
HINT_TTL_S = 3 * 24 * 3600  # the last-index hint outlives any attempt
# The hint only grows: two processes storing messages set it in any order.
_RAISE_HINT = """
local known = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > known then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


@dataclass(frozen=True)
class Message:
    """One stored message (a row of ``contact_messages``)."""

    id: int
    attempt_id: int
    index: int
    sender: str  # candidate | invigilator
    kind: str  # text | call | answered
    scope: str  # attempt | room
    device: str | None  # the candidate's device
    body: str
    at: float

    def wire(self) -> dict[str, Any]:
        """The ``message`` server message (docs/protocol.md)."""
        return {
            "type": "message",
            "id": self.id,
            "index": self.index,
            "from": self.sender,
            "kind": self.kind,
            "scope": self.scope,
            "device": self.device,
            "text": self.body,
            "at": self.at,
        }


_COLUMNS = "id, attempt_id, idx, sender, kind, scope, device, body, created_at"


def _message(row: asyncpg.Record) -> Message:
    return Message(
        id=row["id"],
        attempt_id=row["attempt_id"],
        index=row["idx"],
        sender=row["sender"],
        kind=row["kind"],
        scope=row["scope"],
        device=row["device"],
        body=row["body"],
        at=row["created_at"].timestamp(),
    )


def _moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def batch(after: int, messages: list[Message], more: bool) -> dict[str, Any]:
    """The ``messages`` server message: what a device lacks after ``after``."""
    return {
        "type": "messages",
        "after": after,
        "items": [m.wire() for m in messages],
        "more": more,
    }


# ----- SQL ----------------------------------------------------------------------


async def _lock(conn: asyncpg.Connection, attempt_id: int) -> None:
    """The attempt's contact lock: indices are taken and committed in order."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('contact:' || $1::bigint, 0))", attempt_id
    )


async def _by_client_id(
    conn: asyncpg.Connection, attempt_id: int, device: str, client_id: str
) -> Message | None:
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM contact_messages
             WHERE attempt_id = $1 AND device = $2 AND client_id = $3""",
        attempt_id,
        device,
        client_id,
    )
    return None if row is None else _message(row)


async def _insert(
    conn: asyncpg.Connection,
    attempt_id: int,
    *,
    sender: str,
    kind: str,
    body: str,
    at: float,
    device: str | None = None,
    client_id: str | None = None,
    user_id: int | None = None,
    scope: str = "attempt",
    broadcast: str | None = None,
) -> Message:
    """Insert under the attempt's lock (the caller holds it, in a transaction)."""
    assert len(body) <= MAX_TEXT
    row = await conn.fetchrow(
        f"""INSERT INTO contact_messages
                   (attempt_id, idx, sender, kind, scope, device, client_id, user_id,
                    broadcast, body, created_at)
            SELECT $1, coalesce(max(idx), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10
              FROM contact_messages WHERE attempt_id = $1
            RETURNING {_COLUMNS}""",
        attempt_id,
        sender,
        kind,
        scope,
        device,
        client_id,
        user_id,
        broadcast,
        body,
        _moment(at),
    )
    assert row is not None
    await audit_chain.append(conn, attempt_id, [(audit_chain.MESSAGE, row)])  # rule H7
    return _message(row)


async def candidate_recent(conn: asyncpg.Connection, attempt_id: int, now: float) -> int:
    """The attempt's candidate messages in the rate window."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM contact_messages
            WHERE attempt_id = $1 AND sender = 'candidate' AND created_at > $2""",
        attempt_id,
        _moment(now - LIMIT_WINDOW_S),
    )
    return count


async def staff_recent(conn: asyncpg.Connection, user_id: int, now: float) -> int:
    """The invigilator's sends in the rate window (a room message counts once)."""
    count: int = await conn.fetchval(
        """SELECT count(DISTINCT coalesce(broadcast, id::text)) FROM contact_messages
            WHERE user_id = $1 AND created_at > $2""",
        user_id,
        _moment(now - LIMIT_WINDOW_S),
    )
    return count


async def messages_after(
    conn: asyncpg.Connection, attempt_id: int, after: int, limit: int
) -> list[Message]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM contact_messages
             WHERE attempt_id = $1 AND idx > $2 ORDER BY idx LIMIT $3""",
        attempt_id,
        after,
        limit,
    )
    return [_message(r) for r in rows]


async def latest_messages(conn: asyncpg.Connection, attempt_id: int, limit: int) -> list[Message]:
    """The attempt's last ``limit`` messages, oldest first."""
    rows = await conn.fetch(
        f"""SELECT * FROM (SELECT {_COLUMNS} FROM contact_messages WHERE attempt_id = $1
                            ORDER BY idx DESC LIMIT $2) m ORDER BY idx""",
        attempt_id,
        limit,
    )
    return [_message(r) for r in rows]


async def cursor_of(conn: asyncpg.Connection, attempt_id: int, device: str) -> int:
    delivered: int | None = await conn.fetchval(
        "SELECT delivered FROM contact_cursors WHERE attempt_id = $1 AND device = $2",
        attempt_id,
        device,
    )
    return delivered or 0


async def advance_cursor(
    conn: asyncpg.Connection, attempt_id: int, device: str, upto: int, now: float
) -> int:
    """Move the device's cursor forward to ``upto`` — never back, and never
    past the attempt's last message (the device's word is checked)."""
    delivered: int = await conn.fetchval(
        """INSERT INTO contact_cursors (attempt_id, device, delivered, updated_at)
           VALUES ($1, $2, LEAST($3, (SELECT coalesce(max(idx), 0) FROM contact_messages
                                       WHERE attempt_id = $1)), $4)
           ON CONFLICT (attempt_id, device) DO UPDATE
              SET delivered = GREATEST(contact_cursors.delivered, EXCLUDED.delivered),
                  updated_at = EXCLUDED.updated_at
           RETURNING delivered""",
        attempt_id,
        device,
        upto,
        _moment(now),
    )
    return delivered


@dataclass(frozen=True)
class Attention:
    """What waits for an invigilator on one attempt: candidate messages after
    the last reply to this attempt (a room message is no reply)."""

    since: float  # the oldest unanswered candidate message
    calls: int  # of them, calls (a raised hand)
    messages: int
    last_text: str

    def view(self) -> dict[str, Any]:
        """The wall tile's and the panel's ``contact`` field."""
        return {
            "since": self.since,
            "hand_raised": self.calls > 0,
            "calls": self.calls,
            "messages": self.messages,
            "last_text": self.last_text,
        }


async def attention(conn: asyncpg.Connection, attempt_ids: list[int]) -> dict[int, Attention]:
    """The unanswered candidate messages of many attempts, in one query."""
    rows = await conn.fetch(
        """SELECT m.attempt_id, min(m.created_at) AS since,
                  count(*) FILTER (WHERE m.kind = 'call') AS calls, count(*) AS messages,
                  (array_agg(m.body ORDER BY m.idx DESC))[1] AS last_text
             FROM contact_messages m
            WHERE m.attempt_id = ANY($1::bigint[]) AND m.sender = 'candidate'
              AND m.idx > coalesce((SELECT max(r.idx) FROM contact_messages r
                                     WHERE r.attempt_id = m.attempt_id
                                       AND r.sender = 'invigilator' AND r.scope = 'attempt'), 0)
            GROUP BY m.attempt_id""",
        attempt_ids,
    )
    return {
        r["attempt_id"]: Attention(
            since=r["since"].timestamp(),
            calls=r["calls"],
            messages=r["messages"],
            last_text=r["last_text"],
        )
        for r in rows
    }


# ----- the service ----------------------------------------------------------------


class Contact:
    """Stores messages and tells every hub process; built by the hub with its
    own pool, Redis client, keys and clock."""

    def __init__(self, pool: asyncpg.Pool, redis: Redis, keys: Keys, clock: Clock) -> None:
        self.pool = pool
        self.redis = redis
        self.keys = keys
        self.clock = clock

    async def publish(self, message: Message) -> None:
        """The news to the attempt's devices and watchers on every process
        (the last-index hint first: a device connecting meanwhile that reads
        no hint is subscribed already and gets this message live)."""
        wire = message.wire()
        await self.redis.eval(
            _RAISE_HINT, 1, self.keys.contact(message.attempt_id), message.index, HINT_TTL_S
        )
        await self.redis.publish(
            self.keys.channel(message.attempt_id),
            envelope((DEVICES_AUDIENCE, wire), (WATCHERS, wire)),
        )

    async def from_candidate(
        self,
        attempt_id: int,
        device: str,
        client_id: str,
        kind: str,
        text: str,
        ended: bool,
        now: float,
    ) -> Message:
        """A candidate's text or call from ``device``: stored once per client
        id (a resend returns the stored one, published again), refused after
        the end and beyond the rate limit."""
        body = text if kind == "text" else (text or CALL_TEXT)
        async with self.pool.acquire() as conn, conn.transaction():
            await _lock(conn, attempt_id)
            message = await _by_client_id(conn, attempt_id, device, client_id)
            if message is None:
                if ended:
                    raise SessionEnded("ended")
                if await candidate_recent(conn, attempt_id, now) >= CANDIDATE_LIMIT:
                    raise NotAllowed(
                        "rate_limited",
                        f"at most {CANDIDATE_LIMIT} messages a minute; wait a little",
                    )
                message = await _insert(
                    conn,
                    attempt_id,
                    sender="candidate",
                    kind=kind,
                    body=body,
                    at=now,
                    device=device,
                    client_id=client_id,
                )
        await self.publish(message)  # a resend: published again, the pages drop repeats
        return message

    async def from_staff(
        self,
        attempt_ids: list[int],
        user_id: int,
        kind: str,
        text: str,
        now: float,
        scope: str = "attempt",
    ) -> list[Message]:
        """An invigilator's text (or ``answered``) to one attempt or, with
        ``scope="room"``, to each of a room's attempts; the rate limit is the
        caller's (:func:`staff_recent`), checked by the endpoint."""
        broadcast = uuid.uuid4().hex if scope == "room" else None
        out = []
        for attempt_id in attempt_ids:
            async with self.pool.acquire() as conn, conn.transaction():
                await _lock(conn, attempt_id)
                out.append(
                    await _insert(
                        conn,
                        attempt_id,
                        sender="invigilator",
                        kind=kind,
                        body=text,
                        at=now,
                        user_id=user_id,
                        scope=scope,
                        broadcast=broadcast,
                    )
                )
        for message in out:
            await self.publish(message)
        return out

    async def catch_up(
        self, attempt_id: int, device: str, after: int | None = None
    ) -> dict[str, Any]:
        """The ``messages`` batch for a device: what follows its cursor (or
        ``after``). An attempt without messages (no hint in Redis) costs no
        PostgreSQL query: its cursor can only be 0."""
        if after is None and not await self.redis.exists(self.keys.contact(attempt_id)):
            return batch(0, [], False)
        async with self.pool.acquire() as conn:
            if after is None:
                after = await cursor_of(conn, attempt_id, device)
            found = await messages_after(conn, attempt_id, after, CATCH_UP_BATCH + 1)
        return batch(after, found[:CATCH_UP_BATCH], len(found) > CATCH_UP_BATCH)

    async def seen(self, attempt_id: int, device: str, upto: int, now: float) -> int:
        """The device holds every message up to ``upto``; returns the cursor."""
        async with self.pool.acquire() as conn:
            return await advance_cursor(conn, attempt_id, device, upto, now)
