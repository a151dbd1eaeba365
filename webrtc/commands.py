"""Commands for a PC camera peer from any hub process (rule H8).

A candidate's PC peer lives in the process that answered its offer, while the
hub may notice a violation, or an invigilator start watching, in another
process. Commands go out on the attempt's pub/sub channel in the hub's one
envelope (``hub/fanout.py``), addressed to :data:`hub.fanout.RTC`; the process
holding the peer subscribes to the channels of its attempts and acts on them.
Items for other readers on those channels are skipped here, as the hub skips
these.

    {"type": "rtc.snapshot", "reason": "violation"}   dual snapshot now
    {"type": "rtc.watch", "watched": true}              full / low frame rate
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from hub.fanout import RTC, envelope, messages_to
from hub.keys import Keys
from webrtc.schedule import REASONS

log = logging.getLogger(__name__)


async def request_snapshot(redis: Redis, keys: Keys, attempt_id: int, reason: str) -> None:
    """Ask whichever process holds the attempt's PC peer for a dual snapshot."""
    assert reason in REASONS
    await redis.publish(
        keys.channel(attempt_id), envelope((RTC, {"type": "rtc.snapshot", "reason": reason}))
    )


async def request_watch(redis: Redis, keys: Keys, attempt_id: int, watched: bool) -> None:
    """Tell the attempt's PC page (via its peer's process) someone is watching."""
    await redis.publish(
        keys.channel(attempt_id), envelope((RTC, {"type": "rtc.watch", "watched": watched}))
    )


class ChannelCommands:
    """Subscribes to the channels of this process's attempts; runs their commands.

    ``on_snapshot(attempt_id, reason)`` and ``on_watch(attempt_id, watched)``
    are the registry's methods. start/stop like every component.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        on_snapshot: Callable[[int, Any], object],
        on_watch: Callable[[int, bool], object],
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._on_snapshot = on_snapshot
        self._on_watch = on_watch
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[str, int] = {}
        # A channel of our own keeps the subscription open while we hold no attempt.
        self._own = keys.own_channel("rtc-process")

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self._own)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def follow(self, attempt_id: int) -> None:
        channel = self._keys.channel(attempt_id)
        if channel not in self._channels and self._pubsub is not None:
            self._channels[channel] = attempt_id
            await self._pubsub.subscribe(channel)

    async def unfollow(self, attempt_id: int) -> None:
        channel = self._keys.channel(attempt_id)
        if self._channels.pop(channel, None) is not None and self._pubsub is not None:
            await self._pubsub.unsubscribe(channel)

    async def _run(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rtc command channel failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        attempt_id = self._channels.get(str(channel))
        if attempt_id is None:
            return
        for data in messages_to(message.get("data") or b"", RTC):
            if data.get("type") == "rtc.snapshot" and data.get("reason") in REASONS:
                self._on_snapshot(attempt_id, data["reason"])
            elif data.get("type") == "rtc.watch" and isinstance(data.get("watched"), bool):
                self._on_watch(attempt_id, data["watched"])
