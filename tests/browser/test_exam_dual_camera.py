"""The candidate's real exam with both devices, in the real Chromium: the PC
exam page (camera over WebRTC, hub websocket) and the phone client (mobile
emulation), both with Chromium's fake camera, against the live server.

Rules D1 (answering only with both cameras live), D3 (QR code, binding,
notice), D4 (start photo, capture requests answered by the phone, a photo
on each return), H2 (the phone asleep), H4 (a warning), E1, E3
(switches counted "n of 5", the fifth ends), H1 (a dropped connection is
shown and resumed, nothing lost), D5 (the phone ends after the PC).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from urllib.parse import urlsplit

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from exam_api.assignments import assign, attempt_class_id
from hub.tokens import sign_device_token
from tests.support.browser import CHROMIUM, launch_chromium
from tests.support.devices import send_photo
from tests.support.hub_client import DeviceClient
from tests.support.layout import layout_problems
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually
from webrtc.ingest import PeerRegistry

pytestmark = pytest.mark.browser

WAIT_MS = 30_000


async def phone_rows(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT * FROM snapshots WHERE attempt_id = $1 AND device = 'phone' ORDER BY id",
            attempt_id,
        )
    return rows


async def warning_acks(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT data FROM attempt_events WHERE attempt_id = $1 AND kind = 'warning_ack'",
            attempt_id,
        )
    return rows


async def violation_pair(pool: asyncpg.Pool, attempt_id: int) -> bool:
    """A PC frame and a phone photo of one violation's capture."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT capture_id, device FROM snapshots
                WHERE attempt_id = $1 AND reason = 'violation'""",
            attempt_id,
        )
    devices: dict[str, set[str]] = {}
    for row in rows:
        devices.setdefault(row["capture_id"], set()).add(row["device"])
    return any(found >= {"pc", "phone"} for found in devices.values())


async def forgive(server: LiveServer, pool: asyncpg.Pool, attempt_id: int, index: int) -> None:
    """An invigilator of the attempt's room forgives a violation (rule H3), audited."""
    invigilator = await create_user(pool, "invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)
    async with await client_for(server.url, pool, invigilator.id) as http:
        reply = await http.post(
            f"/api/invigilate/attempts/{attempt_id}/forgive",
            json={"index": index, "reason": "系统弹窗抢占焦点"},
        )
    assert reply.status_code == 200, reply.text


async def violation_evidence(pool: asyncpg.Pool, attempt_id: int, count: int) -> dict[int, str]:
    """Violation index → the capture id its PC frame and phone photo share,
    once each of the first ``count`` violations has both (rule H10)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT violation_idx, capture_id, device FROM snapshots
                WHERE attempt_id = $1 AND violation_idx IS NOT NULL""",
            attempt_id,
        )
    found: dict[int, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["violation_idx"], {})[row["device"]] = row["capture_id"]
    pairs = {i: d["pc"] for i, d in found.items() if d.keys() >= {"pc", "phone"}}
    if any(found[i]["pc"] != found[i]["phone"] for i in pairs):
        raise AssertionError(f"PC and phone of one violation name different captures: {found}")
    return pairs if len(pairs) >= count else {}


