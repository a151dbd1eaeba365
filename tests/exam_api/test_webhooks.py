"""Signed webhooks (rule M4) against a real local HTTP receiver: results,
review decisions and attempt ends arrive signed with a delivery id; a
receiver that is down at first gets them once it is up; every try and its
answer is recorded; the tries are bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from exam_api.webhook_sender import backoff, body_of
from exam_api.webhooks import signature, signature_valid
from tests.support.audit import sat_attempt
from tests.support.devices import Devices
from tests.support.live import LiveServer, free_port
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user
from tests.support.waits import eventually
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "a-receivers-secret-of-some-length"


def test_the_signature_covers_the_time_and_the_body() -> None:
    header = signature(SECRET, 1700000000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert signature_valid(SECRET, header, b'{"a":1}')
    assert not signature_valid(SECRET, header, b'{"a":2}')
    assert not signature_valid("another-secret-entirely", header, b'{"a":1}')
    assert not signature_valid(SECRET, header.replace("t=1700000000", "t=1700000001"), b'{"a":1}')
    assert not signature_valid(SECRET, "garbage", b'{"a":1}')


def test_the_back_off_doubles_up_to_its_cap() -> None:
    assert [backoff(n, 2.0, 30.0) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@pytest.fixture
async def admin_http(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    admin = await create_user(pool, "admin")
    async with await client_for(server.url, pool, admin.id) as http:
        yield http


async def _register(http: httpx.AsyncClient, url: str, events: list[str] | None = None) -> int:
    body: dict[str, Any] = {"url": url, "secret": SECRET}
    if events is not None:
        body["events"] = events
    reply = await http.post("/api/admin/webhooks", json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["secret"] == SECRET
    hook_id: int = reply.json()["id"]
    return hook_id


async def test_ends_results_and_decisions_reach_a_real_receiver_signed(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices, admin_http: httpx.AsyncClient
) -> None:
    receiver = WebhookReceiver(SECRET, free_port())
    await receiver.start()
    hook_id = await _register(admin_http, receiver.url)
    try:
        sat = await sat_attempt(server, pool, devices)
        aid = sat["attempt_id"]

        async def all_three() -> list[str]:
            events = sorted(r.event for r in receiver.of_attempt(aid))
            return events if len(events) == 3 else []

        # the formal attempt: ended (under review), decided, then its result
        assert await eventually(all_three, within=30) == [
            "attempt.ended",
            "result.published",
            "review.decided",
        ]
    finally:
        await admin_http.delete(f"/api/admin/webhooks/{hook_id}")
        await receiver.stop()
    got = {r.event: r for r in receiver.of_attempt(aid)}
    assert all(r.signed for r in got.values())  # rule M4: HMAC-SHA256 over time and body
    ended = got["attempt.ended"].body
    assert ended["event"] == "attempt.ended" and ended["id"] == got["attempt.ended"].delivery_id
    assert (ended["data"]["reason"], ended["data"]["score"]) == ("submitted", 100.0)
    assert ended["data"]["outcome"] == "under_review"
    assert got["review.decided"].body["data"]["decision"] == "passed"
    assert got["result.published"].body["data"]["outcome"] == "passed"
    anchor = got["result.published"].body["data"]["chain"]
    async with pool.acquire() as conn:
        # rule H7: the head as it was at the decision, anchored at the receiver, is
        # still the link at its place (telemetry may have been chained after it)
        head = await conn.fetchval(
            "SELECT hash FROM audit_chain WHERE attempt_id = $1 AND seq = $2", aid, anchor["seq"]
        )
        rows = await conn.fetch(
            """SELECT d.delivery_id, d.status, d.tries, t.status_code
                 FROM webhook_deliveries d JOIN webhook_tries t ON t.delivery_id = d.id
                WHERE d.webhook_id = $1 AND d.payload->>'attempt_id' = $2""",
            hook_id,
            str(aid),
        )
    assert anchor["head"] == head
    assert {r["delivery_id"] for r in rows} == {r.delivery_id for r in got.values()}
    assert {(r["status"], r["tries"], r["status_code"]) for r in rows} == {("delivered", 1, 200)}
    listed = (await admin_http.get(f"/api/admin/webhooks/{hook_id}/deliveries")).json()
    mine = [
        d for d in listed["deliveries"] if d["delivery_id"] in {r.delivery_id for r in got.values()}
    ]
    assert len(mine) == 3 and all(d["tries"][0]["status_code"] == 200 for d in mine)


async def _ended_mock(server: LiveServer, pool: asyncpg.Pool) -> int:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        mock = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        assert (await http.post(f"/api/attempts/{mock['attempt_id']}/submit")).is_success
    attempt_id: int = mock["attempt_id"]
    return attempt_id


async def _tries(pool: asyncpg.Pool, hook_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT d.delivery_id, d.status, t.try, t.status_code, t.error
                 FROM webhook_deliveries d JOIN webhook_tries t ON t.delivery_id = d.id
                WHERE d.webhook_id = $1 ORDER BY t.try""",
            hook_id,
        )
    return rows


