"""A scheduled sitting (场次) with approved candidates, placed in a room of an
invigilator, made through the administrator's API (rule M1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.support.papers import ClassPapers, candidate_with_request, class_with_papers, client_for
from tests.support.users import TestUser, create_user


@dataclass(frozen=True)
class SittingWorld:
    papers: ClassPapers
    candidates: list[TestUser]
    admin: TestUser
    invigilator: TestUser
    sitting: dict[str, Any]
    room_id: int

    @property
    def sitting_id(self) -> int:
        return int(self.sitting["id"])


async def mock_done(pool: asyncpg.Pool, papers: ClassPapers, user_ids: list[int]) -> None:
    """Rule C2: the formal paper opens after the mock: each has submitted it."""
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO attempts (user_id, paper_id, status, started_at, deadline_at, ended_at,
                                     end_reason, score, outcome)
               VALUES ($1, $2, 'ended', now(), now(), now(), 'submitted', 100, 'mock_done')""",
            [(uid, papers.mock_id) for uid in user_ids],
        )


async def scheduled_sitting(
    server_url: str,
    pool: asyncpg.Pool,
    candidates: int = 2,
    *,
    starts_in: timedelta = timedelta(minutes=-1),
    minutes: int = 60,
    late_entry_min: int = 30,
    checkin_min: int = 30,
) -> SittingWorld:
    """A sitting of a class's formal paper starting ``starts_in`` from now,
    its candidates assigned and placed in one room by the admin API."""
    people = [await candidate_with_request(pool) for _ in range(candidates)]
    papers = await class_with_papers(pool, [p.id for p in people])
    await mock_done(pool, papers, [p.id for p in people])
    admin = await create_user(pool, "admin")
    invigilator = await create_user(pool, "invigilator", real_name="监考员甲")
    starts_at = datetime.now(UTC) + starts_in
    async with await client_for(server_url, pool, admin.id) as http:
        sitting = await expect_ok(
            http.post(
                "/api/admin/sittings",
                json={
                    "paper_id": papers.formal_id,
                    "title": "第一场",
                    "starts_at": starts_at.isoformat(),
                    "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
                    "late_entry_min": late_entry_min,
                    "checkin_min": checkin_min,
                    "capacity": max(candidates, 1),
                },
            )
        )
        if people:
            await expect_ok(
                http.post(
                    f"/api/admin/sittings/{sitting['id']}/candidates",
                    json={"usernames": [p.username for p in people]},
                )
            )
            filled = await expect_ok(
                http.post(
                    f"/api/admin/sittings/{sitting['id']}/rooms/fill",
                    json={"invigilators": [invigilator.username]},
                )
            )
            room_id = filled["rooms"][0]["id"]
        else:
            room_id = 0
    return SittingWorld(papers, people, admin, invigilator, sitting, room_id)


async def expect_ok(reply: Any) -> dict[str, Any]:
    response: httpx.Response = await reply
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body
