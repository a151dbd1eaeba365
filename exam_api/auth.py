"""Who is calling: the checks of ``proctor/web_auth.py`` (shared with the hub
and the ingest), and ``GET /api/auth/me``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_api.errors import ApiError
from proctor.web_auth import current_session, require_role, set_session_cookie, utcnow

__all__ = ["current_session", "me", "require_role", "set_session_cookie", "utcnow"]


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
