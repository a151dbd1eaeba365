"""The login page → the province's SSO (a real OpenID provider's login and
consent pages) → back in the exam system as the candidate (issue #15)."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import launch_chromium
from tests.support.live import LiveServer
from tests.support.oidc_servers import SsoSystem, sso_system

__all__ = ["sso_system"]

pytestmark = pytest.mark.browser


async def test_sign_in_through_the_sso_in_chromium(sso_system: SsoSystem) -> None:
    person = sso_system.people["browser"]
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(f"{sso_system.app.url}/static/login.html")
            button = page.get_by_test_id("sso-login")
            await expect(button).to_have_text("蒙速办登录")
            await expect(page.get_by_test_id("login-form")).to_be_visible()  # beside the form
            await button.click()
            # the provider's development login page, then its consent page
            await page.wait_for_url(f"{sso_system.provider.issuer}/interaction/**")
            await page.locator('input[name="login"]').fill(person.login)
            await page.locator('input[name="password"]').fill("any-password")
            await page.locator('button[type="submit"]').click()
            await expect(page.get_by_role("button", name="Continue")).to_be_visible()
            await page.get_by_role("button", name="Continue").click()
            await page.wait_for_url(f"{sso_system.app.url}/static/home.html")
            await expect(page.get_by_test_id("user-name")).to_have_text(person.real_name)
            # rule B1: a new candidate meets the request wizard first
            await page.get_by_test_id("wizard-close").click()
            # logout ends the provider's session too, and comes back to the login page
            await page.get_by_test_id("logout").click()
            await page.wait_for_url(f"{sso_system.provider.issuer}/session/end**")
            await page.get_by_role("button", name="Yes, sign me out").click()
            await page.wait_for_url(f"{sso_system.app.url}/static/login.html")
            await expect(page.get_by_test_id("sso-login")).to_be_visible()
        finally:
            await browser.close()


async def test_a_refusal_is_a_chinese_page_in_chromium(sso_system: SsoSystem) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(f"{sso_system.app.url}/api/auth/oidc/callback?state=x&code=y")
            await expect(page.get_by_test_id("sso-error")).to_have_text(
                "登录请求已失效或已被使用，请返回登录页重新登录"
            )
            await page.get_by_test_id("sso-back").click()
            await page.wait_for_url(f"{sso_system.app.url}/static/login.html")
        finally:
            await browser.close()


async def test_the_login_page_has_no_sso_button_when_it_is_off(server: LiveServer) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            async with page.expect_response("**/api/auth/oidc/config") as config:
                await page.goto(f"{server.url}/static/login.html")
            assert await (await config.value).json() == {"enabled": False}
            await expect(page.get_by_test_id("login-form")).to_be_visible()
            await expect(page.get_by_test_id("sso-box")).to_be_hidden()
        finally:
            await browser.close()
