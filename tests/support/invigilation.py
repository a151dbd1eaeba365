"""An exam room (a class) with running attempts and its invigilator, made in
the database, for the invigilation tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from exam_api.assignments import assign
from hub.tokens import sign_device_token
from proctor import audit_chain
from proctor.settings import Settings
from tests.support.hub_client import HubAttempt
from tests.support.users import TestUser, create_user, unique


@dataclass(frozen=True)
class Room:
    class_id: int
    paper_id: int
    invigilator: TestUser
    attempts: list[HubAttempt]


async def running_attempt(
    pool: asyncpg.Pool, settings: Settings, paper_id: int, real_name: str = "测试考生"
) -> HubAttempt:
    """A candidate of the paper's class with a running attempt and device tokens."""
    user = await create_user(pool, real_name=real_name)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        class_id = await conn.fetchval("SELECT class_id FROM papers WHERE id = $1", paper_id)
        await conn.execute(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)", class_id, user.id
        )
        row = await conn.fetchrow(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, $3, $4) RETURNING *""",
            user.id,
            paper_id,
            now,
            now + timedelta(hours=1),
        )
        attempt_id: int = row["id"]
        # as the start does (exam_api/attempts.py): the record's first link (rule H7)
        await audit_chain.append(conn, attempt_id, [(audit_chain.START, row)])
    t = time.time()
    return HubAttempt(
        attempt_id=attempt_id,
        user_id=user.id,
        pc_token=sign_device_token(settings.secret_key, attempt_id, "pc", t, 3600),
        phone_token=sign_device_token(settings.secret_key, attempt_id, "phone", t, 3600),
    )


async def room_with_attempts(
    pool: asyncpg.Pool, settings: Settings, names: list[str], assigned: bool = True
) -> Room:
    """A class (exam room) with a formal paper, one running attempt per name,
    and an invigilator (assigned to the room unless ``assigned`` is False)."""
    invigilator = await create_user(pool, "invigilator", real_name="监考员甲")
    async with pool.acquire() as conn:
        class_id: int = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", unique("考场")
        )
        paper_id: int = await conn.fetchval(
            """INSERT INTO papers (class_id, kind, title, time_limit_s)
               VALUES ($1, 'formal', '正式考试', 3600) RETURNING id""",
            class_id,
        )
        if assigned:
            await assign(conn, class_id, invigilator.id)
    attempts = [await running_attempt(pool, settings, paper_id, name) for name in names]
    return Room(class_id, paper_id, invigilator, attempts)


async def latest_attempt_id(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        latest: int = await conn.fetchval("SELECT coalesce(max(id), 0) FROM attempts")
    return latest


async def close_attempts_after(pool: asyncpg.Pool, attempt_id: int) -> None:
    """Mark the attempts made after ``attempt_id`` and still running as ended,
    in the database only: a test that leaves candidates calling must not
    crowd the administrators' wall (its first page) of the tests after it."""
    async with pool.acquire() as conn:
        await conn.execute(
            """UPDATE attempts SET status = 'ended', ended_at = now(), end_reason = 'submitted'
                WHERE id > $1 AND status = 'in_progress'""",
            attempt_id,
        )
