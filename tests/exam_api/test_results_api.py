"""Exam records and result review (rules F1, F2) against the real database."""

from __future__ import annotations

import asyncpg

from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import CORRECT, candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user


async def _formal_with_score(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices, right: int
) -> tuple[int, int]:
    """A candidate who submitted the mock and a formal attempt with ``right`` correct
    answers (40, 30, 20, 10 points in order). Returns (user id, formal attempt id)."""
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        await http.post(f"/api/attempts/{mock['attempt_id']}/submit")
        formal = (await http.post("/api/attempts", json={"paper_id": papers.formal_id})).json()
        await devices.live(server.ws_url, formal)  # rule D1: answering needs both cameras
        for qid, answer in list(zip(papers.question_ids, CORRECT, strict=True))[:right]:
            await http.put(
                f"/api/attempts/{formal['attempt_id']}/answers/{qid}", json={"answer": answer}
            )
        await http.post(f"/api/attempts/{formal['attempt_id']}/submit")
    return user.id, formal["attempt_id"]


async def test_records_show_score_and_status(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rules F1, F2: 40 points → failed at once
    user_id, attempt_id = await _formal_with_score(server, pool, devices, right=1)
    async with await client_for(server.url, pool, user_id) as http:
        records = (await http.get("/api/records")).json()["records"]
    assert [(r["kind"], r["outcome"]) for r in records] == [
        ("formal", "failed"),
        ("mock", "mock_done"),
    ]
    formal = records[0]
    assert formal["attempt_id"] == attempt_id
    assert (formal["score"], formal["outcome_label"]) == (40.0, "不合格")
    assert formal["end_reason_label"] == "考生交卷"


async def test_passing_score_waits_for_reviewer_then_passes(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule F2: >= 60 under review → the reviewer's decision, audited
    user_id, attempt_id = await _formal_with_score(server, pool, devices, right=2)  # 70 points
    reviewer = await create_user(pool, "reviewer", real_name="审核员甲")
    async with await client_for(server.url, pool, user_id) as cand:
        record = (await cand.get("/api/records")).json()["records"][0]
        assert (record["score"], record["outcome"], record["outcome_label"]) == (
            70.0,
            "under_review",
            "审核中",
        )
    async with await client_for(server.url, pool, reviewer.id) as http:
        queue = (await http.get("/api/result-reviews")).json()["attempts"]
        assert attempt_id in [a["attempt_id"] for a in queue]
        r = await http.post(f"/api/result-reviews/{attempt_id}", json={"decision": "failed"})
        assert (r.status_code, r.json()["error"]) == (400, "missing_reason")
        r = await http.post(
            f"/api/result-reviews/{attempt_id}", json={"decision": "ok", "reason": "x"}
        )
        assert (r.status_code, r.json()["error"]) == (400, "bad_decision")
        r = await http.post(
            f"/api/result-reviews/{attempt_id}", json={"decision": "passed", "reason": "抓拍正常"}
        )
        assert r.status_code == 200 and r.json()["outcome"] == "passed"
        r = await http.post(
            f"/api/result-reviews/{attempt_id}", json={"decision": "failed", "reason": "改判"}
        )
        assert (r.status_code, r.json()["error"]) == (409, "not_under_review")  # decided once
        decided = (await http.get("/api/result-reviews?decided=1")).json()["attempts"]
        row = next(a for a in decided if a["attempt_id"] == attempt_id)
        assert (row["decision"], row["reason"], row["reviewer_name"]) == (
            "passed",
            "抓拍正常",
            "审核员甲",
        )
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT reviewer_id, decision, decided_at FROM result_reviews WHERE attempt_id = $1",
            attempt_id,
        )
    assert (
        audit["reviewer_id"] == reviewer.id
        and audit["decision"] == "passed"
        and audit["decided_at"]
    )
    async with await client_for(server.url, pool, user_id) as cand:
        record = (await cand.get("/api/records")).json()["records"][0]
    assert (record["outcome"], record["outcome_label"], record["review_reason"]) == (
        "passed",
        "合格",
        "抓拍正常",
    )


async def test_reviewer_fails_with_reason(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    user_id, attempt_id = await _formal_with_score(server, pool, devices, right=4)  # 100 points
    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:
        r = await http.post(
            f"/api/result-reviews/{attempt_id}",
            json={"decision": "failed", "reason": "抓拍中出现他人"},
        )
        assert r.json()["outcome"] == "failed"
    async with await client_for(server.url, pool, user_id) as cand:
        record = (await cand.get("/api/records")).json()["records"][0]
    assert (record["score"], record["outcome"], record["review_reason"]) == (
        100.0,
        "failed",
        "抓拍中出现他人",
    )


async def test_mock_and_failed_attempts_are_not_in_the_queue(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    _, failed_id = await _formal_with_score(server, pool, devices, right=1)
    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:
        ids = [a["attempt_id"] for a in (await http.get("/api/result-reviews")).json()["attempts"]]
        assert failed_id not in ids
        r = await http.post(f"/api/result-reviews/{failed_id}", json={"decision": "passed"})
        assert (r.status_code, r.json()["error"]) == (409, "not_under_review")
