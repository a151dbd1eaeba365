"""Who is calling, for every package's endpoints: the session cookie, the
role check, CSRF on state changes, and who may watch which attempt.

It sits in the shared bottom layer so that the hub's watch socket, the
ingest's evidence endpoints and the exam API apply the same checks.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import asyncpg
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from proctor.errors import ProctorError
from proctor.state import base, now_of
from proctor.web_sessions import (
    COOKIE,
    CSRF_HEADER,
    SESSION_LIFETIME,
    User,
    WebSession,
    load_session,
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Roles that see every room without an assignment.
ALL_ROOMS_ROLES = frozenset({"admin"})
# Roles that may read an attempt's evidence whatever its room (rule H5).
REVIEW_ROLES = frozenset({"reviewer", "admin"})


class AuthFailed(ProctorError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status


def utcnow() -> datetime:
    return datetime.now(UTC)


async def current_session(conn: HTTPConnection) -> WebSession | None:
    token = conn.cookies.get(COOKIE)
    if not token:
        return None
    async with base(conn).pool.acquire() as db:
        return await load_session(db, token, now_of(conn))


async def require_role(request: Request, *roles: str) -> User:
    """The signed-in user if their role is one of ``roles`` (any role when empty).

    State-changing methods must also carry the session's CSRF token in the
    ``X-CSRF-Token`` header (double submit; the token is returned at login).
    """
    session = await current_session(request)
    if session is None:
        raise AuthFailed(401, "not_signed_in", "请先登录")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf_token):
            raise AuthFailed(403, "csrf_failed", "页面已过期，请刷新后重试")
    if roles and session.user.role not in roles:
        raise AuthFailed(403, "forbidden", "没有权限执行此操作")
    return session.user


def set_session_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


async def can_watch(conn: asyncpg.Connection, user: User, attempt_id: int) -> bool:
    """May ``user`` watch and command this attempt? Admins: any; invigilators:
    attempts of their assigned class rooms, and of the candidates of their
    sitting rooms in that sitting (rule M1); nobody else."""
    if user.role in ALL_ROOMS_ROLES:
        return True
    if user.role != "invigilator":
        return False
    allowed: int | None = await conn.fetchval(
        """SELECT 1 FROM attempts a JOIN papers p ON p.id = a.paper_id
            WHERE a.id = $1
              AND (EXISTS (SELECT 1 FROM invigilator_assignments ia
                            WHERE ia.class_id = p.class_id AND ia.user_id = $2)
                   OR EXISTS (SELECT 1 FROM sitting_candidates sc
                                JOIN sitting_rooms r ON r.id = sc.room_id
                               WHERE sc.sitting_id = a.sitting_id AND sc.user_id = a.user_id
                                 AND r.invigilator_id = $2))""",
        attempt_id,
        user.id,
    )
    return allowed is not None


async def require_evidence_access(conn: asyncpg.Connection, user: User, attempt_id: int) -> None:
    """An attempt's evidence (timeline, snapshots, images): reviewers and
    admins, and the invigilators of its room — the check of the watch socket."""
    if user.role in REVIEW_ROLES:
        return
    if not await can_watch(conn, user, attempt_id):
        raise AuthFailed(403, "not_your_room", "该考生不在您负责的考场")
