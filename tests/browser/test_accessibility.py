"""Every page passes axe-core with no serious or critical violation (issue
#14: older candidates, keyboards, screen readers), in the real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, async_playwright

from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.users import create_user

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

ANONYMOUS = ["login", "register", "forgot", "phone"]
SIGNED_IN = {
    "candidate": ["home", "class-papers", "records", "review-status"],
    "reviewer": ["reviewer", "result-review"],
    "admin": ["admin", "results"],
    "invigilator": ["invigilator"],
}


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


async def test_pages_without_a_session(server: LiveServer) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(bypass_csp=True)  # to inject axe only
            page = await context.new_page()
            found = {}
            for name in ANONYMOUS:
                await page.goto(f"{server.url}/static/{name}.html")
                await page.wait_for_load_state("networkidle")
                found[name] = await serious_violations(page)
            assert found == {name: [] for name in ANONYMOUS}
        finally:
            await browser.close()


@pytest.mark.parametrize("role", sorted(SIGNED_IN))
async def test_signed_in_pages(server: LiveServer, pool: asyncpg.Pool, role: str) -> None:
    if role == "candidate":
        user = await candidate_with_request(pool)
        await class_with_papers(pool, [user.id])
    else:
        user = await create_user(pool, role, real_name="无障碍")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await signed_in_context(browser, server, pool, user.id, bypass_csp=True)
            page = await context.new_page()
            found = {}
            for name in SIGNED_IN[role]:
                await page.goto(f"{server.url}/static/{name}.html")
                await page.wait_for_load_state("networkidle")
                found[name] = await serious_violations(page)
            assert found == {name: [] for name in SIGNED_IN[role]}
        finally:
            await browser.close()
