"""Rooms (考场) of a sitting: at most 30 candidates and one invigilator each,
filled automatically, edited by the administrator; an invigilator sees the
rooms of today's sittings (rule M1).

The invigilator of a room may watch and command the attempts of its
candidates in that sitting (``proctor.web_auth.can_watch``), besides the
class rooms of ``exam_api/assignments.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import int_field, path_id, text_field
from exam_api.sitting_rules import BEIJING, MAX_ROOM, RoomSpace, plan_rooms
from exam_api.sittings import sitting_json, sitting_row
from proctor.state import base, now_of
from proctor.web_auth import ALL_ROOMS_ROLES
from proctor.web_sessions import User

MAX_INVIGILATORS = 200


async def _invigilator_ids(conn: asyncpg.Connection, usernames: list[str]) -> list[int]:
    rows = await conn.fetch(
        "SELECT id, username, role FROM users WHERE username = ANY($1::text[])", usernames
    )
    by_name = {r["username"]: r for r in rows}
    unknown = [n for n in usernames if n not in by_name]
    if unknown:
        raise ApiError(404, "user_not_found", f"用户不存在：{'、'.join(unknown[:10])}")
    wrong = [n for n in usernames if by_name[n]["role"] != "invigilator"]
    if wrong:
        raise ApiError(400, "not_an_invigilator", f"以下用户不是监考员：{'、'.join(wrong[:10])}")
    return [by_name[n]["id"] for n in usernames]


async def fill_rooms(
    conn: asyncpg.Connection, sitting_id: int, usernames: list[str]
) -> dict[str, Any]:
    """Place every unplaced candidate: free seats of the existing rooms
    first, then one new room per invigilator named (in order) who holds no
    room of this sitting yet. All or nothing: 409 when seats run out."""
    async with conn.transaction():
        await sitting_row(conn, sitting_id, "FOR UPDATE OF s")
        invigilators = await _invigilator_ids(conn, usernames)
        rooms = await conn.fetch(
            """SELECT r.id, r.invigilator_id,
                      (SELECT count(*) FROM sitting_candidates sc WHERE sc.room_id = r.id) AS taken
                 FROM sitting_rooms r WHERE r.sitting_id = $1 ORDER BY r.id""",
            sitting_id,
        )
        holding = {r["invigilator_id"] for r in rooms}
        fresh = [i for i in dict.fromkeys(invigilators) if i not in holding]
        unplaced = [
            r["user_id"]
            for r in await conn.fetch(
                """SELECT sc.user_id FROM sitting_candidates sc JOIN users u ON u.id = sc.user_id
                    WHERE sc.sitting_id = $1 AND sc.room_id IS NULL ORDER BY u.username""",
                sitting_id,
            )
        ]
        plan = plan_rooms(unplaced, [RoomSpace(r["id"], r["taken"]) for r in rooms], len(fresh))
        if plan.missing_invigilators:
            raise ApiError(
                409,
                "need_invigilators",
                f"还有考生没有座位，请再指定 {plan.missing_invigilators} 名监考员（每个考场最多 {MAX_ROOM} 人）",
            )
        placements = list(plan.existing)
        number = len(rooms)
        for invigilator_id, members in zip(fresh, plan.new_rooms, strict=False):
            number += 1
            room_id: int = await conn.fetchval(
                """INSERT INTO sitting_rooms (sitting_id, name, invigilator_id)
                   VALUES ($1, $2, $3) RETURNING id""",
                sitting_id,
                f"第{number}考场",
                invigilator_id,
            )
            placements.extend((user_id, room_id) for user_id in members)
        await conn.executemany(
            "UPDATE sitting_candidates SET room_id = $3 WHERE sitting_id = $1 AND user_id = $2",
            [(sitting_id, user_id, room_id) for user_id, room_id in placements],
        )
    return {"placed": len(placements), "new_rooms": len(plan.new_rooms)}


async def room_detail(conn: asyncpg.Connection, sitting_id: int) -> dict[str, Any]:
    """The sitting with its rooms, their invigilators and candidates, and the unplaced."""
    sitting = await sitting_row(conn, sitting_id)
    rooms = await conn.fetch(
        """SELECT r.id, r.name, u.id AS inv_id, u.username AS inv_username,
                  u.real_name AS inv_name
             FROM sitting_rooms r LEFT JOIN users u ON u.id = r.invigilator_id
            WHERE r.sitting_id = $1 ORDER BY r.id""",
        sitting_id,
    )
    people = await conn.fetch(
        """SELECT sc.room_id, u.id, u.username, u.real_name FROM sitting_candidates sc
             JOIN users u ON u.id = sc.user_id
            WHERE sc.sitting_id = $1 ORDER BY u.username""",
        sitting_id,
    )

    def members(room_id: int | None) -> list[dict[str, Any]]:
        return [
            {"id": p["id"], "username": p["username"], "real_name": p["real_name"]}
            for p in people
            if p["room_id"] == room_id
        ]

    return {
        "sitting": sitting_json(sitting),
        "rooms": [
            {
                "id": r["id"],
                "name": r["name"],
                "invigilator": None
                if r["inv_id"] is None
                else {"id": r["inv_id"], "username": r["inv_username"], "real_name": r["inv_name"]},
                "candidates": members(r["id"]),
            }
            for r in rooms
        ],
        "unplaced": members(None),
    }


async def move_candidate(
    conn: asyncpg.Connection, sitting_id: int, user_id: int, room_id: int | None
) -> None:
    """Move a candidate to another room of the same sitting (None: out of any room)."""
    async with conn.transaction():
        await sitting_row(conn, sitting_id, "FOR UPDATE OF s")
        if room_id is not None:
            room_sitting = await conn.fetchval(
                "SELECT sitting_id FROM sitting_rooms WHERE id = $1", room_id
            )
            if room_sitting != sitting_id:
                raise ApiError(404, "room_not_found", "考场不存在或不属于本场次")
            taken = await conn.fetchval(
                "SELECT count(*) FROM sitting_candidates WHERE room_id = $1 AND user_id <> $2",
                room_id,
                user_id,
            )
            if taken >= MAX_ROOM:
                raise ApiError(409, "room_full", f"该考场已满（最多 {MAX_ROOM} 人）")
        done = await conn.execute(
            "UPDATE sitting_candidates SET room_id = $3 WHERE sitting_id = $1 AND user_id = $2",
            sitting_id,
            user_id,
            room_id,
        )
        if done == "UPDATE 0":
            raise ApiError(404, "candidate_not_in_sitting", "该考生不在本场次")


async def set_invigilator(conn: asyncpg.Connection, room_id: int, username: str | None) -> None:
    """Give a room another invigilator (None: nobody), one room per sitting each."""
    invigilator = None if username is None else (await _invigilator_ids(conn, [username]))[0]
    try:
        done = await conn.execute(
            "UPDATE sitting_rooms SET invigilator_id = $2 WHERE id = $1", room_id, invigilator
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(
            409, "invigilator_busy", f"监考员“{username}”已负责本场次的另一个考场"
        ) from None
    if done == "UPDATE 0":
        raise ApiError(404, "room_not_found", "考场不存在")


# ----- the invigilator's rooms today ------------------------------------------------


def beijing_day(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


async def rooms_today(conn: asyncpg.Connection, user: User, now: datetime) -> list[dict[str, Any]]:
    """Rooms of today's sittings (Beijing day) that the caller invigilates
    (an administrator: all), each with its candidates and their attempt."""
    day_start, day_end = beijing_day(now)
    everyone = user.role in ALL_ROOMS_ROLES
    rows = await conn.fetch(
        """SELECT r.id AS room_id, r.name AS room_name, s.id, s.paper_id, p.title AS paper_title,
                  s.title, s.starts_at, s.ends_at, s.late_entry_s, s.checkin_s, s.capacity
             FROM sitting_rooms r JOIN exam_sittings s ON s.id = r.sitting_id
             JOIN papers p ON p.id = s.paper_id
            WHERE s.starts_at < $2 AND s.ends_at > $1 AND ($3 OR r.invigilator_id = $4)
            ORDER BY s.starts_at, r.id LIMIT 100""",
        day_start,
        day_end,
        everyone,
        user.id,
    )
    room_ids = [r["room_id"] for r in rows]
    people = await conn.fetch(
        """SELECT sc.room_id, u.id, u.username, u.real_name, a.id AS attempt_id, a.status,
                  a.end_reason, a.deadline_at
             FROM sitting_candidates sc JOIN users u ON u.id = sc.user_id
             LEFT JOIN LATERAL (SELECT id, status, end_reason, deadline_at FROM attempts
                                 WHERE sitting_id = sc.sitting_id AND user_id = sc.user_id
                                 ORDER BY id DESC LIMIT 1) a ON true
            WHERE sc.room_id = ANY($1::bigint[]) ORDER BY u.username""",
        room_ids,
    )
    return [
        {
            "id": r["room_id"],
            "name": r["room_name"],
            "sitting": sitting_json(r),
            "candidates": [
                {
                    "id": p["id"],
                    "username": p["username"],
                    "real_name": p["real_name"],
                    "attempt_id": p["attempt_id"],
                    "status": p["status"] or "not_started",
                    "end_reason": p["end_reason"],
                    "deadline_at": None
                    if p["deadline_at"] is None
                    else p["deadline_at"].isoformat(),
                }
                for p in people
                if p["room_id"] == r["room_id"]
            ],
        }
        for r in rows
    ]


async def require_room(conn: asyncpg.Connection, user: User, room_id: int) -> None:
    """404 for a room that does not exist, 403 for another invigilator's."""
    invigilator = await conn.fetchrow(
        "SELECT invigilator_id FROM sitting_rooms WHERE id = $1", room_id
    )
    if invigilator is None:
        raise ApiError(404, "room_not_found", "考场不存在")
    if user.role not in ALL_ROOMS_ROLES and invigilator["invigilator_id"] != user.id:
        raise ApiError(403, "not_your_room", "这不是您负责监考的考场")


