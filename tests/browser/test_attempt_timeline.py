"""Real Chromium: from result review the reviewer opens an attempt's evidence
timeline and sees its violation with the snapshots of both cameras around
it, face flags as flags, and the end (rules F2, H3, H5, H6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import launch_chromium
from tests.support.devices import live_pair
from tests.support.faces import jpeg_of, picture_with_faces
from tests.support.live import LiveServer
from tests.support.papers import CORRECT, candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser


async def _stored_snapshot(
    server: LiveServer, pool: asyncpg.Pool, attempt_id: int, device: str, faces: int
) -> int:
    """A real JPEG in the evidence store, linked to the attempt's first
    violation by its index, as the ingest links a violation's capture (H10)."""
    store = server.rtc.store
    blob = store.put(jpeg_of(picture_with_faces(faces)))
    async with pool.acquire() as conn:
        snapshot_id: int = await conn.fetchval(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path,
                   width, height, faces, violation_idx)
               VALUES ($1, $2, 'violation', $3, $4, $5, 640, 480, $6, 1) RETURNING id""",
            attempt_id,
            device,
            datetime.now(UTC),
            blob.sha256,
            blob.path,
            faces,
        )
    return snapshot_id


async def test_reviewer_opens_the_timeline_from_result_review(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    candidate = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [candidate.id])
    async with await client_for(server.url, pool, candidate.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        await http.post(f"/api/attempts/{mock['attempt_id']}/submit")
        formal = (await http.post("/api/attempts", json={"paper_id": papers.formal_id})).json()
        attempt_id = formal["attempt_id"]
        # both cameras live as measured (H9): the PC's video, the phone's photo
        pc, phone, camera = await live_pair(
            server.ws_url, formal["pc_token"], formal["phone_token"]
        )
        try:
            await pc.call("focus", state="lost", cause="visibility")
            pc_shot = await _stored_snapshot(server, pool, attempt_id, "pc", 0)
            phone_shot = await _stored_snapshot(server, pool, attempt_id, "phone", 1)
            await pc.call("focus", state="back")
            for qid, answer in list(zip(papers.question_ids, CORRECT, strict=True))[:3]:
                await http.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"answer": answer})
            end = (await http.post(f"/api/attempts/{attempt_id}/submit")).json()
        finally:
            await camera.close()
            await pc.close()
            await phone.close()
    assert end["outcome"] == "under_review"
    reviewer = await create_user(pool, "reviewer")

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context()
            login = await login_cookies(pool, reviewer.id)
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx.new_page()
            await page.goto(f"{server.url}/static/result-review.html")
            async with ctx.expect_page() as opened:
                await page.get_by_test_id(f"timeline-link-{attempt_id}").click()
            timeline = await opened.value
            violation = timeline.get_by_test_id("timeline-violations").get_by_test_id(
                "tl-violation-1"
            )
            await expect(violation).to_contain_text("第 1 次违规：切换页面或窗口")
            for shot, text in ((pc_shot, "电脑 · 未检测到人脸"), (phone_shot, "手机 · 一张人脸")):
                figure = violation.get_by_test_id(f"tl-snapshot-{shot}")
                await expect(figure).to_contain_text(text)
                # the thumbnail really loads through the authorized evidence endpoint
                loaded = await figure.locator("img").evaluate(
                    "img => img.decode().then(() => img.naturalWidth)"
                )
                assert loaded == 640
            await expect(timeline.get_by_test_id("tl-end")).to_contain_text("考试结束：考生交卷")
            await expect(timeline.get_by_test_id("timeline-违规")).to_contain_text("1 次")
            marks = timeline.get_by_test_id("timeline-axis").locator(".mark.violation")
            await expect(marks).to_have_count(1)
        finally:
            await browser.close()


async def test_the_time_axis_is_labelled_with_clock_times_and_minutes(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # issue #14 (rule H5): a known attempt of 50 minutes, 10:00 to 10:50 Beijing
    # time, gets a tick every 10 minutes labelled with the clock and the minute
    candidate = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [candidate.id])
    beijing = timezone(timedelta(hours=8))
    started = datetime(2026, 3, 2, 10, 0, tzinfo=beijing)
    async with pool.acquire() as conn:
        attempt_id = await conn.fetchval(
            """INSERT INTO attempts (user_id, paper_id, status, started_at, deadline_at, ended_at,
                                     end_reason, score, outcome)
               VALUES ($1, $2, 'ended', $3, $4, $4, 'submitted', 80, 'under_review')
               RETURNING id""",
            candidate.id,
            papers.formal_id,
            started,
            started + timedelta(minutes=50),
        )
    reviewer = await create_user(pool, "reviewer")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context()
            login = await login_cookies(pool, reviewer.id)
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx.new_page()
            await page.goto(f"{server.url}/static/attempt-timeline.html?attempt={attempt_id}")
            axis = page.get_by_test_id("timeline-axis")
            ticks = axis.locator(".tick")
            await expect(ticks).to_have_count(6)
            for i, minute in enumerate(range(0, 51, 10)):
                tick = axis.get_by_test_id(f"tl-tick-{i}")
                await expect(tick.locator(".tick-clock")).to_have_text(f"10:{minute:02d}")
                await expect(tick.locator(".tick-minute")).to_have_text(f"{minute} 分钟")
            # the labels are placed in order along the axis, the last at its right end
            box = await axis.bounding_box()
            first = await axis.get_by_test_id("tl-tick-0").bounding_box()
            last = await axis.get_by_test_id("tl-tick-5").bounding_box()
            assert box and first and last
            assert abs(first["x"] - box["x"]) <= 2
            assert abs(last["x"] - (box["x"] + box["width"])) <= 3
        finally:
            await browser.close()
