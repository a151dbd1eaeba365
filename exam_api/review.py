"""Review of exam requests (rule B6): the reviewer's queue, the documents, the decision.

    GET  /api/review/requests?status=pending|approved|rejected|all
    GET  /api/review/requests/{id}            → request, documents, audit trail
    POST /api/review/requests/{id}/decision   {decision: approve|reject, reason}

A decision changes a pending request only (first decision wins) and writes
an audit row — who, when, what, from where — in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.requests import load_request
from exam_api.training import CATEGORY_NAMES
from proctor.state import base

REVIEW_ROLES = ("reviewer", "admin")
STATUSES = ("pending", "approved", "rejected")
MAX_REASON = 500
QUEUE_LIMIT = 200


async def queue(request: Request) -> Response:
    """GET /api/review/requests — oldest pending first; other states newest first."""
    await require_role(request, *REVIEW_ROLES)
    status = request.query_params.get("status", "pending")
    if status not in (*STATUSES, "all"):
        raise ApiError(400, "bad_status", "状态参数不正确")
    order = "submitted_at ASC" if status == "pending" else "id DESC"
    async with base(request).pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT id, user_id, candidate_type, category, real_name, id_card, company_name,
                       status, reason, submitted_at, decided_at
                  FROM exam_requests
                 WHERE $1::text = 'all' OR status = $1
                 ORDER BY {order} LIMIT $2""",
            status,
            QUEUE_LIMIT,
        )
    return JSONResponse(
        {"requests": [_summary(r) for r in rows]}, headers={"Cache-Control": "no-store"}
    )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "candidate_type": row["candidate_type"],
        "category": row["category"],
        "category_name": CATEGORY_NAMES[row["category"]],
        "real_name": row["real_name"],
        "id_card": row["id_card"],
        "company_name": row["company_name"],
        "status": row["status"],
        "reason": row["reason"],
        "submitted_at": row["submitted_at"].isoformat(),
        "decided_at": row["decided_at"].isoformat() if row["decided_at"] else None,
    }


async def detail(request: Request) -> Response:
    """GET /api/review/requests/{id} — everything a reviewer needs to decide."""
    await require_role(request, *REVIEW_ROLES)
    request_id = request.path_params["request_id"]
    async with base(request).pool.acquire() as conn:
        view = await load_request(conn, request_id)
        if view is None:
            raise ApiError(404, "request_not_found", "考试请求不存在")
        view["audit"] = await audit_trail(conn, request_id)
        view["history"] = await earlier_requests(conn, request_id)
    return JSONResponse({"request": view}, headers={"Cache-Control": "no-store"})


async def earlier_requests(conn: Any, request_id: int) -> list[dict[str, Any]]:
    """The same candidate's earlier requests, newest first, each with its
    decisions (issue #14: a resubmission shows why the last one was rejected)."""
    rows = await conn.fetch(
        """SELECT e.id, e.category, e.status, e.reason, e.submitted_at
             FROM exam_requests e JOIN exam_requests this ON this.user_id = e.user_id
            WHERE this.id = $1 AND e.id < this.id
            ORDER BY e.id DESC LIMIT 20""",
        request_id,
    )
    return [
        {
            "id": r["id"],
            "category_name": CATEGORY_NAMES[r["category"]],
            "status": r["status"],
            "reason": r["reason"],
            "submitted_at": r["submitted_at"].isoformat(),
            "audit": await audit_trail(conn, r["id"]),
        }
        for r in rows
    ]


async def audit_trail(conn: Any, request_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT a.id, a.decision, a.reason, a.decided_at, a.client_address,
                  u.id AS reviewer_id, u.username, u.real_name
             FROM review_audit a JOIN users u ON u.id = a.reviewer_id
            WHERE a.request_id = $1 ORDER BY a.id""",
        request_id,
    )
    return [
        {
            "id": r["id"],
            "decision": r["decision"],
            "reason": r["reason"],
            "decided_at": r["decided_at"].isoformat(),
            "client_address": r["client_address"],
            "reviewer": {
                "id": r["reviewer_id"],
                "username": r["username"],
                "real_name": r["real_name"],
            },
        }
        for r in rows
    ]


def parse_decision(body: dict[str, object]) -> tuple[str, str | None]:
    """(new status, reason) from the reviewer's form; a rejection needs a reason."""
    decision = body.get("decision")
    raw_reason = body.get("reason")
    reason = raw_reason.strip() if isinstance(raw_reason, str) else ""
    if len(reason) > MAX_REASON:
        raise ApiError(422, "reason_too_long", f"原因过长：最多 {MAX_REASON} 个字符")
    if decision == "approve":
        return "approved", reason or None
    if decision == "reject":
        if not reason:
            raise ApiError(422, "reason_required", "退回时必须填写不通过的原因")
        return "rejected", reason
    raise ApiError(400, "bad_decision", "审核结果只能是通过或不通过")


async def decide(request: Request) -> Response:
    """POST /api/review/requests/{id}/decision — approve or reject, audited."""
    reviewer = await require_role(request, *REVIEW_ROLES)
    request_id = request.path_params["request_id"]
    status, reason = parse_decision(await json_body(request))
    now = dt.datetime.now(dt.UTC)
    address = request.client.host if request.client else None
    async with base(request).pool.acquire() as conn:
        async with conn.transaction():
            current = await conn.fetchval(
                "SELECT status FROM exam_requests WHERE id = $1 FOR UPDATE", request_id
            )
            if current is None:
                raise ApiError(404, "request_not_found", "考试请求不存在")
            if current != "pending":
                raise ApiError(409, "already_decided", "该请求已审核，不能重复审核")
            await conn.execute(
                """UPDATE exam_requests SET status = $2, reason = $3, decided_at = $4,
                       decided_by = $5 WHERE id = $1""",
                request_id,
                status,
                reason,
                now,
                reviewer.id,
            )
            await conn.execute(
                """INSERT INTO review_audit (request_id, reviewer_id, decision, reason,
                       decided_at, client_address) VALUES ($1, $2, $3, $4, $5, $6)""",
                request_id,
                reviewer.id,
                status,
                reason,
                now,
                address,
            )
        view = await load_request(conn, request_id)
        assert view is not None
        view["audit"] = await audit_trail(conn, request_id)
    return JSONResponse({"request": view})


routes = [
    Route("/api/review/requests", queue, methods=["GET"]),
    Route("/api/review/requests/{request_id:int}", detail, methods=["GET"]),
    Route("/api/review/requests/{request_id:int}/decision", decide, methods=["POST"]),
]
