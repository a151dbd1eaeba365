"""The PostgreSQL pool and the schema.

The schema changes by versioned migrations (``migrations/``, applied by
``proctor/migrate.py``); ``schema.sql`` at the repository root is their
readable whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from proctor.migrate import migrate

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"


def schema_text() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


async def apply_schema(conn: asyncpg.Connection) -> dict[str, Any]:
    """Bring the database to the current schema: the migrations not yet
    applied, in order (``proctor/migrate.py``); returns the newest's record."""
    return await migrate(conn)
