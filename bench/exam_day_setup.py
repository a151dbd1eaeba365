"""The exam bench/exam_day.py's candidates sit, made straight in PostgreSQL:
approved candidates who each submitted the mock (rule C2), a formal paper,
the captchas their logins answer."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

PASSWORD = "Bench-Passw0rd"
CAPTCHA = "AB3K"


@dataclass
class Account:
    username: str
    phone: str
    address: str  # X-Forwarded-For: every candidate has an address of their own
    captcha_id: str


async def make_exam(
    database_url: str, secret: bytes, candidates: int, questions: int, extra_captchas: int
) -> tuple[int, list[Account], list[int], list[str]]:
    """A class of ``candidates`` approved candidates who each submitted the mock
    (rule C2), a formal paper of ``questions`` single-choice questions, a
    planted captcha per login. Returns (paper, accounts, question ids, the
    captcha ids of the login storm)."""
    import asyncpg

    from exam_api import captcha
    from exam_api.papers import create_paper
    from exam_api.passwords import hash_password
    from exam_api.question_rules import build_question
    from exam_api.questions import add_questions, create_bank
    from proctor.db import _init_connection, apply_schema

    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
        await _init_connection(conn)  # the pool's jsonb codec (proctor/db.py)
        stamp = f"{os.getpid()}_{int(time.time())}"
        # One argon2id hash for all: the server checks each login against it
        # with its own parameters; hashing 2,000 here would cost minutes.
        password_hash = hash_password(PASSWORD)
        phones = [f"13{(os.getpid() % 1000):03d}{n:06d}" for n in range(candidates)]
        users = [
            r["id"]
            for r in await conn.fetch(
                """INSERT INTO users (username, password_hash, role, real_name, phone)
                   SELECT 'day_' || $1 || '_' || g, $2, 'candidate', '压测考生', p
                     FROM unnest($3::text[]) WITH ORDINALITY AS t(p, g) RETURNING id""",
                stamp,
                password_hash,
                phones,
            )
        ]
        now = datetime.now(UTC)
        await conn.executemany(
            """INSERT INTO exam_requests (user_id, candidate_type, category, real_name, id_card,
                   gender, phone, company_name, company_uscc, position, status,
                   submitted_at, decided_at)
               VALUES ($1, 'social', 'A', '压测考生', '150100198503150011', 'male', $2,
                       '压测公司', '91150100MA0N000010', '经理', 'approved', $3, $3)""",
            [(u, p, now) for u, p in zip(users, phones, strict=True)],
        )
        class_id = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"exam_day_{stamp}"
        )
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            [(class_id, u) for u in users],
        )
        bank_id = await create_bank(conn, f"exam_day_{stamp}")
        drafts = [
            build_question(
                kind="single",
                stem=f"压测单选题第{n + 1}题：安全生产工作应当坚持的方针是？",
                options=["安全第一、预防为主、综合治理", "效益优先", "先生产后安全", "其他"],
                answer="A",
                points=1,
            )
            for n in range(questions)
        ]
        await add_questions(conn, bank_id, drafts)
        qids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM questions WHERE bank_id = $1 ORDER BY id", bank_id
            )
        ]
        common: dict[str, Any] = {
            "class_id": class_id,
            "time_limit_s": 7200,
            "opens_at": None,
            "closes_at": None,
            "question_ids": qids,
        }
        mock_id = await create_paper(conn, kind="mock", title="压测模拟", **common)
        formal_id = await create_paper(conn, kind="formal", title="压测正式考试", **common)
        await conn.execute(
            """INSERT INTO attempts (user_id, paper_id, status, started_at, deadline_at,
                                     ended_at, end_reason)
               SELECT u, $2, 'ended', $3, $3, $3, 'submitted' FROM unnest($1::bigint[]) u""",
            users,
            mock_id,
            now - timedelta(hours=1),
        )
        captcha_ids = [secrets.token_urlsafe(12) for _ in range(candidates + extra_captchas)]
        await conn.executemany(
            "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
            [
                (c, captcha._digest(secret, c, CAPTCHA), now + timedelta(hours=2))
                for c in captcha_ids
            ],
        )
        accounts = [
            Account(
                f"day_{stamp}_{n + 1}",
                phones[n],
                f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                captcha_ids[n],
            )
            for n in range(candidates)
        ]
        return formal_id, accounts, qids, captcha_ids[candidates:]
    finally:
        await conn.close()
