"""The exam request wizard over the real API and PostgreSQL (rules B1–B5, B7, C3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import httpx
import pytest

from exam_api.requests import request_status
from exam_api.training import TrainingRecord, upsert
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


@dataclass
class Candidate:
    id: int
    id_card: str
    http: httpx.AsyncClient


@pytest.fixture
async def candidate(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[Candidate]:
    await clear_rate_limits(pool)
    id_card = unique_id_card()
    user = await create_user(pool, id_card=id_card, phone=unique_phone())
    http = await signed_in_client(server.url, pool, user.id)
    async with http:
        yield Candidate(user.id, id_card, http)


async def upload(http: httpx.AsyncClient, data: bytes, name: str = "承诺书.pdf") -> int:
    r = await http.post("/api/uploads", params={"name": name}, content=data)
    assert r.status_code == 201, r.text
    upload_id: int = r.json()["id"]
    return upload_id


async def training(pool: asyncpg.Pool, id_card: str, hours: str, category: str = "C2") -> None:
    async with pool.acquire() as conn:
        await upsert(conn, [TrainingRecord(id_card, "张三", category, Decimal(hours), "某公司")])


async def social_body(c: Candidate, **overrides: object) -> dict[str, object]:
    return {
        "candidate_type": "social",
        "category": "B",
        "commitment_letter": await upload(c.http, files.pdf_bytes()),
        "study_proof": await upload(c.http, files.jpeg_bytes(), "证明.jpg"),
        **personal_fields(c.id_card),
        **overrides,
    }


async def count_requests(pool: asyncpg.Pool, user_id: int) -> int:
    async with pool.acquire() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM exam_requests WHERE user_id = $1", user_id
        )
        return n


async def test_social_request_is_submitted_and_pending(
    candidate: Candidate, pool: asyncpg.Pool
) -> None:
    """Rules B3, B5: social candidate, category chosen, both documents → under review."""
    assert (await candidate.http.get("/api/requests/mine")).json()["status"] == "none"
    r = await candidate.http.post("/api/requests", json=await social_body(candidate))
    assert r.status_code == 201, r.text
    request = r.json()["request"]
    assert request["status"] == "pending" and request["category"] == "B"
    assert {d["role"] for d in request["documents"]} == {"commitment_letter", "study_proof"}
    mine = (await candidate.http.get("/api/requests/mine")).json()
    assert mine["status"] == "pending" and mine["request"]["id"] == request["id"]
    async with pool.acquire() as conn:
        assert await request_status(conn, candidate.id) == "pending"  # rule C3's question


async def test_second_submission_while_pending_is_refused(candidate: Candidate) -> None:
    """Rule B1: no new request while one is pending."""
    assert (
        await candidate.http.post("/api/requests", json=await social_body(candidate))
    ).status_code == 201
    r = await candidate.http.post("/api/requests", json=await social_body(candidate))
    assert (r.status_code, r.json()["error"]) == (409, "request_open")


async def test_social_needs_the_study_proof(candidate: Candidate, pool: asyncpg.Pool) -> None:
    """Rule B3: the commitment letter and the study proof are both required."""
    body = await social_body(candidate)
    del body["study_proof"]
    r = await candidate.http.post("/api/requests", json=body)
    assert (r.status_code, r.json()["error"]) == (422, "document_missing")
    assert "学习证明材料" in r.json()["message"]
    assert await count_requests(pool, candidate.id) == 0


async def test_social_needs_a_category(candidate: Candidate) -> None:
    r = await candidate.http.post("/api/requests", json=await social_body(candidate, category="D"))
    assert (r.status_code, r.json()["error"]) == (422, "bad_category")


async def test_non_social_without_training_record_stops(candidate: Candidate) -> None:
    """Rule B2: no training record → the wizard cannot continue as non-social."""
    r = await candidate.http.get("/api/training/me")
    assert r.json()["found"] is False
    body = {
        "candidate_type": "non_social",
        "commitment_letter": await upload(candidate.http, files.pdf_bytes()),
        **personal_fields(candidate.id_card),
    }
    r = await candidate.http.post("/api/requests", json=body)
    assert (r.status_code, r.json()["error"]) == (422, "training_not_found")


async def test_non_social_under_32_hours_says_done_and_missing(
    candidate: Candidate, pool: asyncpg.Pool
) -> None:
    """Rule B2: fewer than 32 hours → stop, with hours done and hours missing."""
    await training(pool, candidate.id_card, "20.5")
    info = (await candidate.http.get("/api/training/me")).json()
    assert (info["hours"], info["missing_hours"], info["complete"]) == (20.5, 11.5, False)
    body = {
        "candidate_type": "non_social",
        "commitment_letter": await upload(candidate.http, files.pdf_bytes()),
        **personal_fields(candidate.id_card),
    }
    r = await candidate.http.post("/api/requests", json=body)
    assert (r.status_code, r.json()["error"]) == (422, "training_hours_short")
    assert "20.5" in r.json()["message"] and "11.5" in r.json()["message"]
    assert await count_requests(pool, candidate.id) == 0


async def test_non_social_category_comes_from_the_record(
    candidate: Candidate, pool: asyncpg.Pool
) -> None:
    """Rule B2: 32 hours done → accepted; the category is the record's, not the form's."""
    await training(pool, candidate.id_card, "32", category="C1")
    body = {
        "candidate_type": "non_social",
        "category": "A",  # ignored: it cannot be changed
        "commitment_letter": await upload(candidate.http, files.png_bytes(), "承诺书.png"),
        **personal_fields(candidate.id_card),
    }
    r = await candidate.http.post("/api/requests", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["request"]["category"] == "C1"
    assert r.json()["request"]["training_hours"] == 32.0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"id_card": "110105194912310021"}, "id_card_check_digit"),
        ({"company_uscc": "91350100M000100Y44"}, "uscc_check_char"),
        ({"gender": "female"}, "gender_mismatch"),
        ({"real_name": "张" * 31}, "bad_real_name"),
        ({"company_name": ""}, "bad_company_name"),
        ({"position": "   "}, "bad_position"),
        ({"phone": "12345"}, "bad_phone"),
        ({"gender": "x"}, "bad_gender"),
    ],
)
async def test_personal_information_errors_are_precise_and_save_nothing(
    candidate: Candidate, pool: asyncpg.Pool, overrides: dict[str, object], code: str
) -> None:
    """Rule B5: starred fields, ID-card and credit-code check characters, each a readable error."""
    r = await candidate.http.post("/api/requests", json=await social_body(candidate, **overrides))
    assert (r.status_code, r.json()["error"]) == (422, code)
    assert r.json()["message"]
    assert await count_requests(pool, candidate.id) == 0


async def test_id_card_must_match_the_registered_one(candidate: Candidate) -> None:
    other = unique_id_card()
    r = await candidate.http.post(
        "/api/requests", json=await social_body(candidate, **personal_fields(other))
    )
    assert (r.status_code, r.json()["error"]) == (422, "id_card_mismatch")


async def test_another_candidates_upload_cannot_be_attached(
    candidate: Candidate, server: LiveServer, pool: asyncpg.Pool
) -> None:
    """A candidate can never use (or read) another candidate's files."""
    other = await create_user(pool, phone=unique_phone())
    async with await signed_in_client(server.url, pool, other.id) as http:
        foreign = await upload(http, files.pdf_bytes())
    r = await candidate.http.post(
        "/api/requests", json=await social_body(candidate, commitment_letter=foreign)
    )
    assert (r.status_code, r.json()["error"]) == (422, "document_missing")


async def test_html_in_names_is_kept_as_data(candidate: Candidate) -> None:
    name = '<img src=x onerror="alert(1)">'
    r = await candidate.http.post(
        "/api/requests", json=await social_body(candidate, company_name=name)
    )
    assert r.status_code == 201, r.text
    assert r.json()["request"]["company_name"] == name
