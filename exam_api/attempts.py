"""Attempts: start (or resume), the exam page's data, answers saved as they
are given, submit (rules C2–C4, E4, E7).

The server's clock decides (rule E4): the deadline is fixed at start from the
paper's time limit and window; an answer that arrives after it is refused and
the attempt is ended and scored. Every end goes through the hub
(``ExamServices.ends``), which records it with :func:`end_attempt`.

Answers (rule E7): ``PUT /api/attempts/{id}/answers/{question_id}`` is
idempotent and committed before the 200, so a reload or a dropped network
loses nothing the page was told was saved. A client revision number ``rev``
orders retries: a late, older write never overwrites a newer one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.ending import END_REASON_LABELS, END_REASONS, AttemptEnd, end_attempt, expire_overdue
from exam_api.errors import ApiError, json_body
from exam_api.fields import int_field, path_id
from exam_api.identity_check import require_cleared
from exam_api.outcomes import OUTCOME_LABELS
from exam_api.paper_access import attempt_deadline
from exam_api.papers import KIND_LABELS, access_for, sitting_times
from exam_api.question_rules import KIND_LABELS as QUESTION_KIND_LABELS
from exam_api.question_rules import QuestionError, canonical_choice
from exam_api.services import exam_services
from exam_api.sitting_rules import sitting_deadline
from hub.tokens import sign_device_token
from proctor import audit_chain
from proctor.state import Base, base, now_of

__all__ = ["END_REASONS", "AttemptEnd", "end_attempt", "routes"]

MAX_REV = 2**31 - 1


async def start_or_resume(
    conn: asyncpg.Connection, user_id: int, paper_id: int, now: datetime
) -> tuple[asyncpg.Record, bool]:
    """The running attempt on this paper, or a new one if the paper is open.

    Returns (attempt row, resumed). Starts of one candidate are serialised on
    their user row, so a double click never makes two attempts.
    """
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
        paper, access = await access_for(conn, user_id, paper_id, now)
        if access.state == "resume":
            row = await conn.fetchrow(
                """SELECT id, started_at, deadline_at FROM attempts
                    WHERE user_id = $1 AND paper_id = $2 AND status = 'in_progress'""",
                user_id,
                paper_id,
            )
            assert row is not None
            return row, True
        if access.state != "open":
            raise ApiError(409, access.reason, access.message)
        other = await conn.fetchval(
            "SELECT id FROM attempts WHERE user_id = $1 AND status = 'in_progress' LIMIT 1",
            user_id,
        )
        if other is not None:
            raise ApiError(409, "another_attempt_running", "您有另一场考试正在进行，请先完成该考试")
        sitting = sitting_times(paper)
        deadline = (
            attempt_deadline(now, paper["time_limit_s"], paper["closes_at"])
            if sitting is None
            else sitting_deadline(sitting, paper["closes_at"])  # rule M1
        )
        row = await conn.fetchrow(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at, sitting_id)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            user_id,
            paper_id,
            now,
            deadline,
            paper["sitting_id"],
        )
        assert row is not None
        await audit_chain.append(conn, row["id"], [(audit_chain.START, row)])  # rule H7
        return row, False


def device_links(request: Request, res: Base, attempt_id: int) -> dict[str, Any]:
    """Fresh short-lived tokens for the PC page and the phone, their websocket
    URLs, and the STUN/TURN servers the PC page's camera uses (``PROCTOR_ICE_SERVERS``)."""
    secret, ttl, now = res.settings.secret_key, res.settings.device_token_ttl_s, res.clock.now()
    pc_token = sign_device_token(secret, attempt_id, "pc", now, ttl)
    phone_token = sign_device_token(secret, attempt_id, "phone", now, ttl)
    ws_base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return {
        "pc_token": pc_token,
        "phone_token": phone_token,
        "ws_pc_url": f"{ws_base}/ws/pc?token={pc_token}",
        "ws_phone_url": f"{ws_base}/ws/phone?token={phone_token}",
        "ice_servers": [server.as_json() for server in res.settings.ice_servers],
    }


