"""The PC's screen share over the real HTTP signalling, aiortc on both ends,
real PostgreSQL and Redis (rules J1, J2): the offer's second video is the
screen, measured by the frames that arrive; every dual snapshot keeps its
frame; a stopped share, or a page that only says it shares, cannot answer."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from hub.devices import Camera
from hub.session import Session
from proctor.settings import Settings
from tests.support.faces import picture_with_faces
from tests.support.live import LiveServer
from tests.support.rtc_attempts import RtcAttempt, open_attempt
from tests.support.rtc_peers import FakeCamera, FakeScreen
from tests.support.waits import eventually
from webrtc.loopback import enable_loopback_candidates


@pytest.fixture
async def client(rtc_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as c:
        yield c


async def connect(
    client: httpx.AsyncClient, attempt: RtcAttempt, screen: FakeScreen | None
) -> tuple[RTCPeerConnection, object]:
    """A Python stand-in for the exam page: the camera, then the screen."""
    enable_loopback_candidates()
    pc = RTCPeerConnection()
    pc.addTrack(FakeCamera(picture=picture_with_faces(1)))
    if screen is not None:
        pc.addTrack(screen)
    control = pc.createDataChannel("control")
    await pc.setLocalDescription(await pc.createOffer())
    body = {
        "token": attempt.pc_token,
        "sdp": pc.localDescription.sdp,
        "type": "offer",
        "client_id": secrets.token_hex(8),
    }
    answer = await client.post("/api/rtc/offer", json=body)
    assert answer.status_code == 200, answer.text
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
    return pc, control


async def session_of(server: LiveServer, attempt_id: int) -> Session | None:
    loaded = await server.hub.store.load(attempt_id)
    return Session.from_dict(json.loads(loaded.state)) if loaded.state else None


async def screen_is(server: LiveServer, attempt_id: int, state: Camera) -> bool:
    session = await session_of(server, attempt_id)
    return session is not None and session.screen is state


async def test_the_screen_is_measured_and_kept_beside_every_pc_frame(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    screen = FakeScreen()
    pc, _control = await connect(client, attempt, screen)
    try:
        # rule J1: live once its frames arrive, on the session the hub owns
        await eventually(lambda: screen_is(rtc_server, attempt.id, Camera.LIVE), within=30)

        # rule J2: the start and random captures keep a screen frame, same capture id
        async def pairs() -> list[asyncpg.Record]:
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT * FROM snapshots WHERE attempt_id = $1 ORDER BY id", attempt.id
                )
            by_capture: dict[str, dict[str, asyncpg.Record]] = {}
            for row in rows:
                by_capture.setdefault(row["capture_id"], {})[row["device"]] = row
            return [d["screen"] for d in by_capture.values() if {"pc", "screen"} <= d.keys()]

        (shot, *_) = await eventually(pairs, within=30)
        assert (shot["width"], shot["height"]) == (1280, 720)
        assert shot["faces"] is None  # no face check on a screen (rule H6 is for cameras)
        stored = (rtc_settings.data_dir / "snapshots" / shot["path"]).read_bytes()
        assert stored[:3] == b"\xff\xd8\xff"

        # rule J1: the share stops: the screen is lost, answering blocked
        screen.stop()
        await eventually(lambda: screen_is(rtc_server, attempt.id, Camera.LOST), within=30)
        session = await session_of(rtc_server, attempt.id)
        assert session is not None and session.rules.require_screen
        assert session.screen is Camera.LOST
    finally:
        await pc.close()


async def test_a_page_that_only_says_it_shares_has_no_screen(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    # hostile client (rule H9 for J1): no second video, and "live" on the channel
    attempt = await open_attempt(pool, rtc_settings)
    pc, control = await connect(client, attempt, None)
    try:
        await eventually(lambda: screen_is(rtc_server, attempt.id, Camera.LOST), within=30)
        await eventually(lambda: _ready(control))
        control.send(json.dumps({"type": "screen", "state": "live"}))  # type: ignore[attr-defined]
        await eventually(lambda: _async(rtc_server.rtc.camera_state(attempt.id) == "live"))
        session = await session_of(rtc_server, attempt.id)
        assert session is not None and session.screen is Camera.LOST
    finally:
        await pc.close()


async def test_a_window_or_tab_share_blocks_like_a_stopped_one(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    # rule J1: the page found displaySurface != "monitor": its word lowers the state
    attempt = await open_attempt(pool, rtc_settings)
    pc, control = await connect(client, attempt, FakeScreen())
    try:
        await eventually(lambda: screen_is(rtc_server, attempt.id, Camera.LIVE), within=30)
        control.send(json.dumps({"type": "screen", "state": "not_monitor"}))  # type: ignore[attr-defined]
        await eventually(lambda: screen_is(rtc_server, attempt.id, Camera.LOST), within=30)
    finally:
        await pc.close()


async def _ready(channel: object) -> bool:
    return getattr(channel, "readyState", None) == "open"


async def _async(value: bool) -> bool:
    return value
