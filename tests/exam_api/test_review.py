"""Review of exam requests over the real API (rule B6): queue, documents, decisions, audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from exam_api.requests import request_status
from tests.support import files
from tests.support.accounts import (
    clear_rate_limits,
    personal_fields,
    signed_in_client,
    unique_id_card,
    unique_phone,
)
from tests.support.live import LiveServer
from tests.support.users import create_user


@pytest.fixture
async def reviewer(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    await clear_rate_limits(pool)
    user = await create_user(pool, role="reviewer", real_name="审核员甲")
    async with await signed_in_client(server.url, pool, user.id) as http:
        yield http


async def submitted(server: LiveServer, pool: asyncpg.Pool, **overrides: object) -> tuple[int, int]:
    """A candidate with a pending social request; returns (user id, request id)."""
    id_card = unique_id_card()
    user = await create_user(pool, id_card=id_card, phone=unique_phone())
    async with await signed_in_client(server.url, pool, user.id) as http:
        letter = await http.post(
            "/api/uploads", params={"name": "承诺书.png"}, content=files.png_bytes()
        )
        proof = await http.post(
            "/api/uploads", params={"name": "证明.pdf"}, content=files.pdf_bytes()
        )
        r = await http.post(
            "/api/requests",
            json={
                "candidate_type": "social",
                "category": "C2",
                "commitment_letter": letter.json()["id"],
                "study_proof": proof.json()["id"],
                **personal_fields(id_card, **overrides),
            },
        )
        assert r.status_code == 201, r.text
    return user.id, r.json()["request"]["id"]


async def test_queue_lists_pending_requests_oldest_first(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    _, first = await submitted(server, pool)
    _, second = await submitted(server, pool)
    ids = [r["id"] for r in (await reviewer.get("/api/review/requests")).json()["requests"]]
    assert ids.index(first) < ids.index(second)


async def test_detail_shows_documents_the_reviewer_can_open(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    _, request_id = await submitted(server, pool)
    detail = (await reviewer.get(f"/api/review/requests/{request_id}")).json()["request"]
    kinds = {d["role"]: d["kind"] for d in detail["documents"]}
    assert kinds == {"commitment_letter": "png", "study_proof": "pdf"}
    for doc in detail["documents"]:
        r = await reviewer.get(doc["url"])
        assert r.status_code == 200
        assert r.headers["content-type"] in ("image/png", "application/pdf")


async def test_approve_is_audited_and_unlocks_the_candidate(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    """Rule B6: a decision changes the status and is audited (who, when, what)."""
    user_id, request_id = await submitted(server, pool)
    r = await reviewer.post(
        f"/api/review/requests/{request_id}/decision", json={"decision": "approve"}
    )
    assert r.status_code == 200, r.text
    body = r.json()["request"]
    assert body["status"] == "approved"
    (entry,) = body["audit"]
    assert entry["decision"] == "approved"
    assert entry["reviewer"]["real_name"] == "审核员甲"
    assert entry["decided_at"]
    async with pool.acquire() as conn:
        assert await request_status(conn, user_id) == "approved"  # rule C3 sees it


async def test_reject_needs_a_reason(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    _, request_id = await submitted(server, pool)
    r = await reviewer.post(
        f"/api/review/requests/{request_id}/decision", json={"decision": "reject", "reason": " "}
    )
    assert (r.status_code, r.json()["error"]) == (422, "reason_required")
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM review_audit WHERE request_id = $1", request_id
            )
            == 0
        )


async def test_rejected_candidate_sees_the_reason_and_can_resubmit(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    """Rule B6: rejected → reason shown to the candidate; resubmitting makes a new pending request."""
    user_id, request_id = await submitted(server, pool)
    reason = "承诺书未加盖企业公章"
    r = await reviewer.post(
        f"/api/review/requests/{request_id}/decision", json={"decision": "reject", "reason": reason}
    )
    assert r.status_code == 200
    async with await signed_in_client(server.url, pool, user_id) as http:
        mine = (await http.get("/api/requests/mine")).json()
        assert (mine["status"], mine["request"]["reason"]) == ("rejected", reason)
        previous = mine["request"]
        docs = {d["role"]: d["upload_id"] for d in previous["documents"]}
        fields = {
            k: previous[k]
            for k in (
                "real_name",
                "id_card",
                "gender",
                "phone",
                "company_name",
                "company_uscc",
                "position",
            )
        }
        r = await http.post(
            "/api/requests",
            json={"candidate_type": "social", "category": "C2", **docs, **fields},
        )
        assert r.status_code == 201, r.text
        assert (await http.get("/api/requests/mine")).json()["status"] == "pending"


async def test_a_request_is_decided_once(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    _, request_id = await submitted(server, pool)
    url = f"/api/review/requests/{request_id}/decision"
    assert (await reviewer.post(url, json={"decision": "approve"})).status_code == 200
    r = await reviewer.post(url, json={"decision": "reject", "reason": "晚了"})
    assert (r.status_code, r.json()["error"]) == (409, "already_decided")


async def test_bad_decision_and_missing_request(reviewer: httpx.AsyncClient) -> None:
    r = await reviewer.post("/api/review/requests/999999/decision", json={"decision": "approve"})
    assert (r.status_code, r.json()["error"]) == (404, "request_not_found")
    r = await reviewer.post("/api/review/requests/1/decision", json={"decision": "maybe"})
    assert (r.status_code, r.json()["error"]) == (400, "bad_decision")


async def test_html_in_a_name_reaches_the_reviewer_as_plain_data(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    name = "<script>alert(1)</script>"
    _, request_id = await submitted(server, pool, real_name=name)
    detail = (await reviewer.get(f"/api/review/requests/{request_id}")).json()["request"]
    assert detail["real_name"] == name
    assert (
        (await reviewer.get(f"/api/review/requests/{request_id}"))
        .headers["content-type"]
        .startswith("application/json")
    )


async def test_two_reviewers_deciding_at_once_make_one_decision(
    reviewer: httpx.AsyncClient, server: LiveServer, pool: asyncpg.Pool
) -> None:
    """First decision wins; the other gets 409 and no second audit row is written."""
    _, request_id = await submitted(server, pool)
    other = await create_user(pool, role="admin")
    async with await signed_in_client(server.url, pool, other.id) as admin:
        url = f"/api/review/requests/{request_id}/decision"
        a, b = await asyncio.gather(
            reviewer.post(url, json={"decision": "approve"}),
            admin.post(url, json={"decision": "reject", "reason": "材料不全"}),
        )
    assert sorted((a.status_code, b.status_code)) == [200, 409]
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM review_audit WHERE request_id = $1", request_id
            )
            == 1
        )
