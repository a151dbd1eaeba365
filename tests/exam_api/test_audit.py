"""The tamper-evident record end to end (rule H7): an attempt driven through
the real API and hub sockets verifies; a row then edited in the database is
found by the HTTP endpoint and by ``proctor audit verify``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from proctor import audit_chain
from proctor.settings import Settings
from tests.support.audit import sat_attempt
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user

ROOT = Path(__file__).resolve().parents[2]


async def verify_command(settings: Settings, *args: str) -> tuple[int, str]:
    """``proctor audit verify …`` as an operator runs it, on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
    assert settings.database_url and settings.redis_url
    env |= {
        "PROCTOR_DATABASE_URL": settings.database_url,
        "PROCTOR_REDIS_URL": settings.redis_url,
        "PROCTOR_DATA_DIR": str(settings.data_dir),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proctor.cli",
        "audit",
        "verify",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_sat_attempt_verifies_and_an_edited_answer_is_found(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices, settings: Settings
) -> None:
    # rule H7
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    async with await client_for(server.url, pool, sat["reviewer"].id) as http:
        chain = (await http.get(f"/api/attempts/{aid}/chain")).json()
        assert chain["ok"] is True and chain["label"] == "记录已校验", chain
        assert chain["records"] >= 10 and len(chain["head"]) == 64
        code, out = await verify_command(settings, "--attempt", str(aid))
        assert code == 0 and f"attempt {aid}: ok" in out, out
        # a database administrator turns a wrong answer into a right one
        async with pool.acquire() as conn:
            await conn.execute(
                """UPDATE attempt_answers SET answer = '"B"'
                    WHERE attempt_id = $1 AND question_id = $2""",
                aid,
                sat["question_ids"][0],
            )
        chain = (await http.get(f"/api/attempts/{aid}/chain")).json()
    assert chain["ok"] is False
    broken = chain["broken"]
    assert (broken["reason"], broken["kind"]) == ("content_changed", "answer")
    assert broken["key"] == f"[{sat['question_ids'][0]}]"
    assert chain["label"].startswith("记录校验失败")
    code, out = await verify_command(settings, "--attempt", str(aid))
    assert code == 1 and f"attempt {aid}: BROKEN at #{broken['seq']} answer" in out, out
    code, out = await verify_command(settings)  # all attempts: this one is among the broken
    assert code == 1 and f"attempt {aid}: BROKEN" in out, out


async def test_a_rewritten_violation_and_a_deleted_event_are_found(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule H7: the forgiveness erased, a heartbeat removed
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempt_violations SET forgiven_by = NULL WHERE attempt_id = $1", aid
        )
    async with await client_for(server.url, pool, sat["reviewer"].id) as http:
        chain = (await http.get(f"/api/attempts/{aid}/chain")).json()
        assert (chain["broken"]["reason"], chain["broken"]["kind"]) == (
            "content_changed",
            "violation",
        )
        async with pool.acquire() as conn:
            await conn.execute(
                """DELETE FROM attempt_events WHERE attempt_id = $1 AND stream_id =
                   (SELECT min(stream_id) FROM attempt_events WHERE attempt_id = $1)""",
                aid,
            )
        chain = (await http.get(f"/api/attempts/{aid}/chain")).json()
    assert chain["problems"] == 2
    assert {chain["broken"]["reason"]} <= {"content_changed", "row_deleted"}


async def test_the_verification_is_for_the_attempts_readers_only(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    candidate = await create_user(pool)
    async with await client_for(server.url, pool, candidate.id) as http:
        assert (await http.get("/api/attempts/1/chain")).status_code == 403
    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:
        missing = await http.get("/api/attempts/999999999/chain")
    assert (missing.status_code, missing.json()["error"]) == (404, "attempt_not_found")


async def _rewrite_whole_chain(pool: asyncpg.Pool, attempt_id: int) -> None:
    """What a database administrator who knows the scheme can do: recompute
    every link from the records as they are now."""
    async with pool.acquire() as conn, conn.transaction():
        # the head's lock first, as every writer: no link is added meanwhile
        await conn.execute(
            "SELECT 1 FROM audit_chain_heads WHERE attempt_id = $1 FOR UPDATE", attempt_id
        )
        links = await conn.fetch(
            "SELECT seq, kind, record_key FROM audit_chain WHERE attempt_id = $1 ORDER BY seq",
            attempt_id,
        )
        current = {}
        for kind in audit_chain.KINDS:
            for row in await conn.fetch(kind.select_sql(), attempt_id):
                current[(kind.name, kind.key_of(row))] = kind.content_hash(row)
        prev = audit_chain.GENESIS
        for link in links:
            content = current[(link["kind"], link["record_key"])]
            digest = audit_chain.link_hash(
                attempt_id, link["seq"], prev, link["kind"], link["record_key"], content
            )
            await conn.execute(
                """UPDATE audit_chain SET content_hash = $3, prev_hash = $4, hash = $5
                    WHERE attempt_id = $1 AND seq = $2""",
                attempt_id,
                link["seq"],
                content,
                prev,
                digest,
            )
            prev = digest
        await conn.execute(
            "UPDATE audit_chain_heads SET hash = $2 WHERE attempt_id = $1", attempt_id, prev
        )


async def test_a_whole_chain_rewritten_verifies_but_not_against_an_anchor(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices, settings: Settings
) -> None:
    # rule H7, and its limit (docs/security.md): the anchor kept outside decides
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    async with pool.acquire() as conn:
        seq, head = await audit_chain.head_of(conn, aid) or (0, "")
        await conn.execute("UPDATE attempts SET score = 99 WHERE id = $1", aid)
    await _rewrite_whole_chain(pool, aid)
    code, out = await verify_command(settings, "--attempt", str(aid))
    assert code == 0, out  # the rewrite is consistent: the chain alone cannot tell
    code, out = await verify_command(settings, "--attempt", str(aid), "--anchor", f"{seq}:{head}")
    assert code == 1 and f"attempt {aid}: BROKEN at #{seq}: anchor_mismatch" in out, out
    code, out = await verify_command(settings, "--anchor", f"{seq}:{head}")
    assert code == 2 and "--anchor needs --attempt" in out
