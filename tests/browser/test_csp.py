"""Every page loads under the Content-Security-Policy without a violation (issue #9).

Chromium reports each blocked script, style attribute or connection as a
``securitypolicyviolation`` event; the pages are visited signed in as a
reviewer (so the pages that need a session render their content) and none
may report one.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import async_playwright

from tests.support.browser import launch_chromium
from tests.support.live import LiveServer
from tests.support.users import create_user, login_cookies

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "static"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


async def test_pages_load_without_csp_violations(server: LiveServer, pool: asyncpg.Pool) -> None:
    reviewer = await create_user(pool, role="reviewer")
    login = await login_cookies(pool, reviewer.id)
    pages = sorted(p.name for p in STATIC.glob("*.html"))
    violations: dict[str, list[str]] = {}
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in login.cookies.items()]
            )
            await context.add_init_script(RECORD_VIOLATIONS)
            page = await context.new_page()
            console: list[str] = []
            page.on(
                "console",
                lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
            )
            for name in pages:
                await page.goto(f"{server.url}/static/{name}")
                await page.wait_for_load_state("networkidle")
                found = await page.evaluate("window.__csp || []")
                if found or console:
                    violations[name] = [*found, *console]
                console.clear()
        finally:
            await browser.close()
    assert violations == {}