async def start_mock_exam(
    browser: Browser, server: LiveServer, cookies: dict[str, str]
) -> tuple[BrowserContext, Page, int]:
    """The candidate's PC: the paper center's confirm step, then the exam page."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    await ctx.add_cookies([{"name": k, "value": v, "url": server.url} for k, v in cookies.items()])
    pc = await ctx.new_page()
    await pc.goto(f"{server.url}/static/class-papers.html")
    await pc.get_by_test_id("paper-start-mock").click()
    await pc.get_by_test_id("paper-agree-mock").check()
    await pc.get_by_test_id("paper-confirm-mock").click()
    await pc.wait_for_url("**/static/exam.html?attempt=*")
    return ctx, pc, int(pc.url.rsplit("=", 1)[1])


async def set_visibility(page: Page, state: str) -> None:
    """The page is hidden or shown again, as a phone's browser reports it."""
    await page.evaluate(
        """(state) => {
            Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


async def warn(server: LiveServer, pool: asyncpg.Pool, attempt_id: int, text: str) -> None:
    """An invigilator of the attempt's room warns the candidate (rule H4),
    through the audited HTTP command (the watch socket takes no commands)."""
    invigilator = await create_user(pool, "invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)
    async with await client_for(server.url, pool, invigilator.id) as http:
        reply = await http.post(f"/api/invigilate/attempts/{attempt_id}/warn", json={"text": text})
    assert reply.status_code == 200, reply.text


async def switch_away(pc: Page) -> None:
    """One switch away and back, as the browser reports it (rules E3/H3)."""
    await pc.evaluate("window.dispatchEvent(new Event('blur'))")


async def come_back(pc: Page) -> None:
    await pc.evaluate("window.dispatchEvent(new Event('focus'))")


async def test_exam_with_pc_and_phone_cameras(server: LiveServer, pool: asyncpg.Pool) -> None:
    user = await candidate_with_request(pool)  # real name 测试考生
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    login = await login_cookies(pool, user.id)
    registry: PeerRegistry = server.rtc

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            pc_ctx, pc, attempt_id = await start_mock_exam(browser, server, login.cookies)

            # rule D7: the device check and the seed's preparation checklist
            await expect(pc.get_by_test_id("prep-checklist")).to_contain_text("手机电量准备")
            await expect(pc.get_by_test_id("check-hub")).to_have_attribute("data-state", "ok")
            # rule E1: the live camera view in the top-right corner, right below
            # the fixed header (issue #14: it never covers the 提交试卷 button)
            preview = pc.get_by_test_id("camera-preview")
            await expect(preview).to_be_visible()
            box = await preview.bounding_box()
            bar = await pc.get_by_test_id("exam-bar").bounding_box()
            assert box is not None and bar is not None
            assert bar["y"] + bar["height"] <= box["y"] < bar["y"] + bar["height"] + 20
            assert box["x"] + box["width"] > 1280 - 100
            # the PC camera's video reaches the hub (measured there, rule D1)
            await expect(pc.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "ok", timeout=WAIT_MS
            )
            # rule D1: without the phone, answering waits and says why
            blocked = pc.get_by_test_id("exam-blocked")
            await expect(blocked).to_contain_text("请用手机扫描")
            await expect(pc.get_by_test_id("q1-opt-a")).to_be_disabled()

            # rule D3: the QR code and the address to type
            await expect(pc.get_by_test_id("phone-qr")).to_have_attribute(
                "src", re.compile(rf"/api/attempts/{attempt_id}/phone-qr")
            )
            # issue #14: a short code to type at /p instead of the long address
            await expect(pc.get_by_test_id("phone-code")).to_have_text(
                re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}$")
            )
            await expect(pc.get_by_test_id("phone-short-url")).to_have_text(f"{server.url}/p")
            phone_url = pc.get_by_test_id("phone-url")
            await expect(phone_url).to_contain_text("/static/phone.html?token=")
            url = (await phone_url.text_content()) or ""
            assert urlsplit(url).netloc == urlsplit(server.url).netloc

            # The phone: mobile emulation, its own fake camera.
            phone_ctx = await browser.new_context(**pw.devices["Pixel 5"])
            phone = await phone_ctx.new_page()
            await phone.goto(url)
            # rule D3: the first time, binding to the candidate, then the notice
            await expect(phone.get_by_test_id("bind-name")).to_have_text("测**生")
            await phone.get_by_test_id("phone-bind-ok").click()
            await expect(phone.get_by_test_id("phone-notice")).to_contain_text("温馨提示")
            await phone.get_by_test_id("phone-notice-ok").click()
            # rule D4: the camera shows before the start; placement guidance
            await expect(phone.get_by_test_id("phone-camera-state")).to_have_attribute(
                "data-state", "preview"
            )
            await expect(phone.locator("#phone-guide")).to_contain_text("侧后方")
            await expect(phone.get_by_test_id("phone-status")).to_have_text("已连接监考服务")
            # the phone is connected but not started: still no answering (rule D1)
            await expect(blocked).to_contain_text("点击“开始考试”")
            await expect(pc.get_by_test_id("q1-opt-a")).to_be_disabled()

            await phone.get_by_test_id("phone-start").click()
            await expect(phone.get_by_test_id("phone-camera-state")).to_have_attribute(
                "data-state", "live"
            )
            # both cameras live: answering opens
            await expect(blocked).to_be_hidden()
            await expect(pc.get_by_test_id("check-phone")).to_have_attribute("data-state", "ok")
            await pc.get_by_test_id("q1-opt-a").check()
            await expect(pc.get_by_test_id("save-state")).to_have_text("答案已保存")

            # rule D4: the start took a photo at once, over the phone's websocket
            start_rows = await eventually(lambda: phone_rows(pool, attempt_id), within=20)
            assert start_rows[0]["reason"] == "start"
            # rule E2: a dual snapshot's capture request is answered by the phone
            capture_id = await eventually(lambda: _snapshot_now(registry, attempt_id), within=20)

            async def answered() -> bool:
                rows = await phone_rows(pool, attempt_id)
                return any(r["capture_id"] == capture_id for r in rows)

            await eventually(answered, within=20)

            # rule H2: the phone leaves its page: asleep, shown on the PC, answering waits
            await set_visibility(phone, "hidden")
            await expect(blocked).to_contain_text("手机摄像头已暂停")
            await expect(pc.get_by_test_id("check-phone")).to_contain_text("已休眠")
            await expect(pc.get_by_test_id("q2-opt-a")).to_be_disabled()
            # rule D4: back on the page, the camera resumes and a photo is taken
            await set_visibility(phone, "visible")
            await expect(blocked).to_be_hidden()

            async def returned() -> bool:
                rows = await phone_rows(pool, attempt_id)
                return any(r["reason"] == "return_to_page" for r in rows)

            await eventually(returned, within=20)

            # rules H1/H2: the phone's network drops: its camera is lost for the PC;
            # back online, the phone resumes and answering opens again
            await phone_ctx.set_offline(True)
            await phone.evaluate("window.phoneHub.ws.close()")
            await expect(blocked).to_contain_text("手机摄像头已断开")
            await expect(phone.get_by_test_id("phone-status")).to_have_text("网络中断，正在重连…")
            await phone_ctx.set_offline(False)
            await expect(blocked).to_be_hidden(timeout=WAIT_MS)

            # rule H4: an invigilator's warning reaches both devices
            await warn(server, pool, attempt_id, "请保持面部在摄像头画面内")
            modal = pc.get_by_test_id("warning-modal")
            await expect(modal).to_be_visible()
            await expect(pc.get_by_test_id("exam-warning")).to_have_text(
                "监考员提醒：请保持面部在摄像头画面内"
            )
            await expect(phone.get_by_test_id("phone-error")).to_contain_text("请保持面部")
            # issue #14: it stays until 我知道了 (Esc does not dismiss it), and
            # the acknowledgement is recorded for the timeline
            await pc.keyboard.press("Escape")
            await expect(modal).to_be_visible()
            await pc.get_by_test_id("warning-ack").click()
            await expect(modal).to_be_hidden()
            await eventually(lambda: warning_acks(pool, attempt_id), within=20)

            # rule H1: a dropped connection is shown, what happens meanwhile is kept
            await pc_ctx.set_offline(True)
            await pc.evaluate("window.examHub.ws.close()")
            await expect(pc.get_by_test_id("net-state")).to_have_text(
                re.compile("^网络中断，正在重连…")
            )
            await switch_away(pc)  # sent once the connection is back
            await pc_ctx.set_offline(False)
            await expect(pc.get_by_test_id("net-state")).to_be_hidden(timeout=WAIT_MS)
            # rule E3: the candidate sees how many of 5 are used
            await expect(pc.get_by_test_id("violation-count")).to_have_text(
                "已切屏 1 次（共 5 次）"
            )
            await expect(pc.get_by_test_id("violation-banner")).to_contain_text(
                "已切屏 1 次（共 5 次）"
            )
            # rules E2/H3: the violation keeps both cameras' pictures of its moment
            await eventually(lambda: violation_pair(pool, attempt_id), within=20)
            await come_back(pc)

            for n in range(2, 6):
                await switch_away(pc)
                if n < 5:
                    await expect(pc.get_by_test_id("violation-count")).to_have_text(
                        f"已切屏 {n} 次（共 5 次）"
                    )
                    await come_back(pc)

            # the fifth ends the attempt on both devices
            await expect(pc.get_by_test_id("end-banner")).to_have_text(
                "违规次数已达 5 次，系统已自动交卷。"
            )
            await expect(pc.get_by_test_id("exam-result")).to_contain_text("考试已结束")
            # issue #14: one end card, in view, the banners of the running exam gone
            await expect(pc.get_by_test_id("exam-score")).to_be_visible(timeout=WAIT_MS)
            for gone in ("violation-banner", "exam-blocked", "exam-timer"):
                await expect(pc.get_by_test_id(gone)).to_be_hidden()
            await expect(pc.get_by_text("实时", exact=True)).to_be_hidden()
            # the preview goes with the camera, which runs a moment longer (rule H10)
            await expect(pc.get_by_test_id("camera-slot")).to_be_hidden(timeout=WAIT_MS)
            card = ["#exam-bar", "[data-testid=end-banner]", "[data-testid=exam-score]"]
            assert await layout_problems(pc, card) == []
            await expect(pc.get_by_test_id("q2-opt-a")).to_be_disabled()
            await expect(phone.get_by_test_id("phone-ended")).to_contain_text("电脑端考试已结束")
            # rule H10: every counted violation, the fifth (which ended the exam)
            # included, keeps its PC frame and phone photo, linked by its index
            linked = await eventually(lambda: violation_evidence(pool, attempt_id, 5), within=30)
            assert sorted(linked) == [1, 2, 3, 4, 5]
            # rule D5: after the PC, the phone ends its part without a warning
            await phone.get_by_test_id("phone-end").click()
            await expect(phone.get_by_test_id("phone-done")).to_be_visible()
            await expect(phone.get_by_test_id("phone-end-confirm")).to_be_hidden()
        finally:
            await browser.close()

    async with pool.acquire() as conn:
        attempt = await conn.fetchrow(
            "SELECT status, end_reason, violations FROM attempts WHERE id = $1", attempt_id
        )
        answer = await conn.fetchval(
            "SELECT answer FROM attempt_answers WHERE attempt_id = $1 AND question_id = $2",
            attempt_id,
            papers.question_ids[0],
        )
    assert (attempt["status"], attempt["end_reason"], attempt["violations"]) == (
        "ended",
        "fifth_violation",
        5,
    )
    assert answer == "A"


async def _snapshot_now(registry: PeerRegistry, attempt_id: int) -> str | None:
    return registry.snapshot_now(attempt_id, "manual")


async def test_phone_first_then_pc_and_an_early_phone_end(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    async with await client_for(server.url, pool, user.id) as http:
        started = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
        attempt_id = started.json()["attempt_id"]
        link = (await http.get(f"/api/attempts/{attempt_id}/phone-link")).json()
    login = await login_cookies(pool, user.id)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # rule D6: the phone may come first (the seed recommends it)
            phone_ctx = await browser.new_context(**pw.devices["Pixel 5"])
            phone = await phone_ctx.new_page()
            await phone.goto(link["url"])
            await phone.get_by_test_id("phone-bind-ok").click()
            await phone.get_by_test_id("phone-notice-ok").click()
            await phone.get_by_test_id("phone-start").click()
            await expect(phone.get_by_test_id("phone-pc-state")).to_have_text("电脑端未连接")
            await eventually(lambda: phone_rows(pool, attempt_id), within=20)  # start photo

            pc_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            await pc_ctx.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            pc = await pc_ctx.new_page()
            await pc.goto(f"{server.url}/static/exam.html?attempt={attempt_id}")
            blocked = pc.get_by_test_id("exam-blocked")
            await expect(pc.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "ok", timeout=WAIT_MS
            )
            await expect(blocked).to_be_hidden()
            await expect(phone.get_by_test_id("phone-pc-state")).to_contain_text("电脑端考试中")

            # rule D5: ending the phone early asks first, and is recorded
            await phone.get_by_test_id("phone-end").click()
            confirm = phone.get_by_test_id("phone-end-confirm")
            await expect(confirm).to_contain_text("提前结束可能影响审核结果")
            await phone.get_by_test_id("phone-end-no").click()
            await expect(confirm).to_be_hidden()
            await expect(phone.get_by_test_id("phone-exam")).to_be_visible()
            await phone.get_by_test_id("phone-end").click()
            await phone.get_by_test_id("phone-end-yes").click()
            await expect(phone.get_by_test_id("phone-done")).to_be_visible()
            # the PC says why answering stops (rule D1: one camera is gone)
            await expect(blocked).to_contain_text("手机端已提前结束监控")
            await expect(pc.get_by_test_id("q1-opt-a")).to_be_disabled()
        finally:
            await browser.close()

    async with pool.acquire() as conn:
        early = await conn.fetchval(
            "SELECT data->>'early' FROM attempt_events WHERE attempt_id = $1 AND kind = 'phone_end'",
            attempt_id,
        )
    assert early == "true"  # rule D5, stored as a JSON object


async def test_exam_page_without_camera_stays_closed(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    """Rule D2: no camera or no permission: the prompt, and the paper stays closed."""
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        started = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
    attempt_id = started.json()["attempt_id"]
    login = await login_cookies(pool, user.id)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            context = await browser.new_context()  # no fake camera, no permission
            await context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            page = await context.new_page()
            await page.goto(f"{server.url}/static/exam.html?attempt={attempt_id}")
            await expect(page.get_by_test_id("camera-prompt")).to_contain_text(
                "无法打开摄像头", timeout=15_000
            )
            await expect(page.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "failed"
            )
            await expect(page.get_by_test_id("exam-questions")).to_be_hidden()
            await expect(page.get_by_test_id("exam-blocked")).to_contain_text("无法打开摄像头")
        finally:
            await browser.close()


async def _answer_captures(ws_url: str, token: str) -> None:
    """A phone that answers every capture request with a photo (its websocket)."""
    phone = await DeviceClient.connect(ws_url, "phone", token)
    try:
        while True:
            capture = await phone.wait_for_forever("capture")
            await send_photo(phone, capture["request_id"])
    finally:
        await phone.close()


async def test_a_violation_in_the_first_second_of_the_camera_keeps_its_evidence(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule H10: the candidate switches away the moment the PC camera connects;
    # that violation still gets its PC frame and phone photo, linked by index
    user = await candidate_with_request(pool)
    await class_with_papers(pool, [user.id], time_limit_s=1800)
    login = await login_cookies(pool, user.id)
    registry: PeerRegistry = server.rtc
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        phone: asyncio.Task[None] | None = None
        try:
            _, pc, attempt_id = await start_mock_exam(browser, server, login.cookies)
            token = sign_device_token(
                server.base.settings.secret_key, attempt_id, "phone", time.time(), 600
            )
            phone = asyncio.create_task(_answer_captures(server.ws_url, token))

            async def camera_live() -> bool:
                return registry.camera_state(attempt_id) == "live"

            await eventually(camera_live, within=30)
            await switch_away(pc)  # within moments of the first frames
            linked = await eventually(lambda: violation_evidence(pool, attempt_id, 1), within=30)
            assert list(linked) == [1]
            # rule H3: forgiven by an invigilator, the page's count goes down again
            await expect(pc.get_by_test_id("violation-count")).to_have_text(
                "已切屏 1 次（共 5 次）"
            )
            await forgive(server, pool, attempt_id, 1)
            await expect(pc.get_by_test_id("violation-count")).to_have_text(
                "已切屏 0 次（共 5 次）"
            )
        finally:
            if phone is not None:
                phone.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await phone
            await browser.close()
