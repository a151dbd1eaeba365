"""The administrator enrols approved candidates in no class yet, many at
once, from the admin page (issue #14), in the real Chromium."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from exam_api.classes import create_class
from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request
from tests.support.users import create_user, unique

pytestmark = pytest.mark.browser


async def test_approved_candidates_are_enrolled_from_the_list(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    tag = unique("待分")
    people = [await candidate_with_request(pool) for _ in range(2)]
    async with pool.acquire() as conn:
        for i, user in enumerate(people):
            await conn.execute(
                "UPDATE users SET real_name = $2 WHERE id = $1", user.id, f"{tag}{i}"
            )
        await create_class(conn, f"班级{tag}")
    admin = await create_user(pool, "admin")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await signed_in_context(browser, server, pool, admin.id)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/admin.html")
            await page.get_by_test_id("unplaced-search").fill(tag)
            await page.get_by_test_id("unplaced-search-form").get_by_role("button").click()
            rows = page.locator("[data-testid^=unplaced-row-]")
            await expect(rows).to_have_count(2)
            await page.get_by_test_id("unplaced-enrol").click()
            await expect(page.get_by_test_id("unplaced-error")).to_have_text("请先选择要加入的班级")
            await page.get_by_test_id("unplaced-class").select_option(label=f"班级{tag}")
            await page.get_by_test_id("unplaced-all").check()
            await page.get_by_test_id("unplaced-enrol").click()
            await expect(page.get_by_test_id("unplaced-status")).to_have_text(
                f"已将 2 名考生加入班级“班级{tag}”"
            )
            await expect(rows).to_have_count(0)
        finally:
            await browser.close()
