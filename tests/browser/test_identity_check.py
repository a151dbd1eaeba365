"""The face check in the real Chromium (rule I2): Chromium's fake camera
plays a y4m made from a real face (tests/support/real_faces.py); the exam
page's frames reach the server over WebRTC and are compared there with the
ID photo uploaded through the API.

- the candidate's own face passes, and only then the paper opens;
- another person's face is refused three times; the attempt waits for the
  invigilator, who sees both pictures on the wall's panel and admits with
  a reason; the paper opens.

The phone is simulated (it answers every capture request with a photo), as
in tests/browser/test_pc_camera.py: the subject here is the PC's face.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from hub.tokens import sign_device_token
from proctor.settings import IdentitySettings, Settings
from tests.support import files, real_faces
from tests.support.accounts import VALID_USCC, clear_rate_limits, unique_id_card, unique_phone
from tests.support.browser import launch_chromium, write_y4m
from tests.support.devices import phone_proves_camera, send_photo
from tests.support.hub_client import DeviceClient
from tests.support.identity import sitting
from tests.support.live import LiveServer, start_live_server
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def face_server(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    # production's identity settings: the check on, 3 tries; both cameras required (D1)
    live = await start_live_server(
        dataclasses.replace(settings, identity=IdentitySettings(required=True))
    )
    yield live
    await live.stop()


def face_video(path: Path, face: np.ndarray) -> Path:
    """A y4m of ``face`` framed as a webcam would, moving a little (RGB frames)."""
    frame = real_faces.on_camera(face)
    frames = [
        np.ascontiguousarray(np.roll(frame, (i % 6) - 3, axis=1)[..., ::-1]) for i in range(12)
    ]
    return write_y4m(path, frames)


@contextlib.asynccontextmanager
async def phone(server: LiveServer, secret: bytes, attempt_id: int) -> AsyncIterator[None]:
    """The attempt's phone, camera live, answering every capture request."""
    token = sign_device_token(secret, attempt_id, "phone", time.time(), 3600)
    device = await DeviceClient.connect(server.ws_url, "phone", token)
    await phone_proves_camera(device)

    async def answer() -> None:
        while True:
            capture = await device.wait_for_forever("capture")
            await send_photo(device, capture["request_id"])

    async def beat() -> None:
        while True:
            await asyncio.sleep(5)
            await device.send("heartbeat")

    tasks = [asyncio.create_task(answer()), asyncio.create_task(beat())]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await device.close()


