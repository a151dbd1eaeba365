"""Every signed-in page says who is signed in and can sign out (issue #14:
review-status and records had no 退出), in the real Chromium."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request
from tests.support.users import create_user

pytestmark = pytest.mark.browser

PAGES = {
    "candidate": ["home", "class-papers", "records", "review-status"],
    "reviewer": ["reviewer", "result-review"],
    "admin": ["admin", "result-review"],
    "invigilator": ["invigilator"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
async def test_each_page_has_the_name_and_a_working_logout(
    server: LiveServer, pool: asyncpg.Pool, role: str
) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            for page_name in PAGES[role]:
                # a candidate with a request (a new one's home opens the wizard over the page)
                if role == "candidate":
                    user = await candidate_with_request(pool)
                    name = "测试考生"
                else:
                    name = f"页头{page_name}"
                    user = await create_user(pool, role, real_name=name)
                context = await signed_in_context(browser, server, pool, user.id)
                page = await context.new_page()
                await page.goto(f"{server.url}/static/{page_name}.html")
                await expect(page.get_by_test_id("user-name")).to_have_text(name)
                await page.get_by_test_id("logout").click()
                await page.wait_for_url("**/static/login.html")
                me = await page.request.get(f"{server.url}/api/auth/me")
                assert me.status == 401, page_name  # the session is gone on the server
                await context.close()
        finally:
            await browser.close()
