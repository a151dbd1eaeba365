"""Real Chromium: two-way contact (rule L1). The candidate's PC exam page
calls the invigilator; on the invigilator's wall the tile lights up, a sound
plays and the tile sorts first; the invigilator answers from the detail panel
with a preset text; the candidate sees it on the PC page and on the phone
page (which was not open yet: it gets it on connecting); the phone's text
reaches the open panel live; a room message reaches the candidate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from playwright.async_api import Page, async_playwright, expect

from exam_api.assignments import assign
from proctor.settings import Settings
from tests.support.browser import launch_chromium
from tests.support.hub_client import DeviceClient
from tests.support.invigilation import close_attempts_after, latest_attempt_id, running_attempt
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser

WAIT_MS = 30_000


@pytest.fixture(autouse=True)
async def _no_running_attempt_left(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """The attempts of each test end with it (they hold unanswered calls,
    which sort first on every administrator's wall)."""
    before = await latest_attempt_id(pool)
    yield
    await close_attempts_after(pool, before)


async def _signed_in(browser_ctx: object, server: LiveServer, cookies: dict[str, str]) -> None:
    await browser_ctx.add_cookies(  # type: ignore[attr-defined]
        [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
    )


def _first_tile(page: Page) -> object:
    return page.locator("[data-testid^='tile-'][data-attempt]").first


async def test_the_candidate_calls_and_the_invigilator_answers(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    invigilator = await create_user(pool, "invigilator")
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)
    # a riskier neighbour: without the call it would come first (rule H4)
    neighbour = await running_attempt(pool, settings, papers.mock_id, "邻座考生")
    risky = await DeviceClient.connect(server.ws_url, "pc", neighbour.pc_token)
    for _ in range(2):
        assert (await risky.call("click_outside"))["type"] == "ack"
    candidate_login = await login_cookies(pool, user.id)
    staff_login = await login_cookies(pool, invigilator.id)
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                pc_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
                await _signed_in(pc_ctx, server, candidate_login.cookies)
                pc = await pc_ctx.new_page()
                await pc.goto(f"{server.url}/static/class-papers.html")
                await pc.get_by_test_id("paper-start-mock").click()
                await pc.get_by_test_id("paper-agree-mock").check()
                await pc.get_by_test_id("paper-confirm-mock").click()
                await pc.wait_for_url("**/static/exam.html?attempt=*")
                attempt_id = int(pc.url.rsplit("=", 1)[1])
                await expect(pc.get_by_test_id("check-hub")).to_have_attribute(
                    "data-state", "ok", timeout=WAIT_MS
                )
                contact = pc.get_by_test_id("contact")
                await expect(contact).to_contain_text("与监考员联系")

                staff_ctx = await browser.new_context(viewport={"width": 1400, "height": 900})
                await _signed_in(staff_ctx, server, staff_login.cookies)
                wall = await staff_ctx.new_page()
                await wall.goto(f"{server.url}/static/invigilator.html")
                tile = wall.get_by_test_id(f"tile-{attempt_id}")
                await expect(tile).to_be_visible(timeout=WAIT_MS)
                first = _first_tile(wall)
                await expect(first).to_have_attribute("data-attempt", str(neighbour.attempt_id))

                # the call: the hand is up on the PC page, the tile lit and first, a sound
                await pc.get_by_test_id("contact-call").click()
                await expect(pc.get_by_test_id("contact-hand")).to_be_visible()
                await expect(tile).to_have_attribute("data-hand", "true", timeout=WAIT_MS)
                await expect(tile.get_by_test_id("tile-contact")).to_have_text("🙋 呼叫监考员")
                await expect(first).to_have_attribute("data-attempt", str(attempt_id))
                await expect(wall.locator("body")).to_have_attribute("data-hand-sounds", "1")
                # no violation for using the panel (it is part of the exam page)
                await expect(pc.get_by_test_id("violation-count")).to_be_hidden()

                # the invigilator answers with a preset text
                await tile.click()
                conversation = wall.get_by_test_id("conversation")
                await expect(conversation).to_contain_text("考生呼叫监考员")
                await wall.get_by_test_id("reply-preset").select_option(index=4)
                await expect(wall.get_by_test_id("reply-text")).to_have_value(
                    "已收到，请稍候，监考员正在处理。"
                )
                await wall.get_by_test_id("reply-send").click()
                await expect(wall.get_by_test_id("contact-status")).to_have_text("消息已发送给考生")
                answer = pc.locator("[data-testid='contact-message'][data-from='invigilator']")
                await expect(answer).to_have_text("监考员：已收到，请稍候，监考员正在处理。")
                await expect(pc.get_by_test_id("contact-hand")).to_be_hidden()
                await expect(contact).to_have_attribute("data-unread", "true")
                await expect(tile).not_to_have_attribute("data-hand", "true", timeout=WAIT_MS)
                await expect(first).to_have_attribute("data-attempt", str(neighbour.attempt_id))

                # the phone opens later: it gets the conversation when it connects
                url = (await pc.get_by_test_id("phone-url").text_content()) or ""
                phone_ctx = await browser.new_context(**pw.devices["Pixel 5"])
                phone = await phone_ctx.new_page()
                await phone.goto(url)
                await phone.get_by_test_id("phone-bind-ok").click()
                await phone.get_by_test_id("phone-notice-ok").click()
                messages = phone.get_by_test_id("contact-message")
                await expect(messages).to_have_count(2, timeout=WAIT_MS)
                await expect(messages.nth(1)).to_have_text(
                    "监考员：已收到，请稍候，监考员正在处理。"
                )
                # the phone writes; the open panel shows it at once (the watch socket)
                await phone.get_by_test_id("contact-input").fill("手机电量不足，可以接充电器吗？")
                await phone.get_by_test_id("contact-send").click()
                await expect(conversation).to_contain_text(
                    "考生（手机）：手机电量不足，可以接充电器吗？"
                )
                await expect(pc.get_by_test_id("contact-messages")).to_contain_text(
                    "我：手机电量不足，可以接充电器吗？"
                )

                # a message to the whole room, from the wall's bar
                await wall.get_by_test_id("detail-close").click()
                await wall.get_by_test_id("room-text").fill("距离考试结束还有10分钟，请及时交卷。")
                await wall.get_by_test_id("room-send").click()
                await expect(wall.get_by_test_id("room-status")).to_have_text("已发送给 2 名考生")
                await expect(pc.get_by_test_id("contact-messages")).to_contain_text(
                    "监考员（全考场）：距离考试结束还有10分钟，请及时交卷。"
                )
                room_note = await risky.wait_for("message", scope="room")
                assert room_note["text"] == "距离考试结束还有10分钟，请及时交卷。"

                # each message stored once: call, answer, the phone's text, the room's
                async with pool.acquire() as conn:
                    stored = await conn.fetchval(
                        "SELECT count(*) FROM contact_messages WHERE attempt_id = $1", attempt_id
                    )
                assert stored == 4
                # every message on the attempt's timeline
                timeline = await staff_ctx.new_page()
                await timeline.goto(
                    f"{server.url}/static/attempt-timeline.html?attempt={attempt_id}"
                )
                await expect(timeline.get_by_test_id("tl-message-1")).to_contain_text(
                    "考生呼叫监考员（电脑）"
                )
                await expect(timeline.get_by_test_id("tl-message-3")).to_contain_text(
                    "考生消息（手机）：手机电量不足，可以接充电器吗？"
                )
                await expect(timeline.get_by_test_id("tl-message-4")).to_contain_text(
                    "监考员消息（全考场）：距离考试结束还有10分钟"
                )
            finally:
                await browser.close()
    finally:
        await risky.close()


async def test_the_administrator_edits_the_preset_texts(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule L1: up to 20 preset texts, kept by administrators on the admin page
    admin = await create_user(pool, "admin")
    login = await login_cookies(pool, admin.id)
    async with pool.acquire() as conn:
        before = [
            r["body"]
            for r in await conn.fetch("SELECT body FROM contact_presets ORDER BY position")
        ]
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                ctx = await browser.new_context()
                await _signed_in(ctx, server, login.cookies)
                page = await ctx.new_page()
                await page.goto(f"{server.url}/static/admin.html")
                text = page.get_by_test_id("presets-text")
                await expect(text).to_have_value("\n".join(before))
                await text.fill("请坐正\n\n  请把手机放在侧后方  \n")
                await page.get_by_test_id("presets-save").click()
                await expect(page.get_by_test_id("presets-status")).to_have_text(
                    "已保存 2 条常用语"
                )
                await expect(text).to_have_value("请坐正\n请把手机放在侧后方")
                await text.fill("\n".join(f"第{i}条" for i in range(21)))
                await page.get_by_test_id("presets-save").click()
                await expect(page.get_by_test_id("presets-status")).to_have_text(
                    "常用语最多 20 条（现有 21 条）"
                )
            finally:
                await browser.close()
        async with pool.acquire() as conn:
            saved = await conn.fetch(
                "SELECT body, updated_by FROM contact_presets ORDER BY position"
            )
        assert [(r["body"], r["updated_by"]) for r in saved] == [
            ("请坐正", admin.id),
            ("请把手机放在侧后方", admin.id),
        ]
    finally:
        async with pool.acquire() as conn:  # the seeded texts back for the other tests
            await conn.execute("DELETE FROM contact_presets")
            await conn.executemany(
                "INSERT INTO contact_presets (position, body, updated_at) VALUES ($1, $2, now())",
                list(enumerate(before, start=1)),
            )
