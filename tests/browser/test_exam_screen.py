"""The whole-screen share on the real exam page, in the real Chromium with
its fake camera and fake screen (``--auto-select-desktop-capture-source``,
tests/support/browser.py), against the live server (rules J1, J2).

The phone is simulated (its websocket answers every capture request with a
JPEG): the subject here is the PC's screen. The device check explains the
share in Chinese; the screen goes as the second video of the camera's peer
and is measured by the server; every dual snapshot keeps a screen frame; a
stopped share pauses answering, is on the timeline, and sharing again
resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import av
import pytest
from playwright.async_api import async_playwright, expect

from hub.tokens import sign_device_token
from tests.browser.test_exam_dual_camera import start_mock_exam
from tests.support.browser import launch_chromium
from tests.support.devices import phone_proves_camera, send_photo
from tests.support.hub_client import DeviceClient
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.users import login_cookies
from tests.support.waits import eventually

pytestmark = pytest.mark.browser

WAIT_MS = 30_000


async def simulated_phone(ws_url: str, token: str, uploads: list[int]) -> None:
    """The phone starts (its photo makes it live, rule H9), then answers
    every capture request with a photo."""
    phone = await DeviceClient.connect(ws_url, "phone", token)
    try:
        await phone_proves_camera(phone)
        while True:
            capture = await phone.wait_for_forever("capture")
            reply = await send_photo(phone, capture["request_id"])
            assert reply["type"] == "ack", reply
            uploads.append(capture["request_id"])
    finally:
        await phone.close()


async def screen_beside_pc(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    """Screen frames stored with the PC frame of the same capture (rule J2)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM snapshots WHERE attempt_id = $1 AND capture_id IS NOT NULL",
            attempt_id,
        )
    devices: dict[str, dict[str, asyncpg.Record]] = {}
    for row in rows:
        devices.setdefault(row["capture_id"], {})[row["device"]] = row
    return [d["screen"] for d in devices.values() if {"pc", "phone", "screen"} <= d.keys()]


async def recorded(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    """Stored recording segments of both tracks (rule K1)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM recording_segments WHERE attempt_id = $1 ORDER BY id", attempt_id
        )
    return rows if {r["track"] for r in rows} == {"camera", "screen"} else []


async def screen_records(pool: asyncpg.Pool, attempt_id: int) -> list[str]:
    """The screen's measured states on the attempt's record (the timeline's source)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT data->>'state' AS state FROM attempt_events
                WHERE attempt_id = $1 AND kind = 'screen'
                ORDER BY at""",
            attempt_id,
        )
    return [r["state"] for r in rows]


async def test_the_exam_page_shares_the_whole_screen(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    assert papers.mock_id
    login = await login_cookies(pool, user.id)
    uploads: list[int] = []
    phone: asyncio.Task[None] | None = None

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            _ctx, pc, attempt_id = await start_mock_exam(browser, server, login.cookies)
            # the device check explains how to share, in Chinese (rule J1)
            await expect(pc.get_by_test_id("prep-checklist")).to_contain_text("整个屏幕")
            token = sign_device_token(
                server.base.settings.secret_key, attempt_id, "phone", time.time(), 600
            )
            phone = asyncio.create_task(simulated_phone(server.ws_url, token, uploads))

            # the share reaches the server as the second video, measured there
            check = pc.get_by_test_id("check-screen")
            await expect(check).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
            blocked = pc.get_by_test_id("exam-blocked")
            await expect(blocked).to_be_hidden(timeout=WAIT_MS)
            await pc.get_by_test_id("q1-opt-a").check()
            await expect(pc.get_by_test_id("save-state")).to_have_text("答案已保存")

            # rule J2: a dual snapshot keeps the screen's frame beside the PC's and the phone's
            capture_id = server.rtc.snapshot_now(attempt_id, "random")
            assert capture_id is not None
            (shot, *_) = await eventually(lambda: screen_beside_pc(pool, attempt_id), within=30)
            assert (shot["width"], shot["height"]) == (1280, 720)

            # rule J1: the candidate stops sharing: answering pauses, the button is back
            await pc.evaluate(
                """() => {
                    const track = window.examDevices.screen.getVideoTracks()[0];
                    track.stop();
                    track.dispatchEvent(new Event('ended'));  // what "stop sharing" fires
                }"""
            )
            await expect(blocked).to_contain_text("屏幕共享已停止")
            await expect(pc.get_by_test_id("q2-opt-a")).to_be_disabled()
            await expect(check).to_have_attribute("data-state", "failed")
            # the server measured it: the answer API refuses too (rule H9 for J1)
            session_states = await eventually(
                lambda: _ends_with(screen_records(pool, attempt_id), "lost"), within=30
            )
            assert session_states[0] == "live"

            # sharing again (the page's button) resumes answering
            await pc.get_by_test_id("share-screen").click()
            await expect(check).to_have_attribute("data-state", "ok", timeout=WAIT_MS)
            await expect(blocked).to_be_hidden(timeout=WAIT_MS)
            await pc.get_by_test_id("q2-opt-a").check()
            await expect(pc.get_by_test_id("save-state")).to_have_text("答案已保存")

            # rule K1: the first connection's recording (closed when the page
            # connected again with its new share): Chromium's VP8 frames,
            # copied undecoded, play back frame for frame
            rows = await eventually(lambda: recorded(pool, attempt_id), within=30)
            for row in rows:
                path = server.base.settings.data_dir / row["path"]
                with av.open(str(path)) as container:
                    decoded = sum(1 for _ in container.decode(video=0))
                assert decoded == row["frames"] > 0, row["track"]
        finally:
            if phone is not None:
                phone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await phone
            await browser.close()
    assert uploads


async def test_a_window_share_is_refused_with_the_way_to_share(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule J1: a share that is not the whole screen is stopped and explained
    user = await candidate_with_request(pool)
    await class_with_papers(pool, [user.id], time_limit_s=1800)
    login = await login_cookies(pool, user.id)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            # the picker's answer is a window: the page sees displaySurface "window"
            await ctx.add_init_script(
                """(() => {
                    const real = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
                    navigator.mediaDevices.getDisplayMedia = async (options) => {
                        const stream = await real(options);
                        const track = stream.getVideoTracks()[0];
                        const settings = track.getSettings();
                        track.getSettings = () => ({ ...settings, displaySurface: 'window' });
                        return stream;
                    };
                })()"""
            )
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            pc = await ctx.new_page()
            await pc.goto(f"{server.url}/static/class-papers.html")
            await pc.get_by_test_id("paper-start-mock").click()
            await pc.get_by_test_id("paper-agree-mock").check()
            await pc.get_by_test_id("paper-confirm-mock").click()
            await pc.wait_for_url("**/static/exam.html?attempt=*")
            check = pc.get_by_test_id("check-screen")
            await expect(check).to_have_attribute("data-state", "failed", timeout=WAIT_MS)
            await expect(check).to_contain_text("不是整个屏幕")
            await expect(pc.get_by_test_id("share-screen")).to_be_visible()
            await expect(pc.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "ok", timeout=WAIT_MS
            )
            await expect(pc.get_by_test_id("exam-blocked")).to_contain_text("不是整个屏幕")
        finally:
            await browser.close()


async def _ends_with(states: object, last: str) -> list[str]:
    found: list[str] = await states  # type: ignore[misc]
    return found if found and found[-1] == last else []
