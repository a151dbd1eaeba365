"""The candidate's path in the real Chromium (issue #5, rules A2, B1–B6, C1–C3):
register → wizard → rejected → resubmit → approved → papers visible → formal locked.

The captcha picture is the one thing the test cannot read: its endpoint is answered
with a captcha whose answer the test put in the database (the page still shows a
real server-drawn picture of it).  SMS codes are read from the outbox (rule A4).
"""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Page, async_playwright, expect

from proctor.settings import Settings
from tests.support import files
from tests.support.accounts import (
    VALID_USCC,
    clear_rate_limits,
    last_sms_code,
    unique_id_card,
    unique_phone,
)
from tests.support.browser import launch_chromium
from tests.support.browser_accounts import ANSWER, known_captchas, signed_in_context
from tests.support.live import LiveServer
from tests.support.papers import class_with_papers
from tests.support.users import create_user

pytestmark = pytest.mark.browser

HTML_NAME = "<b>王</b>小明"  # shown as typed, never as markup


async def fill_wizard(page: Page, *, first_time: bool, id_card: str) -> None:
    wizard = page.get_by_test_id("wizard")
    await expect(wizard).to_be_visible()
    if first_time:
        await page.get_by_test_id("wizard-type-social").check()
    else:  # rule B6: prefilled from the rejected request
        await expect(page.get_by_test_id("wizard-type-social")).to_be_checked()
    await page.get_by_test_id("wizard-next").click()
    await expect(page.get_by_test_id("wizard-step-materials")).to_be_visible()
    if first_time:
        # issue #14: the error is at the field, focused, and gone once a category is chosen
        await page.get_by_test_id("wizard-next").click()
        category_error = page.get_by_test_id("wizard-category-error")
        await expect(category_error).to_have_text("请选择考试类型")
        await expect(page.get_by_test_id("wizard-category")).to_be_focused()
        await expect(page.get_by_test_id("wizard-error")).to_be_hidden()
        await page.get_by_test_id("wizard-category").select_option("C2")
        await expect(category_error).to_be_hidden()
        # the file buttons speak Chinese whatever the browser's language
        await expect(page.locator(".file-pick-button").first).to_have_text("选择文件")
        await page.get_by_test_id("wizard-file-commitment").set_input_files(
            files=[
                {"name": "承诺书.zip.jpg", "mimeType": "image/jpeg", "buffer": files.zip_bytes()}
            ]
        )
        # rule B4: a zip named .jpg is refused with a readable reason
        await expect(page.get_by_test_id("wizard-file-commitment-status")).to_contain_text(
            "文件类型不支持"
        )
        await page.get_by_test_id("wizard-file-commitment").set_input_files(
            files=[{"name": "承诺书.png", "mimeType": "image/png", "buffer": files.png_bytes()}]
        )
        await page.get_by_test_id("wizard-file-proof").set_input_files(
            files=[
                {"name": "学习证明.pdf", "mimeType": "application/pdf", "buffer": files.pdf_bytes()}
            ]
        )
    else:
        await expect(page.get_by_test_id("wizard-category")).to_have_value("C2")
    await expect(page.get_by_test_id("wizard-file-commitment-status")).to_have_text(
        "已上传：承诺书.png"
    )
    await expect(page.get_by_test_id("wizard-file-proof-status")).to_have_text(
        "已上传：学习证明.pdf"
    )
    await page.get_by_test_id("wizard-next").click()
    await expect(page.get_by_test_id("wizard-step-personal")).to_be_visible()
    await expect(page.get_by_test_id("wizard-company-note")).to_contain_text("企业法人承诺书")
    if first_time:
        await expect(page.get_by_test_id("wizard-real-name")).to_have_value(HTML_NAME)
        await expect(page.get_by_test_id("wizard-id-card")).to_have_value(id_card)
        # issue #14: a refused field is named at the field: a position left empty
        await page.get_by_test_id("wizard-submit").click()
        await expect(page.get_by_test_id("wizard-gender-error")).to_have_text("此项为必填项")
        await page.get_by_test_id("wizard-gender").select_option("male")
        await page.get_by_test_id("wizard-company-name").fill("内蒙古安建工程有限公司")
        await page.get_by_test_id("wizard-company-uscc").fill("91350100M000100Y44")
        await page.get_by_test_id("wizard-position").fill("专职安全员")
        await page.get_by_test_id("wizard-submit").click()
        # rule B5: the credit code's check character is verified, and said at
        # the field, which is focused (issue #14)
        await expect(page.get_by_test_id("wizard-company-uscc-error")).to_contain_text(
            "统一社会信用代码校验位不正确"
        )
        await expect(page.get_by_test_id("wizard-company-uscc")).to_be_focused()
        await page.get_by_test_id("wizard-company-uscc").fill(VALID_USCC)
        await expect(page.get_by_test_id("wizard-company-uscc-error")).to_be_hidden()
    else:
        await expect(page.get_by_test_id("wizard-company-uscc")).to_have_value(VALID_USCC)
    await page.get_by_test_id("wizard-submit").click()
    await expect(page.get_by_test_id("wizard-success")).to_be_visible()
    await page.get_by_test_id("wizard-success-ok").click()
    await expect(wizard).to_be_hidden()
    await expect(page.get_by_test_id("request-status")).to_have_text("审核中")


