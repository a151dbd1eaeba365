"""Room assignments: which invigilator watches which exam room (rule G5).

Exam rooms are classes: an invigilator sees the running attempts of the
classes assigned to them, an administrator sees every attempt. The
administrator assigns and unassigns; ``can_watch`` (``proctor/web_auth.py``,
shared with the hub and the ingest) is the one check every invigilation
endpoint uses.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id, text_field
from proctor.state import base
from proctor.web_auth import ALL_ROOMS_ROLES, REVIEW_ROLES, can_watch
from proctor.web_sessions import User


async def assign(conn: asyncpg.Connection, class_id: int, user_id: int) -> bool:
    """Assign; False when it was assigned already (idempotent)."""
    added: int | None = await conn.fetchval(
        """INSERT INTO invigilator_assignments (class_id, user_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING 1""",
        class_id,
        user_id,
    )
    return added is not None


async def unassign(conn: asyncpg.Connection, class_id: int, user_id: int) -> bool:
    result: str = await conn.execute(
        "DELETE FROM invigilator_assignments WHERE class_id = $1 AND user_id = $2",
        class_id,
        user_id,
    )
    return result != "DELETE 0"


async def assigned_class_ids(conn: asyncpg.Connection, user_id: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT class_id FROM invigilator_assignments WHERE user_id = $1 ORDER BY class_id",
        user_id,
    )
    return [r["class_id"] for r in rows]


async def attempt_class_id(conn: asyncpg.Connection, attempt_id: int) -> int | None:
    class_id: int | None = await conn.fetchval(
        "SELECT p.class_id FROM attempts a JOIN papers p ON p.id = a.paper_id WHERE a.id = $1",
        attempt_id,
    )
    return class_id


async def require_watch(conn: asyncpg.Connection, user: User, attempt_id: int) -> None:
    """404 for an attempt that does not exist, 403 for another room's attempt."""
    if await attempt_class_id(conn, attempt_id) is None:
        raise ApiError(404, "attempt_not_found", "考试记录不存在")
    if not await can_watch(conn, user, attempt_id):
        raise ApiError(403, "not_your_room", "该考生不在您负责监考的考场")


async def list_assignments(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch(
        """SELECT ia.class_id, c.name AS class_name, u.id AS user_id, u.username, u.real_name,
                  ia.assigned_at
             FROM invigilator_assignments ia
             JOIN classes c ON c.id = ia.class_id JOIN users u ON u.id = ia.user_id
            ORDER BY ia.class_id, u.username"""
    )
    return [
        {
            "class_id": r["class_id"],
            "class_name": r["class_name"],
            "user": {"id": r["user_id"], "username": r["username"], "real_name": r["real_name"]},
            "assigned_at": r["assigned_at"].isoformat(),
        }
        for r in rows
    ]


# ----- administrator endpoints ---------------------------------------------------


async def get_assignments(request: Request) -> Response:
    """GET /api/admin/invigilation/assignments — every room's invigilators."""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"assignments": await list_assignments(conn)})


async def post_assignment(request: Request) -> Response:
    """POST /api/admin/classes/{id}/invigilators {username} — assign a room."""
    await require_role(request, "admin")
    class_id = path_id(request.path_params["class_id"])
    body = await json_body(request)
    username = text_field(body, "username", "监考员用户名", max_chars=64)
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
            raise ApiError(404, "class_not_found", "班级（考场）不存在")
        user = await conn.fetchrow(
            "SELECT id, username, real_name, role FROM users WHERE username = $1", username
        )
        if user is None:
            raise ApiError(404, "user_not_found", f"用户“{username}”不存在")
        if user["role"] != "invigilator":
            raise ApiError(400, "not_an_invigilator", f"用户“{username}”不是监考员")
        added = await assign(conn, class_id, user["id"])
    return JSONResponse(
        {
            "class_id": class_id,
            "user": {
                "id": user["id"],
                "username": user["username"],
                "real_name": user["real_name"],
            },
            "added": added,
        }
    )


async def delete_assignment(request: Request) -> Response:
    """DELETE /api/admin/classes/{id}/invigilators/{user_id} — unassign."""
    await require_role(request, "admin")
    class_id = path_id(request.path_params["class_id"])
    user_id = path_id(request.path_params["user_id"])
    async with base(request).pool.acquire() as conn:
        removed = await unassign(conn, class_id, user_id)
    return JSONResponse({"ok": True, "removed": removed})


routes: list[BaseRoute] = [
    Route("/api/admin/invigilation/assignments", get_assignments, methods=["GET"]),
    Route("/api/admin/classes/{class_id:int}/invigilators", post_assignment, methods=["POST"]),
    Route(
        "/api/admin/classes/{class_id:int}/invigilators/{user_id:int}",
        delete_assignment,
        methods=["DELETE"],
    ),
]


__all__ = ["ALL_ROOMS_ROLES", "REVIEW_ROLES", "can_watch"]
