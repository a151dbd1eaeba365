"""The invigilators' side of two-way contact, and the preset texts (rule L1).

An invigilator of the attempt's room (an administrator: any room) reads an
attempt's messages, answers (a text, or an explicit "answered" that lowers the
candidate's raised hand) and sends one text to every running attempt of a
room. Each goes through :class:`hub.contact.Contact`: stored in PostgreSQL,
then told to the attempt's devices and watchers on every hub process; a
device that is offline gets it when it comes back. Administrators keep up to
:data:`MAX_PRESETS` preset texts the invigilators pick from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.assignments import ALL_ROOMS_ROLES, assigned_class_ids, require_watch
from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id, text_field
from hub import contact
from hub.ws import hub_of
from proctor.state import base
from proctor.web_sessions import User

WATCH_ROLES = ("invigilator", "admin")
MAX_PRESETS = 20
MAX_PRESET_CHARS = 200
MAX_LISTED = 200  # messages of one attempt listed for the panel
MAX_ROOM_ATTEMPTS = 1000


# ----- SQL ----------------------------------------------------------------------


async def presets(conn: asyncpg.Connection) -> list[str]:
    """The preset texts in order (the migration seeds five)."""
    rows = await conn.fetch("SELECT body FROM contact_presets ORDER BY position")
    return [r["body"] for r in rows]


async def replace_presets(
    conn: asyncpg.Connection, texts: list[str], user_id: int, at: datetime
) -> None:
    async with conn.transaction():
        await conn.execute("DELETE FROM contact_presets")
        await conn.executemany(
            """INSERT INTO contact_presets (position, body, updated_by, updated_at)
               VALUES ($1, $2, $3, $4)""",
            [(i, text, user_id, at) for i, text in enumerate(texts, start=1)],
        )


async def room_attempts(conn: asyncpg.Connection, class_id: int) -> list[int]:
    """The running attempts of a room (a class), oldest first."""
    rows = await conn.fetch(
        """SELECT a.id FROM attempts a JOIN papers p ON p.id = a.paper_id
            WHERE p.class_id = $1 AND a.status = 'in_progress' ORDER BY a.id LIMIT $2""",
        class_id,
        MAX_ROOM_ATTEMPTS,
    )
    return [r["id"] for r in rows]


# ----- helpers -----------------------------------------------------------------


async def _room_staff(request: Request) -> tuple[User, int]:
    """The caller and the path's attempt, once the caller may act on it
    (checked before the body is read: another room learns nothing)."""
    user = await require_role(request, *WATCH_ROLES)
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        await require_watch(conn, user, attempt_id)
    return user, attempt_id


async def _check_rate(user: User, request: Request, now: float) -> None:
    async with base(request).pool.acquire() as conn:
        sent = await contact.staff_recent(conn, user.id, now)
    if sent >= contact.STAFF_LIMIT:
        raise ApiError(
            429,
            "rate_limited",
            f"发送过于频繁：每分钟最多 {contact.STAFF_LIMIT} 条，请稍后再试",
        )


async def _open_attempt(request: Request, attempt_id: int) -> None:
    async with base(request).pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM attempts WHERE id = $1", attempt_id)
    if status != "in_progress":
        raise ApiError(409, "attempt_ended", "考试已结束，无法发送消息")


def _text(body: dict[str, Any]) -> str:
    return text_field(body, "text", "消息内容", max_chars=contact.MAX_TEXT)


# ----- endpoints -----------------------------------------------------------------


async def get_messages(request: Request) -> Response:
    """GET /api/invigilate/attempts/{id}/messages — the conversation, and what waits."""
    _, attempt_id = await _room_staff(request)
    async with base(request).pool.acquire() as conn:
        listed = await contact.latest_messages(conn, attempt_id, MAX_LISTED)
        waiting = (await contact.attention(conn, [attempt_id])).get(attempt_id)
    return JSONResponse(
        {
            "attempt_id": attempt_id,
            "messages": [m.wire() for m in listed],
            "contact": None if waiting is None else waiting.view(),
        }
    )


async def post_message(request: Request) -> Response:
    """POST /api/invigilate/attempts/{id}/messages {text} — a reply (it answers a call)."""
    user, attempt_id = await _room_staff(request)
    text = _text(await json_body(request))
    hub = hub_of(request)
    now = hub.clock.now()
    await _open_attempt(request, attempt_id)
    await _check_rate(user, request, now)
    [message] = await hub.contact.from_staff([attempt_id], user.id, "text", text, now)
    return JSONResponse({"ok": True, "message": message.wire()})


async def post_answered(request: Request) -> Response:
    """POST /api/invigilate/attempts/{id}/answered — the call is dealt with."""
    user, attempt_id = await _room_staff(request)
    hub = hub_of(request)
    now = hub.clock.now()
    await _open_attempt(request, attempt_id)
    async with base(request).pool.acquire() as conn:
        waiting = (await contact.attention(conn, [attempt_id])).get(attempt_id)
    if waiting is None or waiting.calls == 0:
        raise ApiError(409, "no_call", "该考生没有待处理的呼叫")
    await _check_rate(user, request, now)
    [message] = await hub.contact.from_staff(
        [attempt_id], user.id, "answered", contact.ANSWERED_TEXT, now
    )
    return JSONResponse({"ok": True, "message": message.wire()})


async def post_room_message(request: Request) -> Response:
    """POST /api/invigilate/rooms/{class_id}/messages {text} — to every running
    attempt of the room (the caller's own rooms; an administrator: any)."""
    user = await require_role(request, *WATCH_ROLES)
    class_id = path_id(request.path_params["class_id"])
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
            raise ApiError(404, "class_not_found", "考场不存在")
        if user.role not in ALL_ROOMS_ROLES and class_id not in await assigned_class_ids(
            conn, user.id
        ):
            raise ApiError(403, "not_your_room", "这不是您负责监考的考场")
        attempt_ids = await room_attempts(conn, class_id)
    text = _text(await json_body(request))
    hub = hub_of(request)
    now = hub.clock.now()
    await _check_rate(user, request, now)
    sent = await hub.contact.from_staff(attempt_ids, user.id, "text", text, now, scope="room")
    return JSONResponse(
        {"ok": True, "class_id": class_id, "sent": len(sent), "attempt_ids": attempt_ids}
    )


async def get_presets(request: Request) -> Response:
    """GET /api/invigilate/presets — the preset texts (invigilators, admins)."""
    await require_role(request, *WATCH_ROLES)
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"presets": await presets(conn), "max": MAX_PRESETS})