async def decide(
    reviewer: Page, server: LiveServer, decision: str, reason: str = "", *, earlier: str
) -> None:
    await reviewer.goto(f"{server.url}/static/reviewer.html")
    row = reviewer.locator("[data-testid^=queue-row-]").filter(has_text=HTML_NAME).first
    # issue #14: the queue's cells are one line each, not one character a line
    for cell in ("queue-name", "queue-status"):
        box = await row.get_by_test_id(cell).bounding_box()
        assert box is not None and box["height"] < 40, (cell, box)
    await row.click()
    await expect(reviewer.get_by_test_id("detail-name")).to_have_text(HTML_NAME)  # escaped
    # issue #14: a resubmission shows the earlier request and why it was rejected
    await expect(reviewer.get_by_test_id("history")).to_contain_text(earlier)
    await expect(reviewer.get_by_test_id("doc-commitment_letter")).to_be_visible()  # inline
    await expect(reviewer.get_by_test_id("doc-study_proof")).to_be_visible()
    if reason:
        await reviewer.get_by_test_id("decision-reason").fill(reason)
    await reviewer.get_by_test_id(f"decision-{decision}").click()
    await expect(reviewer.get_by_test_id("audit")).to_contain_text(
        "审核通过" if decision == "approve" else "审核不通过"
    )
    # decided: the actions are gone, and nothing is shown in their place ("null")
    await expect(reviewer.get_by_test_id("decision-approve")).to_have_count(0)
    await expect(reviewer.get_by_test_id("detail")).not_to_contain_text("null")


async def test_candidate_path(server: LiveServer, pool: asyncpg.Pool, settings: Settings) -> None:
    await clear_rate_limits(pool)
    phone, id_card = unique_phone(), unique_id_card()
    username = f"kaosheng{phone[-6:]}"
    reviewer_user = await create_user(pool, role="reviewer", real_name="审核员")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await known_captchas(context, pool, settings)
            page = await context.new_page()

            # rule A2: register, phone proven by SMS code → signed in, on the home page
            await page.goto(f"{server.url}/static/register.html")
            await page.get_by_test_id("reg-username").fill(username)
            await page.get_by_test_id("reg-password").fill("Secret123")
            await page.get_by_test_id("reg-password2").fill("Secret123")
            await page.get_by_test_id("reg-real-name").fill(HTML_NAME)
            await page.get_by_test_id("reg-id-card").fill(id_card)
            await page.get_by_test_id("reg-phone").fill(phone)
            await page.get_by_test_id("reg-captcha").fill(ANSWER)
            await page.get_by_test_id("reg-send-code").click()
            await expect(page.get_by_test_id("reg-code-sent")).to_contain_text("验证码已发送")
            await page.get_by_test_id("reg-code").fill(await last_sms_code(pool, phone))
            await page.get_by_test_id("register-submit").click()
            await page.wait_for_url("**/static/home.html")

            async with pool.acquire() as conn:
                user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
            papers = await class_with_papers(pool, [user_id])

            # rules B1-B5: the wizard opens by itself; social path; submit → under review
            await fill_wizard(page, first_time=True, id_card=id_card)
            # rule C3: no paper before approval
            await expect(page.get_by_test_id("papers-hidden")).to_be_visible()

            staff = await signed_in_context(browser, server, pool, reviewer_user.id)
            reviewer = await staff.new_page()
            reason = "承诺书未加盖企业公章"
            await decide(reviewer, server, "reject", reason, earlier="首次提交")

            # rule B6: the reason on the home page, with "view details" and "resubmit"
            await page.reload()
            await expect(page.get_by_test_id("rejected-banner")).to_be_visible()
            await expect(page.get_by_test_id("rejected-reason")).to_have_text(reason)
            await expect(page.get_by_test_id("request-status")).to_have_text("审核不通过")
            await page.get_by_test_id("rejected-details").click()
            await page.wait_for_url("**/static/review-status.html")
            await expect(page.get_by_test_id("review-reason")).to_have_text(reason)
            await expect(page.get_by_test_id("review-data")).to_contain_text(HTML_NAME)
            await page.get_by_test_id("review-resubmit").click()
            await page.wait_for_url("**/static/home.html?resubmit=1")
            await fill_wizard(page, first_time=False, id_card=id_card)

            await decide(reviewer, server, "approve", earlier=reason)

            # rules C1-C2: approved → papers visible; mock open, formal locked with the reason
            await page.goto(f"{server.url}/static/home.html")
            await expect(page.get_by_test_id("request-status")).to_have_text("审核通过")
            await expect(page.get_by_test_id("rejected-banner")).to_be_hidden()
            mock = page.get_by_test_id("paper-mock")
            formal = page.get_by_test_id("paper-formal")
            await expect(mock).to_have_attribute("data-paper-id", str(papers.mock_id))
            await expect(mock).to_have_attribute("data-state", "open")
            await expect(formal).to_have_attribute("data-state", "locked")
            await expect(page.get_by_test_id("paper-locked-reason-formal")).to_contain_text(
                "模拟考试"
            )
            await expect(page.get_by_test_id("wizard")).to_be_hidden()
        finally:
            await browser.close()
