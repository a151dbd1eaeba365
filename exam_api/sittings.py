"""Exam sittings (场次): the administrator schedules a sitting of a paper and
assigns its candidates; the candidate's home page shows their sitting (rule M1).

Assignment is the administrator's (not self-booking): an exam authority
places candidates, and a sitting never takes more than its capacity. A
candidate sits a paper in at most one sitting. A paper that has sittings
opens only inside the candidate's own sitting (``exam_api/sitting_rules.py``,
checked by ``paper_access``); a paper without sittings keeps its window.
Rooms of a sitting are ``exam_api/rooms.py``.
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
from exam_api.fields import int_field, path_id, text_field, time_field
from exam_api.sitting_rules import SittingTimes
from proctor.state import base, now_of

MAX_TITLE = 100
MAX_CAPACITY = 5000
MAX_WINDOW_MIN = 240
MAX_USERNAMES = 1000
MAX_SITTING_S = 12 * 3600

# rule D7: what the home page tells a candidate to prepare before the sitting
PREPARE = [
    "电脑：摄像头可用，使用最新版 Chrome 浏览器（或 360 浏览器极速模式）",
    "手机：电量充足或接通电源，关闭低电量模式和自动锁屏，用于扫码作为第二路监控",
    "安全软件允许浏览器使用摄像头；网络稳定",
    "本人身份证件；开考前进入考场完成设备检测和身份核验",
]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def sitting_json(row: asyncpg.Record) -> dict[str, Any]:
    times = SittingTimes(row["starts_at"], row["ends_at"], row["late_entry_s"], row["checkin_s"])
    return {
        "id": row["id"],
        "paper_id": row["paper_id"],
        "paper_title": row["paper_title"],
        "title": row["title"],
        "starts_at": times.starts_at.isoformat(),
        "ends_at": times.ends_at.isoformat(),
        "checkin_from": times.checkin_from.isoformat(),
        "entry_until": times.entry_until.isoformat(),
        "late_entry_min": row["late_entry_s"] // 60,
        "checkin_min": row["checkin_s"] // 60,
        "capacity": row["capacity"],
    }


_SITTING = """SELECT s.id, s.paper_id, p.title AS paper_title, p.class_id, s.title, s.starts_at,
                     s.ends_at, s.late_entry_s, s.checkin_s, s.capacity,
                     (SELECT count(*) FROM sitting_candidates sc WHERE sc.sitting_id = s.id)
                         AS candidates,
                     (SELECT count(*) FROM sitting_candidates sc
                       WHERE sc.sitting_id = s.id AND sc.room_id IS NULL) AS unplaced,
                     (SELECT count(*) FROM sitting_rooms r WHERE r.sitting_id = s.id) AS rooms
                FROM exam_sittings s JOIN papers p ON p.id = s.paper_id"""


async def sitting_row(conn: asyncpg.Connection, sitting_id: int, lock: str = "") -> asyncpg.Record:
    row = await conn.fetchrow(f"{_SITTING} WHERE s.id = $1 {lock}", sitting_id)
    if row is None:
        raise ApiError(404, "sitting_not_found", "考试场次不存在")
    return row


def _counts(row: asyncpg.Record) -> dict[str, int]:
    return {"candidates": row["candidates"], "unplaced": row["unplaced"], "rooms": row["rooms"]}


async def create_sitting(
    conn: asyncpg.Connection,
    *,
    paper_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None,
    late_entry_s: int,
    checkin_s: int,
    capacity: int,
) -> int:
    """Schedule a sitting; ``ends_at`` defaults to the start plus the paper's time limit."""
    paper = await conn.fetchrow("SELECT time_limit_s FROM papers WHERE id = $1", paper_id)
    if paper is None:
        raise ApiError(404, "paper_not_found", "试卷不存在")
    if ends_at is None:
        ends_at = starts_at + timedelta(seconds=paper["time_limit_s"])
    if ends_at <= starts_at:
        raise ApiError(400, "bad_window", "场次结束时间必须晚于开考时间")
    if (ends_at - starts_at).total_seconds() > MAX_SITTING_S:
        raise ApiError(400, "bad_window", "一个场次最长 12 小时")
    sitting_id: int = await conn.fetchval(
        """INSERT INTO exam_sittings
               (paper_id, title, starts_at, ends_at, late_entry_s, checkin_s, capacity)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        paper_id,
        title,
        starts_at,
        ends_at,
        late_entry_s,
        checkin_s,
        capacity,
    )
    return sitting_id


async def assign_candidates(
    conn: asyncpg.Connection, sitting_id: int, usernames: list[str] | None
) -> dict[str, Any]:
    """Add candidates (by username; None: every member of the paper's class)
    within the sitting's capacity; all or nothing. A candidate already in a
    sitting of this paper is skipped and named."""
    async with conn.transaction():
        sitting = await sitting_row(conn, sitting_id, "FOR UPDATE OF s")
        if usernames is None:
            rows = await conn.fetch(
                """SELECT u.id, u.username, true AS member FROM class_members m
                     JOIN users u ON u.id = m.user_id
                    WHERE m.class_id = $1 AND u.role = 'candidate' ORDER BY u.username""",
                sitting["class_id"],
            )
        else:
            rows = await conn.fetch(
                """SELECT u.id, u.username, u.role,
                          EXISTS (SELECT 1 FROM class_members m
                                   WHERE m.user_id = u.id AND m.class_id = $2) AS member
                     FROM users u WHERE u.username = ANY($1::text[]) ORDER BY u.username""",
                usernames,
                sitting["class_id"],
            )
            found = {r["username"] for r in rows}
            unknown = [n for n in usernames if n not in found]
            if unknown:
                raise ApiError(404, "user_not_found", f"用户不存在：{'、'.join(unknown[:10])}")
            wrong = [r["username"] for r in rows if r["role"] != "candidate" or not r["member"]]
            if wrong:
                raise ApiError(
                    400, "not_in_class", f"以下用户不是本试卷班级的考生：{'、'.join(wrong[:10])}"
                )
        taken = {
            r["user_id"]
            for r in await conn.fetch(
                "SELECT user_id FROM sitting_candidates WHERE paper_id = $1", sitting["paper_id"]
            )
        }
        new = [r for r in rows if r["id"] not in taken]
        if sitting["candidates"] + len(new) > sitting["capacity"]:
            free = sitting["capacity"] - sitting["candidates"]
            raise ApiError(
                409, "sitting_full", f"本场次容量 {sitting['capacity']} 人，只剩 {free} 个名额"
            )
        await conn.executemany(
            """INSERT INTO sitting_candidates (sitting_id, user_id, paper_id) VALUES ($1, $2, $3)""",
            [(sitting_id, r["id"], sitting["paper_id"]) for r in new],
        )
    return {
        "added": [r["username"] for r in new],
        "skipped": [r["username"] for r in rows if r["id"] in taken],
    }


async def remove_candidate(conn: asyncpg.Connection, sitting_id: int, user_id: int) -> None:
    async with conn.transaction():
        started = await conn.fetchval(
            "SELECT 1 FROM attempts WHERE sitting_id = $1 AND user_id = $2 LIMIT 1",
            sitting_id,
            user_id,
        )
        if started:
            raise ApiError(409, "candidate_started", "该考生已开始本场考试，不能移出")
        done = await conn.execute(
            "DELETE FROM sitting_candidates WHERE sitting_id = $1 AND user_id = $2",
            sitting_id,
            user_id,
        )
        if done == "DELETE 0":
            raise ApiError(404, "candidate_not_in_sitting", "该考生不在本场次")


async def my_sittings(
    conn: asyncpg.Connection, user_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The candidate's sittings that have not ended, soonest first, with the room."""
    rows = await conn.fetch(
        f"""{_SITTING}
              JOIN sitting_candidates me ON me.sitting_id = s.id AND me.user_id = $1
             WHERE s.ends_at > $2 ORDER BY s.starts_at LIMIT 20""",
        user_id,
        now,
    )
    rooms = {
        r["sitting_id"]: r["name"]
        for r in await conn.fetch(
            """SELECT sc.sitting_id, r.name FROM sitting_candidates sc
                 JOIN sitting_rooms r ON r.id = sc.room_id WHERE sc.user_id = $1""",
            user_id,
        )
    }
    return [{**sitting_json(r), "room": rooms.get(r["id"]), "prepare": PREPARE} for r in rows]


# ----- handlers --------------------------------------------------------------------


def _minutes(body: dict[str, Any], name: str, label: str, default: int) -> int:
    if body.get(name) is None:
        return default * 60
    return int_field(body, name, label, low=0, high=MAX_WINDOW_MIN) * 60


async def get_sittings(request: Request) -> Response:
    """GET /api/admin/sittings — every sitting, latest first."""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        rows = await conn.fetch(f"{_SITTING} ORDER BY s.starts_at DESC, s.id DESC LIMIT 500")
    return JSONResponse({"sittings": [{**sitting_json(r), **_counts(r)} for r in rows]})


async def post_sitting(request: Request) -> Response:
    """POST /api/admin/sittings {paper_id, title, starts_at, ends_at?, late_entry_min?,
    checkin_min?, capacity}"""
    await require_role(request, "admin")
    body = await json_body(request)
    paper_id = int_field(body, "paper_id", "试卷")
    title = text_field(body, "title", "场次名称", max_chars=MAX_TITLE)
    starts_at = time_field(body, "starts_at", "开考时间")
    if starts_at is None:
        raise ApiError(400, "missing_starts_at", "请填写开考时间")
    ends_at = time_field(body, "ends_at", "结束时间")
    late_entry_s = _minutes(body, "late_entry_min", "迟到入场截止（分钟）", 30)
    checkin_s = _minutes(body, "checkin_min", "身份核验提前（分钟）", 30)
    capacity = int_field(body, "capacity", "场次容量", low=1, high=MAX_CAPACITY)
    async with base(request).pool.acquire() as conn:
        sitting_id = await create_sitting(
            conn,
            paper_id=paper_id,
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            late_entry_s=late_entry_s,
            checkin_s=checkin_s,
            capacity=capacity,
        )
        row = await sitting_row(conn, sitting_id)
    return JSONResponse({**sitting_json(row), **_counts(row)}, status_code=201)


async def delete_sitting(request: Request) -> Response:
    """DELETE /api/admin/sittings/{id} — only before anyone has started it."""
    await require_role(request, "admin")
    sitting_id = path_id(request.path_params["sitting_id"])
    async with base(request).pool.acquire() as conn, conn.transaction():
        await sitting_row(conn, sitting_id, "FOR UPDATE OF s")
        if await conn.fetchval("SELECT 1 FROM attempts WHERE sitting_id = $1 LIMIT 1", sitting_id):
            raise ApiError(409, "sitting_started", "已有考生参加本场次，不能删除")
        await conn.execute("DELETE FROM exam_sittings WHERE id = $1", sitting_id)
    return JSONResponse({"ok": True})


async def post_candidates(request: Request) -> Response:
    """POST /api/admin/sittings/{id}/candidates {usernames: [...]} | {whole_class: true}"""
    await require_role(request, "admin")
    sitting_id = path_id(request.path_params["sitting_id"])
    body = await json_body(request)
    usernames: list[str] | None
    if body.get("whole_class") is True:
        usernames = None
    else:
        raw = body.get("usernames")
        if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
            raise ApiError(400, "bad_usernames", "请填写考生用户名（usernames 为文字列表）")
        usernames = sorted({n.strip() for n in raw if n.strip()})
        if not usernames or len(usernames) > MAX_USERNAMES or any(len(n) > 64 for n in usernames):
            raise ApiError(400, "bad_usernames", f"一次最多添加 {MAX_USERNAMES} 名考生")
    async with base(request).pool.acquire() as conn:
        result = await assign_candidates(conn, sitting_id, usernames)
    return JSONResponse({"sitting_id": sitting_id, **result})


async def delete_candidate(request: Request) -> Response:
    """DELETE /api/admin/sittings/{id}/candidates/{user_id}"""
    await require_role(request, "admin")
    sitting_id = path_id(request.path_params["sitting_id"])
    user_id = path_id(request.path_params["user_id"])
    async with base(request).pool.acquire() as conn:
        await remove_candidate(conn, sitting_id, user_id)
    return JSONResponse({"ok": True})


async def get_my_sittings(request: Request) -> Response:
    """GET /api/sittings/mine — the candidate's coming sittings, room and what to prepare."""
    user = await require_role(request, "candidate")
    async with base(request).pool.acquire() as conn:
        items = await my_sittings(conn, user.id, now_of(request))
    return JSONResponse({"server_now": now_of(request).isoformat(), "sittings": items})


routes: list[BaseRoute] = [
    Route("/api/admin/sittings", get_sittings, methods=["GET"]),
    Route("/api/admin/sittings", post_sitting, methods=["POST"]),
    Route("/api/admin/sittings/{sitting_id:int}", delete_sitting, methods=["DELETE"]),
    Route("/api/admin/sittings/{sitting_id:int}/candidates", post_candidates, methods=["POST"]),
    Route(
        "/api/admin/sittings/{sitting_id:int}/candidates/{user_id:int}",
        delete_candidate,
        methods=["DELETE"],
    ),
    Route("/api/sittings/mine", get_my_sittings, methods=["GET"]),
]