# ----- handlers --------------------------------------------------------------------


async def get_sitting_rooms(request: Request) -> Response:
    """GET /api/admin/sittings/{id}/rooms"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse(await room_detail(conn, path_id(request.path_params["sitting_id"])))


async def post_fill(request: Request) -> Response:
    """POST /api/admin/sittings/{id}/rooms/fill {invigilators: [username, …]}"""
    await require_role(request, "admin")
    sitting_id = path_id(request.path_params["sitting_id"])
    body = await json_body(request)
    raw = body.get("invigilators", [])
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ApiError(400, "bad_invigilators", "监考员应为用户名列表")
    names = list(dict.fromkeys(n.strip() for n in raw if n.strip()))
    if len(names) > MAX_INVIGILATORS or any(len(n) > 64 for n in names):
        raise ApiError(400, "bad_invigilators", f"一次最多 {MAX_INVIGILATORS} 名监考员")
    async with base(request).pool.acquire() as conn:
        result = await fill_rooms(conn, sitting_id, names)
        detail = await room_detail(conn, sitting_id)
    return JSONResponse({**result, **detail})


async def put_candidate_room(request: Request) -> Response:
    """PUT /api/admin/sittings/{id}/candidates/{user_id}/room {room_id | null}"""
    await require_role(request, "admin")
    sitting_id = path_id(request.path_params["sitting_id"])
    user_id = path_id(request.path_params["user_id"])
    body = await json_body(request)
    room_id = None if body.get("room_id") is None else int_field(body, "room_id", "考场")
    async with base(request).pool.acquire() as conn:
        await move_candidate(conn, sitting_id, user_id, room_id)
        detail = await room_detail(conn, sitting_id)
    return JSONResponse(detail)


async def put_room(request: Request) -> Response:
    """PUT /api/admin/rooms/{room_id} {invigilator: username | null}"""
    await require_role(request, "admin")
    room_id = path_id(request.path_params["room_id"])
    body = await json_body(request)
    username = None
    if body.get("invigilator") is not None:
        username = text_field(body, "invigilator", "监考员用户名", max_chars=64)
    async with base(request).pool.acquire() as conn:
        await set_invigilator(conn, room_id, username)
    return JSONResponse({"ok": True, "room_id": room_id, "invigilator": username})


async def get_my_rooms(request: Request) -> Response:
    """GET /api/invigilate/rooms — the caller's rooms of today's sittings."""
    user = await require_role(request, "invigilator", "admin")
    now = now_of(request)
    async with base(request).pool.acquire() as conn:
        rooms = await rooms_today(conn, user, now)
    return JSONResponse({"server_now": now.isoformat(), "rooms": rooms})


routes: list[BaseRoute] = [
    Route("/api/admin/sittings/{sitting_id:int}/rooms", get_sitting_rooms, methods=["GET"]),
    Route("/api/admin/sittings/{sitting_id:int}/rooms/fill", post_fill, methods=["POST"]),
    Route(
        "/api/admin/sittings/{sitting_id:int}/candidates/{user_id:int}/room",
        put_candidate_room,
        methods=["PUT"],
    ),
    Route("/api/admin/rooms/{room_id:int}", put_room, methods=["PUT"]),
    Route("/api/invigilate/rooms", get_my_rooms, methods=["GET"]),
]
