"""The recording's segments: stored, listed, played (rule K1).

:class:`RecordingStore` is the recorder's sink (``webrtc/recorder.py``): a
finished segment goes to the evidence store (local disk or S3,
``webrtc/object_store.py``) and is linked in ``recording_segments``.

GET /api/attempts/{id}/recording      reviewer, admin: the segments of both tracks
GET /api/recordings/{segment_id}      reviewer, admin: one WebM file, with HTTP Range

A reply to a Range request is at most :data:`MAX_CHUNK` bytes (206 with its
``Content-Range``); the browser's player asks for the rest as it plays or
seeks, so no request holds a whole segment in memory.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from proctor.state import base
from proctor.web_auth import require_role
from webrtc.errors import RtcError
from webrtc.object_store import ObjectStore
from webrtc.recorder import SegmentFile

MAX_CHUNK = 1024 * 1024
MAX_SEGMENTS = 2000  # a 6-hour attempt at 1-minute segments, both tracks, with reconnections
PLAYERS = ("reviewer", "admin")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RecordingStore:
    """Stores finished segments and links them to their attempt."""

    def __init__(self, pool: asyncpg.Pool, objects: ObjectStore) -> None:
        self.pool = pool
        self.objects = objects

    async def store(self, segment: SegmentFile) -> None:
        size = await asyncio.to_thread(self.objects.put_file, segment.name, segment.path)
        started = datetime.fromtimestamp(segment.started_at, UTC)
        ended = datetime.fromtimestamp(segment.started_at + segment.duration_s, UTC)
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO recording_segments
                       (attempt_id, track, started_at, ended_at, path, size_bytes, frames,
                        width, height)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (path) DO NOTHING""",
                segment.attempt_id,
                segment.track,
                started,
                ended,
                segment.name,
                size,
                segment.frames,
                segment.width,
                segment.height,
            )


async def list_segments(conn: asyncpg.Connection, attempt_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, track, started_at, ended_at, size_bytes, width, height
             FROM recording_segments WHERE attempt_id = $1
            ORDER BY started_at, id LIMIT $2""",
        attempt_id,
        MAX_SEGMENTS,
    )
    return [
        {
            "id": r["id"],
            "track": r["track"],
            "start_t": r["started_at"].timestamp(),
            "end_t": r["ended_at"].timestamp(),
            "size": r["size_bytes"],
            "width": r["width"],
            "height": r["height"],
            "url": f"/api/recordings/{r['id']}",
        }
        for r in rows
    ]


def recordings_of(conn: HTTPConnection) -> RecordingStore:
    """This process's recording store, from the lifespan state the wiring filled."""
    store: RecordingStore = conn.state.recordings
    return store


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks of ``size`` bytes,
    capped at :data:`MAX_CHUNK`; None for no header. Raises ``RtcError``
    ``range_not_satisfiable`` for a range outside the file or malformed."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match.group(1) or match.group(2)):
        raise RtcError("range_not_satisfiable", "无法识别的 Range 请求")
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = int(last) if last else size - 1
    else:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    end = min(end, size - 1, start + MAX_CHUNK - 1)
    if start >= size or end < start:
        raise RtcError("range_not_satisfiable", "请求的范围超出录像文件")
    return start, end


async def attempt_recording(request: Request) -> Response:
    """GET /api/attempts/{id}/recording — the segments, oldest first."""
    await require_role(request, *PLAYERS)
    attempt_id = int(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        exists = await conn.fetchval("SELECT 1 FROM attempts WHERE id = $1", attempt_id)
        if exists is None:
            raise RtcError("not_found", "考试记录不存在")
        segments = await list_segments(conn, attempt_id)
    return JSONResponse({"attempt_id": attempt_id, "segments": segments})


async def recording_segment(request: Request) -> Response:
    """GET /api/recordings/{segment_id} — one WebM segment (Range supported)."""
    await require_role(request, *PLAYERS)
    segment_id = int(request.path_params["segment_id"])
    async with base(request).pool.acquire() as conn:
        path = await conn.fetchval("SELECT path FROM recording_segments WHERE id = $1", segment_id)
    if path is None:
        raise RtcError("not_found", "录像不存在")
    objects = recordings_of(request).objects
    size = await asyncio.to_thread(objects.size, path)
    if size is None:
        raise RtcError("not_found", "录像文件已删除")
    wanted = parse_range(request.headers.get("range"), size)
    start, end = wanted if wanted is not None else (0, min(size, MAX_CHUNK) - 1)
    data = await asyncio.to_thread(objects.read_range, path, start, end)
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=3600",
        "Content-Range": f"bytes {start}-{end}/{size}",
    }
    whole = wanted is None and end == size - 1
    if whole:
        del headers["Content-Range"]
    return Response(
        data, status_code=200 if whole else 206, media_type="video/webm", headers=headers
    )


routes: list[BaseRoute] = [
    Route("/api/attempts/{attempt_id:int}/recording", attempt_recording, methods=["GET"]),
    Route("/api/recordings/{segment_id:int}", recording_segment, methods=["GET"]),
]
