"""Papers: the administrator builds them from bank questions; the candidate's
paper center lists them with their lock state (rules C1–C4).

The lock rule itself is pure (``paper_access``); this module gathers the
facts it needs from the database and serves both sides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.ending import expire_overdue
from exam_api.errors import ApiError, json_body
from exam_api.fields import int_field, path_id, text_field, time_field
from exam_api.outcomes import OUTCOME_LABELS
from exam_api.paper_access import REQUEST_MESSAGES, Access, PaperFacts, paper_access, papers_visible
from exam_api.question_rules import KIND_LABELS as QUESTION_KIND_LABELS
from exam_api.requests import request_status
from exam_api.services import exam_services
from exam_api.sitting_rules import SittingTimes
from proctor.state import base, now_of

MAX_TITLE = 100
MIN_TIME_LIMIT_S = 60
MAX_TIME_LIMIT_S = 6 * 3600
MAX_PAPER_QUESTIONS = 500
KIND_LABELS = {"mock": "模拟考试", "formal": "正式考试"}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# ---------------------------------------------------------------- administrator side


async def create_paper(
    conn: asyncpg.Connection,
    *,
    class_id: int,
    kind: str,
    title: str,
    time_limit_s: int,
    opens_at: datetime | None,
    closes_at: datetime | None,
    question_ids: list[int],
) -> int:
    """Create a paper with its questions in the given order; all or nothing."""
    if kind not in KIND_LABELS:
        raise ApiError(400, "bad_kind", "试卷类型只能是 模拟考试(mock) 或 正式考试(formal)")
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise ApiError(400, "bad_window", "结束时间必须晚于开始时间")
    if not question_ids:
        raise ApiError(400, "no_questions", "试卷至少需要一道题")
    if len(question_ids) > MAX_PAPER_QUESTIONS:
        raise ApiError(400, "too_many_questions", f"一份试卷最多 {MAX_PAPER_QUESTIONS} 题")
    if len(set(question_ids)) != len(question_ids):
        raise ApiError(400, "duplicate_questions", "同一道题在试卷中出现了两次")
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
            raise ApiError(404, "class_not_found", "班级不存在")
        found = await conn.fetchval(
            "SELECT count(*) FROM questions WHERE id = ANY($1::bigint[])", question_ids
        )
        if found != len(question_ids):
            raise ApiError(400, "unknown_questions", "部分题目不存在")
        paper_id: int = await conn.fetchval(
            """INSERT INTO papers (class_id, kind, title, time_limit_s, opens_at, closes_at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            class_id,
            kind,
            title,
            time_limit_s,
            opens_at,
            closes_at,
        )
        await conn.executemany(
            "INSERT INTO paper_questions (paper_id, question_id, position) VALUES ($1, $2, $3)",
            [(paper_id, qid, pos) for pos, qid in enumerate(question_ids, start=1)],
        )
    return paper_id


def _pick(value: object) -> dict[str, int] | None:
    """``{"single": n, "multiple": m, "truefalse": k}`` (any subset), or None for all."""
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= set(QUESTION_KIND_LABELS):
        raise ApiError(400, "bad_pick", "抽题数量应为 {single, multiple, truefalse} 各题型的题数")
    counts: dict[str, int] = {}
    for kind in value:
        counts[kind] = int_field(
            value, kind, f"{QUESTION_KIND_LABELS[kind]}数量", low=0, high=MAX_PAPER_QUESTIONS
        )
    return counts


async def questions_from_bank(
    conn: asyncpg.Connection, bank_id: int, pick: dict[str, int] | None
) -> list[int]:
    """All the bank's questions, or ``pick[kind]`` of each kind drawn at random
    (随机组卷). The draw happens once, here: every candidate gets the same paper."""
    if not await conn.fetchval("SELECT 1 FROM question_banks WHERE id = $1", bank_id):
        raise ApiError(404, "bank_not_found", "题库不存在")
    if pick is None:
        rows = await conn.fetch("SELECT id FROM questions WHERE bank_id = $1 ORDER BY id", bank_id)
        return [r["id"] for r in rows]
    ids: list[int] = []
    for kind in ("single", "multiple", "truefalse"):  # the paper's order: by kind, as printed
        want = pick.get(kind, 0)
        if not want:
            continue
        rows = await conn.fetch(
            "SELECT id FROM questions WHERE bank_id = $1 AND kind = $2 ORDER BY random() LIMIT $3",
            bank_id,
            kind,
            want,
        )
        if len(rows) < want:
            raise ApiError(
                400,
                "not_enough_questions",
                f"题库中{QUESTION_KIND_LABELS[kind]}只有 {len(rows)} 题，不够抽取 {want} 题",
            )
        ids.extend(sorted(r["id"] for r in rows))
    return ids


