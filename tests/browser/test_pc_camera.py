"""The PC camera in the real Chromium (fake camera showing a face) → aiortc
hub: random and violation dual snapshots on disk and in PostgreSQL with the
phone's photo beside them; camera loss noticed (rules D1, E1, E2, G2, H2, H6).

The phone is simulated: it connects its websocket and answers every capture
request of the hub with a JPEG (the binary photo frame), as the phone client
does. A violation is counted by the session (the production path), whose
commit orders the dual snapshot (rule H10).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from playwright.async_api import async_playwright, expect
from redis.asyncio import Redis

from exam_api.demo import demo_paper_id, seed_demo
from hub.tokens import sign_device_token
from proctor.settings import Settings
from tests.support.browser import launch_chromium, write_y4m
from tests.support.devices import send_photo
from tests.support.faces import jpeg_of, picture_with_faces
from tests.support.hub_client import DeviceClient
from tests.support.live import LiveServer
from tests.support.recorded import recorded
from tests.support.users import login_cookies
from tests.support.waits import eventually
from webrtc.ingest import PeerRegistry

pytestmark = pytest.mark.browser


def face_video(path: Path) -> Path:
    """A y4m of a face that moves a little (RGB frames for write_y4m)."""
    frames = []
    for i in range(30):
        bgr = np.roll(picture_with_faces(1), (i % 10) - 5, axis=1)
        frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    return write_y4m(path, frames)


async def simulated_phone(ws_url: str, token: str, uploads: list[int]) -> None:
    """Answer every capture request of the attempt with a photo (two people: H6)."""
    photo = jpeg_of(picture_with_faces(2))
    phone = await DeviceClient.connect(ws_url, "phone", token)
    try:
        while True:
            capture = await phone.wait_for_forever("capture")
            reply = await send_photo(phone, capture["request_id"], photo)
            assert reply["type"] == "ack", reply
            uploads.append(capture["request_id"])
    finally:
        await phone.close()


async def pairs(pool: asyncpg.Pool, attempt_id: int, reason: str) -> list[list[asyncpg.Record]]:
    """Captures of ``reason`` with both the PC frame and the phone photo stored."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM snapshots WHERE attempt_id = $1 AND reason = $2
                 AND capture_id IS NOT NULL ORDER BY id""",
            attempt_id,
            reason,
        )
    by_capture: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_capture.setdefault(row["capture_id"], []).append(row)
    return [
        sorted(group, key=lambda r: r["device"])
        for group in by_capture.values()
        if {r["device"] for r in group} == {"pc", "phone"}
        and all(r["faces"] is not None for r in group)
    ]


async def test_chromium_camera_gives_random_and_violation_dual_snapshots(
    rtc_server: LiveServer,
    rtc_settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
    tmp_path: Path,
) -> None:
    async with pool.acquire() as conn:
        await seed_demo(conn)
        paper_id = await demo_paper_id(conn, "mock")
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = 'demo_candidate'")
    login = await login_cookies(pool, user_id)
    registry: PeerRegistry = rtc_server.rtc
    video = face_video(tmp_path / "face.y4m")
    uploads: list[str] = []
    phone: asyncio.Task[None] | None = None

    async with async_playwright() as pw:
        browser = await launch_chromium(pw, fake_video=video)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            await context.add_cookies(
                [{"name": k, "value": v, "url": rtc_server.url} for k, v in login.cookies.items()]
            )
            page = await context.new_page()
            await page.goto(f"{rtc_server.url}/static/pc.html?paper={paper_id}")
            await page.get_by_test_id("start").click()
            await expect(page.get_by_test_id("camera-status")).to_have_text(
                "摄像头已开启", timeout=20_000
            )
            attempt_id = int(
                await page.get_by_test_id("attempt").get_attribute("data-attempt-id") or 0
            )
            # rule E1: the live camera view sits in the top-right corner
            preview = page.get_by_test_id("camera-preview")
            await expect(preview).to_be_visible()
            box = await preview.bounding_box()
            assert box is not None
            assert box["y"] < 100 and box["x"] + box["width"] > 1280 - 100

            phone_token = sign_device_token(
                rtc_settings.secret_key, attempt_id, "phone", time.time(), 600
            )
            phone = asyncio.create_task(simulated_phone(rtc_server.ws_url, phone_token, uploads))

            async def live() -> bool:
                return registry.camera_state(attempt_id) == "live"

            await eventually(live, within=20)

            # rule E2: random moments (gaps of seconds in this server), both cameras
            (random_pair, *_) = await eventually(
                lambda: pairs(pool, attempt_id, "random"), within=40
            )
            pc_row, phone_row = random_pair
            # the same moment: linked by capture id, taken within moments
            assert abs((pc_row["taken_at"] - phone_row["taken_at"]).total_seconds()) < 5
            assert (pc_row["width"], pc_row["height"]) == (640, 480)
            # rule H6: the fake camera shows one face, the phone photo two
            assert pc_row["faces"] == 1
            assert phone_row["faces"] == 2
            root = rtc_settings.data_dir / "snapshots"
            for row in random_pair:
                assert (root / row["path"]).read_bytes()[:3] == b"\xff\xd8\xff"

            # a violation takes a dual snapshot at once, linked to it by index (H10)
            now = time.time()
            await rtc_server.hub.event(attempt_id, lambda s: s.click_outside(now), now)
            violation_pairs = await eventually(
                lambda: pairs(pool, attempt_id, "violation"), within=20
            )
            assert {r["violation_idx"] for r in violation_pairs[0]} == {1}

            # a network drop: the hub loses the peer; the page offers again
            # with its client id and the camera comes back on a new peer
            first_peer = registry.peers[attempt_id]
            await first_peer.pc.close()

            async def reconnected() -> bool:
                peer = registry.peers.get(attempt_id)
                return peer is not None and peer is not first_peer and peer.liveness.state == "live"

            await eventually(reconnected, within=45)
            assert registry.peers[attempt_id].client_id == first_peer.client_id

            # rules D1/H2: the camera stops → the hub knows (no packets, then stalled)
            await page.evaluate(
                "document.querySelector('[data-testid=camera-preview]')"
                ".srcObject.getVideoTracks().forEach((t) => t.stop())"
            )

            async def lost() -> bool:
                return registry.camera_state(attempt_id) in ("stalled", "ended")

            await eventually(lost, within=15)

            async def camera_events() -> list[str]:
                # the record in PostgreSQL: the stream is trimmed once it is there
                entries = await recorded(pool, attempt_id)
                data = [e.data for e in entries if e.kind == "camera"]
                # the session's camera records of what the ingest measured (H9)
                states = [d["state"] for d in data if d.get("source") == "measured"]
                return states if states and states[-1] == "lost" else []

            states = await eventually(camera_events)
            assert "live" in states
        finally:
            if phone is not None:
                phone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await phone
            await browser.close()
    assert uploads  # the simulated phone answered capture requests
