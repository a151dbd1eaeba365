"""The ID photo (证件照) of the exam request (rule I1).

    POST /api/uploads/id-photo?name=证件照.jpg   raw jpg/png bytes → 201 {id, kind, name, size, url}

The picture goes through the document checks (``exam_api/uploads.py``:
content, size, a clean re-encoding), then the face model reads it off the
event loop: exactly one clear face, or a refusal that says what is wrong, in
Chinese. Its face descriptor is kept (``face_references``) so every later
comparison (rules I2, I3) reads 128 numbers, not the picture.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_api import documents, uploads
from exam_api.auth import require_role
from exam_api.errors import ApiError
from exam_api.services import exam_services
from proctor.face_model import FaceReading
from proctor.state import base

MAX_ID_PHOTO_BYTES = 5 * 1024 * 1024

PROBLEMS = {
    "no_face": "照片中没有检测到人脸，请上传本人正面免冠证件照",
    "several_faces": "照片中有多张人脸，请上传只有本人的证件照",
    "too_small": "照片中的人脸太小，请上传人脸清晰、占画面较大的证件照",
    "blurred": "照片中的人脸模糊，请上传清晰的证件照",
    "undecodable": "图片无法识别，请重新上传 jpg 或 png 格式的证件照",
}


def refusal(reading: FaceReading) -> ApiError | None:
    """Why this reading is not an ID photo, or None when it is one. Pure."""
    if reading.clear:
        return None
    return ApiError(422, f"id_photo_{reading.problem}", PROBLEMS[reading.problem])


async def upload_id_photo(request: Request) -> Response:
    """POST /api/uploads/id-photo — the candidate's ID photo, one clear face."""
    user = await require_role(request, "candidate")
    res = base(request)
    now = dt.datetime.now(dt.UTC)
    async with res.pool.acquire() as conn:
        await documents.enforce_rate(conn, user.id, now)
    data = await documents.read_capped(request, MAX_ID_PHOTO_BYTES)
    try:
        sniffed = await asyncio.to_thread(uploads.sniff, data, max_bytes=MAX_ID_PHOTO_BYTES)
    except uploads.UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    if sniffed.kind == "pdf":
        raise ApiError(422, "id_photo_type", "证件照须为 jpg 或 png 图片")
    reading = await exam_services(request).faces.describe(sniffed.content)
    refused = refusal(reading)
    if refused is not None:
        raise refused
    assert reading.descriptor is not None
    root = uploads.uploads_root(res.settings.data_dir)
    stored = await asyncio.to_thread(uploads.store, root, sniffed.content, sniffed.kind)
    name = documents.clean_name(request.query_params.get("name", ""), sniffed.kind)
    async with res.pool.acquire() as conn, conn.transaction():
        upload_id = await documents.insert_upload(conn, user.id, sniffed, stored, name, now)
        await conn.execute(
            "INSERT INTO face_references (upload_id, descriptor, created_at) VALUES ($1, $2, $3)",
            upload_id,
            list(reading.descriptor),
            now,
        )
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


async def is_id_photo(conn: object, upload_id: int) -> bool:
    """Was ``upload_id`` accepted as an ID photo (one clear face)?"""
    found = await conn.fetchval(  # type: ignore[attr-defined]
        "SELECT 1 FROM face_references WHERE upload_id = $1", upload_id
    )
    return found is not None


routes = [Route("/api/uploads/id-photo", upload_id_photo, methods=["POST"])]
