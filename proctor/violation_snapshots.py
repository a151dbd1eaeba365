"""A dual snapshot at each violation (rules E2, H3), taken by the process
that holds the attempt's PC camera peer.

The hub announces a violation on the attempt's channel (a list of
``{"to", "m"}`` items, ``m.type == "violation"``) from whichever process saw
the PC's focus event (rule H8). This follows the channels of the attempts
whose PC peer lives here — the peer registry's ``media`` — and asks the
registry for a snapshot when a violation comes by, so each violation keeps
both cameras' pictures of its moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.asyncio import Redis

from hub.keys import Keys
from webrtc.ingest import PeerRegistry

log = logging.getLogger(__name__)

FOLLOW_EVERY_S = 0.5
MAX_FOLLOWED = 100_000  # bounded: one channel per local camera peer


def violations_in(data: Any) -> int:
    """How many violation messages one published hub update carries."""
    if not isinstance(data, list):
        return 0
    return sum(
        1
        for item in data
        if isinstance(item, dict)
        and isinstance(item.get("m"), dict)
        and item["m"].get("type") == "violation"
    )


class ViolationSnapshots:
    """start()/stop(): a subscriber task and a follower task."""

    def __init__(self, redis: Redis, keys: Keys, registry: PeerRegistry) -> None:
        self._redis = redis
        self._keys = keys
        self._registry = registry
        self._pubsub: Any = None
        self._channels: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.taken = 0
        # A channel of our own keeps the subscription open while we follow none.
        self._own = keys.own_channel("violation-snapshots")

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._own)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow()), loop.create_task(self._read())]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        self._channels.clear()

    async def _follow(self) -> None:
        """Keep the subscriptions equal to the attempts with a local PC peer."""
        while True:
            try:
                wanted = {self._keys.channel(a): a for a in list(self._registry.media)}
                if len(wanted) > MAX_FOLLOWED:
                    wanted = dict(list(wanted.items())[:MAX_FOLLOWED])
                added = [c for c in wanted if c not in self._channels]
                gone = [c for c in self._channels if c not in wanted]
                if added:
                    self._channels.update({c: wanted[c] for c in added})
                    await self._pubsub.subscribe(*added)
                if gone:
                    for channel in gone:
                        del self._channels[channel]
                    await self._pubsub.unsubscribe(*gone)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following the camera attempts' channels failed")
            await asyncio.sleep(FOLLOW_EVERY_S)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("violation snapshot channel failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            attempt_id = self._channels.get(channel)
            if attempt_id is None:
                continue
            try:
                data = json.loads(message["data"])
            except (ValueError, TypeError):
                continue
            if violations_in(data) and self._registry.snapshot_now(attempt_id, "violation"):
                self.taken += 1
