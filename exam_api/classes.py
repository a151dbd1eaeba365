"""Classes and enrolment (rule C1: candidates belong to classes, papers to
classes). Administrator endpoints."""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id, text_field
from proctor.state import base

MAX_CLASS_NAME = 100


async def create_class(conn: asyncpg.Connection, name: str) -> int:
    class_id: int | None = await conn.fetchval(
        "INSERT INTO classes (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", name
    )
    if class_id is None:
        raise ApiError(409, "class_exists", f"班级“{name}”已存在")
    return class_id


async def list_classes(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch(
        """SELECT c.id, c.name, c.created_at,
                  (SELECT count(*) FROM class_members m WHERE m.class_id = c.id) AS members,
                  (SELECT count(*) FROM papers p WHERE p.class_id = c.id) AS papers
             FROM classes c ORDER BY c.id"""
    )
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "created_at": r["created_at"].isoformat(),
            "member_count": r["members"],
            "paper_count": r["papers"],
        }
        for r in rows
    ]


async def class_detail(conn: asyncpg.Connection, class_id: int) -> dict[str, object]:
    row = await conn.fetchrow("SELECT id, name FROM classes WHERE id = $1", class_id)
    if row is None:
        raise ApiError(404, "class_not_found", "班级不存在")
    members = await conn.fetch(
        """SELECT u.id, u.username, u.real_name FROM class_members m
             JOIN users u ON u.id = m.user_id WHERE m.class_id = $1 ORDER BY u.username""",
        class_id,
    )
    papers = await conn.fetch(
        "SELECT id, kind, title FROM papers WHERE class_id = $1 ORDER BY kind DESC, id", class_id
    )
    return {
        "id": row["id"],
        "name": row["name"],
        "members": [dict(m) for m in members],
        "papers": [dict(p) for p in papers],
    }


async def enrol(conn: asyncpg.Connection, class_id: int, username: str) -> dict[str, object]:
    """Put a candidate into a class; enrolling twice is a no-op."""
    if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
        raise ApiError(404, "class_not_found", "班级不存在")
    user = await conn.fetchrow(
        "SELECT id, username, real_name, role FROM users WHERE username = $1", username
    )
    if user is None:
        raise ApiError(404, "user_not_found", f"用户“{username}”不存在")
    if user["role"] != "candidate":
        raise ApiError(400, "not_a_candidate", f"用户“{username}”不是考生，不能加入班级")
    await conn.execute(
        "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        class_id,
        user["id"],
    )
    return {"id": user["id"], "username": user["username"], "real_name": user["real_name"]}


MAX_BULK = 500  # candidates enrolled by one request
MAX_UNPLACED = 200  # rows of the unplaced list (search narrows it)


async def unplaced(conn: asyncpg.Connection, query: str, limit: int) -> list[dict[str, object]]:
    """Candidates whose latest request is approved and who are in no class
    yet (issue #14), oldest approval first; ``query`` matches the username,
    the real name or the phone."""
    rows = await conn.fetch(
        """SELECT u.id, u.username, u.real_name, u.phone, r.category, r.decided_at
             FROM users u
             JOIN LATERAL (SELECT status, category, decided_at FROM exam_requests
                            WHERE user_id = u.id ORDER BY id DESC LIMIT 1) r ON true
            WHERE u.role = 'candidate' AND r.status = 'approved'
              AND NOT EXISTS (SELECT 1 FROM class_members m WHERE m.user_id = u.id)
              AND ($1 = '' OR strpos(u.username, $1) > 0 OR strpos(u.real_name, $1) > 0
                   OR strpos(coalesce(u.phone, ''), $1) > 0)
            ORDER BY r.decided_at NULLS LAST, u.id
            LIMIT $2""",
        query,
        limit,
    )
    return [
        {
            "id": r["id"],
            "username": r["username"],
            "real_name": r["real_name"],
            "category": r["category"],
            "approved_at": r["decided_at"].isoformat() if r["decided_at"] else None,
        }
        for r in rows
    ]


