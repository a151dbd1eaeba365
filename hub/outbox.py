"""A connection's bounded outbound line: what ``asyncio.Queue`` does for one
writer, at a fraction of its memory.

An ``asyncio.Queue`` holds three deques and an ``Event`` (≈2.5 KiB with their
first blocks); with one per socket that was a tenth of the hub's memory per
connection (issue #16, ``bench/hub_load.py --memory-profile``). One writer
task waits at a time, so a list and a future made only while it waits are
enough. A list, not a deque: a deque's first block alone is ≈600 bytes, and
taking the head of at most ``SEND_QUEUE`` (64) references is cheap.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class OutboxFull(Exception):
    """The writer has fallen ``maxsize`` items behind."""


class Outbox(Generic[T]):
    """A FIFO of at most ``maxsize`` items with a single waiting consumer."""

    __slots__ = ("_items", "_maxsize", "_waiter")

    def __init__(self, maxsize: int) -> None:
        assert maxsize > 0
        self._items: list[T] = []
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        if len(self._items) >= self._maxsize:
            raise OutboxFull
        self._items.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._items.clear()

    async def get(self) -> T:
        """The oldest item, waiting for one if there is none (one caller at a time)."""
        while not self._items:
            assert self._waiter is None, "Outbox.get() has one consumer"
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)
