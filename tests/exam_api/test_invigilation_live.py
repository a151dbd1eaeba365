"""Live video on demand for the one tile being watched (rule H4), with a real
aiortc PC camera peer over the real signalling: the page's frame rate goes up
while watched, and ``live.jpg`` is a fresh keyframe that is not stored as
evidence."""

from __future__ import annotations

import json
import secrets

import asyncpg
import cv2
import numpy as np
from aiortc import RTCPeerConnection
from redis.asyncio import Redis

from hub.fanout import RTC
from hub.keys import Keys
from proctor.settings import Settings
from tests.support.channels import messages_to
from tests.support.faces import picture_with_faces
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.rtc_peers import FakeCamera, offer_camera
from tests.support.rtc_server import rtc_server, rtc_settings
from tests.support.users import create_user
from tests.support.waits import eventually
from webrtc.ingest import HIGH_FPS, LOW_FPS, PeerRegistry
from webrtc.loopback import enable_loopback_candidates

__all__ = ["rtc_server", "rtc_settings"]


async def _snapshot_count(pool: asyncpg.Pool, attempt_id: int) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM snapshots WHERE attempt_id = $1 AND reason NOT IN ('start', 'random')",
            attempt_id,
        )
    return count


async def test_live_frame_and_frame_rate_for_the_watched_tile(
    rtc_server: LiveServer, pool: asyncpg.Pool, rtc_settings: Settings, redis: Redis
) -> None:
    room = await room_with_attempts(pool, rtc_settings, ["壬"])
    attempt = room.attempts[0]
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera(picture=picture_with_faces(1)))
    rates: list[int] = []
    channel = page.createDataChannel("control")

    @channel.on("message")
    def on_message(message: str) -> None:
        data = json.loads(message)
        if data.get("type") == "rate":
            rates.append(data["max_framerate"])

    registry: PeerRegistry = rtc_server.rtc
    try:
        await offer_camera(page, rtc_server.url, attempt.pc_token, secrets.token_hex(8))

        async def camera_live() -> bool:
            return registry.camera_state(attempt.attempt_id) == "live" and rates == [LOW_FPS]

        await eventually(camera_live, within=20)
        before = await _snapshot_count(pool, attempt.attempt_id)
        async with await client_for(rtc_server.url, pool, room.invigilator.id) as http:
            watched = await http.post(
                f"/api/invigilate/attempts/{attempt.attempt_id}/watch", json={"watched": True}
            )
            assert watched.status_code == 200

            async def raised() -> bool:
                return rates[-1] == HIGH_FPS

            await eventually(raised)
            frame = await http.get(f"/api/invigilate/attempts/{attempt.attempt_id}/live.jpg")
            assert frame.status_code == 200, frame.text
            assert frame.headers["content-type"] == "image/jpeg"
            assert frame.headers["cache-control"] == "no-store"
            picture = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
            assert picture.shape == (480, 640, 3)
            # an administrator watches too; the invigilator leaving keeps the full rate
            admin = await create_user(pool, "admin")
            channel_name = Keys(rtc_settings.redis_prefix).channel(attempt.attempt_id)
            async with (
                await client_for(rtc_server.url, pool, admin.id) as admin_http,
                redis.pubsub() as pubsub,
            ):
                await pubsub.subscribe(channel_name)
                watch = f"/api/invigilate/attempts/{attempt.attempt_id}/watch"
                assert (await admin_http.post(watch, json={"watched": True})).is_success
                assert (await http.post(watch, json={"watched": False})).is_success
                assert (await admin_http.post(watch, json={"watched": True})).is_success
                # one channel keeps its order: a "stop watching" would come before this
                commands = []
                while len(commands) < 2:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is not None:
                        for data in messages_to(message["data"], RTC):
                            if data.get("type") == "rtc.watch":
                                commands.append(data["watched"])
                assert commands == [True, True]
                assert (await admin_http.post(watch, json={"watched": False})).is_success

            async def lowered() -> bool:
                return rates[-1] == LOW_FPS

            await eventually(lowered)
        # a live still is not evidence: no snapshot row was added for it (the random
        # schedule, rule E2, runs on meanwhile)
        assert await _snapshot_count(pool, attempt.attempt_id) == before
    finally:
        await page.close()
        await registry.close_attempt(attempt.attempt_id)
