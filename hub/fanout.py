"""Cross-process fan-out: an attempt's messages reach every hub process.

The commit script publishes each committed event's messages on the attempt's
channel (``…{att:<id>}:updates``). Every hub process subscribes, once, to the
channels of the attempts it holds a device or a watcher of, and hands each
message to its local connections. So the end of an attempt reaches both
devices and every watching invigilator whichever process they are on (rule H8).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from hub.keys import Keys

log = logging.getLogger(__name__)

Handler = Callable[[int, list[dict[str, Any]]], None]


class Fanout:
    """One pub/sub connection per process, reference-counted subscriptions."""

    def __init__(self, redis: Redis, keys: Keys, handler: Handler) -> None:
        self.redis = redis
        self.keys = keys
        self.handler = handler
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._refs: dict[int, int] = {}
        self._subscribed = asyncio.Event()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        assert self._task is None
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._task = asyncio.create_task(self._run(), name="hub-fanout")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        self._refs.clear()

    async def subscribe(self, attempt_id: int) -> None:
        """Receive this attempt's messages; returns once the subscription is
        in place, so that nothing published afterwards is missed."""
        assert self._pubsub is not None
        async with self._lock:
            refs = self._refs.get(attempt_id, 0)
            self._refs[attempt_id] = refs + 1
            if refs == 0:
                await self._pubsub.subscribe(self.keys.channel(attempt_id))
                self._subscribed.set()

    async def unsubscribe(self, attempt_id: int) -> None:
        if self._pubsub is None:
            return
        async with self._lock:
            refs = self._refs.get(attempt_id, 0) - 1
            if refs > 0:
                self._refs[attempt_id] = refs
                return
            self._refs.pop(attempt_id, None)
            await self._pubsub.unsubscribe(self.keys.channel(attempt_id))

    def _attempt_of(self, channel: str) -> int:
        return int(channel.split("{att:", 1)[1].split("}", 1)[0])

    async def _run(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        while True:
            if not pubsub.subscribed:
                self._subscribed.clear()
                await self._subscribed.wait()
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fan-out read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            try:
                items = json.loads(message["data"])
                self.handler(self._attempt_of(channel), items)
            except Exception:
                log.exception("bad fan-out message on %s", channel)