async def enrol_many(conn: asyncpg.Connection, class_id: int, user_ids: list[int]) -> list[int]:
    """Enrol the approved candidates among ``user_ids``; returns who was added."""
    if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
        raise ApiError(404, "class_not_found", "班级不存在")
    rows = await conn.fetch(
        """INSERT INTO class_members (class_id, user_id)
           SELECT $1, u.id FROM users u
            WHERE u.id = ANY($2::bigint[]) AND u.role = 'candidate'
              AND (SELECT status FROM exam_requests WHERE user_id = u.id
                    ORDER BY id DESC LIMIT 1) = 'approved'
           ON CONFLICT DO NOTHING
           RETURNING user_id""",
        class_id,
        user_ids,
    )
    return [r["user_id"] for r in rows]


# ---------------------------------------------------------------- handlers


async def get_unplaced(request: Request) -> Response:
    """GET /api/admin/candidates/unplaced?q= — approved, in no class yet."""
    await require_role(request, "admin")
    query = request.query_params.get("q", "").strip()
    if len(query) > 64:
        raise ApiError(400, "bad_q", "搜索内容过长（最多 64 字）")
    async with base(request).pool.acquire() as conn:
        found = await unplaced(conn, query, MAX_UNPLACED)
    return JSONResponse({"candidates": found, "limit": MAX_UNPLACED})


async def post_members_bulk(request: Request) -> Response:
    """POST /api/admin/classes/{class_id}/members/bulk {user_ids: [...]}"""
    await require_role(request, "admin")
    body = await json_body(request)
    ids = body.get("user_ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_BULK
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    ):
        raise ApiError(400, "bad_user_ids", f"user_ids 应为 1–{MAX_BULK} 个考生编号")
    async with base(request).pool.acquire() as conn:
        added = await enrol_many(conn, path_id(request.path_params["class_id"]), ids)
    return JSONResponse({"added": added, "skipped": len(set(ids)) - len(added)})


async def get_classes(request: Request) -> Response:
    """GET /api/admin/classes"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"classes": await list_classes(conn)})


async def post_class(request: Request) -> Response:
    """POST /api/admin/classes {name}"""
    await require_role(request, "admin")
    body = await json_body(request)
    name = text_field(body, "name", "班级名称", max_chars=MAX_CLASS_NAME)
    async with base(request).pool.acquire() as conn:
        class_id = await create_class(conn, name)
    return JSONResponse({"id": class_id, "name": name}, status_code=201)


async def get_class(request: Request) -> Response:
    """GET /api/admin/classes/{class_id}"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse(await class_detail(conn, path_id(request.path_params["class_id"])))


async def post_member(request: Request) -> Response:
    """POST /api/admin/classes/{class_id}/members {username}"""
    await require_role(request, "admin")
    body = await json_body(request)
    username = text_field(body, "username", "用户名", max_chars=64)
    async with base(request).pool.acquire() as conn:
        member = await enrol(conn, path_id(request.path_params["class_id"]), username)
    return JSONResponse(member)


async def delete_member(request: Request) -> Response:
    """DELETE /api/admin/classes/{class_id}/members/{user_id}"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM class_members WHERE class_id = $1 AND user_id = $2",
            path_id(request.path_params["class_id"]),
            path_id(request.path_params["user_id"]),
        )
    return JSONResponse({"ok": True})


routes: list[BaseRoute] = [
    Route("/api/admin/classes", get_classes, methods=["GET"]),
    Route("/api/admin/classes", post_class, methods=["POST"]),
    Route("/api/admin/classes/{class_id:int}", get_class, methods=["GET"]),
    Route("/api/admin/classes/{class_id:int}/members", post_member, methods=["POST"]),
    Route("/api/admin/classes/{class_id:int}/members/bulk", post_members_bulk, methods=["POST"]),
    Route("/api/admin/candidates/unplaced", get_unplaced, methods=["GET"]),
    Route(
        "/api/admin/classes/{class_id:int}/members/{user_id:int}", delete_member, methods=["DELETE"]
    ),
]
