"""Real Chromium, issue #12 end to end: an administrator schedules a sitting
and its rooms, the candidate sits it inside the window, calls the
invigilator, the invigilator answers and grants 5 minutes, the candidate's
clock shows it, and the reviewer sees "记录已校验" and downloads the evidence
bundle (rules M1, L1, M2, H7, M4)."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from exam_api.sitting_rules import BEIJING
from tests.support.browser import launch_chromium
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.sittings import mock_done
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser

WAIT_MS = 30_000


async def signed_in(
    browser: Browser, server: LiveServer, pool: asyncpg.Pool, user_id: int, **options: object
) -> BrowserContext:
    ctx = await browser.new_context(**options)  # type: ignore[arg-type]
    login = await login_cookies(pool, user_id)
    await ctx.add_cookies(
        [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
    )
    return ctx


def minutes_left(text: str) -> int:
    """The exam page's clock ("57:12" or "1:03:12") in whole minutes."""
    parts = [int(p) for p in text.split(":")]
    return parts[0] * 60 + parts[1] if len(parts) == 3 else parts[0]


async def test_a_sitting_from_schedule_to_evidence_bundle(
    server: LiveServer, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    candidate = await candidate_with_request(pool)  # 测试考生
    papers = await class_with_papers(pool, [candidate.id], time_limit_s=3600)
    await mock_done(pool, papers, [candidate.id])  # rule C2
    admin = await create_user(pool, "admin")
    invigilator = await create_user(pool, "invigilator", real_name="监考员甲")
    reviewer = await create_user(pool, "reviewer", real_name="审核员甲")
    # the sitting began two minutes ago (Beijing time in the form)
    starts = (datetime.now(UTC) - timedelta(minutes=2)).astimezone(BEIJING)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # ----- the administrator: a sitting, its candidate, a room (rule M1)
            admin_ctx = await signed_in(browser, server, pool, admin.id)
            page = await admin_ctx.new_page()
            await page.goto(f"{server.url}/static/admin.html")
            await page.get_by_test_id("sitting-paper").select_option(str(papers.formal_id))
            await page.get_by_test_id("sitting-title").fill("第一场")
            await page.get_by_test_id("sitting-starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
            await page.get_by_test_id("sitting-capacity").fill("30")
            await page.get_by_test_id("sitting-create").click()
            await expect(page.get_by_test_id("sitting-message")).to_have_text("已创建场次“第一场”")
            await page.get_by_test_id("sitting-usernames").fill(candidate.username)
            await page.get_by_test_id("sitting-add-candidates").click()
            await expect(page.get_by_test_id("sitting-message")).to_contain_text("已加入 1 名考生")
            await expect(page.get_by_test_id("unplaced")).to_contain_text(candidate.username)
            await page.get_by_test_id("sitting-invigilators").fill(invigilator.username)
            await page.get_by_test_id("sitting-fill").click()
            await expect(page.get_by_test_id("room-name")).to_have_text("第1考场（1/30 人）")
            await expect(page.get_by_test_id("room-invigilator")).to_contain_text(
                invigilator.username
            )
            await expect(page.get_by_test_id("unplaced")).to_have_count(0)

            # ----- the candidate: the home page says when and where, then the paper
            pc_ctx = await signed_in(
                browser, server, pool, candidate.id, viewport={"width": 1280, "height": 900}
            )
            pc = await pc_ctx.new_page()
            await pc.goto(f"{server.url}/static/home.html")
            await expect(pc.get_by_test_id("my-sitting-room")).to_have_text("第1考场")
            await expect(pc.get_by_test_id("my-sitting-prepare")).to_contain_text("身份证件")
            await pc.goto(f"{server.url}/static/class-papers.html")
            await pc.get_by_test_id("paper-start-formal").click()
            await pc.get_by_test_id("paper-agree-formal").check()
            await pc.get_by_test_id("paper-confirm-formal").click()
            await pc.wait_for_url("**/static/exam.html?attempt=*")
            attempt_id = int(pc.url.rsplit("=", 1)[1])
            await expect(pc.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "ok", timeout=WAIT_MS
            )
            url = (await pc.get_by_test_id("phone-url").text_content()) or ""
            phone_ctx = await browser.new_context(**pw.devices["Pixel 5"])
            phone = await phone_ctx.new_page()
            await phone.goto(url)
            await phone.get_by_test_id("phone-bind-ok").click()
            await phone.get_by_test_id("phone-notice-ok").click()
            await phone.get_by_test_id("phone-start").click()
            await expect(phone.get_by_test_id("phone-camera-state")).to_have_attribute(
                "data-state", "live"
            )
            await expect(pc.get_by_test_id("exam-blocked")).to_be_hidden(timeout=WAIT_MS)
            await pc.get_by_test_id("q1-opt-a").check()
            await expect(pc.get_by_test_id("save-state")).to_have_text("答案已保存")
            timer = pc.get_by_test_id("exam-timer")
            await expect(timer).to_have_text(
                re.compile(r"^5\d:\d\d$")
            )  # the sitting's end, ~58 min
            before = minutes_left((await timer.text_content()) or "")

            # ----- the candidate calls; the invigilator's tile lights up (rule L1)
            inv_ctx = await signed_in(
                browser, server, pool, invigilator.id, viewport={"width": 1400, "height": 900}
            )
            inv = await inv_ctx.new_page()
            await inv.goto(f"{server.url}/static/invigilator.html")
            tile = inv.get_by_test_id(f"tile-{attempt_id}")
            await expect(tile).to_be_visible(timeout=WAIT_MS)
            await pc.get_by_test_id("contact-call").click()
            await expect(tile).to_have_attribute("data-hand", "true", timeout=WAIT_MS)
            await tile.click()
            await expect(inv.get_by_test_id("conversation")).to_contain_text("考生呼叫监考员")
            await inv.get_by_test_id("reply-text").fill("收到，马上为您补时")
            await inv.get_by_test_id("reply-send").click()
            answer = pc.locator("[data-testid='contact-message'][data-from='invigilator']")
            await expect(answer).to_have_text("监考员：收到，马上为您补时")
            await expect(tile).not_to_have_attribute("data-hand", "true", timeout=WAIT_MS)

            # ----- the invigilator: today's room, 5 minutes with a reason (rule M2)
            row = inv.locator(f"[data-testid='room-row'][data-user='{candidate.username}']")
            await expect(row.get_by_test_id("room-row-state")).to_have_text("考试中")
            await inv.get_by_test_id("extra-minutes").fill("5")
            await inv.get_by_test_id(f"extra-{attempt_id}").click()
            await expect(inv.get_by_test_id("rooms-msg")).to_have_text("请先填写原因")
            await inv.get_by_test_id("extra-reason").fill("考生电脑死机重启")
            await inv.get_by_test_id(f"extra-{attempt_id}").click()
            await expect(inv.get_by_test_id("rooms-msg")).to_contain_text("已补时 5 分钟")

            # ----- both devices show it at once; the clock runs to the new deadline
            await expect(pc.get_by_test_id("exam-extra-time")).to_have_text(
                "监考员为您延长了考试时间 5 分钟。"
            )
            await expect(phone.get_by_test_id("phone-error")).to_have_text(
                "监考员为您延长了考试时间 5 分钟。"
            )
            await expect(timer).to_have_text(re.compile(r"^(1:0\d|6\d):\d\d$"))
            after = minutes_left((await timer.text_content()) or "")
            assert before + 4 <= after <= before + 5

            # ----- the candidate submits; the reviewer's record verifies (H7, M4)
            await pc.get_by_test_id("exam-submit").click()
            await pc.get_by_test_id("exam-submit-confirm").click()
            await expect(pc.get_by_test_id("exam-score")).to_be_visible(timeout=WAIT_MS)
            rev_ctx = await signed_in(browser, server, pool, reviewer.id, accept_downloads=True)
            rev = await rev_ctx.new_page()
            await rev.goto(f"{server.url}/static/attempt-timeline.html?attempt={attempt_id}")
            chain = rev.get_by_test_id("timeline-chain")
            await expect(chain).to_contain_text("记录已校验")
            await expect(rev.get_by_test_id("tl-message-1")).to_contain_text("考生呼叫监考员")
            async with rev.expect_download() as downloading:
                await rev.get_by_test_id("timeline-bundle").click()
            saved = tmp_path / "bundle.zip"
            await (await downloading.value).save_as(saved)
            with zipfile.ZipFile(saved) as bundle:
                assert json.loads(bundle.read("verification.json"))["ok"] is True
                timeline = json.loads(bundle.read("timeline.json"))
            assert [m["text"] for m in timeline["messages"]][-1] == "收到，马上为您补时"
        finally:
            await browser.close()
    # rule M2: the grant is audited with who and why
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            """SELECT user_id, reason FROM invigilator_actions
                WHERE attempt_id = $1 AND action = 'extra_time'""",
            attempt_id,
        )
    assert (audit["user_id"], audit["reason"]) == (invigilator.id, "考生电脑死机重启")
