"""The figures of a sitting's (场次) or a class's results, for the
administrator's charts (issue #14): score distribution, pass rate, violations
by kind and outages (cameras lost, devices off the network).

The attempts counted are the ended formal attempts of the scope: a sitting's
attempts are the ones sat in it (``attempts.sitting_id``), a class's are those
of its formal papers (mock attempts are practice, rule C2, and never counted).
Each figure is one plain SQL query over that set, so the numbers on the page
are exactly what the database holds.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.outcomes import PASS_MARK
from exam_api.timeline import VIOLATION_LABELS
from proctor.state import base

BIN_WIDTH = 10  # score bins of 10 points on the 100-point scale (rule F2); 100 joins 90–100
BINS = 10

# The attempts of a scope, as a CTE. Fixed text chosen by the route (never
# built from input); $1 is the sitting's or the class's id.
_SCOPES = {
    "sitting": """WITH scope AS (
                    SELECT a.id, a.user_id, a.score, a.outcome FROM attempts a
                     WHERE a.sitting_id = $1 AND a.status = 'ended')""",
    "class": """WITH scope AS (
                    SELECT a.id, a.user_id, a.score, a.outcome
                      FROM attempts a JOIN papers p ON p.id = a.paper_id
                     WHERE p.class_id = $1 AND p.kind = 'formal' AND a.status = 'ended')""",
}

# What the page names an outage by (cause, device).
OUTAGE_LABELS = {
    ("network", "pc"): "电脑断线",
    ("network", "phone"): "手机断线",
    ("camera", "pc"): "电脑摄像头中断",
    ("camera", "phone"): "手机摄像头中断",
}


async def totals(conn: asyncpg.Connection, scope: str, scope_id: int) -> dict[str, Any]:
    """How many attempts and candidates, and the pass rate among the scored
    (rule F2: 60 of 100 reaches the pass mark; a reviewer then decides)."""
    row = await conn.fetchrow(
        f"""{_SCOPES[scope]}
            SELECT count(*) AS attempts, count(DISTINCT user_id) AS candidates,
                   count(score) AS scored,
                   count(*) FILTER (WHERE score >= $2) AS reached,
                   count(*) FILTER (WHERE outcome = 'passed') AS passed,
                   count(*) FILTER (WHERE outcome = 'failed') AS failed,
                   count(*) FILTER (WHERE outcome = 'under_review') AS under_review,
                   round(avg(score), 1) AS average
              FROM scope""",
        scope_id,
        PASS_MARK,
    )
    assert row is not None
    scored = row["scored"]
    return {
        "attempts": row["attempts"],
        "candidates": row["candidates"],
        "scored": scored,
        "reached_pass_mark": row["reached"],
        "passed": row["passed"],
        "failed": row["failed"],
        "under_review": row["under_review"],
        "pass_mark": PASS_MARK,
        "pass_rate": None if scored == 0 else round(row["reached"] / scored, 4),
        "average": None if row["average"] is None else float(row["average"]),
    }


async def score_bins(conn: asyncpg.Connection, scope: str, scope_id: int) -> list[dict[str, Any]]:
    """Scored attempts in bins of 10 points, every bin listed (empty ones 0)."""
    rows = await conn.fetch(
        f"""{_SCOPES[scope]}
            SELECT least(floor(score / $2)::int, $3 - 1) AS bin, count(*) AS n
              FROM scope WHERE score IS NOT NULL GROUP BY 1""",
        scope_id,
        BIN_WIDTH,
        BINS,
    )
    counts = {r["bin"]: r["n"] for r in rows}
    return [
        {"from": b * BIN_WIDTH, "to": (b + 1) * BIN_WIDTH, "count": counts.get(b, 0)}
        for b in range(BINS)
    ]


async def violations_by_kind(
    conn: asyncpg.Connection, scope: str, scope_id: int
) -> list[dict[str, Any]]:
    """Violations of each kind (rule E3), counted and forgiven apart."""
    rows = await conn.fetch(
        f"""{_SCOPES[scope]}
            SELECT v.kind, count(*) FILTER (WHERE v.forgiven_by IS NULL) AS counted,
                   count(*) FILTER (WHERE v.forgiven_by IS NOT NULL) AS forgiven,
                   count(DISTINCT v.attempt_id) AS attempts
              FROM attempt_violations v JOIN scope ON scope.id = v.attempt_id
             GROUP BY v.kind ORDER BY v.kind""",
        scope_id,
    )
    return [
        {
            "kind": r["kind"],
            "label": VIOLATION_LABELS.get(r["kind"], r["kind"]),
            "count": r["counted"],
            "forgiven": r["forgiven"],
            "attempts": r["attempts"],
        }
        for r in rows
    ]


async def outages(conn: asyncpg.Connection, scope: str, scope_id: int) -> list[dict[str, Any]]:
    """Losses as the hub recorded them (rules H1, H2, H9): a device off the
    network (``outage_start``) and a camera that went lost or asleep."""
    rows = await conn.fetch(
        f"""{_SCOPES[scope]}
            SELECT CASE e.kind WHEN 'outage_start' THEN 'network' ELSE 'camera' END AS cause,
                   e.device, count(*) AS n, count(DISTINCT e.attempt_id) AS attempts
              FROM attempt_events e JOIN scope ON scope.id = e.attempt_id
             WHERE e.device IN ('pc', 'phone')
               AND (e.kind = 'outage_start'
                    OR (e.kind = 'camera' AND e.data->>'state' IN ('lost', 'asleep')))
             GROUP BY 1, 2""",
        scope_id,
    )
    found = {(r["cause"], r["device"]): r for r in rows}
    # every (cause, device) listed, so the chart always has its four bars
    return [
        {
            "cause": cause,
            "device": device,
            "label": label,
            "count": found[(cause, device)]["n"] if (cause, device) in found else 0,
            "attempts": found[(cause, device)]["attempts"] if (cause, device) in found else 0,
        }
        for (cause, device), label in OUTAGE_LABELS.items()
    ]


async def figures(conn: asyncpg.Connection, scope: str, scope_id: int) -> dict[str, Any]:
    """All the figures of one scope."""
    return {
        "totals": await totals(conn, scope, scope_id),
        "scores": await score_bins(conn, scope, scope_id),
        "violations": await violations_by_kind(conn, scope, scope_id),
        "outages": await outages(conn, scope, scope_id),
    }


async def _named(conn: asyncpg.Connection, scope: str, scope_id: int) -> dict[str, Any]:
    if scope == "sitting":
        row = await conn.fetchrow(
            """SELECT s.id, s.title, p.title AS paper_title, c.name AS class_name
                 FROM exam_sittings s JOIN papers p ON p.id = s.paper_id
                 JOIN classes c ON c.id = p.class_id WHERE s.id = $1""",
            scope_id,
        )
        if row is None:
            raise ApiError(404, "sitting_not_found", "考试场次不存在")
        return {
            "kind": "sitting",
            "id": row["id"],
            "title": row["title"],
            "paper_title": row["paper_title"],
            "class_name": row["class_name"],
        }
    row = await conn.fetchrow("SELECT id, name FROM classes WHERE id = $1", scope_id)
    if row is None:
        raise ApiError(404, "class_not_found", "班级不存在")
    return {"kind": "class", "id": row["id"], "title": row["name"], "class_name": row["name"]}


async def _answer(request: Request, scope: str, key: str) -> Response:
    await require_role(request, "admin")
    scope_id = path_id(request.path_params[key])
    async with base(request).pool.acquire() as conn:
        named = await _named(conn, scope, scope_id)
        return JSONResponse({"scope": named, **await figures(conn, scope, scope_id)})


async def get_sitting_figures(request: Request) -> Response:
    """GET /api/admin/results/sittings/{id} — a sitting's figures (admins)."""
    return await _answer(request, "sitting", "sitting_id")


async def get_class_figures(request: Request) -> Response:
    """GET /api/admin/results/classes/{id} — a class's figures (admins)."""
    return await _answer(request, "class", "class_id")


routes: list[BaseRoute] = [
    Route("/api/admin/results/sittings/{sitting_id:int}", get_sitting_figures, methods=["GET"]),
    Route("/api/admin/results/classes/{class_id:int}", get_class_figures, methods=["GET"]),
]
