"""Helpers for the papers/attempts tests: candidates in a request state, a
class with a mock and a formal paper built through the real modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from exam_api.classes import create_class
from exam_api.papers import create_paper
from exam_api.question_rules import build_question
from exam_api.questions import add_questions, create_bank
from tests.support.accounts import unique_id_card, unique_phone, uscc_with
from tests.support.users import TestUser, create_user, login_cookies, unique

# 4 questions, 100 points: single 40, multiple 30, true/false 20 + 10.
QUESTIONS: list[dict[str, Any]] = [
    {
        "kind": "single",
        "stem": "安全生产工作应当坚持的方针是？",
        "points": 40,
        "answer": "A",
        "options": ["安全第一、预防为主、综合治理", "效益优先", "先生产后安全", "谁主管谁负责"],
    },
    {
        "kind": "multiple",
        "stem": "施工现场“三宝”是指？",
        "points": 30,
        "answer": "ABC",
        "options": ["安全帽", "安全带", "安全网", "绝缘手套"],
    },
    {"kind": "truefalse", "stem": "可以用货币替代劳动防护用品。", "points": 20, "answer": "错"},
    {"kind": "truefalse", "stem": "特种作业人员须持证上岗。", "points": 10, "answer": "对"},
]
CORRECT: list[Any] = ["A", ["A", "B", "C"], False, True]


async def candidate_with_request(pool: asyncpg.Pool, status: str = "approved") -> TestUser:
    """A candidate whose latest exam request is ``status`` ('none' for no request)."""
    user = await create_user(pool, "candidate", real_name="测试考生")
    if status == "none":
        return user
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO exam_requests (user_id, candidate_type, category, real_name, id_card,
                   gender, phone, company_name, company_uscc, position, status, reason,
                   submitted_at, decided_at)
               VALUES ($1, 'social', 'A', '测试考生', $2, 'male', $3, '测试公司', $4, '经理',
                       $5, $6, $7, $8)""",
            user.id,
            unique_id_card(),
            unique_phone(),
            uscc_with("MA0N00001"),
            status,
            "材料不全" if status == "rejected" else None,
            now,
            None if status == "pending" else now,
        )
    return user


@dataclass(frozen=True)
class ClassPapers:
    class_id: int
    mock_id: int
    formal_id: int
    question_ids: list[int]


async def class_with_papers(
    pool: asyncpg.Pool,
    member_ids: list[int],
    *,
    time_limit_s: int = 3600,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> ClassPapers:
    async with pool.acquire() as conn:
        class_id = await create_class(conn, unique("班级"))
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            [(class_id, uid) for uid in member_ids],
        )
        bank_id = await create_bank(conn, unique("题库"))
        await add_questions(conn, bank_id, [build_question(**q) for q in QUESTIONS])
        qids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM questions WHERE bank_id = $1 ORDER BY id", bank_id
            )
        ]
        common: dict[str, Any] = {
            "class_id": class_id,
            "time_limit_s": time_limit_s,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "question_ids": qids,
        }
        mock_id = await create_paper(conn, kind="mock", title="模拟试卷", **common)
        formal_id = await create_paper(conn, kind="formal", title="正式试卷", **common)
    return ClassPapers(class_id, mock_id, formal_id, qids)


async def move_deadline(pool: asyncpg.Pool, attempt_id: int, delta: timedelta) -> None:
    """Shift an attempt's deadline (tests of rule E4 without waiting)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempts SET deadline_at = now() + $2 WHERE id = $1", attempt_id, delta
        )


async def client_for(server_url: str, pool: asyncpg.Pool, user_id: int) -> httpx.AsyncClient:
    """An httpx client signed in as ``user_id`` (session made in the DB), CSRF header set."""
    login = await login_cookies(pool, user_id)
    return httpx.AsyncClient(base_url=server_url, cookies=login.cookies, headers=login.headers)
