"""Commands for a PC camera peer from any process (rule H8).

A candidate's PC peer lives in the process that answered its offer, while the
hub may count a violation, or an invigilator start watching, in another
process. Commands travel on the attempt's channel in the one envelope
(``hub/fanout.py``), addressed to :data:`hub.fanout.RTC`: a violation's
snapshot in the very commit that counts the violation (rule H10), the watch
rate from the invigilation endpoints. This process's channel router hands
them to :class:`ChannelCommands` for the attempts whose peer is here.

    {"type": "rtc.snapshot", "capture_id": "<attempt>.violation.<ms>.<index>"}
    {"type": "rtc.snapshot", "capture_id": "<attempt>.identity.<ms>"}    a face check try (I2)
    {"type": "rtc.watch", "watched": true}              full / low frame rate
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from hub.captures import CaptureId
from hub.fanout import RTC, ChannelRouter, envelope
from hub.keys import Keys

log = logging.getLogger(__name__)


async def request_watch(redis: Redis, keys: Keys, attempt_id: int, watched: bool) -> None:
    """Tell the attempt's PC page (via its peer's process) someone is watching."""
    await redis.publish(
        keys.channel(attempt_id), envelope((RTC, {"type": "rtc.watch", "watched": watched}))
    )


class ChannelCommands:
    """Runs the commands addressed to this process's PC peers.

    ``on_snapshot(capture)`` and ``on_watch(attempt_id, watched)`` are the
    peer registry's; the router delivers only for the attempts the registry
    follows (``follow``/``unfollow``: reference-counted subscriptions)."""

    def __init__(
        self,
        router: ChannelRouter,
        on_snapshot: Callable[[CaptureId], object],
        on_watch: Callable[[int, bool], object],
    ) -> None:
        self._router = router
        self._on_snapshot = on_snapshot
        self._on_watch = on_watch
        self._followed: set[int] = set()
        router.route((RTC,), self._handle)

    async def follow(self, attempt_id: int) -> None:
        if attempt_id not in self._followed:
            self._followed.add(attempt_id)
            await self._router.subscribe(attempt_id)

    async def unfollow(self, attempt_id: int) -> None:
        if attempt_id in self._followed:
            self._followed.discard(attempt_id)
            await self._router.unsubscribe(attempt_id)

    async def stop(self) -> None:
        for attempt_id in list(self._followed):
            await self.unfollow(attempt_id)

    def _handle(self, attempt_id: int, items: list[dict[str, Any]]) -> None:
        if attempt_id not in self._followed:
            return
        for item in items:
            data = item.get("m")
            if not isinstance(data, dict):
                continue
            if data.get("type") == "rtc.snapshot":
                capture = CaptureId.parse(str(data.get("capture_id", "")))
                if capture is not None and capture.attempt_id == attempt_id:
                    self._on_snapshot(capture)
            elif data.get("type") == "rtc.watch" and isinstance(data.get("watched"), bool):
                self._on_watch(attempt_id, data["watched"])
