"""Browser sessions: a random cookie token, stored hashed in PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

COOKIE = "proctor_session"
CSRF_HEADER = "x-csrf-token"
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    real_name: str


@dataclass(frozen=True)
class WebSession:
    user: User
    csrf_token: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_session(conn: asyncpg.Connection, user_id: int, now: datetime) -> tuple[str, str]:
    """Store a new session; return (cookie token, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    await conn.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        _digest(token),
        user_id,
        csrf,
        now,
        now + SESSION_LIFETIME,
    )
    return token, csrf


async def load_session(conn: asyncpg.Connection, token: str, now: datetime) -> WebSession | None:
    row = await conn.fetchrow(
        """SELECT u.id, u.username, u.role, u.real_name, s.csrf_token
             FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = $1 AND s.expires_at > $2""",
        _digest(token),
        now,
    )
    if row is None:
        return None
    user = User(
        id=row["id"], username=row["username"], role=row["role"], real_name=row["real_name"]
    )
    return WebSession(user=user, csrf_token=row["csrf_token"])


async def delete_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", _digest(token))


def token_digest(token: str) -> bytes:
    """The stored form of a session token, for tables keyed on a session (``sso_sessions``)."""
    return _digest(token)
