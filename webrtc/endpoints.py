"""HTTP endpoints of the WebRTC ingest and its evidence.

POST   /api/rtc/offer                  {token, sdp, type, client_id} → {sdp, type}
POST   /api/rtc/phone-photo            JPEG body; Authorization: Bearer <phone token>;
                                       ?capture_id=… or ?reason=start|return_to_page
GET    /api/rtc/attempts/{id}/snapshots           invigilator, reviewer, admin
GET    /api/rtc/snapshots/{id}/image              invigilator, reviewer, admin
DELETE /api/rtc/attempts/{id}/evidence {reason}   admin; audited
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from hub.errors import TokenError
from hub.tokens import DeviceClaim, verify_device_token
from proctor.resources import resources
from webrtc.errors import RtcError
from webrtc.ingest import PeerRegistry
from webrtc.retention import delete_attempt_evidence
from webrtc.snapshot_rows import list_snapshots
from webrtc.storage import MAX_PHOTO_BYTES

STAFF = ("invigilator", "reviewer", "admin")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _api(exc: RtcError) -> ApiError:
    return ApiError(exc.http_status, exc.code, exc.reason)


def _claim(request: Request, token: str, device: str) -> DeviceClaim:
    res = resources(request)
    try:
        claim = verify_device_token(res.settings.secret_key, token, time.time())
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.reason) from None
    if claim.device != device:
        raise ApiError(403, "wrong_device", f"需要{'电脑' if device == 'pc' else '手机'}端令牌")
    return claim


def _registry(request: Request) -> PeerRegistry:
    registry: PeerRegistry = resources(request).components["rtc"]
    return registry


async def offer(request: Request) -> Response:
    """The PC page's camera offer (gathered ICE, no trickle) → aiortc's answer."""
    body = await json_body(request, max_bytes=128 * 1024)
    token, sdp, kind = body.get("token"), body.get("sdp"), body.get("type")
    # Without a client id every offer counts as a new page: it may only
    # replace a peer that is no longer live.
    client_id = body.get("client_id") or f"anon-{secrets.token_hex(8)}"
    if not isinstance(token, str) or not isinstance(sdp, str) or kind != "offer":
        raise ApiError(400, "bad_offer", "需要 token、sdp 与 type=offer")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise ApiError(400, "bad_offer", "client_id 格式错误")
    claim = _claim(request, token, "pc")
    try:
        answer = await _registry(request).answer(claim.attempt_id, client_id, sdp)
    except RtcError as exc:
        raise _api(exc) from None
    return JSONResponse({"sdp": answer.sdp, "type": answer.type})


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "photo_too_large", "照片过大")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "photo_too_large", "照片过大")
        chunks.append(chunk)
    return b"".join(chunks)


async def phone_photo(request: Request) -> Response:
    """A photo from the phone: the answer to a capture request, or its own (D4)."""
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        raise ApiError(401, "bad_token", "缺少手机端令牌")
    claim = _claim(request, auth.removeprefix("Bearer "), "phone")
    jpeg = await _read_limited(request, MAX_PHOTO_BYTES)
    try:
        record = await _registry(request).snapshots.store_phone_photo(
            claim.attempt_id,
            jpeg,
            capture_id=request.query_params.get("capture_id"),
            reason=request.query_params.get("reason"),
            now=datetime.now(UTC),
        )
    except RtcError as exc:
        raise _api(exc) from None
    return JSONResponse(record.public(), status_code=201)


async def attempt_snapshots(request: Request) -> Response:
    """Snapshots of an attempt with their face flags (rule H6: flags, not verdicts)."""
    await require_role(request, *STAFF)
    attempt_id = int(request.path_params["attempt_id"])
    async with resources(request).pool.acquire() as conn:
        rows = await list_snapshots(conn, attempt_id)
    flags = {None: "unknown", 0: "none", 1: "one"}
    return JSONResponse(
        {
            "attempt_id": attempt_id,
            "snapshots": [
                {
                    "id": r["id"],
                    "device": r["device"],
                    "reason": r["reason"],
                    "taken_at": r["taken_at"].isoformat(),
                    "capture_id": r["capture_id"],
                    "width": r["width"],
                    "height": r["height"],
                    "face_flag": flags.get(r["faces"], "several"),
                    "image_url": f"/api/rtc/snapshots/{r['id']}/image",
                }
                for r in rows
            ],
        }
    )


async def snapshot_image(request: Request) -> Response:
    await require_role(request, *STAFF)
    snapshot_id = int(request.path_params["snapshot_id"])
    async with resources(request).pool.acquire() as conn:
        sha256 = await conn.fetchval("SELECT sha256 FROM snapshots WHERE id = $1", snapshot_id)
    if sha256 is None:
        raise ApiError(404, "not_found", "抓拍不存在")
    try:
        data = await asyncio.to_thread(_registry(request).store.get, sha256)
    except FileNotFoundError:
        raise ApiError(404, "not_found", "抓拍文件已删除") from None
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


async def delete_evidence(request: Request) -> Response:
    """An administrator deletes an attempt's snapshots; the reason is recorded."""
    admin = await require_role(request, "admin")
    body = await json_body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(400, "reason_required", "删除证据必须填写原因")
    attempt_id = int(request.path_params["attempt_id"])
    result = await delete_attempt_evidence(
        resources(request).pool, _registry(request).store, attempt_id, admin.id, reason.strip()
    )
    return JSONResponse({"attempt_id": attempt_id, "deleted": result})
