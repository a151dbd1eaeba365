"""Results exports (rule M4): one class's results (optionally of one paper)
as CSV or XLSX, with Chinese headers, for reviewers and administrators.

``GET /api/exports/classes/{id}/results.csv`` and ``….xlsx``, ``?paper_id=``
to keep one paper. One row per attempt, oldest paper first; each row carries
the attempt's record chain head (rule H7), so a receiver can later check the
record it was given is the one still held. Sessions (场次) export the same
way once they exist (issue #12, M1): only the ``WHERE`` changes.

CSV is UTF-8 with a BOM (Excel reads it as such) and streamed from a cursor;
a cell a spreadsheet would run as a formula (``= + - @`` first) gets a
leading apostrophe: a candidate's name is theirs to choose. XLSX is written
by openpyxl in write-only mode (rows go to a temporary file, not memory).
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from openpyxl import Workbook
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from exam_api.assignments import REVIEW_ROLES
from exam_api.auth import require_role
from exam_api.ending import END_REASON_LABELS
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.outcomes import OUTCOME_LABELS
from exam_api.papers import KIND_LABELS
from proctor.state import base

MAX_ROWS = 100_000
LOCAL = ZoneInfo("Asia/Shanghai")
HEADERS = (
    "考试记录编号",
    "考生姓名",
    "账号",
    "班级",
    "试卷",
    "试卷类型",
    "开始时间",
    "结束时间",
    "结束原因",
    "得分",
    "违规次数",
    "结果",
    "审核结论",
    "审核人",
    "审核时间",
    "记录链头",
)
DECISION_LABELS = {"passed": "合格", "failed": "不合格"}

_ROWS = """
SELECT a.id, u.real_name, u.username, c.name AS class_name, p.title, p.kind,
       a.started_at, a.ended_at, a.end_reason, a.score, a.violations, a.outcome,
       rr.decision, rv.real_name AS reviewer_name, rr.decided_at, h.hash AS chain_head
  FROM attempts a
  JOIN users u ON u.id = a.user_id
  JOIN papers p ON p.id = a.paper_id
  JOIN classes c ON c.id = p.class_id
  LEFT JOIN result_reviews rr ON rr.attempt_id = a.id
  LEFT JOIN users rv ON rv.id = rr.reviewer_id
  LEFT JOIN audit_chain_heads h ON h.attempt_id = a.id
 WHERE ($1::bigint IS NULL OR p.class_id = $1) AND ($2::bigint IS NULL OR a.paper_id = $2)
   AND ($4::bigint IS NULL OR a.sitting_id = $4)
 ORDER BY p.id, a.started_at, a.id
 LIMIT $3
"""


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def result_row(r: asyncpg.Record | dict[str, Any]) -> list[Any]:
    """One attempt as the export's cells (numbers stay numbers)."""
    return [
        r["id"],
        r["real_name"],
        r["username"],
        r["class_name"],
        r["title"],
        KIND_LABELS.get(r["kind"], r["kind"]),
        _local(r["started_at"]),
        _local(r["ended_at"]),
        END_REASON_LABELS.get(r["end_reason"], r["end_reason"] or ""),
        None if r["score"] is None else float(r["score"]),
        r["violations"],
        OUTCOME_LABELS.get(r["outcome"], r["outcome"] or ""),
        DECISION_LABELS.get(r["decision"], r["decision"] or ""),
        r["reviewer_name"] or "",
        _local(r["decided_at"]),
        r["chain_head"] or "",
    ]


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, defused."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(rows: Iterator[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@dataclass(frozen=True)
class Scope:
    """Which attempts an export holds: a class (and one of its papers), or a
    sitting (rule M1); ``stem`` names the file."""

    class_id: int | None
    paper_id: int | None
    sitting_id: int | None
    stem: str


async def _scope(request: Request) -> Scope:
    if "sitting_id" in request.path_params:
        return await _sitting_scope(request)
    class_id, paper_id, stem = await _class_scope(request)
    return Scope(class_id, paper_id, None, stem)


async def _sitting_scope(request: Request) -> Scope:
    """A sitting's attempts (404 if there is no such sitting)."""
    await require_role(request, *REVIEW_ROLES)
    sitting_id = path_id(request.path_params["sitting_id"])
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM exam_sittings WHERE id = $1", sitting_id):
            raise ApiError(404, "sitting_not_found", "考试场次不存在")
    return Scope(None, None, sitting_id, f"results-sitting-{sitting_id}")


async def _class_scope(request: Request) -> tuple[int, int | None, str]:
    """The class (404 if none), the optional paper of it, and a file name stem."""
    await require_role(request, *REVIEW_ROLES)
    class_id = path_id(request.path_params["class_id"])
    raw = request.query_params.get("paper_id")
    paper_id: int | None = None
    if raw is not None:
        if not raw.isdigit() or len(raw) > 18:
            raise ApiError(400, "bad_paper_id", "试卷编号无效")
        paper_id = int(raw)
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM classes WHERE id = $1", class_id):
            raise ApiError(404, "class_not_found", "班级不存在")
        if paper_id is not None and not await conn.fetchval(
            "SELECT 1 FROM papers WHERE id = $1 AND class_id = $2", paper_id, class_id
        ):
            raise ApiError(404, "paper_not_found", "该班级没有这份试卷")
    stem = f"results-class-{class_id}" + (f"-paper-{paper_id}" if paper_id else "")
    return class_id, paper_id, stem


async def _records(pool: asyncpg.Pool, scope: Scope) -> AsyncIterator[list[Any]]:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        args = (scope.class_id, scope.paper_id, MAX_ROWS, scope.sitting_id)
        async for r in conn.cursor(_ROWS, *args, prefetch=500):
            yield result_row(r)


async def get_csv(request: Request) -> Response:
    """GET /api/exports/classes/{id}/results.csv (or sittings/{id}) — reviewers and administrators."""
    scope = await _scope(request)
    stem = scope.stem
    pool = base(request).pool

    async def body() -> AsyncIterator[bytes]:
        yield "\ufeff".encode()
        yield "".join(csv_lines(iter([list(HEADERS)]))).encode()
        async for row in _records(pool, scope):
            yield "".join(csv_lines(iter([row]))).encode()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}.csv"',
            "Cache-Control": "no-store",
        },
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def get_xlsx(request: Request) -> Response:
    """GET /api/exports/classes/{id}/results.xlsx (or sittings/{id}) — reviewers and administrators."""
    scope = await _scope(request)
    stem = scope.stem
    book = Workbook(write_only=True)
    sheet = book.create_sheet("考试成绩")
    sheet.append(list(HEADERS))
    async for row in _records(base(request).pool, scope):
        sheet.append([safe_cell(v) for v in row])
    out = tempfile.TemporaryFile()  # closed by the response's background task
    await asyncio.to_thread(book.save, out)
    out.seek(0)

    def chunks() -> Iterator[bytes]:
        while piece := out.read(64 * 1024):
            yield piece

    return StreamingResponse(
        chunks(),
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{stem}.xlsx"',
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(out.close),
    )


routes: list[BaseRoute] = [
    Route("/api/exports/classes/{class_id:int}/results.csv", get_csv, methods=["GET"]),
    Route("/api/exports/classes/{class_id:int}/results.xlsx", get_xlsx, methods=["GET"]),
    # rule M1: per exam sitting
    Route("/api/exports/sittings/{sitting_id:int}/results.csv", get_csv, methods=["GET"]),
    Route("/api/exports/sittings/{sitting_id:int}/results.xlsx", get_xlsx, methods=["GET"]),
]