async def put_presets(request: Request) -> Response:
    """PUT /api/admin/contact/presets {presets: [text, …]} — replace them all."""
    user = await require_role(request, "admin")
    body = await json_body(request)
    given = body.get("presets")
    if not isinstance(given, list):
        raise ApiError(400, "bad_presets", "presets 必须是文字列表")
    if len(given) > MAX_PRESETS:
        raise ApiError(400, "too_many_presets", f"常用语最多 {MAX_PRESETS} 条")
    texts = [
        text_field({"text": t}, "text", f"第 {i} 条常用语", max_chars=MAX_PRESET_CHARS)
        for i, t in enumerate(given, start=1)
    ]
    at = datetime.fromtimestamp(base(request).clock.now(), UTC)
    async with base(request).pool.acquire() as conn:
        await replace_presets(conn, texts, user.id, at)
    return JSONResponse({"presets": texts, "max": MAX_PRESETS})


routes: list[BaseRoute] = [
    Route("/api/invigilate/attempts/{attempt_id:int}/messages", get_messages, methods=["GET"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/messages", post_message, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/answered", post_answered, methods=["POST"]),
    Route("/api/invigilate/rooms/{class_id:int}/messages", post_room_message, methods=["POST"]),
    Route("/api/invigilate/presets", get_presets, methods=["GET"]),
    Route("/api/admin/contact/presets", put_presets, methods=["PUT"]),
]
