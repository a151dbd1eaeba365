"""The PostgreSQL pool and the schema.

``schema.sql`` at the repository root is the one source of the schema. Every
statement in it is idempotent, so applying it at each start is safe; an
advisory lock keeps two processes starting at once from racing, and the
version with the file's digest is recorded in ``schema_version``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import asyncpg

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
SCHEMA_VERSION = 1
_LOCK_KEY = 0x70726F63  # "proc"


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
    """Apply schema.sql idempotently; return the recorded version row."""
    text = schema_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(text)
        await conn.execute(
            """INSERT INTO schema_version (version, digest) VALUES ($1, $2)
               ON CONFLICT (version) DO UPDATE SET digest = EXCLUDED.digest,
                   applied_at = CASE WHEN schema_version.digest = EXCLUDED.digest
                                     THEN schema_version.applied_at ELSE now() END""",
            SCHEMA_VERSION,
            digest,
        )
        row = await conn.fetchrow(
            "SELECT version, digest, applied_at FROM schema_version WHERE version = $1",
            SCHEMA_VERSION,
        )
    assert row is not None
    return dict(row)
