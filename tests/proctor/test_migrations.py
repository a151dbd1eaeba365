"""Versioned migrations (rule O3): applied in order and recorded, never
edited in place, and their result is exactly ``schema.sql``, the readable
whole — checked on two fresh databases of the test server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from proctor.db import schema_text
from proctor.migrate import MigrationError, migrate, migrations
from proctor.settings import Settings

CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default
                    FROM information_schema.columns WHERE table_schema = 'public'
                   ORDER BY 1, 2""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
                   WHERE schemaname = 'public' ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                       ORDER BY 1, 2""",
}


def _url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
async def fresh(settings: Settings) -> AsyncIterator[list[asyncpg.Connection]]:
    """Two empty databases on the test server."""
    assert settings.database_url
    admin = await asyncpg.connect(settings.database_url)
    names = [f"proctor_mig_{secrets.token_hex(4)}" for _ in range(2)]
    conns = []
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
            conns.append(await asyncpg.connect(_url(settings.database_url, name)))
        yield conns
    finally:
        for conn in conns:
            await conn.close()
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _catalog(conn: asyncpg.Connection) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name, sql in CATALOG.items():
        rows = [tuple(r) for r in await conn.fetch(sql)]
        out[name] = [r for r in rows if "schema_migrations" not in str(r[0])]
    return out


async def test_the_migrations_give_exactly_schema_sql(fresh: list[asyncpg.Connection]) -> None:
    by_migrations, by_schema = fresh
    record = await migrate(by_migrations)
    assert record["version"] == len(migrations())
    await by_schema.execute(schema_text())
    assert await _catalog(by_migrations) == await _catalog(by_schema)


async def test_each_migration_is_applied_once_in_order(fresh: list[asyncpg.Connection]) -> None:
    conn = fresh[0]
    await migrate(conn)
    await migrate(conn)  # a second start applies nothing again
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in migrations()]


async def test_an_edited_migration_is_refused(
    fresh: list[asyncpg.Connection], tmp_path: Path
) -> None:
    conn = fresh[0]
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE t (a int);")
    await migrate(conn, folder)
    (folder / "0001_first.sql").write_text("CREATE TABLE t (a int, b int);")
    with pytest.raises(MigrationError, match="edited"):
        await migrate(conn, folder)
    (folder / "0001_first.sql").write_text("CREATE TABLE t (a int);")
    (folder / "0002_second.sql").write_text("ALTER TABLE t ADD COLUMN b int;")
    record = await migrate(conn, folder)  # a change is a new migration
    assert record["version"] == 2


def test_a_gap_or_a_stray_name_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="0002"):
        migrations(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "two.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN"):
        migrations(tmp_path)
