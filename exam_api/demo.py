"""Demo data (``proctor demo-seed``): accounts, a class and its mock paper. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from exam_api.passwords import hash_password

DEMO_PASSWORD = "Demo@2026"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    real_name: str


DEMO_USERS = (
    DemoLogin("demo_candidate", DEMO_PASSWORD, "candidate", "张三"),
    DemoLogin("demo_reviewer", DEMO_PASSWORD, "reviewer", "李审核"),
    DemoLogin("demo_invigilator", DEMO_PASSWORD, "invigilator", "王监考"),
    DemoLogin("demo_admin", DEMO_PASSWORD, "admin", "赵管理"),
)
DEMO_CLASS = "2026年第四期安全生产管理人员考试班"


async def _user(conn: asyncpg.Connection, login: DemoLogin) -> int:
    existing: int | None = await conn.fetchval(
        "SELECT id FROM users WHERE username = $1", login.username
    )
    if existing is not None:
        return existing
    user_id: int = await conn.fetchval(
        """INSERT INTO users (username, password_hash, role, real_name, phone)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        login.username,
        hash_password(login.password),
        login.role,
        login.real_name,
        "13800000000",
    )
    return user_id


async def seed_demo(conn: asyncpg.Connection) -> list[DemoLogin]:
    """Create the demo accounts, class and papers if missing; return the logins."""
    async with conn.transaction():
        ids = {login.username: await _user(conn, login) for login in DEMO_USERS}
        class_id: int = await conn.fetchval(
            """INSERT INTO classes (name) VALUES ($1)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            DEMO_CLASS,
        )
        await conn.execute(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            class_id,
            ids["demo_candidate"],
        )
        for kind, title, limit in (
            ("mock", "安全生产管理人员模拟考试", 3600),
            ("formal", "安全生产管理人员正式考试", 5400),
        ):
            exists = await conn.fetchval(
                "SELECT 1 FROM papers WHERE class_id = $1 AND kind = $2", class_id, kind
            )
            if not exists:
                await conn.execute(
                    "INSERT INTO papers (class_id, kind, title, time_limit_s) VALUES ($1, $2, $3, $4)",
                    class_id,
                    kind,
                    title,
                    limit,
                )
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
