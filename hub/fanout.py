"""Cross-process fan-out: one channel router per process.

The commit script publishes each committed event's messages on the attempt's
channel (``…{att:<id>}:updates``), as one envelope: a JSON list of items
``{"to": <who>, "m": <message>}``. Every process runs one
:class:`ChannelRouter`: one pub/sub connection, reference-counted
subscriptions (the hub subscribes for the attempts it holds a device or a
watcher of, the ingest for those it holds a PC peer of), and each item is
handed to the one handler registered for its ``to``:

- the audiences of local connections (``pc``, ``phone``, ``devices``,
  ``watchers``, ``all``) and :data:`KICK` → the hub (``hub/live.py``);
- :data:`RTC` → the ingest (``webrtc/commands.py``): a command for the
  process holding the attempt's PC camera peer (a violation's snapshot,
  the watched frame rate).

So the end of an attempt reaches both devices and every watching invigilator
whichever process they are on, and a violation's snapshot is taken wherever
the PC peer is (rules H8, H10).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from hub.keys import Keys, attempt_of
from hub.protocol import decode, encode

log = logging.getLogger(__name__)

Handler = Callable[[int, list[dict[str, Any]]], None]
"""``(attempt_id, items)``: the items of one envelope addressed to the handler."""

KICK = "_kick"
RTC = "rtc"
WATCHERS = "watchers"


def envelope(*items: tuple[str, dict[str, Any]]) -> str:
    """The text to publish: ``(to, message)`` pairs as one envelope."""
    return encode([{"to": to, "m": message} for to, message in items])


def unpack(data: bytes | str) -> list[dict[str, Any]] | None:
    """The items of one published envelope; None when ``data`` is not one."""
    try:
        items = decode(data)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    if not all(isinstance(item, dict) and isinstance(item.get("to"), str) for item in items):
        return None
    return items


class ChannelRouter:
    """One pub/sub connection per process; start()/stop()."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._handlers: dict[str, Handler] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._refs: dict[int, int] = {}
        self._subscribed = asyncio.Event()
        self._lock = asyncio.Lock()
        self.delivered = 0

    def route(self, targets: Iterable[str], handler: Handler) -> None:
        """Hand the items addressed to any of ``targets`` to ``handler``
        (called before start, by the component that owns the target)."""
        for to in targets:
            if to in self._handlers:
                raise ValueError(f"{to!r} already has a handler")
            self._handlers[to] = handler

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the router runs already")
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._task = asyncio.create_task(self._run(), name="channel-router")

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
        pubsub = self._running()
        async with self._lock:
            refs = self._refs.get(attempt_id, 0)
            self._refs[attempt_id] = refs + 1
            if refs == 0:
                await pubsub.subscribe(self.keys.channel(attempt_id))
                self._subscribed.set()

    async def unsubscribe(self, attempt_id: int) -> None:
        if self._pubsub is None:
            return
        async with self._lock:
            refs = self._refs.get(attempt_id, 0) - 1
            if refs > 0:
                self._refs[attempt_id] = refs
                return
            if self._refs.pop(attempt_id, None) is not None:
                await self._pubsub.unsubscribe(self.keys.channel(attempt_id))

    def subscribed(self, attempt_id: int) -> bool:
        return attempt_id in self._refs

    def _running(self) -> PubSub:
        if self._pubsub is None:
            raise RuntimeError("the router is not started")
        return self._pubsub

    def dispatch(self, attempt_id: int, items: list[dict[str, Any]]) -> None:
        """Hand each item to its target's handler, grouped, in order."""
        grouped: dict[Handler, list[dict[str, Any]]] = {}
        for item in items:
            handler = self._handlers.get(item["to"])
            if handler is not None:
                grouped.setdefault(handler, []).append(item)
        for handler, mine in grouped.items():
            try:
                handler(attempt_id, mine)
            except Exception:
                log.exception("channel handler failed for attempt %s", attempt_id)
            self.delivered += len(mine)

    async def _run(self) -> None:
        pubsub = self._running()
        while True:
            if not pubsub.subscribed:
                self._subscribed.clear()
                await self._subscribed.wait()
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("channel read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            items = unpack(message["data"])
            if items is None:
                log.error("bad message on %s: not an envelope", channel)
                continue
            self.dispatch(attempt_of(channel), items)
