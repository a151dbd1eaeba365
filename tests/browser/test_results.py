"""Real Chromium: the administrator's results page draws a sitting's and a
class's figures as SVG charts with the right bars and labels (issue #14)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Locator, async_playwright, expect

from tests.browser.test_accessibility import serious_violations
from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.support.browser import launch_chromium
from tests.support.browser_accounts import signed_in_context
from tests.support.live import LiveServer
from tests.support.result_figures import known_results

pytestmark = pytest.mark.browser

SCORE_LABELS = [f"{f}–{f + 9}" for f in range(0, 90, 10)] + ["90–100"]


async def _bars(chart: Locator, n: int) -> list[tuple[str, int]]:
    """The chart's bars as (label, value); each bar's height follows its value."""
    found = []
    for i in range(n):
        label = await chart.get_by_test_id(
            f"{await chart.get_attribute('data-testid')}-label-{i}"
        ).text_content()
        value = await chart.locator("rect[data-value]").nth(i).get_attribute("data-value")
        found.append((label or "", int(value or -1)))
    return found


async def test_a_sittings_charts_and_a_classes(
    server: LiveServer, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    shots = tmp_path
    known = await known_results(server.url, pool)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await signed_in_context(browser, server, pool, known.world.admin.id)
            await context.add_init_script(RECORD_VIOLATIONS)
            page = await context.new_page()
            # from the admin page's list of sittings, the sitting's results
            await page.goto(f"{server.url}/static/admin.html")
            await page.get_by_test_id(f"sitting-results-{known.world.sitting_id}").click()
            await page.wait_for_url(f"**/static/results.html?sitting={known.world.sitting_id}")
            await expect(page.get_by_test_id("results-title")).to_contain_text("场次：第一场")
            await expect(page.get_by_test_id("results-attempts")).to_have_text("3 人次（3 名考生）")
            await expect(page.get_by_test_id("results-pass")).to_have_text(
                "66.7%（2 / 3 人次达到 60 分）"
            )
            scores = page.get_by_test_id("chart-scores")
            await expect(scores.locator("rect[data-value]")).to_have_count(10)
            expected = [0] * 10
            for bin_ in (4, 7, 9):  # 45, 72.5, 100
                expected[bin_] = 1
            assert await _bars(scores, 10) == list(zip(SCORE_LABELS, expected, strict=True))
            # a bar of 1 is as tall as the tallest; an empty bin has no height
            assert (
                await scores.get_by_test_id("chart-scores-bar-4").get_attribute("height") == "150"
            )
            assert await scores.get_by_test_id("chart-scores-bar-0").get_attribute("height") == "0"
            await expect(page.get_by_test_id("chart-pass-value")).to_have_text("66.7%")
            violations = page.get_by_test_id("chart-violations")
            assert await _bars(violations, 2) == [("切换页面或窗口", 1), ("离开考试窗口", 1)]
            outages = page.get_by_test_id("chart-outages")
            assert await _bars(outages, 4) == [
                ("电脑断线", 1),
                ("手机断线", 2),
                ("电脑摄像头中断", 0),
                ("手机摄像头中断", 2),
            ]
            # the chart is an image a screen reader can read
            label = await outages.get_attribute("aria-label")
            assert (
                label
                == "设备中断（次数）：电脑断线：1，手机断线：2，电脑摄像头中断：0，手机摄像头中断：2"
            )

            # the class: its formal attempt outside the sitting counts too
            await page.get_by_test_id("results-class").select_option(
                str(known.world.papers.class_id)
            )
            await expect(page.get_by_test_id("results-title")).to_contain_text("班级：")
            await expect(page.get_by_test_id("results-attempts")).to_have_text("4 人次（4 名考生）")
            await expect(page.get_by_test_id("chart-pass-value")).to_have_text("75%")
            assert page.url.endswith(f"?class={known.world.papers.class_id}")
            await page.screenshot(path=str(shots / "results-class.png"), full_page=True)
            # no CSP report on the drawn charts (SVG presentation attributes, no style attributes)
            assert await page.evaluate("window.__csp") == []

            # axe-core on the drawn charts: no serious violation (issue #14)
            axe_context = await signed_in_context(
                browser, server, pool, known.world.admin.id, bypass_csp=True
            )
            axe_page = await axe_context.new_page()
            await axe_page.goto(
                f"{server.url}/static/results.html?sitting={known.world.sitting_id}"
            )
            await expect(axe_page.get_by_test_id("chart-outages")).to_be_visible()
            assert await serious_violations(axe_page) == []
        finally:
            await browser.close()
