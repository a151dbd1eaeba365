"""Sittings (场次) and rooms (考场) on the real PostgreSQL through the HTTP API
(rule M1): scheduling, assignment within capacity, rooms of at most 30,
the paper opening only inside the sitting's window by the server clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.support.devices import live_pair
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, client_for
from tests.support.sittings import expect_ok, scheduled_sitting
from tests.support.users import create_user


async def test_admin_schedules_a_sitting_within_capacity(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M1: the administrator assigns candidates; never more than the capacity
    world = await scheduled_sitting(server.url, pool, candidates=2)
    extra = await candidate_with_request(pool)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            world.papers.class_id,
            extra.id,
        )
    async with await client_for(server.url, pool, world.admin.id) as http:
        full = await http.post(
            f"/api/admin/sittings/{world.sitting_id}/candidates",
            json={"usernames": [extra.username]},
        )
        assert full.status_code == 409 and full.json()["error"] == "sitting_full"
        again = await expect_ok(
            http.post(
                f"/api/admin/sittings/{world.sitting_id}/candidates",
                json={"usernames": [world.candidates[0].username]},
            )
        )
        assert again["added"] == [] and again["skipped"] == [world.candidates[0].username]
        stranger = await create_user(pool)
        wrong = await http.post(
            f"/api/admin/sittings/{world.sitting_id}/candidates",
            json={"usernames": [stranger.username]},
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "not_in_class"
        bad = await http.post(
            "/api/admin/sittings",
            json={
                "paper_id": world.papers.formal_id,
                "title": "x",
                "starts_at": "明天",
                "capacity": 1,
            },
        )
        assert bad.status_code == 400 and "时间" in bad.json()["message"]
        listed = (await http.get("/api/admin/sittings")).json()["sittings"]
        mine = next(s for s in listed if s["id"] == world.sitting_id)
        assert (mine["candidates"], mine["unplaced"], mine["rooms"]) == (2, 0, 1)


async def test_rooms_of_at_most_30_are_filled_and_edited(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M1: rooms of at most 30 per invigilator, filled automatically, editable
    world = await scheduled_sitting(server.url, pool, candidates=0)
    people = [await candidate_with_request(pool) for _ in range(31)]
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            [(world.papers.class_id, p.id) for p in people],
        )
        await conn.execute("UPDATE exam_sittings SET capacity = 40 WHERE id = $1", world.sitting_id)
    second = await create_user(pool, "invigilator")
    third = await create_user(pool, "invigilator")
    sid = world.sitting_id
    async with await client_for(server.url, pool, world.admin.id) as http:
        added = await expect_ok(
            http.post(f"/api/admin/sittings/{sid}/candidates", json={"whole_class": True})
        )
        assert len(added["added"]) == 31
        short = await http.post(
            f"/api/admin/sittings/{sid}/rooms/fill",
            json={"invigilators": [world.invigilator.username]},
        )
        assert short.status_code == 409 and short.json()["error"] == "need_invigilators"
        assert "1 名监考员" in short.json()["message"]
        filled = await expect_ok(
            http.post(
                f"/api/admin/sittings/{sid}/rooms/fill",
                json={"invigilators": [world.invigilator.username, second.username]},
            )
        )
        assert [len(r["candidates"]) for r in filled["rooms"]] == [30, 1]
        assert filled["unplaced"] == []
        big, small = filled["rooms"]
        mover = small["candidates"][0]
        full = await http.put(
            f"/api/admin/sittings/{sid}/candidates/{mover['id']}/room", json={"room_id": big["id"]}
        )
        assert full.status_code == 409 and full.json()["error"] == "room_full"
        moved = big["candidates"][0]
        detail = await expect_ok(
            http.put(
                f"/api/admin/sittings/{sid}/candidates/{moved['id']}/room",
                json={"room_id": small["id"]},
            )
        )
        assert [len(r["candidates"]) for r in detail["rooms"]] == [29, 2]
        # one room per invigilator in a sitting
        busy = await http.put(
            f"/api/admin/rooms/{small['id']}", json={"invigilator": world.invigilator.username}
        )
        assert busy.status_code == 409 and busy.json()["error"] == "invigilator_busy"
        await expect_ok(
            http.put(f"/api/admin/rooms/{small['id']}", json={"invigilator": third.username})
        )
    async with await client_for(server.url, pool, third.id) as http:
        rooms = (await http.get("/api/invigilate/rooms")).json()["rooms"]
        assert [r["id"] for r in rooms] == [small["id"]]
        assert len(rooms[0]["candidates"]) == 2
    async with await client_for(server.url, pool, second.id) as http:
        assert (await http.get("/api/invigilate/rooms")).json()["rooms"] == []


async def _paper(http: httpx.AsyncClient, paper_id: int) -> dict:
    papers = (await http.get("/api/papers")).json()["papers"]
    return next(p for p in papers if p["id"] == paper_id)


async def test_the_paper_opens_only_inside_the_window(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M1: before the identity-check window, and after the late-entry cut-off, no paper
    early = await scheduled_sitting(
        server.url, pool, 1, starts_in=timedelta(hours=2), checkin_min=30
    )
    late = await scheduled_sitting(
        server.url, pool, 1, starts_in=timedelta(minutes=-40), late_entry_min=30, minutes=90
    )
    for world, reason in ((early, "sitting_not_open"), (late, "late_entry_closed")):
        async with await client_for(server.url, pool, world.candidates[0].id) as http:
            card = await _paper(http, world.papers.formal_id)
            assert (card["state"], card["reason"]) == ("locked", reason)
            assert card["sitting"]["id"] == world.sitting_id
            refused = await http.post("/api/attempts", json={"paper_id": world.papers.formal_id})
            assert refused.status_code == 409 and refused.json()["error"] == reason


async def test_a_candidate_outside_the_sitting_cannot_open_the_paper(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    world = await scheduled_sitting(server.url, pool, 1)
    outsider = await candidate_with_request(pool)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            world.papers.class_id,
            outsider.id,
        )
        await conn.execute(
            """INSERT INTO attempts (user_id, paper_id, status, started_at, deadline_at, ended_at, end_reason)
               VALUES ($1, $2, 'ended', now(), now(), now(), 'submitted')""",
            outsider.id,
            world.papers.mock_id,
        )
    async with await client_for(server.url, pool, outsider.id) as http:
        refused = await http.post("/api/attempts", json={"paper_id": world.papers.formal_id})
        assert refused.status_code == 409 and refused.json()["error"] == "no_sitting"


async def test_identity_check_window_hides_the_questions_until_the_start(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M1: inside the window before the start the devices are checked, no answer is taken
    world = await scheduled_sitting(
        server.url, pool, 1, starts_in=timedelta(minutes=10), minutes=60
    )
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        home = (await http.get("/api/sittings/mine")).json()["sittings"]
        assert [s["id"] for s in home] == [world.sitting_id]
        assert home[0]["room"] == "第1考场" and home[0]["prepare"]
        started = await expect_ok(
            http.post("/api/attempts", json={"paper_id": world.papers.formal_id})
        )
        ends_at = datetime.fromisoformat(world.sitting["ends_at"])
        # every attempt of the sitting ends at the sitting's end
        assert datetime.fromisoformat(started["deadline_at"]) == ends_at
        attempt_id = started["attempt_id"]
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
        assert view["questions"] == [] and view["opens_at"] == world.sitting["starts_at"]
        answer = await http.put(
            f"/api/attempts/{attempt_id}/answers/{world.papers.question_ids[0]}",
            json={"answer": "A"},
        )
        assert answer.status_code == 409 and answer.json()["error"] in (
            "not_started",
            "cameras_not_live",
        )
    async with pool.acquire() as conn:
        sitting_id = await conn.fetchval(
            "SELECT sitting_id FROM attempts WHERE id = $1", attempt_id
        )
        assert sitting_id == world.sitting_id
        # the start comes: the questions are there
        await conn.execute(
            "UPDATE exam_sittings SET starts_at = $2 WHERE id = $1",
            world.sitting_id,
            datetime.now(UTC) - timedelta(seconds=1),
        )
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
        assert view["opens_at"] is None and len(view["questions"]) == len(world.papers.question_ids)


async def test_a_hostile_client_cannot_answer_before_the_start(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M1: with both cameras live in the identity-check window, an answer
    # sent for a question it was never shown is still refused until the start
    world = await scheduled_sitting(server.url, pool, 1, starts_in=timedelta(minutes=10))
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        started = await expect_ok(
            http.post("/api/attempts", json={"paper_id": world.papers.formal_id})
        )
        pc, phone, peer = await live_pair(
            server.ws_url, started["pc_token"], started["phone_token"]
        )
        try:
            answer = await http.put(
                f"/api/attempts/{started['attempt_id']}/answers/{world.papers.question_ids[0]}",
                json={"answer": "A"},
            )
            assert answer.status_code == 409 and answer.json()["error"] == "not_started"
        finally:
            await peer.close()
            await pc.close()
            await phone.close()
    async with pool.acquire() as conn:
        saved = await conn.fetchval(
            "SELECT count(*) FROM attempt_answers WHERE attempt_id = $1", started["attempt_id"]
        )
    assert saved == 0
