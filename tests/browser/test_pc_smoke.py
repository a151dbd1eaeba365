"""Real-browser smoke test of the skeleton thread: the demo candidate's PC page in
headless Chromium with a fake camera signs in, starts the mock attempt, opens
the hub websocket and sends its camera to aiortc; a JPEG lands on disk and in
PostgreSQL (rules E1, G1, G2)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import numpy as np
import pytest
from playwright.async_api import async_playwright, expect

from exam_api.demo import demo_paper_id, seed_demo
from tests.support.browser import CHROMIUM, launch_chromium, write_y4m
from tests.support.live import LiveServer
from tests.support.users import login_cookies
from tests.support.waits import eventually

pytestmark = pytest.mark.browser


async def test_pc_page_sends_camera_and_heartbeats(
    server: LiveServer, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await seed_demo(conn)
        paper_id = await demo_paper_id(conn, "mock")
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = 'demo_candidate'")
    login = await login_cookies(pool, user_id)
    frames = []
    for i in range(30):
        img = np.full((480, 640, 3), 60, dtype=np.uint8)
        img[:, (i * 16) % 600 : (i * 16) % 600 + 40] = (230, 200, 30)
        frames.append(img)
    video = write_y4m(tmp_path / "camera.y4m", frames)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw, fake_video=video)
        try:
            # Rule A1's captcha + SMS login has its own browser test: a session made in the DB.
            context = await browser.new_context()
            await context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await context.new_page()
            await page.goto(f"{server.url}/static/pc.html?paper={paper_id}")
            await page.get_by_test_id("start").click()
            await expect(page.get_by_test_id("status")).to_have_text(
                "已连接监考服务", timeout=15_000
            )
            await expect(page.get_by_test_id("camera-status")).to_have_text(
                "摄像头已开启", timeout=20_000
            )
            await expect(page.get_by_test_id("camera-preview")).to_be_visible()
            attempt_id = int(
                await page.get_by_test_id("attempt").get_attribute("data-attempt-id") or 0
            )
            assert attempt_id > 0

            async def pc_snapshot() -> asyncpg.Record | None:
                async with pool.acquire() as conn:
                    return await conn.fetchrow(
                        "SELECT path, width, height FROM snapshots WHERE attempt_id = $1"
                        " AND device = 'pc' ORDER BY id DESC LIMIT 1",
                        attempt_id,
                    )

            row = await eventually(pc_snapshot, within=30)
            # snapshots.path is relative to the content-addressed store's root
            root = server.base.settings.data_dir / "snapshots"
            assert (root / row["path"]).read_bytes()[:3] == b"\xff\xd8\xff"
            assert (row["width"], row["height"]) == (640, 480)

            async def heartbeat() -> int:
                async with pool.acquire() as conn:
                    n: int = await conn.fetchval(
                        "SELECT count(*) FROM attempt_events WHERE attempt_id = $1"
                        " AND device = 'pc' AND kind = 'heartbeat'",
                        attempt_id,
                    )
                    return n

            assert await eventually(heartbeat, within=15) >= 1
        finally:
            await browser.close()


async def test_camera_refused_keeps_the_exam_closed(server: LiveServer, tmp_path: Path) -> None:
    """Rule D2: no camera permission → the Chinese prompt, and no attempt starts."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        try:
            context = await browser.new_context()  # no fake device, no permission
            page = await context.new_page()
            await page.goto(f"{server.url}/static/pc.html?paper=1")
            await page.get_by_test_id("start").click()
            await expect(page.get_by_test_id("error")).to_contain_text(
                "无法打开摄像头", timeout=15_000
            )
            await expect(page.get_by_test_id("attempt")).to_have_text("")
        finally:
            await browser.close()
