"""Approved candidates in no class yet, found and enrolled many at once by an
administrator; the candidate is told what happens next (issue #14)."""

from __future__ import annotations

import asyncpg

from exam_api.classes import create_class
from exam_api.papers import NO_CLASS_YET
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, client_for
from tests.support.users import create_user, unique


async def _rename(pool: asyncpg.Pool, user_id: int, name: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE users SET real_name = $2 WHERE id = $1", user_id, name)


async def test_the_unplaced_are_listed_searched_and_enrolled_together(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    tag = unique("分班")
    approved = [await candidate_with_request(pool) for _ in range(2)]
    pending = await candidate_with_request(pool, "pending")
    for i, user in enumerate([*approved, pending]):
        await _rename(pool, user.id, f"{tag}{i}")
    admin = await create_user(pool, "admin")
    async with pool.acquire() as conn:
        class_id = await create_class(conn, f"班级{tag}")
    async with await client_for(server.url, pool, approved[0].id) as http:
        mine = (await http.get("/api/papers")).json()
    assert (mine["visible"], mine["papers"], mine["message"]) == (True, [], NO_CLASS_YET)
    async with await client_for(server.url, pool, admin.id) as http:
        found = (await http.get("/api/admin/candidates/unplaced", params={"q": tag})).json()
        assert [c["id"] for c in found["candidates"]] == [u.id for u in approved]
        enrolled = await http.post(
            f"/api/admin/classes/{class_id}/members/bulk",
            json={"user_ids": [approved[0].id, approved[1].id, pending.id, admin.id]},
        )
        assert enrolled.status_code == 200, enrolled.text
        assert sorted(enrolled.json()["added"]) == sorted(u.id for u in approved)
        assert enrolled.json()["skipped"] == 2  # not approved, not a candidate
        after = (await http.get("/api/admin/candidates/unplaced", params={"q": tag})).json()
        assert after["candidates"] == []
        for bad in ([], ["1"], [True], list(range(1, 502)), "1"):
            r = await http.post(
                f"/api/admin/classes/{class_id}/members/bulk", json={"user_ids": bad}
            )
            assert (r.status_code, r.json()["error"]) == (400, "bad_user_ids")
        missing = await http.post(
            "/api/admin/classes/999999999/members/bulk", json={"user_ids": [approved[0].id]}
        )
        assert (missing.status_code, missing.json()["error"]) == (404, "class_not_found")
        long = await http.get("/api/admin/candidates/unplaced", params={"q": "x" * 65})
        assert long.status_code == 400
    async with pool.acquire() as conn:
        members = await conn.fetch(
            "SELECT user_id FROM class_members WHERE class_id = $1 ORDER BY user_id", class_id
        )
    assert [m["user_id"] for m in members] == sorted(u.id for u in approved)
