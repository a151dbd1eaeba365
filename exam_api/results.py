"""Exam records and the reviewer's pass/fail decision (rules F1, F2).

F1: a candidate's exam records list each attempt's score and status.
F2: a formal attempt scoring < 60 fails at once; >= 60 waits "under review"
until a reviewer decides passed or failed, with a reason. The decision is
recorded once, with who and when, in ``result_reviews`` (the audit trail).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api import webhooks
from exam_api.auth import require_role
from exam_api.ending import END_REASON_LABELS, expire_overdue
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id, text_field
from exam_api.outcomes import OUTCOME_LABELS, apply_decision
from exam_api.papers import KIND_LABELS
from exam_api.services import exam_services
from proctor import audit_chain
from proctor.state import base, now_of

MAX_REASON = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _num(value: object) -> float | None:
    return float(value) if value is not None else None  # type: ignore[arg-type]


async def records_for(
    conn: asyncpg.Connection, user_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Rule F1: every attempt of the candidate, newest first (the handler
    has ended the candidate's overdue attempts first)."""
    rows = await conn.fetch(
        """SELECT a.id, a.status, a.started_at, a.ended_at, a.end_reason, a.score, a.outcome,
                  a.violations, p.kind, p.title, c.name AS class_name, r.reason AS review_reason
             FROM attempts a JOIN papers p ON p.id = a.paper_id
             JOIN classes c ON c.id = p.class_id
             LEFT JOIN result_reviews r ON r.attempt_id = a.id
            WHERE a.user_id = $1 ORDER BY a.started_at DESC, a.id DESC""",
        user_id,
    )
    out = []
    for r in rows:
        outcome = r["outcome"] if r["status"] == "ended" else "in_progress"
        out.append(
            {
                "attempt_id": r["id"],
                "paper_title": r["title"],
                "class_name": r["class_name"],
                "kind": r["kind"],
                "kind_label": KIND_LABELS[r["kind"]],
                "started_at": _iso(r["started_at"]),
                "ended_at": _iso(r["ended_at"]),
                "end_reason_label": END_REASON_LABELS.get(r["end_reason"] or "", ""),
                "score": _num(r["score"]),
                "violations": r["violations"],
                "outcome": outcome,
                "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
                "review_reason": r["review_reason"],
            }
        )
    return out


async def review_queue(conn: asyncpg.Connection, decided: bool) -> list[dict[str, Any]]:
    """Formal attempts waiting for a decision (or, with ``decided``, the last 100 decided)."""
    where = (
        "a.outcome IN ('passed', 'failed') AND r.attempt_id IS NOT NULL"
        if decided
        else "a.outcome = 'under_review'"
    )
    rows = await conn.fetch(
        f"""SELECT a.id, a.score, a.violations, a.started_at, a.ended_at, a.end_reason, a.outcome,
                   u.username, u.real_name, p.title, c.name AS class_name,
                   r.decision, r.reason, r.decided_at, ru.real_name AS reviewer_name,
                   (SELECT count(*) FROM snapshots s WHERE s.attempt_id = a.id) AS snapshot_count
              FROM attempts a JOIN users u ON u.id = a.user_id
              JOIN papers p ON p.id = a.paper_id JOIN classes c ON c.id = p.class_id
              LEFT JOIN result_reviews r ON r.attempt_id = a.id
              LEFT JOIN users ru ON ru.id = r.reviewer_id
             WHERE p.kind = 'formal' AND {where}
             ORDER BY {"r.decided_at DESC" if decided else "a.ended_at"} LIMIT 100"""
    )
    return [
        {
            "attempt_id": r["id"],
            "candidate": {"username": r["username"], "real_name": r["real_name"]},
            "paper_title": r["title"],
            "class_name": r["class_name"],
            "score": _num(r["score"]),
            "violations": r["violations"],
            "started_at": _iso(r["started_at"]),
            "ended_at": _iso(r["ended_at"]),
            "end_reason_label": END_REASON_LABELS.get(r["end_reason"] or "", ""),
            "snapshot_count": r["snapshot_count"],
            "outcome": r["outcome"],
            "outcome_label": OUTCOME_LABELS.get(r["outcome"], r["outcome"]),
            "decision": r["decision"],
            "reason": r["reason"],
            "decided_at": _iso(r["decided_at"]),
            "reviewer_name": r["reviewer_name"],
        }
        for r in rows
    ]


async def decide(
    conn: asyncpg.Connection,
    attempt_id: int,
    reviewer_id: int,
    decision: str,
    reason: str,
    now: datetime,
) -> str:
    """Record a reviewer's decision on an attempt under review; return the outcome."""
    if decision == "failed" and not reason:
        raise ApiError(400, "missing_reason", "判定不合格时必须填写原因")
    async with conn.transaction():
        row = await conn.fetchrow(
            """SELECT a.outcome, a.status FROM attempts a WHERE a.id = $1 FOR UPDATE""",
            attempt_id,
        )
        if row is None:
            raise ApiError(404, "attempt_not_found", "考试记录不存在")
        outcome = apply_decision(row["outcome"] or "in_progress", decision)
        await conn.execute("UPDATE attempts SET outcome = $2 WHERE id = $1", attempt_id, outcome)
        review = await conn.fetchrow(
            """INSERT INTO result_reviews (attempt_id, reviewer_id, decision, reason, decided_at)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            attempt_id,
            reviewer_id,
            outcome,
            reason,
            now,
        )
        assert review is not None
        await audit_chain.append(conn, attempt_id, [(audit_chain.REVIEW, review)])  # rule H7
        await webhooks.review_decided(conn, review, outcome)  # rule M4: the outbox
    return outcome


# ---------------------------------------------------------------- handlers


async def get_records(request: Request) -> Response:
    """GET /api/records — the candidate's exam records (rule F1)."""
    user = await require_role(request, "candidate")
    now = now_of(request)
    async with base(request).pool.acquire() as conn:
        await expire_overdue(conn, user.id, now, exam_services(request).ends)
        return JSONResponse({"records": await records_for(conn, user.id, now)})


async def get_result_reviews(request: Request) -> Response:
    """GET /api/result-reviews[?decided=1] — reviewers' queue (rule F2)."""
    await require_role(request, "reviewer", "admin")
    decided = request.query_params.get("decided") in ("1", "true")
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"attempts": await review_queue(conn, decided)})


async def post_result_review(request: Request) -> Response:
    """POST /api/result-reviews/{attempt_id} {decision: passed|failed, reason}"""
    user = await require_role(request, "reviewer", "admin")
    body = await json_body(request)
    decision = body.get("decision")
    if not isinstance(decision, str):
        raise ApiError(400, "bad_decision", "审核结果只能是“合格”或“不合格”")
    reason = text_field(body, "reason", "审核意见", max_chars=MAX_REASON, required=False)
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        outcome = await decide(conn, attempt_id, user.id, decision, reason, now_of(request))
    return JSONResponse(
        {"attempt_id": attempt_id, "outcome": outcome, "outcome_label": OUTCOME_LABELS[outcome]}
    )


routes: list[BaseRoute] = [
    Route("/api/records", get_records, methods=["GET"]),
    Route("/api/result-reviews", get_result_reviews, methods=["GET"]),
    Route("/api/result-reviews/{attempt_id:int}", post_result_review, methods=["POST"]),
]
