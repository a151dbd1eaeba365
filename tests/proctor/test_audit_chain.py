"""The record's hash chain (rule H7): the pure walk, then appends racing on
the real PostgreSQL and rows edited behind the application's back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from proctor import audit_chain
from proctor.audit_chain import GENESIS, ChainWalk, canonical, link_hash, plain
from tests.support.papers import class_with_papers
from tests.support.users import create_user


def _links(attempt_id: int, n: int) -> list[tuple[int, str, str, str, str, str]]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        digest = link_hash(attempt_id, seq, prev, "event", f'["{seq}-0"]', f"c{seq}")
        out.append((seq, "event", f'["{seq}-0"]', f"c{seq}", prev, digest))
        prev = digest
    return out


def test_canonical_json_is_one_text_for_one_value() -> None:
    # rule H7: the same record hashes the same at append and at verify
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {"b": [1, 2.5], "a": "考生", "t": plain(moment), "d": plain(Decimal("1.50"))}
    assert canonical(value) == '{"a":"考生","b":[1,2.5],"d":"1.50","t":"2026-01-02T03:04:05+00:00"}'
    assert canonical({"x": 1, "y": 2}) == canonical({"y": 2, "x": 1})


def test_an_intact_chain_walks_to_its_head() -> None:
    walk = ChainWalk(7)
    links = _links(7, 4)
    assert all(walk.link(*link) for link in links)
    walk.head(4, links[-1][5])
    assert walk.broken is None


def test_a_changed_link_breaks_the_chain_there() -> None:
    links = _links(7, 4)
    seq, kind, key, _, prev, digest = links[1]
    links[1] = (seq, kind, key, "forged", prev, digest)
    walk = ChainWalk(7)
    assert [walk.link(*link) for link in links[:3]] == [True, False, False]
    assert walk.broken is not None and (walk.broken.reason, walk.broken.seq) == ("link_altered", 2)


def test_a_removed_link_or_a_cut_tail_is_found() -> None:
    links = _links(7, 4)
    walk = ChainWalk(7)
    walk.link(*links[0])
    walk.link(*links[2])
    assert walk.broken is not None and (walk.broken.reason, walk.broken.seq) == ("missing_link", 2)
    cut = ChainWalk(7)
    for link in links[:3]:
        cut.link(*link)
    cut.head(4, links[3][5])  # the head still says 4
    assert cut.broken is not None and cut.broken.reason == "head_mismatch"


def test_a_chain_copied_to_another_attempt_does_not_verify() -> None:
    walk = ChainWalk(8)
    assert walk.link(*_links(7, 1)[0]) is False
    assert walk.broken is not None and walk.broken.reason == "link_altered"


def test_records_are_compared_with_their_last_link() -> None:
    kind = audit_chain.ANSWER
    first = {"question_id": 3, "answer": "A", "rev": 1, "saved_at": "t1"}
    second = {**first, "answer": "B", "rev": 2}
    prev, links = GENESIS, []
    for seq, row in enumerate((first, second), start=1):
        content = kind.content_hash(row)
        digest = link_hash(1, seq, prev, kind.name, kind.key_of(row), content)
        links.append((seq, kind.name, kind.key_of(row), content, prev, digest))
        prev = digest
    walk = ChainWalk(1)
    for link in links:
        walk.link(*link)
    assert walk.record(kind, second) is None  # the revision the chain last holds
    walk = ChainWalk(1)
    for link in links:
        walk.link(*link)
    problem = walk.record(kind, {**second, "answer": "C"})
    assert problem is not None and (problem.reason, problem.seq) == ("content_changed", 2)
    stray = walk.record(kind, {**first, "question_id": 9})
    assert stray is not None and stray.reason == "unchained_row"


async def _attempt(pool: asyncpg.Pool) -> int:
    user = await create_user(pool)
    papers = await class_with_papers(pool, [user.id])
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, now(), now() + interval '1 hour') RETURNING *""",
            user.id,
            papers.formal_id,
        )
        await audit_chain.append(conn, row["id"], [(audit_chain.START, row)])
    attempt_id: int = row["id"]
    return attempt_id


async def test_concurrent_writers_extend_one_chain_without_forking(pool: asyncpg.Pool) -> None:
    # rule H7: several processes append at once; the head's row lock orders them
    attempt_id = await _attempt(pool)

    async def writer(n: int) -> None:
        for i in range(10):
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    """INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
                       VALUES ($1, $2, 'pc', 'heartbeat', now(), $3) RETURNING *""",
                    attempt_id,
                    f"{n}-{i}",
                    {"seq": i},
                )
                await audit_chain.append(conn, attempt_id, [(audit_chain.EVENT, row)])

    await asyncio.gather(*(writer(n) for n in range(6)))
    async with pool.acquire() as conn:
        result = await audit_chain.verify(conn, attempt_id)
        seqs = [
            r["seq"]
            for r in await conn.fetch(
                "SELECT seq FROM audit_chain WHERE attempt_id = $1 ORDER BY seq", attempt_id
            )
        ]
    assert result.ok, result.broken
    assert result.records == 61 and seqs == list(range(1, 62))


async def test_a_rolled_back_write_leaves_no_link(pool: asyncpg.Pool) -> None:
    attempt_id = await _attempt(pool)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        row = await conn.fetchrow(
            """INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at)
               VALUES ($1, '1-0', 'pc', 'focus', now()) RETURNING *""",
            attempt_id,
        )
        await audit_chain.append(conn, attempt_id, [(audit_chain.EVENT, row)])
        await tx.rollback()
        result = await audit_chain.verify(conn, attempt_id)
    assert result.ok and result.records == 1


async def test_every_edit_behind_the_application_is_found(pool: asyncpg.Pool) -> None:
    # rule H7: a row edited, inserted or deleted in the database, or a link rewritten
    async def fresh() -> int:
        attempt_id = await _attempt(pool)
        async with pool.acquire() as conn, conn.transaction():
            rows = [
                await conn.fetchrow(
                    """INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
                       VALUES ($1, $2, 'pc', 'focus', now(), $3) RETURNING *""",
                    attempt_id,
                    f"{i}-0",
                    {"state": "lost"},
                )
                for i in (1, 2)
            ]
            await audit_chain.append(conn, attempt_id, [(audit_chain.EVENT, r) for r in rows])
        return attempt_id

    edits = {
        "content_changed": 'UPDATE attempt_events SET data = \'{"state": "back"}\' '
        "WHERE attempt_id = $1 AND stream_id = '1-0'",
        "row_deleted": "DELETE FROM attempt_events WHERE attempt_id = $1 AND stream_id = '2-0'",
        "unchained_row": "INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at) "
        "VALUES ($1, '3-0', 'pc', 'focus', now())",
        "link_altered": "UPDATE audit_chain SET content_hash = 'x' WHERE attempt_id = $1 AND seq = 2",
        "head_mismatch": "DELETE FROM audit_chain WHERE attempt_id = $1 AND seq = 3",
        "no_chain": "DELETE FROM audit_chain_heads WHERE attempt_id = $1",
    }
    for reason, sql in edits.items():
        attempt_id = await fresh()
        async with pool.acquire() as conn:
            assert (await audit_chain.verify(conn, attempt_id)).ok
            await conn.execute(sql, attempt_id)
            result = await audit_chain.verify(conn, attempt_id)
        assert result.broken is not None, reason
        assert result.broken.reason == reason, (reason, result.broken)
        assert result.to_json()["label"].startswith("记录校验失败")
