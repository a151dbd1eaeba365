"""Receive the PC's camera over WebRTC and keep a frame from it (rules G2, E2).

Skeleton: one peer per attempt; the first decoded frame becomes the "start"
snapshot; later frames are read and dropped so aiortc's decoded-frame queue
never grows.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_api.errors import ApiError, json_body
from hub.errors import TokenError
from hub.tokens import verify_device_token
from proctor.resources import Resources, resources
from webrtc.storage import store_jpeg

log = logging.getLogger(__name__)


async def insert_snapshot(
    res: Resources,
    attempt_id: int,
    device: str,
    reason: str,
    jpeg: bytes,
    width: int | None,
    height: int | None,
    taken_at: datetime,
) -> int:
    digest, path = await asyncio.to_thread(store_jpeg, res.settings.data_dir / "snapshots", jpeg)
    async with res.pool.acquire() as conn:
        snapshot_id: int = await conn.fetchval(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path, width, height)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            attempt_id,
            device,
            reason,
            taken_at,
            digest,
            str(path),
            width,
            height,
        )
    return snapshot_id


@dataclass
class PeerRegistry:
    """All live PC peers, one per attempt; ``stop()`` closes every one."""

    res: Resources
    peers: dict[int, RTCPeerConnection] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        if self.res.settings.ice_loopback:
            from webrtc.loopback import install_loopback_candidates

            install_loopback_candidates()

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in self.peers.values()), return_exceptions=True)
        self.peers.clear()

    async def answer(self, attempt_id: int, offer: RTCSessionDescription) -> RTCSessionDescription:
        old = self.peers.pop(attempt_id, None)
        if old is not None:
            await old.close()
        pc = RTCPeerConnection()
        self.peers[attempt_id] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                task = asyncio.create_task(self._consume(attempt_id, track))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and self.peers.get(attempt_id) is pc:
                del self.peers[attempt_id]
                await pc.close()

        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        assert local is not None
        return local

    async def _consume(self, attempt_id: int, track: MediaStreamTrack) -> None:
        stored = False
        try:
            while True:
                frame = await track.recv()
                if not stored:
                    stored = True
                    assert isinstance(frame, av.VideoFrame)
                    image = frame.to_image()
                    buf = io.BytesIO()
                    await asyncio.to_thread(image.save, buf, "JPEG", quality=85)
                    await insert_snapshot(
                        self.res,
                        attempt_id,
                        "pc",
                        "start",
                        buf.getvalue(),
                        image.width,
                        image.height,
                        datetime.now(UTC),
                    )
        except MediaStreamError:
            return


async def offer(request: Request) -> Response:
    """POST /api/rtc/offer {token, sdp, type} → {sdp, type}: the PC's camera peer."""
    body = await json_body(request)
    token, sdp, kind = body.get("token"), body.get("sdp"), body.get("type")
    if not isinstance(token, str) or not isinstance(sdp, str) or kind != "offer":
        raise ApiError(400, "bad_offer", "需要 token、sdp 与 type=offer")
    res = resources(request)
    try:
        claim = verify_device_token(res.settings.secret_key, token, time.time())
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.reason) from None
    if claim.device != "pc":
        raise ApiError(403, "wrong_device", "视频信令只接受电脑端令牌")
    if not sdp.startswith("v=0"):
        raise ApiError(400, "bad_sdp", "SDP 格式错误")
    registry: PeerRegistry = res.components["rtc"]
    try:
        answer = await registry.answer(
            claim.attempt_id, RTCSessionDescription(sdp=sdp, type="offer")
        )
    except ValueError as exc:
        raise ApiError(400, "bad_sdp", f"无法处理该 SDP：{exc}") from None
    return JSONResponse({"sdp": answer.sdp, "type": answer.type})
