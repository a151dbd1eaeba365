"""Document upload and download routes (rule B4).

    POST /api/uploads?name=承诺书.pdf   raw file bytes as the body → 201 {id, kind, name, size}
    GET  /api/uploads/{id}             the file, to its owner or to reviewers and administrators

The body is read as a stream and refused as soon as it passes the size cap,
so a 50 MB upload never sits in memory.  The kind is decided by content
(``exam_api.uploads.sniff``) in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import posixpath
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from exam_api import ratelimit, uploads
from exam_api.auth import require_role
from exam_api.errors import ApiError
from proctor.state import base

UPLOADS_PER_HOUR = ratelimit.Limit("upload_user", 40, 3600, "上传过于频繁，请稍后再试")
STAFF_ROLES = ("reviewer", "admin")
MAX_NAME = 100


def clean_name(raw: str, kind: str) -> str:
    """The browser's file name, reduced to a base name of bounded length (display only)."""
    name = posixpath.basename(raw.replace("\\", "/")).strip()
    name = "".join(c for c in name if c.isprintable())[:MAX_NAME]
    return name or f"file.{kind}"


async def read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"文件过大：最大 {max_bytes // (1024 * 1024)} MB")


async def upload(request: Request) -> Response:
    """POST /api/uploads — store one jpg/png/pdf for the signed-in candidate."""
    user = await require_role(request, "candidate")
    res = base(request)
    now = dt.datetime.now(dt.UTC)
    async with res.pool.acquire() as conn:
        await enforce_rate(conn, user.id, now)
    data = await read_capped(request, uploads.MAX_UPLOAD_BYTES)
    try:
        sniffed = await asyncio.to_thread(uploads.sniff, data)
    except uploads.UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    root = uploads.uploads_root(res.settings.data_dir)
    # images are stored as their clean re-encoding (no EXIF), PDFs as sent
    stored = await asyncio.to_thread(uploads.store, root, sniffed.content, sniffed.kind)
    name = clean_name(request.query_params.get("name", ""), sniffed.kind)
    async with res.pool.acquire() as conn:
        upload_id = await insert_upload(conn, user.id, sniffed, stored, name, now)
    return JSONResponse(
        {
            "id": upload_id,
            "kind": sniffed.kind,
            "name": name,
            "size": stored.size,
            "url": f"/api/uploads/{upload_id}",
        },
        status_code=201,
    )


async def insert_upload(
    conn: Any,
    owner_id: int,
    sniffed: uploads.Sniffed,
    stored: uploads.StoredFile,
    name: str,
    now: dt.datetime,
) -> int:
    upload_id: int = await conn.fetchval(
        """INSERT INTO uploads (owner_id, kind, original_name, relpath, sha256, size,
               width, height, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        owner_id,
        sniffed.kind,
        name,
        stored.relpath,
        stored.sha256,
        stored.size,
        sniffed.width,
        sniffed.height,
        now,
    )
    return upload_id


async def enforce_rate(conn: object, user_id: int, now: dt.datetime) -> None:
    decision = await ratelimit.hit(conn, UPLOADS_PER_HOUR, str(user_id), now.timestamp())
    if not decision.allowed:
        raise ApiError(429, "rate_limited", UPLOADS_PER_HOUR.message)


async def download(request: Request) -> Response:
    """GET /api/uploads/{id} — only the owner, a reviewer or an administrator may read it."""
    user = await require_role(request)
    upload_id = request.path_params["upload_id"]
    res = base(request)
    async with res.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT owner_id, kind, original_name, relpath FROM uploads WHERE id = $1", upload_id
        )
    # Another candidate's file answers exactly like a missing one.
    if row is None or (row["owner_id"] != user.id and user.role not in STAFF_ROLES):
        raise ApiError(404, "upload_not_found", "文件不存在")
    path = uploads.resolve(uploads.uploads_root(res.settings.data_dir), row["relpath"])
    if not path.is_file():
        raise ApiError(404, "upload_not_found", "文件不存在")
    return FileResponse(
        path,
        media_type=uploads.CONTENT_TYPES[row["kind"]],
        headers=document_headers(row["kind"], row["original_name"]),
    )


# A stored file opened on its own is a document in a sandbox with nothing to
# load: no script runs, no form posts, no same-origin access even if a file
# ever slipped past the checks.  (GitHub serves raw files the same way.)
DOCUMENT_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def document_headers(kind: str, original_name: str) -> dict[str, str]:
    """Headers for serving a stored upload of the validated ``kind`` (never the client's type).

    Pictures are shown inline (an ``<img>`` never runs anything); a PDF is an
    attachment, opened by the reviewer's PDF reader rather than inside our origin.
    """
    disposition = "inline" if kind in ("jpg", "png") else "attachment"
    return {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(original_name)}",
        "Content-Security-Policy": DOCUMENT_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-store",
    }


routes = [
    Route("/api/uploads", upload, methods=["POST"]),
    Route("/api/uploads/{upload_id:int}", download, methods=["GET"]),
]


ORPHAN_AGE = dt.timedelta(days=7)


async def sweep_orphans(conn: Any, root: Path, now: dt.datetime, batch: int = 500) -> int:
    """Delete uploads no request uses, a week after they were made (files and rows).

    A candidate may upload and never submit; this keeps the uploads folder bounded.
    """
    rows = await conn.fetch(
        """DELETE FROM uploads WHERE id IN (
               SELECT u.id FROM uploads u
                WHERE u.created_at < $1
                  AND NOT EXISTS (SELECT 1 FROM exam_request_documents d WHERE d.upload_id = u.id)
                LIMIT $2)
           RETURNING relpath""",
        now - ORPHAN_AGE,
        batch,
    )
    for row in rows:
        uploads.resolve(root, row["relpath"]).unlink(missing_ok=True)
    return len(rows)
