"""Real Chromium: no page shows a catalogue key instead of its text (issue
#14). A key named in a page but missing from static/js/i18n.js would show as
itself; every page is visited signed in as an administrator and as nobody."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import async_playwright

from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.users import create_user

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "static"
# a text node or attribute that is a key ("page.s12", "nav.results"): t() and
# the data-i18n filler show a key they do not find as itself
SHOWN_KEYS = r"""() => {
  const key = /^[a-z][a-z_]*(\.[\w-]+)+$/;
  const found = [];
  const walk = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const text = walk.currentNode.textContent.trim();
    if (key.test(text)) found.push(text);
  }
  for (const node of document.querySelectorAll('[title],[placeholder],[aria-label],[alt]')) {
    for (const a of ['title', 'placeholder', 'aria-label', 'alt']) {
      if (key.test((node.getAttribute(a) || '').trim())) found.push(`${a}=${node.getAttribute(a)}`);
    }
  }
  return found;
}"""


async def test_no_page_shows_a_key(server: LiveServer, pool: asyncpg.Pool) -> None:
    admin = await create_user(pool, "admin")
    pages = sorted(p.name for p in STATIC.glob("*.html"))
    shown: dict[str, list[str]] = {}
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            for context in (
                await browser.new_context(),
                await signed_in_context(browser, server, pool, admin.id),
            ):
                page = await context.new_page()
                for name in pages:
                    await page.goto(f"{server.url}/static/{name}")
                    await page.wait_for_load_state("networkidle")
                    if keys := await page.evaluate(SHOWN_KEYS):
                        shown[f"{name} ({page.url})"] = keys
        finally:
            await browser.close()
    assert shown == {}
