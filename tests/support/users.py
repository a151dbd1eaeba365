"""Test users: made directly in the database, signed in without the captcha."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from exam_api.passwords import hash_password
from proctor.web_sessions import COOKIE, create_session

_counter = itertools.count(1)
PASSWORD = "Test@Pass123"
_PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow by design: hash once


@dataclass(frozen=True)
class TestUser:
    id: int
    username: str
    role: str


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


async def create_user(pool: asyncpg.Pool, role: str = "candidate", **fields: object) -> TestUser:
    username = str(fields.pop("username", unique(role)))
    columns = {
        "username": username,
        "password_hash": _PASSWORD_HASH,
        "role": role,
        "real_name": "测试用户",
        **fields,
    }
    names = ", ".join(columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    async with pool.acquire() as conn:
        user_id: int = await conn.fetchval(
            f"INSERT INTO users ({names}) VALUES ({params}) RETURNING id", *columns.values()
        )
    return TestUser(id=user_id, username=username, role=role)


@dataclass(frozen=True)
class Login:
    cookies: dict[str, str]
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf_token}


async def login_cookies(pool: asyncpg.Pool, user_id: int) -> Login:
    async with pool.acquire() as conn:
        token, csrf = await create_session(conn, user_id, datetime.now(UTC))
    return Login(cookies={COOKIE: token}, csrf_token=csrf)


async def create_class_with_paper(
    pool: asyncpg.Pool, member_ids: list[int], kind: str = "mock", time_limit_s: int = 3600
) -> int:
    """A class with the given members and one paper; returns the paper id."""
    async with pool.acquire() as conn:
        class_id: int = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", unique("class")
        )
        await conn.executemany(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            [(class_id, uid) for uid in member_ids],
        )
        paper_id: int = await conn.fetchval(
            "INSERT INTO papers (class_id, kind, title, time_limit_s) VALUES ($1, $2, $3, $4)"
            " RETURNING id",
            class_id,
            kind,
            "测试试卷",
            time_limit_s,
        )
    return paper_id
