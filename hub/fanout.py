"""Cross-process fan-out: an attempt's messages reach every hub process.

The commit script publishes each committed event's messages on the attempt's
channel (``…{att:<id>}:updates``). Every hub process subscribes, once, to the
channels of the attempts it holds a device or a watcher of, and hands each
message to its local connections. So the end of an attempt reaches both
devices and every watching invigilator whichever process they are on (rule H8).

One envelope for everything published on that channel, by the hub and by the
WebRTC ingest alike: a JSON list of items ``{"to": <who>, "m": <message>}``.
``to`` is an audience of local connections (``pc``, ``phone``, ``devices``,
``watchers``, ``all``: ``hub/live.py``) or a control that only its reader
acts on — :data:`KICK` (the hub: drop a replaced device connection),
:data:`RTC` (a command for the process holding the attempt's PC camera peer,
``webrtc/commands.py``) and :data:`CAPTURE` (a capture request for a phone
that uploads its photo over HTTP). Every reader skips the items not for it.
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

from hub.keys import Keys, attempt_of

log = logging.getLogger(__name__)

Handler = Callable[[int, list[dict[str, Any]]], None]

KICK = "_kick"
RTC = "_rtc"
CAPTURE = "_capture"
WATCHERS = "watchers"


def envelope(*items: tuple[str, dict[str, Any]]) -> str:
    """The text to publish: ``(to, message)`` pairs as one envelope."""
    return json.dumps(
        [{"to": to, "m": message} for to, message in items],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def unpack(data: bytes | str) -> list[dict[str, Any]] | None:
    """The items of one published envelope; None when ``data`` is not one."""
    try:
        items = json.loads(data)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    if not all(isinstance(item, dict) and isinstance(item.get("to"), str) for item in items):
        return None
    return items


def messages_to(data: bytes | str, to: str) -> list[dict[str, Any]]:
    """The messages of one envelope addressed to ``to`` (none if malformed)."""
    return [
        item["m"]
        for item in unpack(data) or []
        if item["to"] == to and isinstance(item.get("m"), dict)
    ]


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
            items = unpack(message["data"])
            if items is None:
                log.error("bad fan-out message on %s: not an envelope", channel)
                continue
            try:
                self.handler(attempt_of(channel), items)
            except Exception:
                log.exception("fan-out message on %s failed", channel)
