"""Password hashing with argon2id (rule A5: a memory-hard hash), off the event loop.

An argon2id hash or check costs tens of milliseconds of CPU and 19 MiB by
design; run on the event loop, a burst of logins stalls every websocket and
``/healthz`` of the process.  ``PasswordHashing`` runs them in a small pool
of its own threads (argon2's C code releases the GIL) and bounds the line
of waiting callers: past it a caller gets 503 ``busy`` at once instead of
joining an unbounded queue.  ``hash_password``/``verify_password`` stay for
offline code (demo seed, tests) that has no event loop to protect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from exam_api.errors import ApiError

T = TypeVar("T")
# argon2id at OWASP's first recommended configuration (Password Storage Cheat
# Sheet: m = 19 MiB, t = 2, p = 1): still memory-hard, 45 ms of CPU per check on
# this machine where argon2-cffi's default (RFC 9106 low-memory: m = 64 MiB,
# t = 3, p = 4) costs 309 ms, which capped an exam day at ~6 logins/s on two
# cores (docs/benchmarks.md, issue #16). Hashes made with other parameters still
# verify; a successful sign-in rewrites them with these (``needs_rehash``).
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
HASH_WORKERS = 2  # 19 MiB of argon2 memory each; the machine's other work keeps the rest
MAX_WAITING = 64  # callers beyond the running ones; more get 503 busy


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (cheap: it
    reads the hash's header, no hashing)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


class HashingBusy(ApiError):
    """More password checks in flight than the pool takes: answer now, do not queue."""

    def __init__(self) -> None:
        super().__init__(503, "busy", "登录人数较多，服务器繁忙，请稍后再试")


class PasswordHashing:
    """argon2id in at most ``workers`` threads, with at most ``max_waiting`` callers waiting.

    ``start()`` creates the threads' pool, ``stop()`` cancels what has not started and
    waits for what has; a stopped pool never starts again.
    """

    def __init__(self, workers: int = HASH_WORKERS, max_waiting: int = MAX_WAITING) -> None:
        self._workers = workers
        self._max_waiting = max_waiting
        self._executor: ThreadPoolExecutor | None = None
        self._stopped = False
        self._in_flight = 0  # running plus waiting; each done future gives its place back

    async def start(self) -> None:
        if self._executor is not None or self._stopped:
            raise RuntimeError("password hashing: start() once, before stop()")
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="argon2")

    async def stop(self) -> None:
        executor, self._executor = self._executor, None
        self._stopped = True
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(verify_password, password_hash, password)

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        if self._executor is None:
            raise RuntimeError("password hashing is not running")
        if self._in_flight >= self._workers + self._max_waiting:
            raise HashingBusy()
        self._in_flight += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        future.add_done_callback(self._give_back)
        return await future

    def _give_back(self, future: asyncio.Future[Any]) -> None:
        # Also called when the caller was cancelled: a check not yet started is dropped
        # from the pool's queue then, and one already running holds one of the threads.
        self._in_flight -= 1