async def list_papers_admin(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT p.id, p.class_id, c.name AS class_name, p.kind, p.title, p.time_limit_s,
                  p.opens_at, p.closes_at,
                  (SELECT count(*) FROM paper_questions pq WHERE pq.paper_id = p.id) AS question_count,
                  (SELECT coalesce(sum(q.points), 0) FROM paper_questions pq
                     JOIN questions q ON q.id = pq.question_id WHERE pq.paper_id = p.id) AS total_points,
                  (SELECT count(*) FROM attempts a WHERE a.paper_id = p.id) AS attempt_count
             FROM papers p JOIN classes c ON c.id = p.class_id
            ORDER BY p.class_id, p.kind DESC, p.id"""
    )
    return [
        {
            **dict(r),
            "opens_at": _iso(r["opens_at"]),
            "closes_at": _iso(r["closes_at"]),
            "total_points": float(r["total_points"]),
        }
        for r in rows
    ]


async def delete_paper(conn: asyncpg.Connection, paper_id: int) -> None:
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM attempts WHERE paper_id = $1 LIMIT 1", paper_id):
            raise ApiError(409, "paper_in_use", "已有考生参加该试卷，不能删除")
        if await conn.execute("DELETE FROM papers WHERE id = $1", paper_id) == "DELETE 0":
            raise ApiError(404, "paper_not_found", "试卷不存在")


# ---------------------------------------------------------------- candidate side


async def candidate_papers(
    conn: asyncpg.Connection, user_id: int, now: datetime
) -> list[tuple[asyncpg.Record, Access]]:
    """Every paper of the candidate's classes with its access at ``now``
    (the handler has ended the candidate's overdue attempts first)."""
    rows = await conn.fetch(
        """SELECT p.id, p.class_id, c.name AS class_name, p.kind, p.title, p.time_limit_s,
                  p.opens_at, p.closes_at,
                  (SELECT count(*) FROM paper_questions pq WHERE pq.paper_id = p.id) AS question_count,
                  (SELECT coalesce(sum(q.points), 0) FROM paper_questions pq
                     JOIN questions q ON q.id = pq.question_id WHERE pq.paper_id = p.id) AS total_points,
                  (SELECT a.id FROM attempts a WHERE a.paper_id = p.id AND a.user_id = $1
                      AND a.status = 'in_progress' LIMIT 1) AS running_attempt,
                  (SELECT count(*) FROM attempts a WHERE a.paper_id = p.id AND a.user_id = $1
                      AND a.status = 'ended') AS ended_attempts,
                  (SELECT a.score FROM attempts a WHERE a.paper_id = p.id AND a.user_id = $1
                      AND a.status = 'ended' ORDER BY a.ended_at DESC LIMIT 1) AS last_score,
                  (SELECT a.outcome FROM attempts a WHERE a.paper_id = p.id AND a.user_id = $1
                      AND a.status = 'ended' ORDER BY a.ended_at DESC LIMIT 1) AS last_outcome,
                  EXISTS (SELECT 1 FROM attempts a JOIN papers mp ON mp.id = a.paper_id
                           WHERE a.user_id = $1 AND a.status = 'ended' AND mp.kind = 'mock'
                             AND mp.class_id = p.class_id) AS mock_submitted,
                  EXISTS (SELECT 1 FROM exam_sittings es WHERE es.paper_id = p.id) AS has_sittings,
                  s.id AS sitting_id, s.title AS sitting_title, s.starts_at AS sitting_starts_at,
                  s.ends_at AS sitting_ends_at, s.late_entry_s, s.checkin_s
             FROM papers p
             JOIN class_members m ON m.class_id = p.class_id AND m.user_id = $1
             JOIN classes c ON c.id = p.class_id
             LEFT JOIN sitting_candidates sc ON sc.paper_id = p.id AND sc.user_id = $1
             LEFT JOIN exam_sittings s ON s.id = sc.sitting_id
            ORDER BY p.class_id, p.kind DESC, p.id""",
        user_id,
    )
    return [(r, paper_access(_facts(r), now)) for r in rows]


def _facts(row: asyncpg.Record) -> PaperFacts:
    return PaperFacts(
        kind=row["kind"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        running_attempt=row["running_attempt"] is not None,
        ended_attempts=row["ended_attempts"],
        mock_submitted=row["mock_submitted"],
        has_sittings=row["has_sittings"],
        sitting=sitting_times(row),
    )


def sitting_times(row: asyncpg.Record) -> SittingTimes | None:
    """The candidate's sitting of this paper (rule M1), from a paper row."""
    if row["sitting_id"] is None:
        return None
    return SittingTimes(
        row["sitting_starts_at"], row["sitting_ends_at"], row["late_entry_s"], row["checkin_s"]
    )


def _paper_card(row: asyncpg.Record, access: Access) -> dict[str, Any]:
    last = row["last_outcome"]
    return {
        "id": row["id"],
        "class_id": row["class_id"],
        "class_name": row["class_name"],
        "kind": row["kind"],
        "kind_label": KIND_LABELS[row["kind"]],
        "title": row["title"],
        "time_limit_s": row["time_limit_s"],
        "opens_at": _iso(row["opens_at"]),
        "closes_at": _iso(row["closes_at"]),
        "question_count": row["question_count"],
        "total_points": float(row["total_points"]),
        "state": access.state,
        "reason": access.reason,
        "message": access.message,
        "attempt_id": row["running_attempt"],
        "last_score": float(row["last_score"]) if row["last_score"] is not None else None,
        "last_outcome": last,
        "last_outcome_label": OUTCOME_LABELS.get(last) if last else None,
        "sitting": _sitting_card(row),
    }


def _sitting_card(row: asyncpg.Record) -> dict[str, Any] | None:
    times = sitting_times(row)
    if times is None:
        return None
    return {
        "id": row["sitting_id"],
        "title": row["sitting_title"],
        "starts_at": times.starts_at.isoformat(),
        "ends_at": times.ends_at.isoformat(),
        "checkin_from": times.checkin_from.isoformat(),
        "entry_until": times.entry_until.isoformat(),
    }


async def access_for(
    conn: asyncpg.Connection, user_id: int, paper_id: int, now: datetime
) -> tuple[asyncpg.Record, Access]:
    """The access of one paper for the candidate (404 when not theirs or not visible)."""
    if not papers_visible(await request_status(conn, user_id)):
        # rule C3: before approval the paper does not exist for this candidate
        raise ApiError(403, "request_not_approved", "考试请求审核通过后才可以参加考试")
    for row, access in await candidate_papers(conn, user_id, now):
        if row["id"] == paper_id:
            return row, access
    raise ApiError(404, "paper_not_found", "试卷不存在或不属于您的班级")


# ---------------------------------------------------------------- handlers


# Approved but in no class yet (issue #14): what happens next, not a contradiction.
NO_CLASS_YET = (
    "您的考试请求已审核通过，正在等待管理员为您安排班级（考试场次）。安排后试卷会显示在这里，"
    "无需重复提交；如超过2个工作日仍未安排，请联系管理员。"
)


async def get_my_papers(request: Request) -> Response:
    """GET /api/papers — the candidate's paper center (rules C1–C3)."""
    user = await require_role(request, "candidate")
    now = now_of(request)
    async with base(request).pool.acquire() as conn:
        await expire_overdue(conn, user.id, now, exam_services(request).ends)
        status = await request_status(conn, user.id)
        if not papers_visible(status):
            return JSONResponse(
                {
                    "visible": False,
                    "request_status": status,
                    "message": REQUEST_MESSAGES.get(status, ""),
                    "papers": [],
                }
            )
        items = await candidate_papers(conn, user.id, now)
    return JSONResponse(
        {
            "visible": True,
            "request_status": status,
            "message": "" if items else NO_CLASS_YET,
            "papers": [_paper_card(row, access) for row, access in items],
        }
    )


async def get_admin_papers(request: Request) -> Response:
    """GET /api/admin/papers"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"papers": await list_papers_admin(conn)})


async def post_admin_paper(request: Request) -> Response:
    """POST /api/admin/papers {class_id, kind, title, time_limit_s, opens_at?, closes_at?,
    question_ids | bank_id [+ pick {single, multiple, truefalse}]}"""
    await require_role(request, "admin")
    body = await json_body(request)
    class_id = int_field(body, "class_id", "班级")
    kind = text_field(body, "kind", "试卷类型", max_chars=10)
    title = text_field(body, "title", "试卷名称", max_chars=MAX_TITLE)
    time_limit_s = int_field(
        body, "time_limit_s", "考试时长（秒）", low=MIN_TIME_LIMIT_S, high=MAX_TIME_LIMIT_S
    )
    opens_at = time_field(body, "opens_at", "开始时间")
    closes_at = time_field(body, "closes_at", "结束时间")
    async with base(request).pool.acquire() as conn:
        raw_ids = body.get("question_ids")
        if raw_ids is None and body.get("bank_id") is not None:
            bank_id = int_field(body, "bank_id", "题库")
            raw_ids = await questions_from_bank(conn, bank_id, _pick(body.get("pick")))
        if not isinstance(raw_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in raw_ids
        ):
            raise ApiError(400, "bad_question_ids", "请选择题目（question_ids 为整数列表）")
        paper_id = await create_paper(
            conn,
            class_id=class_id,
            kind=kind,
            title=title,
            time_limit_s=time_limit_s,
            opens_at=opens_at,
            closes_at=closes_at,
            question_ids=raw_ids,
        )
    return JSONResponse({"id": paper_id, "question_count": len(raw_ids)}, status_code=201)


async def delete_admin_paper(request: Request) -> Response:
    """DELETE /api/admin/papers/{paper_id}"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        await delete_paper(conn, path_id(request.path_params["paper_id"]))
    return JSONResponse({"ok": True})


routes: list[BaseRoute] = [
    Route("/api/papers", get_my_papers, methods=["GET"]),
    Route("/api/admin/papers", get_admin_papers, methods=["GET"]),
    Route("/api/admin/papers", post_admin_paper, methods=["POST"]),
    Route("/api/admin/papers/{paper_id:int}", delete_admin_paper, methods=["DELETE"]),
]
