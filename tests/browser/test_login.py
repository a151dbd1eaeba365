"""Login, forgot password and the browser check in the real Chromium (rules A1, A3, A6)."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Page, async_playwright, expect

from proctor.settings import Settings
from tests.support.accounts import clear_rate_limits, last_sms_code, unique_phone
from tests.support.browser import launch_chromium
from tests.support.browser_accounts import ANSWER, known_captchas, signed_in_context
from tests.support.live import LiveServer
from tests.support.users import PASSWORD, create_user

pytestmark = pytest.mark.browser


async def login_form(page: Page, username: str, password: str, captcha: str = ANSWER) -> None:
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-captcha").fill(captcha)
    await page.get_by_test_id("login-submit").click()


async def test_login_with_captcha_then_sms_code(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A1: username + password + captcha → SMS code → the exam system home."""
    await clear_rate_limits(pool)
    phone = unique_phone()
    user = await create_user(pool, phone=phone, real_name="登录考生")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await known_captchas(context, pool, settings)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/login.html")
            src = page.get_by_test_id("captcha-image")
            await expect(src).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
            await login_form(page, user.username, PASSWORD, captcha="WRONG")
            await expect(page.get_by_test_id("login-error")).to_have_text(
                "图形验证码错误，请重新输入"
            )
            await login_form(page, user.username, "Wrong1234")
            await expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误")
            await login_form(page, user.username, PASSWORD)
            await expect(page.get_by_test_id("code-sent")).to_contain_text(phone[-4:])
            code = await last_sms_code(pool, phone)
            await page.get_by_test_id("login-code").fill("000000" if code != "000000" else "111111")
            await page.get_by_test_id("code-submit").click()
            await expect(page.get_by_test_id("code-error")).to_contain_text("还可尝试 4 次")
            await page.get_by_test_id("login-code").fill(code)
            await page.get_by_test_id("code-submit").click()
            await page.wait_for_url("**/static/home.html")
            await expect(page.get_by_test_id("user-name")).to_have_text("登录考生")
        finally:
            await browser.close()


