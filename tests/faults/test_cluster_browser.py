"""A browser exam through HAProxy on ``proctor cluster`` (issue #10, rules
H8, L2): real Chromium for the candidate's PC (fake camera and screen), the
phone (mobile emulation, its own fake camera) and the invigilator's wall, each
in a context of its own, every request through the one HAProxy URL.

The candidate's PC camera peer, the phone's socket and the invigilator's
watch socket land on three different web processes, and the test proves it
by measuring: HAProxy names the process behind each response and websocket
upgrade (``X-Proctor-Server``, read in the browser), and each process says on
its own ``/metrics`` what it holds (``proctor_rtc_peers``,
``proctor_sockets{device}``). HAProxy balances by ``leastconn`` without
stickiness, so the test steers with that rule, still through HAProxy: it
reconnects the PC's socket until it sits on the process holding the peer,
so the phone's socket goes to an idle process; the wall's panel is reopened
until its socket is off the peer's process, and the phone's socket
reconnected until it is on the process left (every loop bounded).

Across those processes the wall shows the live still (served by a process
other than the peer's) and plays the live video, counts the candidate's tab
switch, and the submitted exam's result is in PostgreSQL. Every wait is
bounded; nothing is timed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Response, async_playwright, expect

from exam_api.assignments import assign
from tests.support.browser import launch_chromium
from tests.support.cluster_process import ClusterProcess
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually

pytestmark = pytest.mark.browser

WAIT_MS = 60_000  # the shared machine runs three browsers' pages and five servers
WITHIN = 60.0
TRIES = 12  # reconnects allowed to place one socket (runs needed up to three)
SERVER = "x-proctor-server"  # set by deploy/haproxy.cfg on every response


@dataclass
class Upgrades:
    """The websocket upgrades of one page and the process HAProxy gave each,
    as Chromium received them (DevTools protocol: Playwright shows no
    websocket headers)."""

    urls: dict[str, str] = field(default_factory=dict)
    opened: list[tuple[str, str]] = field(default_factory=list)  # (path, process)

    @classmethod
    async def of(cls, ctx: BrowserContext, page: Page) -> Upgrades:
        upgrades = cls()
        cdp = await ctx.new_cdp_session(page)
        cdp.on("Network.webSocketCreated", upgrades._created)
        cdp.on("Network.webSocketHandshakeResponseReceived", upgrades._upgraded)
        await cdp.send("Network.enable")
        return upgrades

    def _created(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["url"]

    def _upgraded(self, event: dict[str, Any]) -> None:
        response = event["response"]
        if response["status"] == 101:
            headers = {k.lower(): v for k, v in response["headers"].items()}
            path = urlsplit(self.urls.get(event["requestId"], "")).path
            self.opened.append((path, headers.get(SERVER, "")))

    def on(self, path: str) -> list[str]:
        return [server for p, server in self.opened if p == path]

    async def next_on(self, path: str, seen: int) -> str:
        """The process of the first upgrade of ``path`` after ``seen`` of them."""

        async def opened() -> bool:
            return len(self.on(path)) > seen

        await eventually(opened, within=WITHIN)
        return self.on(path)[seen]


async def place(
    upgrades: Upgrades,
    path: str,
    wanted: Callable[[str], bool],
    reconnect: Callable[[], Awaitable[None]],
) -> str:
    """From the page's latest socket on ``path`` (or its first, awaited),
    reconnect it until HAProxy puts it on a process ``wanted`` accepts;
    returns that process."""
    seen = len(upgrades.on(path)) - 1
    server = await upgrades.next_on(path, max(seen, 0))
    for _ in range(TRIES):
        if wanted(server):
            return server
        seen = len(upgrades.on(path))
        await reconnect()
        server = await upgrades.next_on(path, seen)
    raise AssertionError(f"{path}: HAProxy gave {upgrades.on(path)}")


def _gauge(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def held(cluster: ClusterProcess) -> dict[str, dict[str, float]]:
    """What each web process says it holds, on its own /metrics (which HAProxy
    keeps off the public address): PC camera peers, live-video viewer peers,
    and sockets by device."""
    figures: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        for name in sorted(n for n in cluster.members if n.startswith("web-")):
            text = (await http.get(f"{cluster.member_url(name)}/metrics")).text
            figures[name] = {
                "peer": _gauge(text, "proctor_rtc_peers"),
                "viewer": _gauge(text, "proctor_live_viewers"),
            }
            for device in ("pc", "phone", "watch"):
                figures[name][device] = _gauge(text, f'proctor_sockets{{device="{device}"}}')
    return figures


async def settled_placement(cluster: ClusterProcess) -> dict[str, str]:
    """Once exactly one peer, one viewer and one socket of each kind are held
    (a closed one's process may count it a moment longer): which process
    holds each."""
    last: list[dict[str, dict[str, float]]] = []

    async def one_each() -> bool:
        last[:] = [await held(cluster)]
        return all(
            sorted(f[what] for f in last[0].values()) == [0.0] * (len(last[0]) - 1) + [1.0]
            for what in ("peer", "viewer", "pc", "phone", "watch")
        )

    try:
        await eventually(one_each, within=WITHIN)
    finally:
        print(f"held by each web process: {last[0] if last else None}")
    return {
        what: next(n for n, f in last[0].items() if f[what] == 1.0) for what in last[0]["web-1"]
    }


def record_responses(page: Page, into: list[tuple[str, int, str, str]]) -> None:
    """Every response of ``page``: (path, status, content type, process)."""

    def seen(response: Response) -> None:
        headers = response.headers
        path = urlsplit(response.url).path
        into.append(
            (path, response.status, headers.get("content-type", ""), headers.get(SERVER, ""))
        )

    page.on("response", seen)


async def fetch_still(wall: Page, attempt_id: int) -> tuple[int, str, str, int]:
    """The wall page's own request of the live still: status, type, process, bytes."""
    result: list[Any] = await wall.evaluate(
        """async (url) => {
            const res = await fetch(url, { credentials: 'same-origin' });
            const body = await res.arrayBuffer();
            return [res.status, res.headers.get('content-type') || '',
                    res.headers.get('x-proctor-server') || '', body.byteLength];
        }""",
        f"/api/invigilate/attempts/{attempt_id}/live.jpg",
    )
    return int(result[0]), str(result[1]), str(result[2]), int(result[3])


async def test_a_browser_exam_through_haproxy_on_three_processes(
    cluster: ClusterProcess, pool: asyncpg.Pool
) -> None:
    url = cluster.url
    user = await candidate_with_request(pool)  # real name 测试考生
    papers = await class_with_papers(pool, [user.id], time_limit_s=1800)
    invigilator = await create_user(pool, "invigilator")
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)  # rule G5: the room's invigilator
    candidate = await login_cookies(pool, user.id)
    staff = await login_cookies(pool, invigilator.id)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            # The candidate's PC: the paper center's confirm step, then the exam page.
            pc_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            await pc_ctx.add_cookies(
                [{"name": k, "value": v, "url": url} for k, v in candidate.cookies.items()]
            )
            pc = await pc_ctx.new_page()
            pc_upgrades = await Upgrades.of(pc_ctx, pc)
            pc_responses: list[tuple[str, int, str, str]] = []
            record_responses(pc, pc_responses)
            await pc.goto(f"{url}/static/class-papers.html")
            await pc.get_by_test_id("paper-start-mock").click()
            await pc.get_by_test_id("paper-agree-mock").check()
            await pc.get_by_test_id("paper-confirm-mock").click()
            await pc.wait_for_url("**/static/exam.html?attempt=*")
            attempt_id = int(pc.url.rsplit("=", 1)[1])
            # the PC camera's video reaches the process holding its peer (rule D1)
            await expect(pc.get_by_test_id("check-camera")).to_have_attribute(
                "data-state", "ok", timeout=WAIT_MS
            )
            offers = [s for p, st, _, s in pc_responses if p == "/api/rtc/offer" and st == 200]
            assert offers, pc_responses
            peer_at = offers[-1]  # the process that answered the offer holds the peer

            # Steering by leastconn: the PC's socket onto the peer's process, so
            # the next two sockets go to the two processes holding nothing.
            async def reconnect_pc() -> None:
                await pc.evaluate("window.examHub.ws.close()")

            pc_at = await place(pc_upgrades, "/ws/pc", lambda s: s == peer_at, reconnect_pc)

            # The phone: the address the PC shows, its own fake camera.
            phone_url = (await pc.get_by_test_id("phone-url").text_content()) or ""
            assert urlsplit(phone_url).netloc == urlsplit(url).netloc  # through HAProxy
            phone_ctx = await browser.new_context(**pw.devices["Pixel 5"])
            phone = await phone_ctx.new_page()
            phone_upgrades = await Upgrades.of(phone_ctx, phone)
            await phone.goto(phone_url)
            await expect(phone.get_by_test_id("bind-name")).to_have_text("测**生", timeout=WAIT_MS)
            await phone.get_by_test_id("phone-bind-ok").click()
            await phone.get_by_test_id("phone-notice-ok").click()
            status = phone.get_by_test_id("phone-status")
            await expect(status).to_have_text("已连接监考服务", timeout=WAIT_MS)

            async def reconnect_phone() -> None:
                await phone.evaluate("window.phoneHub.ws.close()")

            phone_at = await place(
                phone_upgrades, "/ws/phone", lambda s: s != peer_at, reconnect_phone
            )
            await expect(status).to_have_text("已连接监考服务", timeout=WAIT_MS)
            await phone.get_by_test_id("phone-start").click()
            await expect(phone.get_by_test_id("phone-camera-state")).to_have_attribute(
                "data-state", "live", timeout=WAIT_MS
            )
            # both cameras live: answering opens (rule D1)
            await expect(pc.get_by_test_id("exam-blocked")).to_be_hidden(timeout=WAIT_MS)

            # The invigilator's wall opens the candidate's tile.
            wall_ctx = await browser.new_context()
            await wall_ctx.add_cookies(
                [{"name": k, "value": v, "url": url} for k, v in staff.cookies.items()]
            )
            wall = await wall_ctx.new_page()
            wall_upgrades = await Upgrades.of(wall_ctx, wall)
            wall_responses: list[tuple[str, int, str, str]] = []
            record_responses(wall, wall_responses)
            await wall.goto(f"{url}/static/invigilator.html")
            tile = wall.get_by_test_id(f"tile-{attempt_id}")
            await expect(tile.get_by_test_id("tile-name")).to_have_text("测试考生", timeout=WAIT_MS)
            await tile.click()

            video = wall.get_by_test_id("detail-video")

            async def no_viewers() -> bool:
                return all(f["viewer"] == 0 for f in (await held(cluster)).values())

            async def reopen_tile() -> None:
                # Once its video plays, a closed panel's viewer peer goes at once;
                # one closed while connecting would linger and count against
                # the attempt's bound (webrtc/live_video.py MAX_VIEWERS_PER_ATTEMPT).
                await expect(video).to_be_visible(timeout=WAIT_MS)
                await wall.get_by_test_id("detail-close").click()
                await eventually(no_viewers, within=WITHIN)
                await tile.click()

            # The panel opens its socket among its own requests (identity, lease,
            # still), which take the idle process first; so the wall is only
            # kept off the peer's process, and the phone (its socket reconnects
            # alone) then moves to the process left idle if they met.
            watch_at = await place(
                wall_upgrades, "/ws/invigilate", lambda s: s != peer_at, reopen_tile
            )
            phone_at = await place(
                phone_upgrades,
                "/ws/phone",
                lambda s: s not in (peer_at, watch_at),
                reconnect_phone,
            )
            await expect(status).to_have_text("已连接监考服务", timeout=WAIT_MS)

            # The live still: shown by the wall, and served by a process that
            # does not hold the peer (it asks the holder, rule H8).
            async def page_still() -> bool:
                return any(
                    p.endswith("/live.jpg") and st == 200 and ct == "image/jpeg"
                    for p, st, ct, _ in wall_responses
                )

            await eventually(page_still, within=WITHIN)
            still: tuple[int, str, str, int] = (0, "", "", 0)
            for _ in range(TRIES):
                still = await fetch_still(wall, attempt_id)
                if still[2] != peer_at:
                    break
            print(f"live still through HAProxy: {still} (status, type, process, bytes)")
            assert still[0] == 200 and still[1] == "image/jpeg" and still[3] > 0
            assert still[2] != peer_at

            # The live video (rule L2): the PC's frames, forwarded by the peer's
            # process, really play in the wall's <video>.
            await expect(video).to_be_visible(timeout=WAIT_MS)
            await expect(wall.get_by_test_id("detail-live-note")).to_have_text("电脑摄像头实时视频")
            size = await video.evaluate("v => [v.videoWidth, v.videoHeight]")
            assert size[0] > 0 and size[1] > 0
            start = float(await video.evaluate("v => v.currentTime"))

            async def plays() -> bool:
                return bool(await video.evaluate("(v, t) => !v.paused && v.currentTime > t", start))

            await eventually(plays, within=WITHIN)
            answered_by = [
                s for p, st, _, s in wall_responses if p.endswith("/live-video") and st == 200
            ]
            print(
                f"live video {size[0]}x{size[1]} playing; its offer answered through {answered_by}"
            )

            # Measured on the processes themselves: three different ones.
            placement = await settled_placement(cluster)
            print(
                f"HAProxy placed: PC peer {peer_at} (its socket {pc_at}), phone {phone_at}, "
                f"wall {watch_at}; the processes say {placement}; upgrades: "
                f"PC {pc_upgrades.on('/ws/pc')}, phone {phone_upgrades.on('/ws/phone')}, "
                f"wall {wall_upgrades.on('/ws/invigilate')}"
            )
            assert placement == {
                "peer": peer_at,
                "viewer": peer_at,  # the wall's video peer beside the candidate's
                "pc": pc_at,
                "phone": phone_at,
                "watch": watch_at,
            }
            assert len({peer_at, phone_at, watch_at}) == 3

            # The candidate answers every question (rule E7: each saved at once).
            for testid in (
                "q1-opt-a",
                "q2-opt-a",
                "q2-opt-b",
                "q2-opt-c",
                "q3-opt-false",
                "q4-opt-true",
            ):
                await pc.get_by_test_id(testid).check()
            await expect(pc.get_by_test_id("exam-progress")).to_have_text("已答 4 / 4 题")
            await expect(pc.get_by_test_id("save-state")).to_have_text(
                "答案已保存", timeout=WAIT_MS
            )

            # Rule E3: one switch away, counted, on the PC and on the wall.
            await pc.evaluate("window.dispatchEvent(new Event('blur'))")
            await expect(pc.get_by_test_id("violation-count")).to_have_text(
                "已切屏 1 次（共 5 次）", timeout=WAIT_MS
            )
            await pc.evaluate("window.dispatchEvent(new Event('focus'))")
            await expect(tile.get_by_test_id("tile-violations")).to_have_text(
                "违规 1/5", timeout=WAIT_MS
            )
            await expect(wall.get_by_test_id("detail-违规")).to_have_text("1/5", timeout=WAIT_MS)

            # Submitted; rule C4: the server's score.
            await pc.get_by_test_id("exam-submit").click()
            await expect(pc.get_by_test_id("exam-confirm")).to_contain_text("已全部作答")
            await pc.get_by_test_id("exam-submit-confirm").click()
            await expect(pc.get_by_test_id("exam-score")).to_have_text(
                "成绩：100 分（百分制，60 分及格）", timeout=WAIT_MS
            )
            # the end reaches the wall's socket on its own process
            await expect(wall.get_by_test_id("detail-msg")).to_contain_text(
                "考试已结束", timeout=WAIT_MS
            )
        finally:
            await browser.close()

    async with pool.acquire() as conn:
        attempt = await conn.fetchrow(
            "SELECT status, end_reason, violations, score FROM attempts WHERE id = $1", attempt_id
        )
        violations = await conn.fetchval(
            "SELECT count(*) FROM attempt_violations WHERE attempt_id = $1", attempt_id
        )
        answers = await conn.fetch(
            "SELECT answer FROM attempt_answers WHERE attempt_id = $1 ORDER BY question_id",
            attempt_id,
        )
    print(f"PostgreSQL: attempt {attempt_id} {dict(attempt)}, {violations} violation(s)")
    assert (attempt["status"], attempt["end_reason"], attempt["violations"]) == (
        "ended",
        "submitted",
        1,
    )
    assert attempt["score"] == 100
    assert violations == 1
    assert [r["answer"] for r in answers] == ["A", ["A", "B", "C"], False, True]
