"""Extra time (补时) and resume after a fault (rules M2, M3): invigilator
commands with a reason, audited in ``invigilator_actions``.

The deadline's owner is PostgreSQL. Extra time moves ``attempts.deadline_at``
under the attempt's row lock, then the hub's session follows
(``Session.extend``), which tells both devices and the watchers at once.
The arithmetic is the server's: the new deadline is the later of the
current deadline and now, plus the minutes granted — so a grant made after
the old deadline passed, while the attempt is still open, gives the
candidate the whole grant to answer (the minutes past the deadline could not
be used), and two grants add up.

Resume reopens an attempt that a fault ended (abandoned, or ended by an
invigilator) with its answers, until now plus the time it had left when the
fault began; a submitted attempt, the time up or the fifth violation stays
ended (the session refuses, and so does this module before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import int_field, path_id, text_field
from exam_api.invigilation import MAX_REASON, WATCH_ROLES, record_action, room_staff
from exam_api.rooms import require_room
from hub.errors import HubError, SessionEnded, SessionError
from hub.live import Hub
from hub.time_grants import REOPENABLE
from hub.ws import hub_of
from proctor import audit_chain
from proctor.state import base
from proctor.web_sessions import User

MAX_EXTRA_MIN = 120
MAX_ATTEMPT_S = 24 * 3600  # an attempt never runs longer than this, grants included
MIN_RESUME_S = 1.0


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def extended_deadline(deadline: datetime, now: datetime, added_s: int) -> datetime:
    """Rule M2's arithmetic: the later of the deadline and now, plus the grant."""
    return max(deadline, now) + timedelta(seconds=added_s)


@dataclass(frozen=True, slots=True)
class Grant:
    attempt_id: int
    outcome: str  # extended | ended
    deadline_at: datetime | None = None
    action_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "outcome": self.outcome,
            "deadline_at": None if self.deadline_at is None else self.deadline_at.isoformat(),
            "action_id": self.action_id,
        }


async def grant_extra_time(
    pool: asyncpg.Pool,
    hub: Hub,
    attempt_id: int,
    added_s: int,
    user: User,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> Grant:
    """Move one attempt's deadline (PostgreSQL first, then the session) and
    audit it. An attempt that has ended (in either) gets nothing: ``ended``."""
    now_s = hub.clock.now()
    now = _at(now_s)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT status, started_at, deadline_at FROM attempts WHERE id = $1 FOR UPDATE",
            attempt_id,
        )
        if row is None:
            raise ApiError(404, "attempt_not_found", "考试记录不存在")
        if row["status"] != "in_progress":
            return Grant(attempt_id, "ended")
        new = extended_deadline(row["deadline_at"], now, added_s)
        if (new - row["started_at"]).total_seconds() > MAX_ATTEMPT_S:
            raise ApiError(409, "too_much_time", "补时后考试总时长超过 24 小时")
        await conn.execute("UPDATE attempts SET deadline_at = $2 WHERE id = $1", attempt_id, new)
    try:
        await hub.event(
            attempt_id, lambda s: s.extend(new.timestamp(), added_s, user.id, now_s), now_s
        )
    except SessionEnded:
        # the clock or another end came first; that end is the record
        return Grant(attempt_id, "ended")
    detail = {"added_s": added_s, "from": row["deadline_at"].isoformat(), "to": new.isoformat()}
    async with pool.acquire() as conn:
        action_id = await record_action(
            conn, attempt_id, user.id, "extra_time", {**detail, **(extra or {})}, reason, now
        )
    return Grant(attempt_id, "extended", new, action_id)


