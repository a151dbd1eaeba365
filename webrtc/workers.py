"""A small thread pool for blocking media work (decode, encode, face counts,
disk) with a bounded backlog: when it is full the caller hears "busy" at once
instead of queueing without limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from webrtc.errors import RtcError

T = TypeVar("T")


class MediaWorkers:
    """A small thread pool for decode/encode/disk work, with a bounded backlog."""

    def __init__(
        self, workers: int = 2, max_pending: int = 64, thread_name_prefix: str = "media"
    ) -> None:
        self._workers = workers
        self._prefix = thread_name_prefix
        self._max_pending = max_pending
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        assert self._executor is None
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix=self._prefix)

    async def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the pool; ``RtcError("busy")`` when the backlog is full."""
        if self._executor is None:
            raise RtcError("busy", "服务正在关闭")
        if self._pending >= self._max_pending:
            raise RtcError("busy", "服务繁忙，请稍后")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._pending -= 1
