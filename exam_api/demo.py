"""Demo data (``proctor demo-seed``): staff, candidates in every request
state, a class with a mock and a formal paper of real 安全生产管理人员
questions, and one finished formal attempt waiting for result review.

Idempotent: running it again changes nothing and prints the same logins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from exam_api import idcard, uscc
from exam_api.demo_questions import DEMO_QUESTIONS, MOCK_PICK
from exam_api.ending import end_attempt
from exam_api.passwords import hash_password
from exam_api.question_rules import build_question, fingerprint
from exam_api.questions import add_questions
from proctor import audit_chain

DEMO_PASSWORD = "Demo@2026"
DEMO_CLASS = "2026年第四期安全生产管理人员考试班"
DEMO_BANK = "安全生产管理人员题库（演示）"
DEMO_COMPANY = "内蒙古示例建筑工程有限公司"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    real_name: str
    note: str = ""
    request: str = ""  # the candidate's exam request: '', 'pending', 'approved', 'rejected'


DEMO_USERS = (
    DemoLogin(
        "demo_candidate",
        DEMO_PASSWORD,
        "candidate",
        "张三",
        "审核已通过，可参加模拟考试",
        "approved",
    ),
    DemoLogin(
        "demo_new", DEMO_PASSWORD, "candidate", "孙小明", "尚未提交考试请求（登录后弹出向导）"
    ),
    DemoLogin("demo_pending", DEMO_PASSWORD, "candidate", "周丽", "考试请求审核中", "pending"),
    DemoLogin(
        "demo_rejected",
        DEMO_PASSWORD,
        "candidate",
        "吴刚",
        "考试请求被退回（可重新提交）",
        "rejected",
    ),
    DemoLogin(
        "demo_finished",
        DEMO_PASSWORD,
        "candidate",
        "郑敏",
        "已完成正式考试，成绩待审核",
        "approved",
    ),
    DemoLogin("demo_reviewer", DEMO_PASSWORD, "reviewer", "李审核", "审核考试请求与成绩"),
    DemoLogin("demo_invigilator", DEMO_PASSWORD, "invigilator", "王监考", "监考"),
    DemoLogin("demo_admin", DEMO_PASSWORD, "admin", "赵管理", "班级、题库、试卷"),
)


def _id_card(n: int) -> str:
    body = f"150102198{n % 10}0{(n % 9) + 1}1{n % 10}{n:03d}"[:17]
    return body + idcard.check_char(body)


def _uscc() -> str:
    body = "91150100MA0N1234X"[:17]
    return body + uscc.check_char(body)


async def _user(conn: asyncpg.Connection, login: DemoLogin, n: int) -> int:
    existing: int | None = await conn.fetchval(
        "SELECT id FROM users WHERE username = $1", login.username
    )
    if existing is not None:
        return existing
    user_id: int = await conn.fetchval(
        """INSERT INTO users (username, password_hash, role, real_name, id_card, phone)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        login.username,
        hash_password(login.password),
        login.role,
        login.real_name,
        _id_card(n) if login.role == "candidate" else None,
        f"1380000{n:04d}",
    )
    return user_id


async def _request(
    conn: asyncpg.Connection,
    user_id: int,
    login: DemoLogin,
    n: int,
    reviewer_id: int,
    now: datetime,
) -> None:
    if not login.request or await conn.fetchval(
        "SELECT 1 FROM exam_requests WHERE user_id = $1", user_id
    ):
        return
    decided = login.request != "pending"
    await conn.execute(
        """INSERT INTO exam_requests (user_id, candidate_type, category, real_name, id_card, gender,
               phone, company_name, company_uscc, position, status, reason, submitted_at,
               decided_at, decided_by)
           VALUES ($1, 'social', 'C2', $2, $3, 'male', $4, $5, $6, '专职安全员', $7, $8, $9, $10, $11)""",
        user_id,
        login.real_name,
        _id_card(n),
        f"1380000{n:04d}",
        DEMO_COMPANY,
        _uscc(),
        login.request,
        "企业法人承诺书未加盖企业公章，请重新上传" if login.request == "rejected" else None,
        now - timedelta(days=2),
        now - timedelta(days=1) if decided else None,
        reviewer_id if decided else None,
    )


