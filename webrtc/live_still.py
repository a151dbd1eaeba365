"""The invigilator's live still from whichever process holds the PC peer (rules H4, H8).

An invigilator's ``GET …/live.jpg`` lands on any web process, while the
candidate's PC peer lives on the one that answered its offer. :class:`LiveStills`
runs on every process and plays both parts:

- **asking** (:meth:`LiveStills.still`): the peer here → its keyframe at once.
  Otherwise, when the session's PC camera is live as measured (so some
  process holds a peer sending frames), a request goes on the attempt's
  channel, addressed to :data:`RTC_STILL`::

      {"to": "rtc.still", "m": {"request": "<32 hex>"}}

  and the asker waits on the reply list ``Keys.still_reply`` (``BLPOP``, at
  most :data:`REPLY_WAIT_S`). No reply in time → :class:`RtcError`
  ``live_still_timeout`` (a 503 the page shows as "try again"); a PC camera
  not live → ``None`` (404 ``no_live_video``, the page shows the latest
  snapshot) without asking anyone.
- **answering**: the router hands every process the request; only the one
  holding the attempt's peer answers. It takes one keyframe (concurrent
  requests for one attempt share it), and pushes the JPEG — or the capture's
  error code — onto the reply list, which expires after :data:`REPLY_TTL_S`
  whether or not anybody pops it. The picture travels through Redis once, to
  the asker, never over pub/sub.

Bounded: at most :data:`MAX_WAITING` requests waiting per asking process
(more: ``busy``), at most :data:`MAX_ANSWERING` answers in flight per holding
process (more are dropped; their askers time out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio import Redis

from hub.devices import Camera
from hub.fanout import ChannelRouter, envelope
from hub.keys import Keys
from hub.state_schema import read_views
from webrtc.errors import RtcError

log = logging.getLogger(__name__)

RTC_STILL = "rtc.still"
REPLY_WAIT_S = 4.0  # the holder's capture gives up after 2.5 s (LIVE_STILL_TIMEOUT_S)
REPLY_TTL_S = 10
MAX_WAITING = 32
MAX_ANSWERING = 64
_REQUEST = re.compile(r"[0-9a-f]{32}")
_JPEG, _ERROR = b"jpeg:", b"error:"


class StillSource(Protocol):
    """This process's PC peers (``webrtc.ingest.PeerRegistry``)."""

    def holds(self, attempt_id: int) -> bool:
        """Whether the attempt's PC peer is on this process."""
        ...

    async def live_still(self, attempt_id: int) -> bytes | None:
        """A fresh keyframe as JPEG; None without a peer here; raises ``RtcError``."""
        ...


def encode_reply(jpeg: bytes | None, error: RtcError | None = None) -> bytes:
    """The reply list's element: the JPEG, or the error's code and reason."""
    if error is not None:
        return _ERROR + f"{error.code}:{error.message}".encode()
    if jpeg is None:
        return _ERROR + "no_peer:电脑摄像头未连接".encode()
    return _JPEG + jpeg


def decode_reply(raw: bytes) -> bytes:
    """The JPEG of a reply; raises the holder's ``RtcError``."""
    if raw.startswith(_JPEG):
        return raw[len(_JPEG) :]
    code, _, reason = raw[len(_ERROR) :].decode(errors="replace").partition(":")
    if not raw.startswith(_ERROR) or not code:
        raise RtcError("bad_keyframe", "实时画面的回复无法识别")
    raise RtcError(code, reason)


class LiveStills:
    """The live still on every process; ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        source: StillSource,
        redis: Redis,
        keys: Keys,
        router: ChannelRouter,
        now: Callable[[], float],
    ) -> None:
        self._source = source
        self._redis = redis
        self._keys = keys
        self._now = now
        self._waiting = 0
        self._captures: dict[int, asyncio.Task[bytes | None]] = {}
        self._answers: set[asyncio.Task[None]] = set()
        self._stopped = False
        router.route((RTC_STILL,), self._on_requests)
        self.answered = 0

    def start(self) -> None:
        assert not self._stopped, "a stopped LiveStills never starts again"

    async def stop(self) -> None:
        self._stopped = True
        tasks = [*self._answers, *self._captures.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._answers.clear()
        self._captures.clear()

    # ------------------------------------------------------------ asking
    async def still(self, attempt_id: int) -> bytes | None:
        """The PC camera now as JPEG, from whichever process holds the peer;
        None when the PC camera is not live. Raises ``RtcError``."""
        if self._source.holds(attempt_id):
            return await self._source.live_still(attempt_id)
        if not await self._pc_live(attempt_id):
            return None
        if self._waiting >= MAX_WAITING:
            raise RtcError("busy", "实时画面请求过多，请稍后再试")
        request = secrets.token_hex(16)
        self._waiting += 1
        try:
            await self._redis.publish(
                self._keys.channel(attempt_id), envelope((RTC_STILL, {"request": request}))
            )
            got = await self._redis.blpop(
                [self._keys.still_reply(attempt_id, request)], timeout=REPLY_WAIT_S
            )
        finally:
            self._waiting -= 1
        if got is None:
            raise RtcError("live_still_timeout", "实时画面暂时取不到，请稍后再试")
        reply = got[1]
        assert isinstance(reply, bytes)  # the clients never decode responses
        return decode_reply(reply)

    async def _pc_live(self, attempt_id: int) -> bool:
        view = (await read_views(self._redis, self._keys, [attempt_id]))[attempt_id]
        session = view.session
        return session is not None and session.camera_state("pc", self._now()) is Camera.LIVE

    # ------------------------------------------------------------ answering
    def _on_requests(self, attempt_id: int, items: list[dict[str, Any]]) -> None:
        if self._stopped or not self._source.holds(attempt_id):
            return  # the process holding the peer answers
        for item in items:
            data = item.get("m")
            request = data.get("request") if isinstance(data, dict) else None
            if not isinstance(request, str) or not _REQUEST.fullmatch(request):
                continue
            if len(self._answers) >= MAX_ANSWERING:
                log.warning("live still for attempt %s dropped: too many in flight", attempt_id)
                continue
            task = asyncio.ensure_future(self._answer(attempt_id, request))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)

    async def _answer(self, attempt_id: int, request: str) -> None:
        try:
            reply = encode_reply(await self._capture(attempt_id))
        except RtcError as error:
            reply = encode_reply(None, error)
        key = self._keys.still_reply(attempt_id, request)
        try:
            # one key: one slot, a transaction is legal on a Redis Cluster (rule H8)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, reply)
                pipe.expire(key, REPLY_TTL_S)
                await pipe.execute()
        except Exception as error:  # Redis down: the asker times out and says so
            log.warning("live still reply for attempt %s failed: %s", attempt_id, error)
            return
        self.answered += 1

    def _capture(self, attempt_id: int) -> Awaitable[bytes | None]:
        """One keyframe for every request of the attempt that arrives meanwhile."""
        running = self._captures.get(attempt_id)
        if running is None:
            running = asyncio.ensure_future(self._source.live_still(attempt_id))
            self._captures[attempt_id] = running
            running.add_done_callback(lambda _: self._captures.pop(attempt_id, None))
        return asyncio.shield(running)
