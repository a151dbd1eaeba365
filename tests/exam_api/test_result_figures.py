"""The administrator's results figures of a sitting and of a class, on the
real PostgreSQL through the HTTP API, against a known set of attempts
(issue #14; rules F2, E3, H1, H9)."""

from __future__ import annotations

import asyncpg

from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.result_figures import known_results
from tests.support.sittings import expect_ok
from tests.support.users import create_user


def _bins(*scores: float) -> list[int]:
    counts = [0] * 10
    for s in scores:
        counts[min(int(s // 10), 9)] += 1
    return counts


async def test_a_sittings_figures(server: LiveServer, pool: asyncpg.Pool) -> None:
    known = await known_results(server.url, pool)
    async with await client_for(server.url, pool, known.world.admin.id) as http:
        body = await expect_ok(http.get(f"/api/admin/results/sittings/{known.world.sitting_id}"))
    assert body["scope"]["kind"] == "sitting" and body["scope"]["title"] == "第一场"
    totals = body["totals"]
    # the attempt still in progress and the one outside the sitting are not counted
    assert (totals["attempts"], totals["candidates"], totals["scored"]) == (3, 3, 3)
    # rule F2: 60 of 100 is the pass mark; 72.5 and 100 reach it
    assert totals["reached_pass_mark"] == 2 and totals["pass_rate"] == 0.6667
    assert (totals["passed"], totals["failed"], totals["under_review"]) == (1, 1, 1)
    assert totals["pass_mark"] == 60 and totals["average"] == 72.5
    assert [b["count"] for b in body["scores"]] == _bins(45, 72.5, 100)
    assert (body["scores"][9]["from"], body["scores"][9]["to"]) == (90, 100)
    # rule E3: a forgiven violation is listed apart
    assert body["violations"] == [
        {"kind": "tab_hidden", "label": "切换页面或窗口", "count": 1, "forgiven": 1, "attempts": 1},
        {"kind": "window_blur", "label": "离开考试窗口", "count": 1, "forgiven": 0, "attempts": 1},
    ]
    # rules H1, H9: losses as measured; a camera back to live or a device's hint is none
    outages = {(o["cause"], o["device"]): (o["count"], o["attempts"]) for o in body["outages"]}
    assert outages == {
        ("network", "pc"): (1, 1),
        ("network", "phone"): (2, 1),
        ("camera", "pc"): (0, 0),
        ("camera", "phone"): (2, 2),
    }


async def test_a_class_counts_its_formal_attempts_in_and_outside_sittings(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    known = await known_results(server.url, pool)
    async with await client_for(server.url, pool, known.world.admin.id) as http:
        body = await expect_ok(
            http.get(f"/api/admin/results/classes/{known.world.papers.class_id}")
        )
    totals = body["totals"]
    # rule C2: the mock attempts each candidate made are practice, not counted
    assert (totals["attempts"], totals["scored"], totals["reached_pass_mark"]) == (4, 4, 3)
    assert totals["pass_rate"] == 0.75
    assert [b["count"] for b in body["scores"]] == _bins(45, 72.5, 100, 60)
    assert [v["kind"] for v in body["violations"]] == ["click_outside", "tab_hidden", "window_blur"]
    network_pc = next(o for o in body["outages"] if (o["cause"], o["device"]) == ("network", "pc"))
    assert network_pc["count"] == 2


async def test_only_administrators_see_the_figures(server: LiveServer, pool: asyncpg.Pool) -> None:
    known = await known_results(server.url, pool)
    for role in ("reviewer", "invigilator", "candidate"):
        user = await create_user(pool, role)
        async with await client_for(server.url, pool, user.id) as http:
            refused = await http.get(f"/api/admin/results/sittings/{known.world.sitting_id}")
            assert refused.status_code == 403, role
    async with await client_for(server.url, pool, known.world.admin.id) as http:
        missing = await http.get("/api/admin/results/sittings/999999999")
        assert missing.status_code == 404 and missing.json()["error"] == "sitting_not_found"
        gone = await http.get("/api/admin/results/classes/999999999")
        assert gone.status_code == 404 and gone.json()["error"] == "class_not_found"
        made = await expect_ok(
            http.post("/api/admin/classes", json={"name": f"空班级{known.outside_id}"})
        )
        empty = await expect_ok(http.get(f"/api/admin/results/classes/{made['id']}"))
    # no attempt yet: no rate rather than a false 0 %
    assert empty["totals"]["attempts"] == 0 and empty["totals"]["pass_rate"] is None
    assert [b["count"] for b in empty["scores"]] == [0] * 10