async def _bank(conn: asyncpg.Connection) -> list[int]:
    """The demo bank's question ids in DEMO_QUESTIONS order."""
    bank_id: int = await conn.fetchval(
        """INSERT INTO question_banks (name) VALUES ($1)
           ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
        DEMO_BANK,
    )
    drafts = [build_question(**q) for q in DEMO_QUESTIONS]
    await add_questions(conn, bank_id, drafts)
    ids = {
        r["fingerprint"]: r["id"]
        for r in await conn.fetch(
            "SELECT id, fingerprint FROM questions WHERE bank_id = $1", bank_id
        )
    }
    return [ids[fingerprint(d)] for d in drafts]


async def _paper(
    conn: asyncpg.Connection, class_id: int, kind: str, title: str, limit: int, qids: list[int]
) -> int:
    paper_id: int | None = await conn.fetchval(
        "SELECT id FROM papers WHERE class_id = $1 AND kind = $2 ORDER BY id LIMIT 1",
        class_id,
        kind,
    )
    if paper_id is None:
        paper_id = await conn.fetchval(
            "INSERT INTO papers (class_id, kind, title, time_limit_s) VALUES ($1, $2, $3, $4)"
            " RETURNING id",
            class_id,
            kind,
            title,
            limit,
        )
    if not await conn.fetchval("SELECT 1 FROM paper_questions WHERE paper_id = $1", paper_id):
        await conn.executemany(
            "INSERT INTO paper_questions (paper_id, question_id, position) VALUES ($1, $2, $3)",
            [(paper_id, qid, pos) for pos, qid in enumerate(qids, start=1)],
        )
    assert paper_id is not None
    return paper_id


async def _finished_attempts(
    conn: asyncpg.Connection, user_id: int, mock_id: int, formal_id: int, now: datetime
) -> None:
    """demo_finished: a submitted mock and a formal attempt scoring >= 60 (under review)."""
    if await conn.fetchval("SELECT 1 FROM attempts WHERE user_id = $1", user_id):
        return
    for paper_id, wrong_every in ((mock_id, 2), (formal_id, 7)):
        started = now - timedelta(hours=3 if paper_id == mock_id else 2)
        attempt = await conn.fetchrow(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at, violations)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            user_id,
            paper_id,
            started,
            started + timedelta(hours=1),
            1 if paper_id == formal_id else 0,
        )
        assert attempt is not None
        attempt_id: int = attempt["id"]
        chained: list[tuple[audit_chain.Kind, Any]] = [(audit_chain.START, attempt)]
        keys = await conn.fetch(
            """SELECT q.id, q.kind, q.answer FROM paper_questions pq
                 JOIN questions q ON q.id = pq.question_id WHERE pq.paper_id = $1
                ORDER BY pq.position""",
            paper_id,
        )
        rows = []
        for i, key in enumerate(keys):
            answer = key["answer"]
            if i % wrong_every == wrong_every - 1:  # a few wrong answers, as real candidates give
                answer = (
                    (not answer)
                    if key["kind"] == "truefalse"
                    else (["A"] if key["kind"] == "multiple" else ("B" if answer != "B" else "A"))
                )
            rows.append((attempt_id, key["id"], answer, 1, started + timedelta(minutes=i + 1)))
        for row in rows:
            stored = await conn.fetchrow(
                """INSERT INTO attempt_answers (attempt_id, question_id, answer, rev, saved_at)
                   VALUES ($1, $2, $3, $4, $5) RETURNING *""",
                *row,
            )
            chained.append((audit_chain.ANSWER, stored))
        await audit_chain.append(conn, attempt_id, chained)  # rule H7: the demo verifies too
        await end_attempt(conn, attempt_id, "submitted", started + timedelta(minutes=40))


async def seed_demo(conn: asyncpg.Connection) -> list[DemoLogin]:
    """Create the demo data if missing; return the logins."""
    now = datetime.now(UTC)
    async with conn.transaction():
        ids = {login.username: await _user(conn, login, n) for n, login in enumerate(DEMO_USERS, 1)}
        for n, login in enumerate(DEMO_USERS, 1):
            await _request(conn, ids[login.username], login, n, ids["demo_reviewer"], now)
        class_id: int = await conn.fetchval(
            """INSERT INTO classes (name) VALUES ($1)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            DEMO_CLASS,
        )
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(class_id, ids[login.username]) for login in DEMO_USERS if login.role == "candidate"],
        )
        # The demo invigilator watches the demo class's room (rule G5).
        await conn.execute(
            """INSERT INTO invigilator_assignments (class_id, user_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            class_id,
            ids["demo_invigilator"],
        )
        qids = await _bank(conn)
        mock_id = await _paper(
            conn, class_id, "mock", "安全生产管理人员模拟考试", 1800, [qids[i] for i in MOCK_PICK]
        )
        formal_id = await _paper(conn, class_id, "formal", "安全生产管理人员正式考试", 5400, qids)
        await _finished_attempts(conn, ids["demo_finished"], mock_id, formal_id, now)
    return list(DEMO_USERS)


async def demo_paper_id(conn: asyncpg.Connection, kind: str) -> int | None:
    """The id of the demo class's mock or formal paper."""
    paper_id: int | None = await conn.fetchval(
        """SELECT p.id FROM papers p JOIN classes c ON c.id = p.class_id
            WHERE c.name = $1 AND p.kind = $2 ORDER BY p.id LIMIT 1""",
        DEMO_CLASS,
        kind,
    )
    return paper_id
