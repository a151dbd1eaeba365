"""Real Chromium: the reviewer plays an attempt's recording on its timeline —
a click on a violation puts the PC camera's and the screen's recordings side
by side at that second (rule K1). The recording is real: both devices live
as measured, the PC's camera and screen over WebRTC to the live server,
frames copied undecoded into WebM segments, served with HTTP Range."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import launch_chromium
from tests.support.devices import live_pair
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually

pytestmark = pytest.mark.browser


async def segment_tracks(pool: asyncpg.Pool, attempt_id: int) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT track FROM recording_segments WHERE attempt_id = $1", attempt_id
        )
    found = {r["track"] for r in rows}
    return found if found == {"camera", "screen"} else set()


async def test_a_violation_plays_the_recording_at_its_second(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    candidate = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [candidate.id])
    async with await client_for(server.url, pool, candidate.id) as http:
        started = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
    attempt_id = started["attempt_id"]
    pc, phone, camera = await live_pair(server.ws_url, started["pc_token"], started["phone_token"])
    try:
        peer = server.rtc.peers[attempt_id]

        async def frames(count: int) -> bool:
            return peer.tap is not None and peer.tap.frames_seen >= count

        await eventually(lambda: frames(30), within=30)
        await pc.call("focus", state="lost", cause="visibility")  # violation 1 (rule E3)
        seen = peer.tap.frames_seen if peer.tap else 0
        await eventually(lambda: frames(seen + 30), within=30)
        await pc.call("focus", state="back")
    finally:
        await camera.close()  # the peer goes: its segments close and are stored
        await pc.close()
        await phone.close()
    await eventually(lambda: segment_tracks(pool, attempt_id), within=30)

    reviewer = await create_user(pool, "reviewer")
    login = await login_cookies(pool, reviewer.id)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx.new_page()
            await page.goto(f"{server.url}/static/attempt-timeline.html?attempt={attempt_id}")
            violations = page.get_by_test_id("timeline-violations")
            await expect(violations.get_by_test_id("tl-violation-1")).to_be_visible()
            await expect(page.get_by_test_id("rec-camera")).to_be_visible()
            await violations.get_by_test_id("tl-play-1").click()
            for track in ("camera", "screen"):
                video = page.get_by_test_id(f"rec-{track}")
                await expect(video).to_have_attribute("src", re.compile(r"^/api/recordings/\d+$"))
                # the segment that holds the violation's second, at that second
                offset = float(await video.get_attribute("data-offset") or "-1")
                assert offset > 0
                # the note says which segment and second, in Chinese (the catalogue's text)
                note = page.get_by_test_id(f"rec-{track}-note")
                pattern = r"^\d\d:\d\d:\d\d–\d\d:\d\d:\d\d 段，第 (\d+\.\d) 秒$"
                await expect(note).to_have_text(re.compile(pattern))
                # the same second to its tenth: data-offset holds it to 0.01, so
                # the two roundings may differ by one tenth (0.95 → "0.9" / "1.0")
                said = re.match(pattern, await note.inner_text())
                assert said is not None and abs(float(said.group(1)) - offset) <= 0.06, said
                await page.wait_for_function(
                    """([id, offset]) => {
                        const v = document.querySelector(`[data-testid="${id}"]`);
                        return v.readyState >= 1 && Math.abs(v.currentTime - offset) < 0.5;
                    }""",
                    arg=[f"rec-{track}", offset],
                    timeout=30_000,
                )
                # Chromium decoded the undecoded-recorded file: it has a picture
                size = await page.evaluate(
                    """(id) => { const v = document.querySelector(`[data-testid="${id}"]`);
                                 return [v.videoWidth, v.videoHeight]; }""",
                    f"rec-{track}",
                )
                assert size == ([640, 480] if track == "camera" else [1280, 720])
        finally:
            await browser.close()
