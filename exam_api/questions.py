"""Question banks: create, list, add one question, import a CSV/JSON file
(rule C4). Administrator endpoints; validation lives in question_rules and
question_import, so this module only stores."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.fields import path_id, text_field
from exam_api.question_import import MAX_FILE_BYTES, parse_question_file
from exam_api.question_rules import QuestionDraft, QuestionError, build_question, fingerprint
from proctor.state import base

MAX_BANK_NAME = 100


async def create_bank(conn: asyncpg.Connection, name: str) -> int:
    bank_id: int | None = await conn.fetchval(
        "INSERT INTO question_banks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
        name,
    )
    if bank_id is None:
        raise ApiError(409, "bank_exists", f"题库“{name}”已存在")
    return bank_id


async def _require_bank(conn: asyncpg.Connection, bank_id: int) -> None:
    if not await conn.fetchval("SELECT 1 FROM question_banks WHERE id = $1", bank_id):
        raise ApiError(404, "bank_not_found", "题库不存在")


async def add_questions(
    conn: asyncpg.Connection, bank_id: int, drafts: Sequence[QuestionDraft]
) -> int:
    """Store drafts in the bank, skipping any already there (same kind, stem
    and options); return how many were added. All or nothing."""
    async with conn.transaction():
        await _require_bank(conn, bank_id)
        before: int = await conn.fetchval(
            "SELECT count(*) FROM questions WHERE bank_id = $1", bank_id
        )
        await conn.executemany(
            """INSERT INTO questions (bank_id, kind, stem, options, answer, points, explanation, fingerprint)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (bank_id, fingerprint) DO NOTHING""",
            [
                (
                    bank_id,
                    d.kind,
                    d.stem,
                    list(d.options),
                    d.answer,
                    d.points,
                    d.explanation,
                    fingerprint(d),
                )
                for d in drafts
            ],
        )
        after: int = await conn.fetchval(
            "SELECT count(*) FROM questions WHERE bank_id = $1", bank_id
        )
    return after - before


async def list_banks(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch(
        """SELECT b.id, b.name,
                  count(q.id) AS total,
                  count(q.id) FILTER (WHERE q.kind = 'single') AS single,
                  count(q.id) FILTER (WHERE q.kind = 'multiple') AS multiple,
                  count(q.id) FILTER (WHERE q.kind = 'truefalse') AS truefalse
             FROM question_banks b LEFT JOIN questions q ON q.bank_id = b.id
            GROUP BY b.id ORDER BY b.id"""
    )
    return [dict(r) for r in rows]


async def bank_questions(conn: asyncpg.Connection, bank_id: int) -> list[dict[str, object]]:
    await _require_bank(conn, bank_id)
    rows = await conn.fetch(
        """SELECT id, kind, stem, options, answer, points, explanation
             FROM questions WHERE bank_id = $1 ORDER BY id""",
        bank_id,
    )
    return [{**dict(r), "points": float(r["points"])} for r in rows]


async def delete_question(conn: asyncpg.Connection, question_id: int) -> None:
    in_paper = await conn.fetchval(
        "SELECT 1 FROM paper_questions WHERE question_id = $1 LIMIT 1", question_id
    )
    if in_paper:
        raise ApiError(409, "question_in_paper", "该题已被试卷使用，不能删除")
    if await conn.execute("DELETE FROM questions WHERE id = $1", question_id) == "DELETE 0":
        raise ApiError(404, "question_not_found", "题目不存在")


async def _read_capped(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "file_too_large", f"文件过大（最大 {limit // 1024 // 1024} MB）")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "file_too_large", f"文件过大（最大 {limit // 1024 // 1024} MB）")
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- handlers


async def get_banks(request: Request) -> Response:
    """GET /api/admin/banks"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        return JSONResponse({"banks": await list_banks(conn)})


async def post_bank(request: Request) -> Response:
    """POST /api/admin/banks {name}"""
    await require_role(request, "admin")
    name = text_field(await json_body(request), "name", "题库名称", max_chars=MAX_BANK_NAME)
    async with base(request).pool.acquire() as conn:
        bank_id = await create_bank(conn, name)
    return JSONResponse({"id": bank_id, "name": name}, status_code=201)


async def get_questions(request: Request) -> Response:
    """GET /api/admin/banks/{bank_id}/questions — with the keys (admin only)."""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        items = await bank_questions(conn, path_id(request.path_params["bank_id"]))
    return JSONResponse({"questions": items})


async def post_question(request: Request) -> Response:
    """POST /api/admin/banks/{bank_id}/questions {kind, stem, options, answer, points, explanation}"""
    await require_role(request, "admin")
    body = await json_body(request)
    try:
        draft = build_question(
            kind=body.get("kind"),
            stem=body.get("stem"),
            options=body.get("options", []),
            answer=body.get("answer"),
            points=body.get("points"),
            explanation=body.get("explanation", ""),
        )
    except QuestionError as exc:
        raise ApiError(400, f"bad_{exc.field}", exc.message) from None
    async with base(request).pool.acquire() as conn:
        added = await add_questions(conn, path_id(request.path_params["bank_id"]), [draft])
    if not added:
        raise ApiError(409, "question_exists", "题库中已有相同的题目")
    return JSONResponse({"added": 1}, status_code=201)


async def post_import(request: Request) -> Response:
    """POST /api/admin/banks/{bank_id}/import — the file as the raw body.

    All or nothing: any bad row → 400 with every row's error, nothing stored.
    """
    await require_role(request, "admin")
    data = await _read_capped(request, MAX_FILE_BYTES)
    parsed = parse_question_file(data)
    if not parsed.ok:
        return JSONResponse(
            {
                "error": "import_invalid",
                "message": f"文件有 {len(parsed.errors)} 处错误，未导入任何题目",
                "errors": [e.to_json() for e in parsed.errors],
            },
            status_code=400,
        )
    async with base(request).pool.acquire() as conn:
        added = await add_questions(conn, path_id(request.path_params["bank_id"]), parsed.questions)
    return JSONResponse({"added": added, "skipped": len(parsed.questions) - added, "errors": []})


async def delete_question_route(request: Request) -> Response:
    """DELETE /api/admin/questions/{question_id}"""
    await require_role(request, "admin")
    async with base(request).pool.acquire() as conn:
        await delete_question(conn, path_id(request.path_params["question_id"]))
    return JSONResponse({"ok": True})


routes: list[BaseRoute] = [
    Route("/api/admin/banks", get_banks, methods=["GET"]),
    Route("/api/admin/banks", post_bank, methods=["POST"]),
    Route("/api/admin/banks/{bank_id:int}/questions", get_questions, methods=["GET"]),
    Route("/api/admin/banks/{bank_id:int}/questions", post_question, methods=["POST"]),
    Route("/api/admin/banks/{bank_id:int}/import", post_import, methods=["POST"]),
    Route("/api/admin/questions/{question_id:int}", delete_question_route, methods=["DELETE"]),
]
