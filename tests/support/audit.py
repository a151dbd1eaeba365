"""An attempt sat through the real API and hub sockets with every kind of
chained record (rule H7), for the record's, the bundle's and the exports' tests."""

from __future__ import annotations

from typing import Any

import asyncpg

from exam_api.assignments import assign
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import CORRECT, candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user
from tests.support.waits import eventually


async def sat_attempt(server: LiveServer, pool: asyncpg.Pool, devices: Devices) -> dict[str, Any]:
    """A formal attempt with every kind of record: answers (one revised), a
    violation (forgiven), warnings, the end, telemetry and the reviewer's decision."""
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    invigilator = await create_user(pool, "invigilator")
    reviewer = await create_user(pool, "reviewer")
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)
    async with await client_for(server.url, pool, user.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        await http.post(f"/api/attempts/{mock['attempt_id']}/submit")  # rule C2
        start = (await http.post("/api/attempts", json={"paper_id": papers.formal_id})).json()
        aid = start["attempt_id"]
        pc, _phone = await devices.live(server.ws_url, start)
        answers = f"/api/attempts/{aid}/answers"
        assert (
            await http.put(f"{answers}/{papers.question_ids[0]}", json={"answer": "B"})
        ).is_success
        for qid, answer in zip(papers.question_ids, CORRECT, strict=True):
            assert (await http.put(f"{answers}/{qid}", json={"answer": answer})).is_success
        await pc.call("focus", state="lost", cause="visibility")
        await pc.call("focus", state="back")
        async with await client_for(server.url, pool, invigilator.id) as staff:
            act = f"/api/invigilate/attempts/{aid}"
            assert (await staff.post(f"{act}/warn", json={"text": "请坐正"})).is_success
            assert (
                await staff.post(f"{act}/forgive", json={"index": 1, "reason": "误判"})
            ).is_success
        assert (await pc.call("heartbeat"))["type"] == "ack"
        assert (await http.post(f"/api/attempts/{aid}/submit")).is_success
    async with await client_for(server.url, pool, reviewer.id) as http:
        decided = await http.post(f"/api/result-reviews/{aid}", json={"decision": "passed"})
        assert decided.is_success, decided.text

    async def telemetry_chained() -> bool:
        async with pool.acquire() as conn:
            kinds = {
                r["kind"]
                for r in await conn.fetch(
                    "SELECT DISTINCT kind FROM audit_chain WHERE attempt_id = $1", aid
                )
            }
            events = await conn.fetchval(
                "SELECT count(*) FROM attempt_events WHERE attempt_id = $1 AND kind = 'heartbeat'",
                aid,
            )
        return (
            kinds == {"attempt", "event", "violation", "answer", "action", "review"} and events > 0
        )

    await eventually(telemetry_chained)  # the persistence worker copies telemetry
    return {
        "attempt_id": aid,
        "reviewer": reviewer,
        "invigilator": invigilator,
        "candidate": user,
        "question_ids": papers.question_ids,
        "class_id": papers.class_id,
        "paper_id": papers.formal_id,
    }
