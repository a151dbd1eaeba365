"""HTTP endpoints of the WebRTC ingest and its evidence.

POST   /api/rtc/offer                  {token, sdp, type, client_id} → {sdp, type}
GET    /api/rtc/attempts/{id}/snapshots           reviewer, admin, the room's invigilator
GET    /api/rtc/snapshots/{id}/image              reviewer, admin, the room's invigilator
DELETE /api/rtc/attempts/{id}/evidence {reason}   admin; audited

The phone's photos arrive over its websocket (``webrtc/phone_photos.py``).
Errors are :class:`~proctor.errors.ProctorError` s, mapped once by the app.
"""

from __future__ import annotations

import asyncio
import re
import secrets

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from hub.tokens import DeviceClaim, verify_device_token
from proctor.json_body import json_body
from proctor.state import base
from proctor.web_auth import require_evidence_access, require_role
from webrtc.errors import RtcError
from webrtc.ingest import PeerRegistry
from webrtc.recordings import recordings_of
from webrtc.retention import delete_attempt_evidence
from webrtc.snapshot_rows import list_snapshots

STAFF = ("invigilator", "reviewer", "admin")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def registry_of(conn: HTTPConnection) -> PeerRegistry:
    """This process's peer registry, from the lifespan state the wiring filled."""
    registry: PeerRegistry = conn.state.rtc
    return registry


def _claim(request: Request, token: str, device: str) -> DeviceClaim:
    claim = verify_device_token(base(request).settings.secret_key, token, base(request).clock.now())
    if claim.device != device:
        raise RtcError("wrong_device", f"需要{'电脑' if device == 'pc' else '手机'}端令牌")
    return claim


async def offer(request: Request) -> Response:
    """The PC page's camera offer (gathered ICE, no trickle) → aiortc's answer."""
    body = await json_body(request, max_bytes=128 * 1024)
    token, sdp, kind = body.get("token"), body.get("sdp"), body.get("type")
    # Without a client id every offer counts as a new page: it may only
    # replace a peer that is no longer live.
    client_id = body.get("client_id") or f"anon-{secrets.token_hex(8)}"
    if not isinstance(token, str) or not isinstance(sdp, str) or kind != "offer":
        raise RtcError("bad_offer", "需要 token、sdp 与 type=offer")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise RtcError("bad_offer", "client_id 格式错误")
    claim = _claim(request, token, "pc")
    answer = await registry_of(request).answer(claim.attempt_id, client_id, sdp)
    return JSONResponse({"sdp": answer.sdp, "type": answer.type})


async def attempt_snapshots(request: Request) -> Response:
    """Snapshots of an attempt with their face flags (rule H6: flags, not
    verdicts); an invigilator sees only the attempts of their rooms."""
    user = await require_role(request, *STAFF)
    attempt_id = int(request.path_params["attempt_id"])
    async with base(request).pool.acquire() as conn:
        await require_evidence_access(conn, user, attempt_id)
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
                    "violation": r["violation_idx"],
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
    user = await require_role(request, *STAFF)
    snapshot_id = int(request.path_params["snapshot_id"])
    async with base(request).pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT attempt_id, sha256 FROM snapshots WHERE id = $1", snapshot_id
        )
        if row is None:
            raise RtcError("not_found", "抓拍不存在")
        await require_evidence_access(conn, user, row["attempt_id"])
    try:
        data = await asyncio.to_thread(registry_of(request).store.get, row["sha256"])
    except FileNotFoundError:
        raise RtcError("not_found", "抓拍文件已删除") from None
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


async def delete_evidence(request: Request) -> Response:
    """An administrator deletes an attempt's snapshots; the reason is recorded."""
    admin = await require_role(request, "admin")
    body = await json_body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise RtcError("reason_required", "删除证据必须填写原因")
    attempt_id = int(request.path_params["attempt_id"])
    result = await delete_attempt_evidence(
        base(request).pool,
        registry_of(request).store,
        attempt_id,
        admin.id,
        reason.strip(),
        objects=recordings_of(request).objects,  # rule K2: its recording too
    )
    return JSONResponse({"attempt_id": attempt_id, "deleted": result})