async def signed_in_page(
    browser: Browser, server: LiveServer, pool: asyncpg.Pool, user_id: int, path: str
) -> Page:
    login = await login_cookies(pool, user_id)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_cookies(
        [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
    )
    page = await context.new_page()
    await page.goto(f"{server.url}/static/{path}")
    return page


async def exam_page(
    browser: Browser, server: LiveServer, pool: asyncpg.Pool, user_id: int, attempt_id: int
) -> Page:
    return await signed_in_page(browser, server, pool, user_id, f"exam.html?attempt={attempt_id}")


async def test_the_candidates_own_face_passes_before_the_paper_opens(
    face_server: LiveServer, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    s = await sitting(face_server, pool, settings, real_faces.hopper())
    video = face_video(tmp_path / "hopper.y4m", real_faces.hopper())
    async with async_playwright() as pw, phone(face_server, settings.secret_key, s.attempt_id):
        browser = await launch_chromium(pw, fake_video=video)
        try:
            page = await exam_page(browser, face_server, pool, s.candidate.id, s.attempt_id)
            check = page.get_by_test_id("identity-check")
            await expect(check).to_be_visible(timeout=40_000)
            # the paper stays closed until the face check passes
            await expect(page.get_by_test_id("exam-questions")).to_be_hidden()
            await expect(page.get_by_test_id("exam-blocked")).to_contain_text("人脸核验")
            await page.get_by_test_id("identity-try").click()
            await expect(page.get_by_test_id("identity-result")).to_have_text(
                "人脸核验通过", timeout=60_000
            )
            await expect(page.get_by_test_id("exam-questions")).to_be_visible()
            await expect(page.get_by_test_id("exam-blocked")).to_be_hidden()
            await page.get_by_test_id("q1-opt-a").check()
            await expect(page.get_by_test_id("save-state")).to_contain_text(
                "已保存", timeout=20_000
            )
        finally:
            await browser.close()


async def test_another_face_is_refused_three_times_and_an_invigilator_admits(
    face_server: LiveServer, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    s = await sitting(face_server, pool, settings, real_faces.hopper())
    video = face_video(tmp_path / "astronaut.y4m", real_faces.astronaut())
    async with async_playwright() as pw, phone(face_server, settings.secret_key, s.attempt_id):
        browser = await launch_chromium(pw, fake_video=video)
        try:
            page = await exam_page(browser, face_server, pool, s.candidate.id, s.attempt_id)
            await expect(page.get_by_test_id("identity-check")).to_be_visible(timeout=40_000)
            for left in (2, 1, 0):
                await page.get_by_test_id("identity-try").click()
                await expect(page.get_by_test_id("identity-result")).to_have_text(
                    "摄像头中的人脸与证件照不一致", timeout=60_000
                )
                if left:
                    await expect(page.get_by_test_id("identity-tries-left")).to_contain_text(
                        f"剩余核验次数：{left}"
                    )
            await expect(page.get_by_test_id("identity-state")).to_have_text(
                "人脸核验未通过，请等待监考员人工核验"
            )
            await expect(page.get_by_test_id("identity-try")).to_have_count(0)
            await expect(page.get_by_test_id("exam-questions")).to_be_hidden()

            # the invigilator's wall: the tile says so; the panel shows both pictures
            staff_login = await login_cookies(pool, s.invigilator.id)
            staff_ctx = await browser.new_context(viewport={"width": 1400, "height": 900})
            await staff_ctx.add_cookies(
                [
                    {"name": k, "value": v, "url": face_server.url}
                    for k, v in staff_login.cookies.items()
                ]
            )
            wall = await staff_ctx.new_page()
            await wall.goto(f"{face_server.url}/static/invigilator.html")
            tile = wall.get_by_test_id(f"tile-{s.attempt_id}")
            await expect(tile.get_by_test_id("tile-identity")).to_have_text(
                "人脸核验未通过，等待人工核验", timeout=20_000
            )
            await tile.click()
            await expect(wall.get_by_test_id("detail-identity")).to_be_visible(timeout=20_000)
            for picture in ("identity-photo", "identity-frame"):
                img = wall.get_by_test_id(picture)
                await expect(img).to_have_attribute("src", __import__("re").compile(r"/api/"))
                assert await img.evaluate("(i) => i.decode().then(() => i.naturalWidth)") > 0
            await expect(wall.get_by_test_id("identity-frame-note")).to_contain_text("不一致")
            await wall.get_by_test_id("identity-admit").click()
            await expect(wall.get_by_test_id("detail-msg")).to_contain_text("理由")
            await wall.get_by_test_id("identity-reason").fill("已核对身份证原件，系本人")
            await wall.get_by_test_id("identity-admit").click()
            await expect(wall.get_by_test_id("detail-msg")).to_contain_text("已人工核验通过")

            # the candidate's page learns it and the paper opens
            await expect(page.get_by_test_id("exam-questions")).to_be_visible(timeout=20_000)
            await page.get_by_test_id("q1-opt-a").check()
            await expect(page.get_by_test_id("save-state")).to_contain_text(
                "已保存", timeout=20_000
            )
        finally:
            await browser.close()
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT action, reason, user_id FROM invigilator_actions WHERE attempt_id = $1",
            s.attempt_id,
        )
    assert (audit["action"], audit["user_id"]) == ("admit", s.invigilator.id)
    assert audit["reason"] == "已核对身份证原件，系本人"


async def test_the_wizard_takes_an_id_photo_with_one_clear_face_and_the_reviewer_sees_it(
    face_server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule I1 in Chromium: the wizard's materials step, the server's face check, the reviewer
    await clear_rate_limits(pool)
    candidate = await create_user(
        pool, real_name="证件照考生", id_card=unique_id_card(), phone=unique_phone()
    )
    reviewer = await create_user(pool, "reviewer")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await signed_in_page(browser, face_server, pool, candidate.id, "home.html")
            await expect(page.get_by_test_id("wizard")).to_be_visible(timeout=20_000)
            await page.get_by_test_id("wizard-type-social").check()
            await page.get_by_test_id("wizard-next").click()
            await page.get_by_test_id("wizard-category").select_option("B")
            await page.get_by_test_id("wizard-file-commitment").set_input_files(
                files=[
                    {
                        "name": "承诺书.pdf",
                        "mimeType": "application/pdf",
                        "buffer": files.pdf_bytes(),
                    }
                ]
            )
            await page.get_by_test_id("wizard-file-proof").set_input_files(
                files=[
                    {"name": "证明.pdf", "mimeType": "application/pdf", "buffer": files.pdf_bytes()}
                ]
            )
            await expect(page.get_by_test_id("wizard-file-proof-status")).to_contain_text("已上传")
            photo = page.get_by_test_id("wizard-file-id-photo")
            blank = real_faces.jpeg(np.full((400, 300, 3), 200, dtype=np.uint8))
            await photo.set_input_files(
                files=[{"name": "白纸.jpg", "mimeType": "image/jpeg", "buffer": blank}]
            )
            await expect(page.get_by_test_id("wizard-file-id-photo-status")).to_contain_text(
                "没有检测到人脸", timeout=30_000
            )
            await page.get_by_test_id("wizard-next").click()
            await expect(page.get_by_test_id("wizard-error")).to_have_text("请上传证件照")
            await photo.set_input_files(
                files=[
                    {
                        "name": "证件照.jpg",
                        "mimeType": "image/jpeg",
                        "buffer": real_faces.jpeg(real_faces.hopper()),
                    }
                ]
            )
            await expect(page.get_by_test_id("wizard-file-id-photo-status")).to_have_text(
                "已上传：证件照.jpg", timeout=30_000
            )
            await page.get_by_test_id("wizard-next").click()
            await page.get_by_test_id("wizard-gender").select_option("male")
            await page.get_by_test_id("wizard-company-name").fill("内蒙古安建工程有限公司")
            await page.get_by_test_id("wizard-company-uscc").fill(VALID_USCC)
            await page.get_by_test_id("wizard-position").fill("项目经理")
            await page.get_by_test_id("wizard-submit").click()
            await expect(page.get_by_test_id("wizard-success")).to_be_visible(timeout=20_000)

            review = await signed_in_page(browser, face_server, pool, reviewer.id, "reviewer.html")
            await (
                review.locator("[data-testid^=queue-row-]")
                .filter(has_text="证件照考生")
                .first.click()
            )
            shown = review.get_by_test_id("doc-id_photo")
            await expect(shown).to_be_visible()
            assert await shown.evaluate("(i) => i.decode().then(() => i.naturalWidth)") > 0
            await expect(review.get_by_test_id("detail")).to_contain_text("证件照")
        finally:
            await browser.close()
