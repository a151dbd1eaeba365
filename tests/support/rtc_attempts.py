"""Attempts and device tokens for WebRTC integration tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from hub.tokens import sign_device_token
from proctor.settings import Settings
from tests.support.users import create_class_with_paper, create_user


@dataclass(frozen=True)
class RtcAttempt:
    id: int
    user_id: int
    pc_token: str
    phone_token: str


async def open_attempt(pool: asyncpg.Pool, settings: Settings) -> RtcAttempt:
    """A candidate with an in-progress attempt, and device tokens for it."""
    user = await create_user(pool, role="candidate")
    paper_id = await create_class_with_paper(pool, [user.id])
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        attempt_id: int = await conn.fetchval(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            user.id,
            paper_id,
            now,
            now + timedelta(hours=1),
        )
    return RtcAttempt(
        attempt_id,
        user.id,
        sign_device_token(settings.secret_key, attempt_id, "pc", time.time(), 600),
        sign_device_token(settings.secret_key, attempt_id, "phone", time.time(), 600),
    )