async def test_forgot_password_in_the_browser(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A3: phone proven by SMS code, new password set."""
    await clear_rate_limits(pool)
    phone = unique_phone()
    await create_user(pool, phone=phone)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await known_captchas(context, pool, settings)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/forgot.html")
            await page.get_by_test_id("forgot-phone").fill(phone)
            await page.get_by_test_id("forgot-captcha").fill(ANSWER)
            await page.get_by_test_id("forgot-send-code").click()
            await expect(page.get_by_test_id("forgot-code-sent")).to_be_visible()
            await page.get_by_test_id("forgot-code").fill(await last_sms_code(pool, phone))
            await page.get_by_test_id("forgot-password").fill("Another123")
            await page.get_by_test_id("forgot-password2").fill("Another123")
            await page.get_by_test_id("forgot-submit").click()
            await expect(page.get_by_test_id("forgot-done")).to_be_visible()
        finally:
            await browser.close()


async def test_browser_without_webrtc_is_told_which_browser_to_use(server: LiveServer) -> None:
    """Rule A6: an engine without WebRTC/getUserMedia gets the advice before login."""
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.add_init_script("delete window.RTCPeerConnection;")
            await page.goto(f"{server.url}/static/login.html")
            warning = page.get_by_test_id("browser-warning")
            await expect(warning).to_be_visible()
            await expect(warning).to_contain_text("谷歌浏览器")
            await expect(warning).to_contain_text("极速模式")
            await expect(page.get_by_test_id("login-box")).to_be_hidden()
        finally:
            await browser.close()


OLD_360_UA = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/69.0.3497.100 Safari/537.36 QIHU 360SE"
)


async def test_an_old_chromium_core_is_told_to_upgrade(server: LiveServer) -> None:
    """Rule A6 (issue #14): a 360 browser on a Chrome 69 core passed the check; now it is told."""
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(user_agent=OLD_360_UA)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/login.html")
            warning = page.get_by_test_id("browser-warning")
            await expect(warning).to_contain_text("Chrome 69")
            await expect(warning).to_contain_text("极速模式")
            await expect(page.get_by_test_id("login-box")).to_be_hidden()
        finally:
            await browser.close()


async def test_an_engine_without_modules_gets_the_classic_warning(server: LiveServer) -> None:
    """Rule A6 (issue #14): IE11 and IE modes run no module script, so the page's
    check never ran. old-browser.js is a classic script loaded with ``nomodule``:
    run here as such an engine would run it, with the IE document mode set."""
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/static/login.html")
            nomodule = page.locator('script[nomodule][src="/static/js/old-browser.js"]')
            await expect(nomodule).to_have_count(1)
            await page.evaluate("Object.defineProperty(document, 'documentMode', {value: 11})")
            await page.add_script_tag(url="/static/js/old-browser.js")
            warning = page.get_by_test_id("old-browser-warning")
            await expect(warning).to_contain_text("兼容模式（IE内核）")
            await expect(warning).to_contain_text("极速模式")
            await expect(page.get_by_test_id("login-box")).to_be_hidden()
        finally:
            await browser.close()


async def test_the_login_page_says_who_signs_in_and_that_a_code_follows(server: LiveServer) -> None:
    """Issue #14: every role signs in here, and the SMS code is the second step."""
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/static/login.html")
            await expect(page.get_by_test_id("login-roles")).to_contain_text("监考员")
            await expect(page.get_by_test_id("login-steps")).to_contain_text("短信验证码")
            await expect(page.get_by_test_id("login-submit")).to_contain_text("短信验证码")
        finally:
            await browser.close()


HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "/%09/evil.example/",  # not a plain path character after the '/': refused too
    "/\n/evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    " /static/home.html",
    "/",
    "",
]


async def test_login_never_follows_next_off_this_site(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Issue #9: login.html?next=/%09/host/… sent the browser to another site after login.
    The page keeps only a path of this site; anything else goes to the role's home."""
    await clear_rate_limits(pool)
    phone = unique_phone()
    user = await create_user(pool, phone=phone)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await known_captchas(context, pool, settings)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/login.html?next=/%09/evil.example/steal")
            await login_form(page, user.username, PASSWORD)
            await expect(page.get_by_test_id("code-sent")).to_be_visible()
            await page.get_by_test_id("login-code").fill(await last_sms_code(pool, phone))
            await page.get_by_test_id("code-submit").click()
            await page.wait_for_url(f"{server.url}/static/home.html")
            kept = await page.evaluate(
                """async (cases) => {
                    const { safeNext } = await import('/static/js/safe-next.js');
                    return cases.map((c) => safeNext(c, location.origin));
                }""",
                [*HOSTILE_NEXT, "/static/records.html?x=1#top"],
            )
            assert kept == [None] * len(HOSTILE_NEXT) + ["/static/records.html?x=1#top"]
        finally:
            await browser.close()


async def test_the_outbox_page_is_for_administrators(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule A4 and issue #9: the outbox page sends a visitor to sign in, tells a
    candidate it is for administrators, and shows an administrator the codes."""
    phone = unique_phone()
    await create_user(pool, phone=phone)
    candidate = await create_user(pool, phone=unique_phone())
    admin = await create_user(pool, role="admin")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/static/dev-outbox.html")
            await page.wait_for_url("**/static/login.html?next=%2Fstatic%2Fdev-outbox.html")
            context = await signed_in_context(browser, server, pool, candidate.id)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/dev-outbox.html")
            await expect(page.get_by_test_id("outbox-error")).to_have_text(
                "只有管理员可以查看短信收件箱，请以管理员身份登录"
            )
            await expect(page.get_by_test_id("outbox-row")).to_have_count(0)
            await clear_rate_limits(pool)
            context = await signed_in_context(browser, server, pool, admin.id)
            await known_captchas(context, pool, settings)
            page = await context.new_page()
            await page.goto(f"{server.url}/static/forgot.html")
            await page.get_by_test_id("forgot-phone").fill(phone)
            await page.get_by_test_id("forgot-captcha").fill(ANSWER)
            await page.get_by_test_id("forgot-send-code").click()
            await expect(page.get_by_test_id("forgot-code-sent")).to_be_visible()
            await page.goto(f"{server.url}/static/dev-outbox.html")
            await page.get_by_test_id("outbox-phone").fill(phone)
            await page.get_by_test_id("outbox-refresh").click()
            code = await last_sms_code(pool, phone)
            rows = page.get_by_test_id("outbox-body").filter(has_text=code)
            await expect(rows).to_have_count(1)
        finally:
            await browser.close()
