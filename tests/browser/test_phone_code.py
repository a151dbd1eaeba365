"""The phone bound by the short code typed at /p, in the real Chromium (issue #14, rule D3)."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.accounts import clear_rate_limits
from tests.support.browser import launch_chromium
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for

pytestmark = pytest.mark.browser


async def test_a_phone_that_cannot_scan_types_the_short_code(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    await clear_rate_limits(pool)
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        started = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
        attempt_id = started.json()["attempt_id"]
        link = (await http.get(f"/api/attempts/{attempt_id}/phone-link")).json()
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(**pw.devices["Pixel 5"])
            phone = await context.new_page()
            await phone.goto(link["short_url"])
            await expect(phone.get_by_test_id("phone-code-form")).to_be_visible()
            await phone.get_by_test_id("phone-code").fill("ZZZZ-ZZZZ")
            await phone.get_by_test_id("phone-code-submit").click()
            await expect(phone.get_by_test_id("phone-code-error")).to_contain_text("绑定码无效")
            await phone.get_by_test_id("phone-code").fill(link["code"].lower())
            await phone.get_by_test_id("phone-code-submit").click()
            await expect(phone.get_by_test_id("bind-name")).to_have_text("测**生")
            assert "token=" in phone.url  # a reload keeps the phone in
        finally:
            await browser.close()