async def test_a_receiver_down_at_first_gets_the_delivery_once_it_is_up(
    server: LiveServer, pool: asyncpg.Pool, admin_http: httpx.AsyncClient
) -> None:
    receiver = WebhookReceiver(SECRET, free_port())  # not listening yet
    hook_id = await _register(admin_http, receiver.url, ["attempt.ended"])
    try:
        aid = await _ended_mock(server, pool)

        async def refused() -> bool:
            return any(t["error"] for t in await _tries(pool, hook_id))

        await eventually(refused, within=30)
        await receiver.start()

        async def delivered() -> list[asyncpg.Record]:
            tries = await _tries(pool, hook_id)
            return tries if tries and tries[-1]["status"] == "delivered" else []

        tries = await eventually(delivered, within=60)
    finally:
        await admin_http.delete(f"/api/admin/webhooks/{hook_id}")
        await receiver.stop()
    assert len(tries) >= 2
    assert tries[0]["status_code"] is None and "Connect" in tries[0]["error"]
    assert (tries[-1]["status_code"], tries[-1]["error"]) == (200, None)
    [got] = receiver.of_attempt(aid)
    assert got.signed and got.event == "attempt.ended"
    assert got.delivery_id == tries[0]["delivery_id"]  # one delivery, several tries


async def test_the_tries_are_bounded_and_every_answer_is_kept(
    server: LiveServer, pool: asyncpg.Pool, admin_http: httpx.AsyncClient
) -> None:
    receiver = WebhookReceiver(SECRET, free_port(), status=500)
    await receiver.start()
    hook_id = await _register(admin_http, receiver.url, ["attempt.ended"])
    try:
        async with pool.acquire() as conn:  # a delivery at its last allowed try (the 8th)
            await conn.execute(
                """INSERT INTO webhook_deliveries
                       (delivery_id, webhook_id, event, payload, tries, next_at, created_at)
                   VALUES (gen_random_uuid()::text, $1, 'attempt.ended', '{"attempt_id": -1}',
                           7, now(), now())""",
                hook_id,
            )

        async def given_up() -> list[asyncpg.Record]:
            tries = await _tries(pool, hook_id)
            return tries if tries and tries[-1]["status"] == "failed" else []

        [last] = await eventually(given_up, within=30)
    finally:
        await admin_http.delete(f"/api/admin/webhooks/{hook_id}")
        await receiver.stop()
    assert (last["try"], last["status_code"], last["error"]) == (8, 500, "HTTP 500")
    assert [r.event for r in receiver.of_attempt(-1)] == ["attempt.ended"]


async def test_only_administrators_register_and_bad_receivers_are_refused(
    server: LiveServer, pool: asyncpg.Pool, admin_http: httpx.AsyncClient
) -> None:
    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:
        denied = await http.post("/api/admin/webhooks", json={"url": "http://127.0.0.1:1/x"})
        assert denied.status_code == 403
    cases = [
        ({}, "missing_url"),
        ({"url": "ftp://example.org/x"}, "bad_url"),
        ({"url": "http://user:pw@example.org/x"}, "bad_url"),
        ({"url": "https://example.org/" + "x" * 2000}, "bad_url"),
        ({"url": "https://example.org/x", "events": ["attempt.started"]}, "bad_events"),
        ({"url": "https://example.org/x", "events": []}, "bad_events"),
        ({"url": "https://example.org/x", "secret": "short"}, "bad_secret"),
    ]
    for body, code in cases:
        reply = await admin_http.post("/api/admin/webhooks", json=body)
        assert (reply.status_code, reply.json()["error"]) == (400, code), body
    made = await admin_http.post("/api/admin/webhooks", json={"url": "https://example.org/x"})
    assert made.status_code == 201 and len(made.json()["secret"]) >= 32  # generated, shown once
    hook_id = made.json()["id"]
    listed = (await admin_http.get("/api/admin/webhooks")).json()["webhooks"]
    mine = next(w for w in listed if w["id"] == hook_id)
    assert "secret" not in mine and mine["events"] == [
        "attempt.ended",
        "result.published",
        "review.decided",
    ]
    assert (await admin_http.delete(f"/api/admin/webhooks/{hook_id}")).json()["active"] is False
    assert (await admin_http.delete("/api/admin/webhooks/999999999")).status_code == 404


def test_the_body_is_the_same_bytes_at_every_try() -> None:
    from datetime import UTC, datetime

    row = {
        "delivery_id": "d1",
        "event": "attempt.ended",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "payload": {"b": 2, "a": "考生"},
    }
    assert body_of(row) == body_of(dict(row))
    assert body_of(row).decode() == (
        '{"created_at":"2026-01-01T00:00:00+00:00","data":{"a":"考生","b":2},'
        '"event":"attempt.ended","id":"d1"}'
    )