async def own_attempt(
    conn: asyncpg.Connection, attempt_id: int, user_id: int, *, lock: str = ""
) -> asyncpg.Record:
    """The attempt if it is this candidate's; 404 otherwise (no existence leak)."""
    row = await conn.fetchrow(
        f"""SELECT a.id, a.user_id, a.paper_id, a.status, a.started_at, a.deadline_at,
                   a.ended_at, a.end_reason, a.score, a.points_earned, a.points_total,
                   a.outcome, a.violations, p.kind, p.title, p.time_limit_s,
                   s.starts_at AS sitting_starts_at
              FROM attempts a JOIN papers p ON p.id = a.paper_id
              LEFT JOIN exam_sittings s ON s.id = a.sitting_id
             WHERE a.id = $1 {lock}""",
        attempt_id,
    )
    if row is None or row["user_id"] != user_id:
        raise ApiError(404, "attempt_not_found", "考试记录不存在")
    return row


def _end_json(row: asyncpg.Record) -> dict[str, Any] | None:
    if row["status"] != "ended":
        return None
    outcome = row["outcome"]
    return {
        "end_reason": row["end_reason"],
        "end_reason_label": END_REASON_LABELS.get(row["end_reason"], row["end_reason"]),
        "ended_at": row["ended_at"].isoformat(),
        "score": float(row["score"] or 0),
        "points_earned": float(row["points_earned"] or 0),
        "points_total": float(row["points_total"] or 0),
        "outcome": outcome,
        "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
    }


def _answering_from(row: asyncpg.Record, now: datetime) -> datetime | None:
    """The sitting's start while it is still ahead (None: answering is open)."""
    starts_at: datetime | None = row["sitting_starts_at"]
    if starts_at is None or now >= starts_at or row["status"] != "in_progress":
        return None
    return starts_at


async def attempt_view(
    conn: asyncpg.Connection, attempt_id: int, user_id: int, now: datetime
) -> dict[str, Any]:
    """What the exam page shows: the paper without its keys, the saved answers."""
    row = await own_attempt(conn, attempt_id, user_id)
    opens_at = _answering_from(row, now)
    questions = (
        []
        if opens_at is not None
        else await conn.fetch(
            """SELECT q.id, q.kind, q.stem, q.options, q.points, pq.position FROM paper_questions pq
             JOIN questions q ON q.id = pq.question_id
            WHERE pq.paper_id = $1 ORDER BY pq.position""",
            row["paper_id"],
        )
    )
    answers = await conn.fetch(
        "SELECT question_id, answer, rev FROM attempt_answers WHERE attempt_id = $1", attempt_id
    )
    remaining = max(0.0, (row["deadline_at"] - now).total_seconds())
    return {
        "attempt_id": row["id"],
        "paper": {
            "id": row["paper_id"],
            "title": row["title"],
            "kind": row["kind"],
            "kind_label": KIND_LABELS[row["kind"]],
            "time_limit_s": row["time_limit_s"],
        },
        "status": row["status"],
        "started_at": row["started_at"].isoformat(),
        "deadline_at": row["deadline_at"].isoformat(),
        "server_now": now.isoformat(),
        "remaining_s": remaining if row["status"] == "in_progress" else 0,
        "violations": row["violations"],
        # rule M1: in the identity-check window before the sitting's start
        # the devices are checked; the questions come at the start
        "opens_at": None if opens_at is None else opens_at.isoformat(),
        "questions": [
            {
                "id": q["id"],
                "position": q["position"],
                "kind": q["kind"],
                "kind_label": QUESTION_KIND_LABELS[q["kind"]],
                "stem": q["stem"],
                "options": q["options"],
                "points": float(q["points"]),
            }
            for q in questions
        ],
        "answers": {
            str(a["question_id"]): {"answer": a["answer"], "rev": a["rev"]} for a in answers
        },
        "end": _end_json(row),
    }


