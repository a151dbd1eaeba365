"""The tamper-evident record of an attempt (rule H7): one hash chain per attempt.

Every record of an attempt — its start, events, violations (each version),
answers (each revision), the reviewer's decision, the invigilators' commands
— is appended, in the transaction that writes it, as one link::

    content_hash = sha256(canonical JSON of the record's chained columns)
    hash         = sha256(canonical JSON of {attempt, seq, prev, kind, key, content})

``audit_chain_heads`` holds each attempt's last ``seq`` and ``hash``; an
append locks that row (``INSERT … ON CONFLICT DO UPDATE``), so hub
processes, the persistence worker and the HTTP handlers append one after the
other, never forking the chain. The head row is taken last in every
transaction, after the record's own writes (the lock order of
``hub/durable.py``); a writer of several attempts takes them in id order.

:func:`verify` walks the chain (each link, then the head) and compares each
record as it is now with the version its last link holds: a row edited,
inserted or deleted in the database behind the application is a break. What
it does not prove is written in docs/security.md (a rewrite of the whole
chain by whoever can write the database; anchor the head hash outside).

A new record kind is one :class:`Kind` line in :data:`KINDS` plus an
:func:`append` beside its INSERT. A kind's columns are its contract: changing
them is a new kind name, or every old link of it stops matching.

This module is the base layer: the hub (events, violations) and the exam API
(answers, decisions) both append.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

GENESIS = "0" * 64
MAX_PROBLEMS = 1000  # problems kept per attempt (the count stops there)


@dataclass(frozen=True)
class Kind:
    """One kind of chained record: where it lives and what of it is chained."""

    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    attempt_column: str = "attempt_id"

    def key_of(self, row: Mapping[str, Any]) -> str:
        return canonical([plain(row[c]) for c in self.key])

    def content_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {c: plain(row[c]) for c in self.columns}

    def content_hash(self, row: Mapping[str, Any]) -> str:
        return sha256(canonical(self.content_of(row)))

    def select_sql(self) -> str:
        # identifiers come from the constants below, never from a caller
        cols = ", ".join(dict.fromkeys((*self.key, *self.columns)))
        return f"SELECT {cols} FROM {self.table} WHERE {self.attempt_column} = $1"


# The attempt itself: who, which paper, when, and its end and score (a new
# version at the end). Its deadline, counters and outcome are not chained:
# extra time is an action, the outcome a review. A writer of these columns
# (a reopen, issue #12 M3) appends the row it wrote, like every other kind.
START = Kind(
    "attempt",
    "attempts",
    ("id",),
    (
        "id",
        "user_id",
        "paper_id",
        "started_at",
        "ended_at",
        "end_reason",
        "score",
        "points_earned",
        "points_total",
    ),
    "id",
)
EVENT = Kind(
    "event", "attempt_events", ("stream_id",), ("stream_id", "device", "kind", "at", "data")
)
VIOLATION = Kind(
    "violation",
    "attempt_violations",
    ("idx",),
    ("idx", "kind", "causes", "started_at", "ended_at", "duration_s", "forgiven_by"),
)
ANSWER = Kind(
    "answer", "attempt_answers", ("question_id",), ("question_id", "answer", "rev", "saved_at")
)
REVIEW = Kind(
    "review", "result_reviews", ("attempt_id",), ("reviewer_id", "decision", "reason", "decided_at")
)
ACTION = Kind(
    "action", "invigilator_actions", ("id",), ("id", "user_id", "action", "detail", "reason", "at")
)
# Contact messages in both directions (rule L1, hub/contact.py).
MESSAGE = Kind(
    "message",
    "contact_messages",
    ("idx",),
    ("idx", "sender", "kind", "scope", "device", "body", "created_at"),
)
# One line per kind.
KINDS: tuple[Kind, ...] = (START, EVENT, VIOLATION, ANSWER, REVIEW, ACTION, MESSAGE)
_BY_NAME = {k.name: k for k in KINDS}


# ---------------------------------------------------------------- pure part


def plain(value: Any) -> Any:
    """A database value as plain JSON, the same at append and at verify."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(attempt_id: int, seq: int, prev: str, kind: str, key: str, content_hash: str) -> str:
    return sha256(
        canonical(
            {
                "attempt": attempt_id,
                "seq": seq,
                "prev": prev,
                "kind": kind,
                "key": key,
                "content": content_hash,
            }
        )
    )