async def resume_attempt(
    pool: asyncpg.Pool, hub: Hub, attempt_id: int, user: User, reason: str
) -> dict[str, Any]:
    """Reopen an attempt a fault ended (rule M3), with the time it had left."""
    now_s = hub.clock.now()
    now = _at(now_s)
    try:
        live = await hub.attempt(attempt_id)
    except HubError as error:
        raise ApiError(404, error.code, "考试记录不存在") from None
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT a.user_id, a.status, a.end_reason, a.ended_at, a.deadline_at,
                          a.violations, p.kind,
                          EXISTS (SELECT 1 FROM result_reviews r WHERE r.attempt_id = a.id)
                              AS reviewed
                     FROM attempts a JOIN papers p ON p.id = a.paper_id
                    WHERE a.id = $1 FOR UPDATE OF a""",
                attempt_id,
            )
            assert row is not None  # the hub found it
            _check_reopenable(row, hub.rules.max_violations)
            session = live.session
            fault = session.fault_at() if session.ended else None
            fault_at = row["ended_at"].timestamp() if fault is None else fault
            fault_at = min(fault_at, row["ended_at"].timestamp())
            left = row["deadline_at"].timestamp() - fault_at
            if left < MIN_RESUME_S:
                raise ApiError(409, "no_time_left", "该考试在故障时已没有剩余时间，不能恢复")
            other = await conn.fetchval(
                """SELECT 1 FROM attempts WHERE user_id = $1 AND status = 'in_progress'
                    AND id <> $2""",
                row["user_id"],
                attempt_id,
            )
            if other:
                raise ApiError(409, "another_attempt_running", "该考生有另一场考试正在进行")
            deadline = now + timedelta(seconds=left)
            reopened = await conn.fetchrow(
                """UPDATE attempts SET status = 'in_progress', ended_at = NULL, end_reason = NULL,
                          score = NULL, points_earned = NULL, points_total = NULL,
                          outcome = NULL, deadline_at = $2
                    WHERE id = $1 RETURNING *""",
                attempt_id,
                deadline,
            )
            # rule H7: the reopened row is a new version of the chained attempt
            await audit_chain.append(conn, attempt_id, [(audit_chain.START, reopened)])
            try:
                # inside the transaction: if the session refuses, nothing changed
                await hub.apply(
                    live, lambda s: s.reopen(deadline.timestamp(), user.id, now_s), now=now_s
                )
            except SessionError as error:
                raise ApiError(409, "not_reopenable", "该考试不能恢复") from error
            action_id = await record_action(
                conn,
                attempt_id,
                user.id,
                "resume",
                {
                    "previous_end": row["end_reason"],
                    "remaining_s": round(left, 3),
                    "deadline_at": deadline.isoformat(),
                },
                reason,
                now,
            )
    finally:
        hub.release(live)
    return {
        "ok": True,
        "attempt_id": attempt_id,
        "action_id": action_id,
        "remaining_s": round(left, 3),
        "deadline_at": deadline.isoformat(),
    }


NOT_REOPENABLE = {
    "submitted": "考生已交卷，不能恢复",
    "time_up": "考试时间已到，不能恢复",
    "fifth_violation": "违规满 5 次已自动交卷，不能恢复",
}


def _check_reopenable(row: asyncpg.Record, max_violations: int) -> None:
    if row["status"] != "ended":
        raise ApiError(409, "attempt_running", "该考试仍在进行，无需恢复")
    if row["end_reason"] not in REOPENABLE:
        message = NOT_REOPENABLE.get(row["end_reason"], "该考试不能恢复")
        raise ApiError(409, "not_reopenable", message)
    if row["violations"] >= max_violations:
        raise ApiError(409, "not_reopenable", NOT_REOPENABLE["fifth_violation"])
    if row["reviewed"]:
        raise ApiError(409, "already_reviewed", "该考试成绩已审核，不能恢复")


# ----- handlers --------------------------------------------------------------------


def _grant_body(body: dict[str, Any]) -> tuple[int, str]:
    minutes = int_field(body, "minutes", "补时分钟数", low=1, high=MAX_EXTRA_MIN)
    reason = text_field(body, "reason", "补时原因", max_chars=MAX_REASON)
    return minutes * 60, reason


async def post_extra_time(request: Request) -> Response:
    """POST /api/invigilate/attempts/{id}/extra-time {minutes, reason} (rule M2)."""
    user, attempt_id = await room_staff(request)
    added_s, reason = _grant_body(await json_body(request))
    grant = await grant_extra_time(
        base(request).pool, hub_of(request), attempt_id, added_s, user, reason
    )
    if grant.outcome == "ended":
        raise ApiError(409, "attempt_ended", "考试已结束，不能补时")
    return JSONResponse({"ok": True, **grant.to_json()})


async def post_room_extra_time(request: Request) -> Response:
    """POST /api/invigilate/rooms/{room_id}/extra-time {minutes, reason} — every
    running attempt of the room's candidates in its sitting (rule M2)."""
    user = await require_role(request, *WATCH_ROLES)
    room_id = path_id(request.path_params["room_id"])
    pool = base(request).pool
    async with pool.acquire() as conn:
        await require_room(conn, user, room_id)
        people = await conn.fetch(
            """SELECT u.username, a.id AS attempt_id, a.status
                 FROM sitting_candidates sc JOIN users u ON u.id = sc.user_id
                 LEFT JOIN LATERAL (SELECT id, status FROM attempts
                                     WHERE sitting_id = sc.sitting_id AND user_id = sc.user_id
                                     ORDER BY id DESC LIMIT 1) a ON true
                WHERE sc.room_id = $1 ORDER BY u.username""",
            room_id,
        )
    added_s, reason = _grant_body(await json_body(request))
    hub = hub_of(request)
    results = []
    for p in people:
        if p["attempt_id"] is None:
            results.append(
                {"username": p["username"], "attempt_id": None, "outcome": "not_started"}
            )
            continue
        grant = await grant_extra_time(
            pool, hub, p["attempt_id"], added_s, user, reason, {"room_id": room_id}
        )
        results.append({"username": p["username"], **grant.to_json()})
    extended = sum(1 for r in results if r["outcome"] == "extended")
    return JSONResponse({"ok": True, "room_id": room_id, "extended": extended, "results": results})


async def post_resume(request: Request) -> Response:
    """POST /api/invigilate/attempts/{id}/resume {reason} (rule M3)."""
    user, attempt_id = await room_staff(request)
    reason = text_field(await json_body(request), "reason", "恢复考试的原因", max_chars=MAX_REASON)
    return JSONResponse(
        await resume_attempt(base(request).pool, hub_of(request), attempt_id, user, reason)
    )


routes: list[BaseRoute] = [
    Route(
        "/api/invigilate/attempts/{attempt_id:int}/extra-time", post_extra_time, methods=["POST"]
    ),
    Route("/api/invigilate/rooms/{room_id:int}/extra-time", post_room_extra_time, methods=["POST"]),
    Route("/api/invigilate/attempts/{attempt_id:int}/resume", post_resume, methods=["POST"]),
]
