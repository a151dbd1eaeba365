"""argon2id off the event loop (exam_api/passwords.py, rule A5, issue #9).

Responsiveness is shown by behaviour, not by timing: a coroutine that only
needs the event loop finishes its turns while the hashes are still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from argon2 import PasswordHasher

from exam_api.identity import BuiltinProvider
from exam_api.passwords import HashingBusy, PasswordHashing, hash_password, needs_rehash
from tests.support.users import PASSWORD, create_user

_HASH = hash_password("Secret123")


@pytest.fixture
async def hashing() -> AsyncIterator[PasswordHashing]:
    pool = PasswordHashing(workers=2, max_waiting=16)
    await pool.start()
    yield pool
    await pool.stop()


async def _loop_turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_event_loop_keeps_answering_while_hashes_run(hashing: PasswordHashing) -> None:
    """Issue #9: eight logins' checks at once must not stall the loop (it used to stall
    /healthz for 1.37 s). On the loop, the first turn would run all eight to the end."""
    checks = asyncio.gather(*(hashing.verify(_HASH, "Secret123") for _ in range(8)))
    await _loop_turns(5)  # what a /healthz or a heartbeat needs: the loop, a few times
    # rule A5: the memory-hard hash, without stalling the process
    assert not checks.done(), "the loop turned only after the hashes had finished"
    assert await checks == [True] * 8


async def test_hashes_beyond_the_bound_are_refused_at_once() -> None:
    """No unbounded queue: past the running and waiting places a caller gets 503 busy."""
    hashing = PasswordHashing(workers=1, max_waiting=1)
    await hashing.start()
    try:
        admitted = [asyncio.create_task(hashing.verify(_HASH, "Secret123")) for _ in range(2)]
        await asyncio.sleep(0)  # both are in the pool now, one running, one waiting
        with pytest.raises(HashingBusy) as refused:
            await hashing.verify(_HASH, "Secret123")
        assert (refused.value.status, refused.value.code) == (503, "busy")
        assert await asyncio.gather(*admitted) == [True, True]
        assert hashing.in_flight == 0
        assert await hashing.verify(_HASH, "wrong") is False  # places are given back
    finally:
        await hashing.stop()


async def test_a_stopped_pool_does_not_start_again() -> None:
    hashing = PasswordHashing()
    await hashing.start()
    await hashing.stop()
    with pytest.raises(RuntimeError):
        await hashing.start()
    with pytest.raises(RuntimeError):
        await hashing.hash("Secret123")


async def test_the_builtin_provider_checks_passwords_in_the_pool(
    pool: asyncpg.Pool, hashing: PasswordHashing
) -> None:
    user = await create_user(pool)
    async with pool.acquire() as conn:
        provider = BuiltinProvider(hashing)
        account = await provider.authenticate(conn, user.username, PASSWORD)
        assert account is not None and account.id == user.id
        assert await provider.authenticate(conn, user.username, "Wrong1234") is None
        assert await provider.authenticate(conn, "no_such_user", PASSWORD) is None
        idle = BuiltinProvider(PasswordHashing())  # not started: no thread to check in
        with pytest.raises(RuntimeError, match="not running"):
            await idle.authenticate(conn, user.username, PASSWORD)


def test_hashes_are_argon2id_at_owasps_parameters() -> None:
    """rule A5: memory-hard, at OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1)."""
    params = hash_password("Secret123").split("$")
    assert params[1] == "argon2id"
    assert params[3] == "m=19456,t=2,p=1"
    assert not needs_rehash(hash_password("Secret123"))


async def test_a_hash_with_older_parameters_is_rewritten_at_sign_in(
    pool: asyncpg.Pool, hashing: PasswordHashing
) -> None:
    """A password stored with argon2-cffi's defaults (the parameters before issue #16)
    still signs in, and the sign-in stores it again with today's; a wrong password
    changes nothing."""
    user = await create_user(pool)
    old = PasswordHasher().hash(PASSWORD)  # m=65536, t=3, p=4
    async with pool.acquire() as conn:
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, old)
        provider = BuiltinProvider(hashing)
        assert await provider.authenticate(conn, user.username, "Wrong1234") is None
        assert await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id) == old
        account = await provider.authenticate(conn, user.username, PASSWORD)
        assert account is not None and account.id == user.id
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
        assert stored != old and "$m=19456,t=2,p=1$" in stored
        assert await provider.authenticate(conn, user.username, PASSWORD) is not None
