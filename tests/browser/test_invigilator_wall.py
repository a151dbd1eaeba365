"""Real Chromium: the invigilator's wall shows a running session, its
violation count, and a warning reaches the candidate's PC socket (rules G5,
E3, H4)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from proctor.settings import Settings
from tests.support.browser import launch_chromium
from tests.support.devices import live_pair
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer, start_live_server
from tests.support.users import login_cookies
from tests.support.waits import eventually

pytestmark = pytest.mark.browser


async def test_invigilator_sees_a_violation_and_warns_the_candidate(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    room = await room_with_attempts(pool, settings, ["王小明", "李四"])
    attempt, calm = room.attempts
    devices = []
    peers = []
    for a in (calm, attempt):  # the calm one started first: it is older and staler
        a_pc, a_phone, peer = await live_pair(server.ws_url, a.pc_token, a.phone_token)
        devices += [a_pc, a_phone]
        peers.append(peer)
    pc = devices[2]
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                ctx = await browser.new_context()
                login = await login_cookies(pool, room.invigilator.id)
                await ctx.add_cookies(
                    [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
                )
                page = await ctx.new_page()
                await page.goto(f"{server.url}/static/invigilator.html")
                tile = page.get_by_test_id(f"tile-{attempt.attempt_id}")
                await expect(tile.get_by_test_id("tile-name")).to_have_text("王小明")
                await expect(tile.get_by_test_id("tile-violations")).to_have_text("违规 0/5")
                await expect(tile.get_by_test_id("tile-cam-pc")).to_contain_text("电脑 正常")
                # rules J1, J2: the screen share beside the two cameras
                await expect(tile.get_by_test_id("tile-cam-screen")).to_contain_text("屏幕 正常")
                # rule E3: one switch away (three browser signals) counts once
                for cause in ("visibility", "blur"):
                    await pc.call("focus", state="lost", cause=cause)
                await pc.call("focus", state="back")
                await expect(tile.get_by_test_id("tile-violations")).to_have_text("违规 1/5")
                # rule H4: the riskiest tile comes first, ahead of the staler calm one
                first = page.locator("[data-testid^='tile-'][data-attempt]").first
                await expect(first).to_have_attribute("data-attempt", str(attempt.attempt_id))

                await tile.click()
                await expect(page.get_by_test_id("detail-name")).to_have_text("王小明")
                await expect(page.get_by_test_id("detail-违规")).to_have_text("1/5")
                await expect(page.get_by_test_id("detail-屏幕")).to_have_text("屏幕共享正常")
                await expect(page.get_by_test_id("forgive-1")).to_be_visible()
                # the live still comes from the process holding the PC peer, or the
                # live video already replaced it (it may start before a still lands)
                await expect(page.get_by_test_id("detail-live-note")).to_contain_text(
                    re.compile("实时画面|实时视频")
                )
                await page.get_by_test_id("warn-text").fill("请勿切换页面，再次违规将记录在案")
                await page.get_by_test_id("warn-send").click()
                await expect(page.get_by_test_id("detail-msg")).to_have_text("警告已发送给考生")
                warning = await pc.wait_for("warning")
                assert warning["message"] == "请勿切换页面，再次违规将记录在案"
                await expect(tile).to_contain_text("已警告 1 次")
                # rule H4: the tile says the warning waits for the candidate's 我知道了
                open_warnings = tile.get_by_test_id("tile-warnings-open")
                await expect(open_warnings).to_have_text("（1 条未确认）")
                assert (await pc.call("warning_ack", id=warning["id"]))["type"] == "ack"
                await expect(open_warnings).to_have_count(0)
                # rule H3: forgiven with a reason, audited; the reason is not kept for the next
                await page.get_by_test_id("forgive-reason").fill("系统弹窗抢占焦点")
                await page.get_by_test_id("forgive-1").click()
                await expect(page.get_by_test_id("detail-违规")).to_have_text("0/5")
                await expect(page.get_by_test_id("forgive-reason")).to_have_value("")
                await expect(page.get_by_test_id("detail-ledger-empty")).to_be_hidden()
            finally:
                await browser.close()
    finally:
        for device in devices:
            await device.close()
        for peer in peers:
            await peer.close()


async def test_the_open_tile_plays_live_video_from_another_process(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rules L2, H8: the candidate's PC camera peer is on one process, the
    # invigilator's page on another; the tile plays the forwarded VP8 frames
    room = await room_with_attempts(pool, settings, ["赵六"])
    attempt = room.attempts[0]
    other = await start_live_server(settings)
    pc, phone, peer = await live_pair(other.ws_url, attempt.pc_token, attempt.phone_token)
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                ctx = await browser.new_context()
                login = await login_cookies(pool, room.invigilator.id)
                await ctx.add_cookies(
                    [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
                )
                page = await ctx.new_page()
                await page.goto(f"{server.url}/static/invigilator.html")
                await page.get_by_test_id(f"tile-{attempt.attempt_id}").click()
                video = page.get_by_test_id("detail-video")
                await expect(video).to_be_visible(timeout=30_000)
                await expect(page.get_by_test_id("detail-live-note")).to_have_text(
                    "电脑摄像头实时视频"
                )
                await expect(page.get_by_test_id("detail-live")).to_be_hidden()
                size = await video.evaluate("v => [v.videoWidth, v.videoHeight]")
                assert size == [640, 480]
                # the viewer's peer sits beside the candidate's, not on the page's process
                assert other.viewers.count(attempt.attempt_id) == 1
                assert server.viewers.count(attempt.attempt_id) == 0
                # closing the panel releases the lease, and the viewer's peer goes
                await page.get_by_test_id("detail-close").click()
                await expect(video).to_be_hidden()
                await eventually(_no_viewers(other, attempt.attempt_id))
            finally:
                await browser.close()
    finally:
        for closing in (pc, phone, peer):
            await closing.close()
        await other.stop()


def _no_viewers(live: LiveServer, attempt_id: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return live.viewers.count(attempt_id) == 0

    return probe
