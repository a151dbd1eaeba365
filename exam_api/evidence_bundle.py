"""An attempt's evidence bundle (rule M4): one zip, streamed.

``GET /api/attempts/{id}/evidence.zip`` — reviewers and administrators only.
The zip holds:

- ``timeline.json``: the reviewer's timeline (``exam_api/timeline.py``);
- ``verification.json``: the record's hash chain verified now (rule H7),
  with its head hash;
- ``snapshots/pc/…jpg`` and ``snapshots/phone/…jpg``: the PC camera's frames
  and the phone's photos (:class:`SnapshotPart`);
- whatever other :class:`~exam_api.services.BundlePart` the wiring passes
  (screen frames, the recording: issue #12, J2/K1);
- ``manifest.json`` last: every file with its size and sha256, and the
  files the store no longer holds (retention, an audited deletion).

Memory stays bounded: the rows are read first (a bounded list), the
connection is released, then each file is read and written into the zip one
piece at a time (``zipfile`` writes to a stream that cannot seek: each entry
carries a data descriptor), and each piece is sent before the next is read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from exam_api.assignments import REVIEW_ROLES
from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.fields import path_id
from exam_api.services import (
    BundleEntry,
    BundlePart,
    EvidenceBlobs,
    EvidenceObjects,
    exam_services,
)
from exam_api.timeline import build_timeline
from proctor import audit_chain
from proctor.state import base

MAX_FILES = 5000  # entries of one bundle (the ingest keeps at most 2000 snapshots)
CHUNK = 64 * 1024


class _Chunks:
    """A write-only sink for ``zipfile`` (no ``tell``/``seek``: streaming mode)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _json_entry(name: str, value: Any) -> BundleEntry:
    data = json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return BundleEntry(name, chunks)


@dataclass(frozen=True)
class SnapshotPart:
    """The PC camera's frames and the phone's photos of the attempt."""

    store: EvidenceBlobs
    name: str = "snapshots"

    async def entries(self, conn: asyncpg.Connection, attempt_id: int) -> list[BundleEntry]:
        rows = await conn.fetch(
            """SELECT id, device, reason, sha256 FROM snapshots
                WHERE attempt_id = $1 ORDER BY taken_at, id LIMIT $2""",
            attempt_id,
            MAX_FILES,
        )
        return [
            BundleEntry(
                f"snapshots/{r['device']}/{r['id']:06d}-{r['reason']}.jpg",
                self._reader(r["sha256"]),
            )
            for r in rows
        ]

    def _reader(self, sha256: str) -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            # one picture (at most the store's photo limit) read off the loop
            data = await asyncio.to_thread(self.store.get, sha256)
            for start in range(0, len(data), CHUNK):
                yield data[start : start + CHUNK]

        return chunks


@dataclass(frozen=True)
class RecordingPart:
    """The attempt's recording (rule K1): every WebM segment of the camera and
    the screen, read from the object store a range at a time."""

    objects: EvidenceObjects
    name: str = "recording"

    async def entries(self, conn: asyncpg.Connection, attempt_id: int) -> list[BundleEntry]:
        rows = await conn.fetch(
            """SELECT id, track, path FROM recording_segments
                WHERE attempt_id = $1 ORDER BY track, started_at, id LIMIT $2""",
            attempt_id,
            MAX_FILES,
        )
        return [
            BundleEntry(f"recording/{r['track']}/{r['id']:06d}.webm", self._reader(r["path"]))
            for r in rows
        ]

    def _reader(self, path: str) -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            size = await asyncio.to_thread(self.objects.size, path)
            if size is None:  # deleted by retention: listed as missing
                raise FileNotFoundError(path)
            for start in range(0, size, CHUNK * 16):
                end = min(size, start + CHUNK * 16) - 1
                yield await asyncio.to_thread(self.objects.read_range, path, start, end)

        return chunks


async def stream_zip(entries: Sequence[BundleEntry], head: dict[str, Any]) -> AsyncIterator[bytes]:
    """The zip of ``entries`` piece by piece, ``manifest.json`` last.
    A file the store lost is listed as missing, not fatal."""
    sink = _Chunks()
    files: list[dict[str, Any]] = []
    missing: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for entry in entries:
            digest, size = hashlib.sha256(), 0
            pieces = entry.chunks()
            try:
                first = await anext(pieces)
            except (FileNotFoundError, ValueError):
                missing.append(entry.name)
                continue
            except StopAsyncIteration:
                first = b""
            stored = entry.name.endswith((".jpg", ".webm"))  # JPEG and VP8 do not deflate
            info = zipfile.ZipInfo(entry.name)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as out:
                piece: bytes | None = first
                while piece is not None:
                    digest.update(piece)
                    size += len(piece)
                    out.write(piece)
                    chunk = sink.take()
                    if chunk:
                        yield chunk
                    piece = await anext(pieces, None)
            files.append({"name": entry.name, "bytes": size, "sha256": digest.hexdigest()})
            chunk = sink.take()
            if chunk:
                yield chunk
        manifest = {**head, "files": files, "missing": missing}
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    yield sink.take()


async def bundle_entries(
    conn: asyncpg.Connection, attempt_id: int, parts: Sequence[BundlePart]
) -> tuple[list[BundleEntry], dict[str, Any]]:
    """The bundle's entries (rows only, no file read yet) and the manifest's head."""
    timeline = await build_timeline(conn, attempt_id)
    verification = (await audit_chain.verify(conn, attempt_id)).to_json()
    entries = [
        _json_entry("timeline.json", timeline),
        _json_entry("verification.json", verification),
    ]
    for part in parts:
        entries += await part.entries(conn, attempt_id)
        if len(entries) > MAX_FILES:
            raise ApiError(413, "bundle_too_large", "证据文件过多，无法打包")
    head = {
        "attempt_id": attempt_id,
        "chain_ok": verification["ok"],
        "chain_head": verification["head"],
        "parts": ["timeline", "verification", *(p.name for p in parts)],
    }
    return entries, head


async def get_bundle(request: Request) -> Response:
    """GET /api/attempts/{id}/evidence.zip — reviewers and administrators."""
    await require_role(request, *REVIEW_ROLES)
    attempt_id = path_id(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM attempts WHERE id = $1", attempt_id):
            raise ApiError(404, "attempt_not_found", "考试记录不存在")
        entries, head = await bundle_entries(conn, attempt_id, exam_services(request).bundle_parts)
    name = f"attempt-{attempt_id}-evidence.zip"
    return StreamingResponse(
        stream_zip(entries, head),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


routes: list[BaseRoute] = [
    Route("/api/attempts/{attempt_id:int}/evidence.zip", get_bundle, methods=["GET"]),
]
