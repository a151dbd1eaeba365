"""A call to the process holding an attempt's PC peer, answered through Redis (rule H8).

The invigilator's live still (``webrtc/live_still.py``) and live video
(``webrtc/live_video.py``) land on any web process, while only the one that
answered the PC's offer holds its peer. :class:`HolderCalls` carries such a
call:

- the asker publishes ``{"to": <target>, "m": {"request": "<32 hex>", …}}`` on
  the attempt's channel and waits (``BLPOP``, a bounded time) on the reply
  list ``Keys.holder_reply(attempt, request)``, a key of that request only;
- every process's router hands it the item; only the process holding the
  peer (``holds``) runs the target's handler, and pushes its bytes onto the
  reply list, which expires after :data:`REPLY_TTL_S` whether or not anybody
  pops it. The answer travels through Redis once, to the asker, never over
  pub/sub.

Bounded: at most ``max_waiting`` calls waiting per asking process (more:
``busy``), at most ``max_answering`` answers in flight per holding process
(more are dropped, and their askers time out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from hub.fanout import ChannelRouter, envelope
from hub.keys import Keys
from webrtc.errors import RtcError

log = logging.getLogger(__name__)

REPLY_TTL_S = 10
_REQUEST = re.compile(r"[0-9a-f]{32}")

Handler = Callable[[int, dict[str, Any]], Awaitable[bytes]]
"""``(attempt_id, message) → reply``: runs on the process holding the peer."""


class HolderCalls:
    """Calls to one target (``rtc.still``, ``rtc.view``); ``stop()`` cancels
    the answers in flight."""

    def __init__(
        self,
        *,
        target: str,
        redis: Redis,
        keys: Keys,
        router: ChannelRouter,
        holds: Callable[[int], bool],
        handler: Handler,
        max_waiting: int,
        max_answering: int,
    ) -> None:
        self._target = target
        self._redis = redis
        self._keys = keys
        self._holds = holds
        self._handler = handler
        self._max_waiting = max_waiting
        self._max_answering = max_answering
        self._waiting = 0
        self._answers: set[asyncio.Task[None]] = set()
        self._stopped = False
        self.answered = 0
        router.route((target,), self._on_requests)

    async def stop(self) -> None:
        self._stopped = True
        tasks = list(self._answers)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._answers.clear()

    async def ask(self, attempt_id: int, message: dict[str, Any], wait_s: float) -> bytes | None:
        """The holder's reply to ``message``, or None when none came within ``wait_s``."""
        if self._waiting >= self._max_waiting:
            raise RtcError("busy", "实时画面请求过多，请稍后再试")
        request = secrets.token_hex(16)
        self._waiting += 1
        try:
            await self._redis.publish(
                self._keys.channel(attempt_id),
                envelope((self._target, {**message, "request": request})),
            )
            got = await self._redis.blpop(
                [self._keys.holder_reply(attempt_id, request)], timeout=wait_s
            )
        finally:
            self._waiting -= 1
        if got is None:
            return None
        reply = got[1]
        assert isinstance(reply, bytes)  # the clients never decode responses
        return reply

    def _on_requests(self, attempt_id: int, items: list[dict[str, Any]]) -> None:
        if self._stopped or not self._holds(attempt_id):
            return  # the process holding the peer answers
        for item in items:
            data = item.get("m")
            request = data.get("request") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(request, str):
                continue
            if not _REQUEST.fullmatch(request):
                continue  # never a key part the holder did not check
            if len(self._answers) >= self._max_answering:
                log.warning("%s for attempt %s dropped: too many", self._target, attempt_id)
                continue
            task = asyncio.ensure_future(self._answer(attempt_id, request, data))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)

    async def _answer(self, attempt_id: int, request: str, message: dict[str, Any]) -> None:
        reply = await self._handler(attempt_id, message)
        key = self._keys.holder_reply(attempt_id, request)
        try:
            # one key: one slot, a transaction is legal on a Redis Cluster (rule H8)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, reply)
                pipe.expire(key, REPLY_TTL_S)
                await pipe.execute()
        except Exception as error:  # Redis down: the asker times out and says so
            log.warning("%s reply for attempt %s failed: %s", self._target, attempt_id, error)
            return
        self.answered += 1
