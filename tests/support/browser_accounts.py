"""Browser-side helpers of the account tests."""

from __future__ import annotations

import base64
import json
import random

import asyncpg
from playwright.async_api import Browser, BrowserContext, Route

from exam_api import captcha
from proctor.settings import Settings
from tests.support.accounts import known_captcha
from tests.support.live import LiveServer
from tests.support.users import login_cookies

ANSWER = "K7PX"


async def known_captchas(context: BrowserContext, pool: asyncpg.Pool, settings: Settings) -> None:
    """Answer the captcha endpoint with captchas whose answer is ``ANSWER``.

    The page still shows a real server-drawn picture of that answer.
    """

    async def answer(route: Route) -> None:
        known = await known_captcha(pool, settings.secret_key, ANSWER)
        png = captcha.draw(ANSWER, random.Random(1))
        body = {
            "captcha_id": known["captcha_id"],
            "image": "data:image/png;base64," + base64.b64encode(png).decode(),
            "expires_in": 300,
        }
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    await context.route("**/api/auth/captcha", answer)


async def signed_in_context(
    browser: Browser,
    server: LiveServer,
    pool: asyncpg.Pool,
    user_id: int,
    *,
    bypass_csp: bool = False,
) -> BrowserContext:
    """A browser context signed in with a DB-made session (no captcha, no SMS);
    ``bypass_csp`` only to inject a test's own script (axe-core)."""
    login = await login_cookies(pool, user_id)
    context = await browser.new_context(bypass_csp=bypass_csp)
    await context.add_cookies(
        [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
    )
    return context
