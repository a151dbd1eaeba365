"""``proctor demo-seed``: realistic data in every state, idempotent."""

from __future__ import annotations

import asyncpg

from exam_api.demo import DEMO_CLASS, DEMO_USERS, seed_demo
from exam_api.requests import request_status


async def test_demo_seed_is_complete_and_idempotent(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        logins = await seed_demo(conn)
        counts = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM questions) AS q, (SELECT count(*) FROM papers) AS p,
                      (SELECT count(*) FROM attempts) AS a, (SELECT count(*) FROM exam_requests) AS r"""
        )
        assert await seed_demo(conn) == logins
        again = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM questions) AS q, (SELECT count(*) FROM papers) AS p,
                      (SELECT count(*) FROM attempts) AS a, (SELECT count(*) FROM exam_requests) AS r"""
        )
        assert dict(again) == dict(counts)

        assert {login.role for login in logins} == {"candidate", "reviewer", "invigilator", "admin"}
        statuses = {}
        for login in DEMO_USERS:
            if login.role == "candidate":
                uid = await conn.fetchval(
                    "SELECT id FROM users WHERE username = $1", login.username
                )
                statuses[login.username] = await request_status(conn, uid)
        assert set(statuses.values()) == {"none", "pending", "approved", "rejected"}

        kinds = await conn.fetch(
            """SELECT p.kind, q.kind AS qkind, count(*) FROM papers p
                 JOIN classes c ON c.id = p.class_id JOIN paper_questions pq ON pq.paper_id = p.id
                 JOIN questions q ON q.id = pq.question_id
                WHERE c.name = $1 GROUP BY 1, 2""",
            DEMO_CLASS,
        )
        formal = {r["qkind"]: r["count"] for r in kinds if r["kind"] == "formal"}
        assert set(formal) == {"single", "multiple", "truefalse"} and sum(formal.values()) >= 20
        assert {r["kind"] for r in kinds} == {"mock", "formal"}
        # one finished formal attempt waits for the reviewer (rule F2)
        outcome = await conn.fetchval(
            """SELECT a.outcome FROM attempts a JOIN users u ON u.id = a.user_id
                 JOIN papers p ON p.id = a.paper_id
                WHERE u.username = 'demo_finished' AND p.kind = 'formal'"""
        )
        assert outcome == "under_review"
