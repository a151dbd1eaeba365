"""The candidate's paper center (rules C1, C2, C3) against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for


@pytest.mark.parametrize("status", ["none", "pending", "rejected"])
async def test_no_paper_visible_before_approval(
    server: LiveServer, pool: asyncpg.Pool, status: str
) -> None:
    # rule C3
    user = await candidate_with_request(pool, status)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        r = await http.get("/api/papers")
        assert r.status_code == 200
        body = r.json()
        assert body["visible"] is False and body["papers"] == []
        assert body["request_status"] == status
        assert "审核通过后" in body["message"] or "重新提交" in body["message"]
        r = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
        assert r.status_code == 403 and r.json()["error"] == "request_not_approved"


async def test_approved_sees_mock_open_and_formal_locked(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rules C1, C2
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        body = (await http.get("/api/papers")).json()
        assert body["visible"] is True
        by_kind = {p["kind"]: p for p in body["papers"]}
        assert by_kind["mock"]["state"] == "open"
        assert by_kind["mock"]["question_count"] == 4
        assert by_kind["mock"]["total_points"] == 100
        formal = by_kind["formal"]
        assert (formal["state"], formal["reason"]) == ("locked", "mock_required")
        assert formal["message"] == "请先完成并提交模拟考试，提交后才可以开始正式考试"
        r = await http.post("/api/attempts", json={"paper_id": papers.formal_id})
        assert r.status_code == 409 and r.json()["error"] == "mock_required"

        started = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        body = (await http.get("/api/papers")).json()
        assert {p["kind"]: p["state"] for p in body["papers"]} == {
            "mock": "resume",
            "formal": "locked",
        }
        await http.post(f"/api/attempts/{started['attempt_id']}/submit")
        body = (await http.get("/api/papers")).json()
        states = {p["kind"]: p["state"] for p in body["papers"]}
        assert states == {"mock": "open", "formal": "open"}  # rule C2: unlocked by the submit
        mock = next(p for p in body["papers"] if p["kind"] == "mock")
        assert mock["last_score"] == 0 and mock["last_outcome"] == "mock_done"


async def test_papers_of_other_classes_are_not_listed(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule C1: candidates see their classes' papers only
    mine = await candidate_with_request(pool)
    other = await candidate_with_request(pool)
    theirs = await class_with_papers(pool, [other.id])
    async with await client_for(server.url, pool, mine.id) as http:
        body = (await http.get("/api/papers")).json()
        assert body["papers"] == [] and "班级" in body["message"]
        r = await http.post("/api/attempts", json={"paper_id": theirs.mock_id})
        assert r.status_code == 404 and r.json()["error"] == "paper_not_found"


async def test_opening_window(server: LiveServer, pool: asyncpg.Pool) -> None:
    # rule C4: an opening window
    user = await candidate_with_request(pool)
    now = datetime.now(UTC)
    papers = await class_with_papers(pool, [user.id], opens_at=now + timedelta(days=1))
    async with await client_for(server.url, pool, user.id) as http:
        mock = next(
            p for p in (await http.get("/api/papers")).json()["papers"] if p["kind"] == "mock"
        )
        assert (mock["state"], mock["reason"]) == ("locked", "not_open")
        assert "开放" in mock["message"]
        r = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
        assert r.status_code == 409 and r.json()["error"] == "not_open"
    closed = await class_with_papers(
        pool, [user.id], closes_at=now - timedelta(minutes=1), opens_at=now - timedelta(days=1)
    )
    async with await client_for(server.url, pool, user.id) as http:
        r = await http.post("/api/attempts", json={"paper_id": closed.mock_id})
        assert r.status_code == 409 and r.json()["error"] == "closed"


async def test_formal_is_taken_once(server: LiveServer, pool: asyncpg.Pool) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        await http.post(f"/api/attempts/{mock['attempt_id']}/submit")
        formal = (await http.post("/api/attempts", json={"paper_id": papers.formal_id})).json()
        await http.post(f"/api/attempts/{formal['attempt_id']}/submit")
        r = await http.post("/api/attempts", json={"paper_id": papers.formal_id})
        assert r.status_code == 409 and r.json()["error"] == "formal_taken"
        # the mock may be taken again for practice (rule E6)
        r = await http.post("/api/attempts", json={"paper_id": papers.mock_id})
        assert r.status_code == 200 and r.json()["resumed"] is False