@dataclass(frozen=True)
class Break:
    """The first broken link: where (``seq``; None for a row the chain never
    held), which record, and why (``reason`` a code, ``message`` zh-CN)."""

    reason: str
    message: str
    seq: int | None = None
    kind: str | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "message": self.message,
            "seq": self.seq,
            "kind": self.kind,
            "key": self.key,
        }


@dataclass(frozen=True)
class Verification:
    attempt_id: int
    records: int
    head: str | None
    broken: Break | None
    problems: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "problems": self.problems,
            "broken": None if self.broken is None else self.broken.to_json(),
            "label": "记录已校验" if self.ok else f"记录校验失败：{self.broken.message}",  # type: ignore[union-attr]
        }

    def line(self) -> str:
        """One line for the command's output."""
        if self.broken is None:
            return f"attempt {self.attempt_id}: ok, {self.records} records, head {self.head}"
        b = self.broken
        where = f"#{b.seq}" if b.seq is not None else "unchained row"
        return (
            f"attempt {self.attempt_id}: BROKEN at {where} {b.kind or ''} {b.key or ''}: "
            f"{b.reason} ({self.problems} problem(s))"
        )


@dataclass
class ChainWalk:
    """Checks links one by one (sans-I/O); then records as they are now."""

    attempt_id: int
    seq: int = 0
    prev: str = GENESIS
    broken: Break | None = None
    latest: dict[tuple[str, str], tuple[int, str]] | None = None

    def __post_init__(self) -> None:
        self.latest = {}

    def link(self, seq: int, kind: str, key: str, content_hash: str, prev: str, hash_: str) -> bool:
        """Feed the next link in seq order; False once the chain is broken."""
        assert self.latest is not None
        if self.broken is not None:
            return False
        expected = self.seq + 1
        if seq != expected:
            self.broken = Break("missing_link", f"第 {expected} 条链接缺失", expected)
        elif prev != self.prev:
            self.broken = Break("prev_mismatch", f"第 {seq} 条链接与上一条不相连", seq, kind, key)
        elif link_hash(self.attempt_id, seq, prev, kind, key, content_hash) != hash_:
            self.broken = Break("link_altered", f"第 {seq} 条链接被改动", seq, kind, key)
        else:
            self.seq, self.prev = seq, hash_
            self.latest[(kind, key)] = (seq, content_hash)
            return True
        return False

    def head(self, seq: int, hash_: str) -> None:
        if self.broken is None and (seq != self.seq or hash_ != self.prev):
            self.broken = Break(
                "head_mismatch",
                f"链尾与记录的链头不符（链头第 {seq} 条，链尾第 {self.seq} 条）",
                self.seq,
            )

    def record(self, kind: Kind, row: Mapping[str, Any]) -> Break | None:
        """Compare one row of ``kind`` as it is now with its last link."""
        assert self.latest is not None
        key = kind.key_of(row)
        chained = self.latest.pop((kind.name, key), None)
        if chained is None:
            return Break("unchained_row", f"{kind.name} {key} 不在记录链中", None, kind.name, key)
        if chained[1] != kind.content_hash(row):
            message = f"第 {chained[0]} 条（{kind.name} {key}）的内容被改动"
            return Break("content_changed", message, chained[0], kind.name, key)
        return None

    def missing(self, kinds: Iterable[str]) -> list[Break]:
        """Links whose record is gone (after :meth:`records` for every kind)."""
        assert self.latest is not None
        names = set(kinds)
        return [
            Break("row_deleted", f"第 {seq} 条（{kind} {key}）的记录已被删除", seq, kind, key)
            for (kind, key), (seq, _) in self.latest.items()
            if kind in names
        ]


# ---------------------------------------------------------------- SQL part

