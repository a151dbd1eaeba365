"""The exam page as a candidate sees it, at the screen sizes and zoom levels
they use (issue #14): 1280×720, 1366×768 and 1920×1080, each at 100 %, 125 %
and 150 % (Chromium's zoom: the CSS viewport shrinks by the factor, the
device pixels stay). In every state — the device check, answering with a
violation, scrolled to the last question, an invigilator's warning, the end
card — axe-core finds no serious violation (at 100 %), a screenshot is saved under the test's temporary folder and the test
fails when anything covers a button, text runs over a button, or the header,
a message, the warning or the end card is outside the viewport.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from exam_api.assignments import assign, attempt_class_id
from tests.browser.test_accessibility import serious_violations
from tests.support.browser import launch_chromium
from tests.support.devices import phone_proves_camera
from tests.support.hub_client import DeviceClient
from tests.support.layout import check_layout
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
SIZES = [(1280, 720), (1366, 768), (1920, 1080)]
ZOOMS = [1.0, 1.25, 1.5]

HEADER = ["#exam-bar", "#exam-submit", "#exam-timer", "#exam-progress"]


async def warn(server: LiveServer, pool: asyncpg.Pool, attempt_id: int, text: str) -> None:
    """An invigilator of the attempt's room warns the candidate (rule H4)."""
    invigilator = await create_user(pool, "invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)
    async with await client_for(server.url, pool, invigilator.id) as http:
        reply = await http.post(f"/api/invigilate/attempts/{attempt_id}/warn", json={"text": text})
    assert reply.status_code == 200, reply.text


async def each_size(
    page: Page, zoom: float, shots: Path, state: str, must_see: list[str]
) -> list[str]:
    """The page state at every size (at this zoom): screenshots and problems."""
    problems: list[str] = []
    for width, height in SIZES:
        await page.set_viewport_size({"width": round(width / zoom), "height": round(height / zoom)})
        await page.evaluate(
            "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )
        if state == "scrolled":
            await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            await page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")
        label = f"{state}-{width}x{height}-{round(zoom * 100)}"
        problems += await check_layout(page, shots, label, must_see)
        if zoom == 1.0 and (width, height) == SIZES[0]:
            # issue #14: the exam page's states pass axe too (no serious violation)
            problems += [f"{label}: axe {v}" for v in await serious_violations(page)]
    return problems


async def one_zoom(
    browser: Browser, server: LiveServer, pool: asyncpg.Pool, zoom: float, shots: Path
) -> list[str]:
    user = await candidate_with_request(pool)
    await class_with_papers(pool, [user.id], time_limit_s=1800)
    login = await login_cookies(pool, user.id)
    width, height = SIZES[0]
    ctx = await browser.new_context(
        viewport={"width": round(width / zoom), "height": round(height / zoom)},
        device_scale_factor=zoom,
        bypass_csp=True,  # to inject axe only
    )
    await ctx.add_cookies(
        [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
    )
    page = await ctx.new_page()
    phone: DeviceClient | None = None
    problems: list[str] = []
    try:
        await page.goto(f"{server.url}/static/class-papers.html")
        await page.get_by_test_id("paper-start-mock").click()
        await page.get_by_test_id("paper-agree-mock").check()
        await page.get_by_test_id("paper-confirm-mock").click()
        await page.wait_for_url("**/static/exam.html?attempt=*")
        attempt_id = int(page.url.rsplit("=", 1)[1])

        # the device check: the longest message of the header (rule D1)
        blocked = page.get_by_test_id("exam-blocked")
        await expect(blocked).to_contain_text("请用手机扫描", timeout=WAIT_MS)
        await expect(page.get_by_test_id("camera-preview")).to_be_visible()
        problems += await each_size(page, zoom, shots, "device-check", [*HEADER, "#exam-blocked"])

        # the phone proves its camera (a device client of the real hub): answering opens
        url = (await page.get_by_test_id("phone-url").text_content()) or ""
        token = parse_qs(urlsplit(url).query)["token"][0]
        phone = await DeviceClient.connect(server.ws_url, "phone", token)
        await phone_proves_camera(phone)
        await expect(blocked).to_be_hidden(timeout=WAIT_MS)
        await page.get_by_test_id("q1-opt-a").check()
        await page.evaluate("window.dispatchEvent(new Event('blur'))")  # rule E3: a switch
        await expect(page.get_by_test_id("violation-banner")).to_contain_text("已切屏 1 次")
        await page.evaluate("window.dispatchEvent(new Event('focus'))")
        running = [*HEADER, "#conn-state", "#violation-count", "#violation-banner"]
        problems += await each_size(page, zoom, shots, "answering", running)
        # issue #14: scrolled to the last question, the header and its messages stay in view
        problems += await each_size(page, zoom, shots, "scrolled", running)

        # rule H4: the warning waits for 我知道了, in view at every size
        await warn(server, pool, attempt_id, "请把手机放在身体侧后方，能拍到您本人、电脑屏幕和桌面")
        await expect(page.get_by_test_id("warning-modal")).to_be_visible(timeout=WAIT_MS)
        problems += await each_size(
            page, zoom, shots, "warning", ["#warning-modal", "#exam-warning", "#warning-ack"]
        )
        await page.get_by_test_id("warning-ack").click()
        await expect(page.get_by_test_id("warning-modal")).to_be_hidden()

        # the one end card: why, the score, what next, the records
        await page.get_by_test_id("exam-submit").click()
        await page.get_by_test_id("exam-submit-confirm").click()
        await expect(page.get_by_test_id("exam-score")).to_have_text(
            re.compile(r"^成绩：\d+(\.\d+)? 分")
        )
        await expect(page.get_by_test_id("end-banner")).to_have_text("您已提交试卷。")
        # no banner of the running exam repeats it; nothing pretends to be live
        for gone in (
            "violation-banner",
            "exam-blocked",
            "net-state",
            "conn-state",
            "exam-timer",
            "exam-devices",
            "contact",
        ):
            await expect(page.get_by_test_id(gone)).to_be_hidden()
        await expect(page.get_by_text("实时", exact=True)).to_be_hidden()
        # the preview goes with the camera, which runs a moment longer (rule H10)
        await expect(page.get_by_test_id("camera-slot")).to_be_hidden(timeout=WAIT_MS)
        await expect(page.locator("#exam-timer-label")).to_have_text("考试已结束")
        card = [
            "#exam-bar",
            "[data-testid=end-banner]",
            "[data-testid=exam-score]",
            "[data-testid=exam-next]",
            "[data-testid=end-records]",
        ]
        problems += await each_size(page, zoom, shots, "end-card", card)
    finally:
        if phone is not None:
            await phone.close()
        await ctx.close()
    return problems


async def test_the_exam_page_at_three_sizes_and_three_zooms(
    server: LiveServer, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            for zoom in ZOOMS:
                problems += await one_zoom(browser, server, pool, zoom, shots)
        finally:
            await browser.close()
    assert len(list(shots.glob("*.png"))) == len(ZOOMS) * len(SIZES) * 5
    assert problems == [], "\n".join(problems) + f"\n(screenshots in {shots})"
