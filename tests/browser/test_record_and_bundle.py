"""Real Chromium (rules H7, M4): the reviewer's timeline shows "记录已校验",
downloads the evidence bundle, and shows the broken link once a row is
edited in the database; the administrator registers a webhook and exports a
class's results from the admin page."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.audit import sat_attempt
from tests.support.browser import launch_chromium
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser


async def test_the_reviewer_sees_the_record_verified_downloads_the_bundle_then_sees_a_break(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices, tmp_path: Path
) -> None:
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(accept_downloads=True)
            login = await login_cookies(pool, sat["reviewer"].id)
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx.new_page()
            await page.goto(f"{server.url}/static/attempt-timeline.html?attempt={aid}")
            chain = page.get_by_test_id("timeline-chain")
            await expect(chain).to_contain_text("记录已校验")
            await expect(chain).to_have_class("chain ok")
            async with page.expect_download() as downloading:
                await page.get_by_test_id("timeline-bundle").click()
            download = await downloading.value
            assert download.suggested_filename == f"attempt-{aid}-evidence.zip"
            saved = tmp_path / "bundle.zip"
            await download.save_as(saved)
            with zipfile.ZipFile(saved) as zf:
                assert json.loads(zf.read("verification.json"))["ok"] is True
                assert json.loads(zf.read("timeline.json"))["attempt"]["attempt_id"] == aid
            async with pool.acquire() as conn:  # someone with the database's password
                await conn.execute("UPDATE attempts SET score = 99 WHERE id = $1", aid)
            await page.reload()
            await expect(chain).to_contain_text("记录校验失败")
            await expect(chain).to_contain_text("attempt")
            await expect(chain).to_have_class("chain broken")
        finally:
            await browser.close()


async def test_the_administrator_registers_a_webhook_and_exports_results(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    sat = await sat_attempt(server, pool, devices)
    admin = await create_user(pool, "admin")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(accept_downloads=True)
            login = await login_cookies(pool, admin.id)
            await ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await ctx.new_page()
            await page.goto(f"{server.url}/static/admin.html")
            await page.get_by_test_id("webhook-url").fill("https://receiver.example.org/hook")
            await page.get_by_test_id("webhook-create").click()
            await expect(page.get_by_test_id("admin-message")).to_contain_text("签名密钥")
            row = page.get_by_test_id("webhook-list").locator("tr", has_text="receiver.example.org")
            await expect(row).to_contain_text("考试结束、成绩发布、审核结论")
            await row.get_by_role("button", name="停用").click()
            await expect(row).to_contain_text("已停用")
            await page.get_by_test_id("export-class").select_option(str(sat["class_id"]))
            await page.get_by_test_id("export-paper").select_option(str(sat["paper_id"]))
            async with page.expect_download() as downloading:
                await page.get_by_test_id("export-csv").click()
            download = await downloading.value
            text = Path(await download.path()).read_bytes().decode("utf-8-sig")
            [header, line] = list(csv.reader(io.StringIO(text)))
            assert header[0] == "考试记录编号" and line[0] == str(sat["attempt_id"])
        finally:
            await browser.close()
