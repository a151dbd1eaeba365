"""Starting an attempt: the server's clock sets the deadline (rule E4), and the
start call hands out one short-lived token per device for the hub."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_api.auth import require_role, utcnow
from exam_api.errors import ApiError, json_body
from hub.tokens import sign_device_token
from proctor.resources import resources


async def paper_for_candidate(
    conn: asyncpg.Connection, paper_id: int, user_id: int
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT p.id, p.time_limit_s, p.opens_at, p.closes_at
             FROM papers p JOIN class_members m ON m.class_id = p.class_id
            WHERE p.id = $1 AND m.user_id = $2""",
        paper_id,
        user_id,
    )
    if row is None:
        raise ApiError(404, "paper_not_found", "试卷不存在或不属于您的班级")
    return row


async def open_attempt(
    conn: asyncpg.Connection, user_id: int, paper_id: int, now: datetime
) -> asyncpg.Record:
    """The candidate's running attempt of this paper, or a new one."""
    async with conn.transaction():
        paper = await paper_for_candidate(conn, paper_id, user_id)
        if paper["opens_at"] is not None and now < paper["opens_at"]:
            raise ApiError(409, "paper_not_open", "考试尚未开始")
        if paper["closes_at"] is not None and now >= paper["closes_at"]:
            raise ApiError(409, "paper_closed", "考试已结束")
        running = await conn.fetchrow(
            """SELECT id, started_at, deadline_at FROM attempts
                WHERE user_id = $1 AND paper_id = $2 AND status = 'in_progress' FOR UPDATE""",
            user_id,
            paper_id,
        )
        if running is not None:
            return running
        row = await conn.fetchrow(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, $3, $4) RETURNING id, started_at, deadline_at""",
            user_id,
            paper_id,
            now,
            now + timedelta(seconds=paper["time_limit_s"]),
        )
        assert row is not None
        return row


async def start_attempt(request: Request) -> Response:
    """POST /api/attempts {paper_id} → the attempt, its deadline and the device tokens."""
    user = await require_role(request, "candidate")
    body = await json_body(request)
    paper_id = body.get("paper_id")
    if not isinstance(paper_id, int) or isinstance(paper_id, bool):
        raise ApiError(400, "bad_paper_id", "paper_id 必须是整数")
    res = resources(request)
    async with res.pool.acquire() as conn:
        row = await open_attempt(conn, user.id, paper_id, utcnow())
    attempt_id = row["id"]
    secret, ttl, now = res.settings.secret_key, res.settings.device_token_ttl_s, time.time()
    pc_token = sign_device_token(secret, attempt_id, "pc", now, ttl)
    phone_token = sign_device_token(secret, attempt_id, "phone", now, ttl)
    ws_base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return JSONResponse(
        {
            "attempt_id": attempt_id,
            "started_at": row["started_at"].isoformat(),
            "deadline_at": row["deadline_at"].isoformat(),
            "pc_token": pc_token,
            "phone_token": phone_token,
            "ws_pc_url": f"{ws_base}/ws/pc?token={pc_token}",
            "ws_phone_url": f"{ws_base}/ws/phone?token={phone_token}",
        }
    )
