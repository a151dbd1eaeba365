"""The non-social path of the wizard in the real Chromium (rule B2): fewer than 32
hours stops the wizard with the hours done and missing; 32 hours continue with the
category fixed by the training record."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from exam_api.training import TrainingRecord, upsert
from tests.support.accounts import unique_id_card, unique_phone
from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.users import create_user

pytestmark = pytest.mark.browser


async def test_hours_short_then_complete(server: LiveServer, pool: asyncpg.Pool) -> None:
    id_card = unique_id_card()
    user = await create_user(pool, id_card=id_card, phone=unique_phone())
    async with pool.acquire() as conn:
        await upsert(conn, [TrainingRecord(id_card, "测试用户", "C1", Decimal("20"), None)])
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await signed_in_context(browser, server, pool, user.id)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/home.html")
            await page.get_by_test_id("wizard-type-non-social").check()
            await page.get_by_test_id("wizard-next").click()
            await expect(page.get_by_test_id("wizard-training-short")).to_be_visible()
            await expect(page.get_by_test_id("training-hours-done")).to_have_text("20")
            await expect(page.get_by_test_id("training-hours-missing")).to_have_text("12")
            await expect(page.get_by_test_id("wizard-step-materials")).to_have_count(0)

            async with pool.acquire() as conn:
                await upsert(conn, [TrainingRecord(id_card, "测试用户", "C1", Decimal("32"), None)])
            await page.get_by_test_id("wizard-next").click()
            await expect(page.get_by_test_id("wizard-category-fixed")).to_have_text(
                "机械类专职安全员（C1）"
            )
            await expect(page.get_by_test_id("wizard-file-proof")).to_have_count(0)
        finally:
            await browser.close()
