"""Who is calling: the session cookie, the role check and CSRF on state changes."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_api.errors import ApiError
from exam_api.web_sessions import (
    COOKIE,
    CSRF_HEADER,
    SESSION_LIFETIME,
    User,
    WebSession,
    load_session,
)
from proctor.resources import resources

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def utcnow() -> datetime:
    return datetime.now(UTC)


async def current_session(request: Request) -> WebSession | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    async with resources(request).pool.acquire() as conn:
        return await load_session(conn, token, utcnow())


async def require_role(request: Request, *roles: str) -> User:
    """The signed-in user if their role is one of ``roles`` (any role when empty).

    State-changing methods must also carry the session's CSRF token in the
    ``X-CSRF-Token`` header (double submit; the token is returned at login).
    """
    session = await current_session(request)
    if session is None:
        raise ApiError(401, "not_signed_in", "请先登录")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf_token):
            raise ApiError(403, "csrf_failed", "页面已过期，请刷新后重试")
    if roles and session.user.role not in roles:
        raise ApiError(403, "forbidden", "没有权限执行此操作")
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


async def me(request: Request) -> Response:
    """GET /api/auth/me — the signed-in user and the CSRF token for this session."""
    session = await current_session(request)
    if session is None:
        raise ApiError(401, "not_signed_in", "请先登录")
    u = session.user
    return JSONResponse(
        {
            "user": {"id": u.id, "username": u.username, "role": u.role, "real_name": u.real_name},
            "csrf_token": session.csrf_token,
        }
    )