_LOCK_HEAD = """
INSERT INTO audit_chain_heads (attempt_id, seq, hash) VALUES ($1, 0, $2)
ON CONFLICT (attempt_id) DO UPDATE SET seq = audit_chain_heads.seq
RETURNING seq, hash
"""
_INSERT_LINK = """
INSERT INTO audit_chain (attempt_id, seq, kind, record_key, content_hash, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


async def append(
    conn: asyncpg.Connection, attempt_id: int, records: Sequence[tuple[Kind, Mapping[str, Any]]]
) -> str | None:
    """Append ``records`` (each a kind and the row as written, e.g. from
    ``RETURNING``) to the attempt's chain, in the caller's transaction (a
    savepoint if one is open, else its own); returns the new head hash."""
    if not records:
        return None
    async with conn.transaction():
        head = await conn.fetchrow(_LOCK_HEAD, attempt_id, GENESIS)
        assert head is not None
        seq, prev = int(head["seq"]), str(head["hash"])
        links = []
        for kind, row in records:
            assert kind.name in _BY_NAME, kind
            seq += 1
            key, content = kind.key_of(row), kind.content_hash(row)
            digest = link_hash(attempt_id, seq, prev, kind.name, key, content)
            links.append((attempt_id, seq, kind.name, key, content, prev, digest))
            prev = digest
        await conn.executemany(_INSERT_LINK, links)
        await conn.execute(
            "UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE attempt_id = $1",
            attempt_id,
            seq,
            prev,
        )
    return prev


async def append_many(
    conn: asyncpg.Connection, by_attempt: Mapping[int, Sequence[tuple[Kind, Mapping[str, Any]]]]
) -> None:
    """:func:`append` for several attempts, heads locked in id order (no deadlock)."""
    for attempt_id in sorted(by_attempt):
        await append(conn, attempt_id, by_attempt[attempt_id])


async def head_of(conn: asyncpg.Connection, attempt_id: int) -> tuple[int, str] | None:
    row = await conn.fetchrow(
        "SELECT seq, hash FROM audit_chain_heads WHERE attempt_id = $1", attempt_id
    )
    return None if row is None else (int(row["seq"]), str(row["hash"]))


async def verify(conn: asyncpg.Connection, attempt_id: int, *, batch: int = 1000) -> Verification:
    """Verify one attempt's chain and its records against it, on one snapshot
    of the database; memory: one hash per record, rows read ``batch`` at a time."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await head_of(conn, attempt_id)
        if head is None:
            return Verification(
                attempt_id,
                0,
                None,
                Break("no_chain", "该考试没有记录链（链已被删除，或考试早于记录链）"),
            )
        walk = ChainWalk(attempt_id)
        count = 0
        async for r in conn.cursor(
            """SELECT seq, kind, record_key, content_hash, prev_hash, hash FROM audit_chain
                WHERE attempt_id = $1 ORDER BY seq""",
            attempt_id,
            prefetch=batch,
        ):
            count += 1
            if not walk.link(
                r["seq"], r["kind"], r["record_key"], r["content_hash"], r["prev_hash"], r["hash"]
            ):
                break
        walk.head(*head)
        if walk.broken is not None:
            return Verification(attempt_id, count, head[1], walk.broken, 1)
        problems: list[Break] = []
        for kind in KINDS:
            async for row in conn.cursor(kind.select_sql(), attempt_id, prefetch=batch):
                problem = walk.record(kind, row)
                if problem is not None:
                    problems.append(problem)
                    if len(problems) >= MAX_PROBLEMS:
                        break
        problems += walk.missing(k.name for k in KINDS)
    if not problems:
        return Verification(attempt_id, count, head[1], None)
    first = min(problems, key=lambda b: (b.seq is None, b.seq or 0))
    return Verification(attempt_id, count, head[1], first, len(problems))


async def anchor_holds(conn: asyncpg.Connection, attempt_id: int, seq: int, hash_: str) -> bool:
    """An anchor kept outside (a webhook receiver's ``chain``, a log line):
    the link at ``seq`` must still carry ``hash_``. A chain rewritten as a
    whole verifies by itself, but not against an older anchor."""
    found = await conn.fetchval(
        "SELECT hash FROM audit_chain WHERE attempt_id = $1 AND seq = $2", attempt_id, seq
    )
    return found == hash_


async def attempt_ids(conn: asyncpg.Connection, after: int, limit: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT id FROM attempts WHERE id > $1 ORDER BY id LIMIT $2", after, limit
    )
    return [r["id"] for r in rows]
