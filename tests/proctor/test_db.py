"""The schema brought up to date at each start (proctor/db.py, the migrations):
the ID-card constraint of issue #9 (migration 0003)."""

from __future__ import annotations

import asyncpg
import pytest

from proctor.db import apply_schema
from tests.support.accounts import unique_id_card
from tests.support.users import create_user, unique


async def test_the_schema_applies_again_without_change(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        first = await apply_schema(conn)
        second = await apply_schema(conn)
    assert first["digest"] == second["digest"]


async def test_one_id_card_number_cannot_have_two_accounts(pool: asyncpg.Pool) -> None:
    """Issue #9: the database itself refuses a second account with the same ID card."""
    id_card = unique_id_card()
    await create_user(pool, id_card=id_card)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await create_user(pool, id_card=id_card)
    assert refused.value.constraint_name == "users_id_card_unique"
    await create_user(pool)  # accounts without an ID card (staff) are not limited
    await create_user(pool)


async def test_an_old_database_with_duplicates_is_told_what_to_merge(pool: asyncpg.Pool) -> None:
    """Migrating a database from before the constraint (at migration 0002), that
    already holds two accounts of one ID card, stops with the query that lists
    them (nothing changed)."""
    id_card = unique_id_card()
    async with pool.acquire() as conn:
        undo = conn.transaction()
        await undo.start()
        try:
            await conn.execute("DROP INDEX users_id_card_unique")
            await conn.execute("DELETE FROM schema_migrations WHERE version >= 3")
            for _ in range(2):
                await conn.execute(
                    "INSERT INTO users (username, password_hash, role, id_card)"
                    " VALUES ($1, 'x', 'candidate', $2)",
                    unique("dup"),
                    id_card,
                )
            with pytest.raises(asyncpg.RaiseError, match="share an ID-card number") as stopped:
                await apply_schema(conn)
            assert "GROUP BY id_card HAVING count(*) > 1" in (stopped.value.hint or "")
        finally:
            await undo.rollback()
        assert await conn.fetchval("SELECT to_regclass('users_id_card_unique') IS NOT NULL")
