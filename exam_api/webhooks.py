"""Signed webhooks (rule M4): another system hears of results, review
decisions and attempt ends.

Administrators register a URL, a secret and the events it wants
(``/api/admin/webhooks``). Each event writes one outbox row per registered
URL (``webhook_deliveries``) **in the transaction of the fact it reports**
— the end (``exam_api/ending.py``), the decision (``exam_api/results.py``) —
so a committed fact is never left untold and an untold one never committed.
:class:`exam_api.webhook_sender.WebhookSender` posts them, signed, and
retries with back-off; every try and its answer is a ``webhook_tries`` row.

The body is ``{"id": delivery id, "event", "created_at", "data"}``; headers
``X-Proctor-Delivery`` (the id: receivers drop a repeat — delivery is at
least once), ``X-Proctor-Event`` and ``X-Proctor-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id
from proctor import audit_chain
from proctor.state import base

ATTEMPT_ENDED = "attempt.ended"
RESULT_PUBLISHED = "result.published"
REVIEW_DECIDED = "review.decided"
EVENTS = (ATTEMPT_ENDED, RESULT_PUBLISHED, REVIEW_DECIDED)
EVENT_LABELS = {ATTEMPT_ENDED: "考试结束", RESULT_PUBLISHED: "成绩发布", REVIEW_DECIDED: "审核结论"}
FINAL_OUTCOMES = ("mock_done", "failed", "passed")
MAX_URL = 2000
MAX_WEBHOOKS = 50
SECRET_MIN, SECRET_MAX = 16, 200


# ---------------------------------------------------------------- signing (pure)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Proctor-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_valid(secret: str, header: str, body: bytes) -> bool:
    """A receiver's check of the header (the tests' receiver uses it)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or "v1" not in fields:
        return False
    expected = signature(secret, int(fields["t"]), body)
    return hmac.compare_digest(expected, header)


# ---------------------------------------------------------------- the outbox (in the event's transaction)

_ENQUEUE = """
INSERT INTO webhook_deliveries (delivery_id, webhook_id, event, payload, next_at, created_at)
SELECT gen_random_uuid()::text, w.id, $1, $2::jsonb, now(), now()
  FROM webhooks w
 WHERE w.active AND $1 = ANY(w.events)
"""


async def enqueue(conn: asyncpg.Connection, event: str, data: dict[str, Any]) -> None:
    """One delivery of ``event`` per registered URL that wants it, in the
    caller's transaction (the outbox)."""
    assert event in EVENTS, event
    await conn.execute(_ENQUEUE, event, data)


async def _chain(conn: asyncpg.Connection, attempt_id: int) -> dict[str, Any] | None:
    # rule H7: the head at this moment, anchored at every receiver
    head = await audit_chain.head_of(conn, attempt_id)
    return None if head is None else {"seq": head[0], "head": head[1]}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def attempt_ended(
    conn: asyncpg.Connection, attempt: asyncpg.Record, paper_kind: str, head: str | None
) -> None:
    """``attempt.ended`` (and ``result.published`` when the outcome is final)."""
    data = {
        "attempt_id": attempt["id"],
        "user_id": attempt["user_id"],
        "paper_id": attempt["paper_id"],
        "paper_kind": paper_kind,
        "reason": attempt["end_reason"],
        "started_at": _iso(attempt["started_at"]),
        "ended_at": _iso(attempt["ended_at"]),
        "score": None if attempt["score"] is None else float(attempt["score"]),
        "outcome": attempt["outcome"],
        "chain": await _chain(conn, attempt["id"]),
    }
    await enqueue(conn, ATTEMPT_ENDED, data)
    if attempt["outcome"] in FINAL_OUTCOMES:
        await enqueue(conn, RESULT_PUBLISHED, _result(data))


def _result(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("attempt_id", "user_id", "paper_id", "paper_kind", "score", "outcome", "chain")
    return {k: data[k] for k in keys}


async def review_decided(conn: asyncpg.Connection, review: asyncpg.Record, outcome: str) -> None:
    """``review.decided`` and the ``result.published`` it makes final."""
    attempt = await conn.fetchrow(
        """SELECT a.id, a.user_id, a.paper_id, a.score, p.kind
             FROM attempts a JOIN papers p ON p.id = a.paper_id WHERE a.id = $1""",
        review["attempt_id"],
    )
    assert attempt is not None
    chain = await _chain(conn, attempt["id"])
    await enqueue(
        conn,
        REVIEW_DECIDED,
        {
            "attempt_id": attempt["id"],
            "decision": review["decision"],
            "reason": review["reason"],
            "reviewer_id": review["reviewer_id"],
            "decided_at": _iso(review["decided_at"]),
            "chain": chain,
        },
    )
    result = {
        "attempt_id": attempt["id"],
        "user_id": attempt["user_id"],
        "paper_id": attempt["paper_id"],
        "paper_kind": attempt["kind"],
        "score": None if attempt["score"] is None else float(attempt["score"]),
        "outcome": outcome,
        "chain": chain,
    }
    await enqueue(conn, RESULT_PUBLISHED, result)


# ---------------------------------------------------------------- the administrators' API


def _url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "missing_url", "请填写接收地址")
    url = value.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "bad_url", "接收地址须为 http:// 或 https:// 开头的完整网址")
    if parts.username or parts.password:
        raise ApiError(400, "bad_url", "接收地址中不能包含用户名或密码")
    return url