async def save_answer(
    conn: asyncpg.Connection,
    attempt_id: int,
    user_id: int,
    question_id: int,
    raw_answer: object,
    rev: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Store one answer durably (rule E7). ``raw_answer`` None clears it.

    The attempt row is share-locked, so an answer is either stored before the
    attempt ends (and scored) or refused after it: never lost in between.
    """
    async with conn.transaction():
        att = await own_attempt(conn, attempt_id, user_id, lock="FOR SHARE OF a")
        if att["status"] != "in_progress":
            raise ApiError(409, "attempt_ended", "考试已结束，答案不能再修改")
        if now >= att["deadline_at"]:
            raise ApiError(409, "time_up", "考试时间已到，系统已自动交卷")
        if _answering_from(att, now) is not None:
            raise ApiError(409, "not_started", "考试尚未开始，开考后才可以作答")
        question = await conn.fetchrow(
            """SELECT q.kind, jsonb_array_length(q.options) AS option_count
                 FROM paper_questions pq JOIN questions q ON q.id = pq.question_id
                WHERE pq.paper_id = $1 AND q.id = $2""",
            att["paper_id"],
            question_id,
        )
        if question is None:
            raise ApiError(404, "question_not_in_paper", "该题不在本试卷中")
        answer = None
        if raw_answer is not None:
            try:
                answer = canonical_choice(question["kind"], raw_answer, question["option_count"])
            except QuestionError as exc:
                raise ApiError(400, "bad_answer", exc.message) from None
        stored = await conn.fetchrow(
            """INSERT INTO attempt_answers (attempt_id, question_id, answer, rev, saved_at)
               VALUES ($1, $2, $3::jsonb, coalesce($4::int, 1), $5)
               ON CONFLICT (attempt_id, question_id) DO UPDATE
                  SET answer = EXCLUDED.answer,
                      rev = coalesce($4::int, attempt_answers.rev + 1),
                      saved_at = EXCLUDED.saved_at
                WHERE $4::int IS NULL OR attempt_answers.rev <= $4::int
            RETURNING question_id, answer, rev, saved_at""",
            attempt_id,
            question_id,
            answer,
            rev,
            now,
        )
        applied = stored is not None
        if applied:
            await audit_chain.append(conn, attempt_id, [(audit_chain.ANSWER, stored)])  # rule H7
        if stored is None:  # an older revision arrived late: keep the newer one
            stored = await conn.fetchrow(
                """SELECT answer, rev, saved_at FROM attempt_answers
                    WHERE attempt_id = $1 AND question_id = $2""",
                attempt_id,
                question_id,
            )
            assert stored is not None
    return {
        "question_id": question_id,
        "answer": stored["answer"],
        "rev": stored["rev"],
        "saved_at": stored["saved_at"].isoformat(),
        "applied": applied,
    }


# ---------------------------------------------------------------- handlers


async def start_attempt(request: Request) -> Response:
    """POST /api/attempts {paper_id} → the attempt, its deadline and the device tokens."""
    user = await require_role(request, "candidate")
    paper_id = int_field(await json_body(request), "paper_id", "试卷编号")
    res = base(request)
    now = now_of(request)
    async with res.pool.acquire() as conn:
        await expire_overdue(conn, user.id, now, exam_services(request).ends)
        row, resumed = await start_or_resume(conn, user.id, paper_id, now)
    return JSONResponse(
        {
            "attempt_id": row["id"],
            "started_at": row["started_at"].isoformat(),
            "deadline_at": row["deadline_at"].isoformat(),
            "resumed": resumed,
            **device_links(request, res, row["id"]),
        },
    )


async def get_attempt(request: Request) -> Response:
    """GET /api/attempts/{attempt_id} — the exam page's data (owner only)."""
    user = await require_role(request, "candidate")
    attempt_id = path_id(request.path_params["attempt_id"])
    now = now_of(request)
    async with base(request).pool.acquire() as conn:
        row = await own_attempt(conn, attempt_id, user.id)
        if row["status"] == "in_progress" and now >= row["deadline_at"]:
            await exam_services(request).ends.end(attempt_id, "time_up")  # rule E4
        view = await attempt_view(conn, attempt_id, user.id, now)
    return JSONResponse(view)


async def post_tokens(request: Request) -> Response:
    """POST /api/attempts/{attempt_id}/tokens — fresh device tokens after a reload."""
    user = await require_role(request, "candidate")
    res = base(request)
    attempt_id = path_id(request.path_params["attempt_id"])
    async with res.pool.acquire() as conn:
        row = await own_attempt(conn, attempt_id, user.id)
    if row["status"] != "in_progress" or now_of(request) >= row["deadline_at"]:
        raise ApiError(409, "attempt_ended", "考试已结束")
    return JSONResponse({"attempt_id": attempt_id, **device_links(request, res, attempt_id)})


async def put_answer(request: Request) -> Response:
    """PUT /api/attempts/{attempt_id}/answers/{question_id} {answer, rev?} (rule E7)."""
    user = await require_role(request, "candidate")
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        await own_attempt(conn, attempt_id, user.id)  # 404 before the body is looked at
    body = await json_body(request, max_bytes=16_000)
    if "answer" not in body:
        raise ApiError(400, "missing_answer", "缺少答案（answer）")
    rev = (
        None if body.get("rev") is None else int_field(body, "rev", "答案版本", low=0, high=MAX_REV)
    )
    res = base(request)
    services = exam_services(request)
    async with res.pool.acquire() as conn:
        if services.gate is not None:
            await services.gate.check_answer(attempt_id)  # rules D1, H9, owned by the hub
        if res.settings.identity.required:
            await require_cleared(conn, attempt_id)  # rule I2: the face check passed
        now = now_of(request)
        try:
            saved = await save_answer(
                conn,
                attempt_id,
                user.id,
                path_id(request.path_params["question_id"]),
                body["answer"],
                rev,
                now,
            )
        except ApiError as exc:
            if exc.code != "time_up":
                raise
        else:
            return JSONResponse(saved)
    await services.ends.end(attempt_id, "time_up")  # rule E4
    raise ApiError(409, "time_up", "考试时间已到，系统已自动交卷")


async def post_submit(request: Request) -> Response:
    """POST /api/attempts/{attempt_id}/submit — end and score (idempotent)."""
    user = await require_role(request, "candidate")
    attempt_id = path_id(request.path_params["attempt_id"])
    now = now_of(request)
    res = base(request)
    async with res.pool.acquire() as conn:
        row = await own_attempt(conn, attempt_id, user.id)
    # rule E4: after the deadline the server's clock has already ended it
    reason = (
        "time_up" if row["status"] == "in_progress" and now >= row["deadline_at"] else "submitted"
    )
    if row["status"] == "in_progress":
        await exam_services(request).ends.end(attempt_id, reason)  # the hub's one path
    async with res.pool.acquire() as conn:
        ended = await end_attempt(conn, attempt_id, reason, now)  # the record, as written
    return JSONResponse(
        {**ended.to_json(), "outcome_label": OUTCOME_LABELS.get(ended.outcome, ended.outcome)}
    )


routes: list[BaseRoute] = [
    Route("/api/attempts", start_attempt, methods=["POST"]),
    Route("/api/attempts/{attempt_id:int}", get_attempt, methods=["GET"]),
    Route("/api/attempts/{attempt_id:int}/tokens", post_tokens, methods=["POST"]),
    Route("/api/attempts/{attempt_id:int}/answers/{question_id:int}", put_answer, methods=["PUT"]),
    Route("/api/attempts/{attempt_id:int}/submit", post_submit, methods=["POST"]),
]
