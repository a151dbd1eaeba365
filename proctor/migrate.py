"""Versioned schema migrations (rule O3): numbered plain-SQL files applied in
order, each once, each in its own transaction, recorded in
``schema_migrations`` with its digest. An applied migration is never edited
(its digest is checked at every start); a change is a new file. An advisory
lock keeps two processes starting at once from racing.

``schema.sql`` stays the readable whole; ``tests/proctor/test_migrations.py``
checks that applying the migrations gives exactly that schema.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_LOCK_KEY = 0x70726F63  # "proc"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_RECORD = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    digest      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration file is misnamed, missing or was edited after it was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; gaps and stray names are errors."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migrations are named NNNN_words.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {expected:04d} is missing before {migration.name}")
    return found


async def _applied(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, digest FROM schema_migrations")
    return {r["version"]: r["digest"] for r in rows}


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> dict[str, object]:
    """Apply the migrations not applied yet; return the newest one's record."""
    todo = migrations(folder)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_RECORD)
        applied = await _applied(conn)
        for migration in todo:
            digest = applied.get(migration.version)
            if digest is not None:
                if digest != migration.digest:
                    raise MigrationError(
                        f"{migration.name} was edited after it was applied: add a new migration"
                    )
                continue
            async with conn.transaction():  # a savepoint: one migration, all or nothing
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, digest) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.digest,
                )
        row = await conn.fetchrow(
            """SELECT version, name, digest, applied_at FROM schema_migrations
                ORDER BY version DESC LIMIT 1"""
        )
    if row is None:
        raise MigrationError("no migration to apply")
    return dict(row)
