"""Real Chromium: a reviewer decides a formal attempt scoring >= 60 (rule F2);
the candidate's exam records show the decision (rule F1)."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import launch_chromium
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import CORRECT, candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser


async def test_reviewer_passes_an_attempt_under_review(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    candidate = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [candidate.id])
    async with await client_for(server.url, pool, candidate.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        await http.post(f"/api/attempts/{mock['attempt_id']}/submit")
        formal = (await http.post("/api/attempts", json={"paper_id": papers.formal_id})).json()
        await devices.live(server.ws_url, formal)  # rule D1: answering needs both cameras
        attempt_id = formal["attempt_id"]
        for qid, answer in list(zip(papers.question_ids, CORRECT, strict=True))[:3]:
            await http.put(f"/api/attempts/{attempt_id}/answers/{qid}", json={"answer": answer})
        end = (await http.post(f"/api/attempts/{attempt_id}/submit")).json()
    assert (end["score"], end["outcome"]) == (90.0, "under_review")
    reviewer = await create_user(pool, "reviewer", real_name="审核员乙")

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
            row = page.get_by_test_id(f"queue-{attempt_id}")
            await expect(row).to_contain_text("90")
            await page.get_by_test_id(f"review-fail-{attempt_id}").click()
            await expect(page.get_by_test_id("review-error")).to_have_text(
                "判定不合格时必须填写原因"
            )
            await page.get_by_test_id(f"review-reason-{attempt_id}").fill("抓拍与违规记录均正常")
            await page.get_by_test_id(f"review-pass-{attempt_id}").click()
            await expect(row).to_have_count(0)
            await expect(page.get_by_test_id("result-decided")).to_contain_text(
                "抓拍与违规记录均正常"
            )

            ctx2 = await browser.new_context()
            login = await login_cookies(pool, candidate.id)
            await ctx2.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx2.new_page()
            await page.goto(f"{server.url}/static/records.html")
            record = page.get_by_test_id(f"record-{attempt_id}")
            await expect(record).to_have_attribute("data-outcome", "passed")
            await expect(record.get_by_test_id("record-outcome")).to_contain_text("合格")
            await expect(record.get_by_test_id("record-score")).to_have_text("90")
        finally:
            await browser.close()