def _events(value: object) -> list[str]:
    if value is None:
        return list(EVENTS)
    if not isinstance(value, list) or not value or not all(v in EVENTS for v in value):
        raise ApiError(400, "bad_events", "事件须为以下之一：" + "、".join(EVENTS))
    return sorted(set(value), key=EVENTS.index)


def _secret(value: object) -> str:
    if value is None or value == "":
        return secrets.token_urlsafe(32)
    if not isinstance(value, str) or not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise ApiError(400, "bad_secret", f"签名密钥须为 {SECRET_MIN}–{SECRET_MAX} 个字符")
    return value


def _hook_json(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "url": r["url"],
        "events": list(r["events"]),
        "active": r["active"],
        "created_at": _iso(r["created_at"]),
        "pending": r["pending"],
        "delivered": r["delivered"],
        "failed": r["failed"],
    }


_LIST = """
SELECT w.id, w.url, w.events, w.active, w.created_at,
       count(d.id) FILTER (WHERE d.status = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed
  FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
 GROUP BY w.id ORDER BY w.id
"""


async def list_webhooks(request: Request) -> Response:
    """GET /api/admin/webhooks — the URLs (never their secrets) and their deliveries' counts."""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        rows = await conn.fetch(_LIST)
    return JSONResponse({"webhooks": [_hook_json(r) for r in rows], "events": EVENT_LABELS})


async def create_webhook(request: Request) -> Response:
    """POST /api/admin/webhooks {url, events?, secret?} — the secret is shown once."""
    admin = await require_role(request, "admin")
    body = await json_body(request)
    url, events, secret = (
        _url(body.get("url")),
        _events(body.get("events")),
        _secret(body.get("secret")),
    )
    async with base(request).pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE")  # the cap holds
        if await conn.fetchval("SELECT count(*) FROM webhooks WHERE active") >= MAX_WEBHOOKS:
            raise ApiError(409, "too_many_webhooks", f"最多登记 {MAX_WEBHOOKS} 个接收地址")
        hook_id = await conn.fetchval(
            """INSERT INTO webhooks (url, secret, events, created_by) VALUES ($1, $2, $3, $4)
               RETURNING id""",
            url,
            secret,
            events,
            admin.id,
        )
    return JSONResponse(
        {"id": hook_id, "url": url, "events": events, "secret": secret}, status_code=201
    )


async def delete_webhook(request: Request) -> Response:
    """DELETE /api/admin/webhooks/{id} — no new deliveries; the record of the past ones stays."""
    await require_role(request, "admin")
    hook_id = path_id(request.path_params["webhook_id"])
    async with base(request).pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE webhooks SET active = false WHERE id = $1 RETURNING id", hook_id
        )
        if found is None:
            raise ApiError(404, "webhook_not_found", "接收地址不存在")
        await conn.execute(
            """UPDATE webhook_deliveries SET status = 'failed', last_error = 'webhook removed'
                WHERE webhook_id = $1 AND status = 'pending'""",
            hook_id,
        )
    return JSONResponse({"id": hook_id, "active": False})


async def list_deliveries(request: Request) -> Response:
    """GET /api/admin/webhooks/{id}/deliveries — the latest 100, each with its tries."""
    await require_role(request, "admin")
    hook_id = path_id(request.path_params["webhook_id"])
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM webhooks WHERE id = $1", hook_id):
            raise ApiError(404, "webhook_not_found", "接收地址不存在")
        rows = await conn.fetch(
            """SELECT id, delivery_id, event, status, tries, next_at, created_at, delivered_at,
                      last_error
                 FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT 100""",
            hook_id,
        )
        tries = await conn.fetch(
            """SELECT delivery_id, try, at, status_code, error, duration_ms FROM webhook_tries
                WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, try""",
            [r["id"] for r in rows],
        )
    by_delivery: dict[int, list[dict[str, Any]]] = {}
    for t in tries:
        by_delivery.setdefault(t["delivery_id"], []).append(
            {
                "try": t["try"],
                "at": _iso(t["at"]),
                "status_code": t["status_code"],
                "error": t["error"],
                "duration_ms": t["duration_ms"],
            }
        )
    return JSONResponse(
        {
            "deliveries": [
                {
                    "delivery_id": r["delivery_id"],
                    "event": r["event"],
                    "status": r["status"],
                    "tries": by_delivery.get(r["id"], []),
                    "next_at": _iso(r["next_at"]),
                    "created_at": _iso(r["created_at"]),
                    "delivered_at": _iso(r["delivered_at"]),
                    "last_error": r["last_error"],
                }
                for r in rows
            ]
        }
    )


routes: list[BaseRoute] = [
    Route("/api/admin/webhooks", list_webhooks, methods=["GET"]),
    Route("/api/admin/webhooks", create_webhook, methods=["POST"]),
    Route("/api/admin/webhooks/{webhook_id:int}", delete_webhook, methods=["DELETE"]),
    Route("/api/admin/webhooks/{webhook_id:int}/deliveries", list_deliveries, methods=["GET"]),
]
