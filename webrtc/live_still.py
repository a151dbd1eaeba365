"""The invigilator's live still from whichever process holds the PC peer (rules H4, H8).

An invigilator's ``GET …/live.jpg`` lands on any web process, while the
candidate's PC peer lives on the one that answered its offer. :class:`LiveStills`
runs on every process:

- the peer here → its keyframe at once;
- else, when the session's PC camera is live as measured (so some process
  holds a peer sending frames), a call to the holder (``webrtc/holder_calls.py``,
  target :data:`RTC_STILL`, ``{"request": "<32 hex>"}``), answered with the
  JPEG or the capture's error; no answer within :data:`REPLY_WAIT_S` →
  :class:`RtcError` ``live_still_timeout`` (a 503 the page shows as "try
  again");
- a PC camera not live → ``None`` (404 ``no_live_video``: the page shows the
  latest snapshot) without asking anyone.

The holder takes one keyframe for every request of the attempt that arrives
while one is being taken (several invigilators watching one candidate).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis

from hub.devices import Camera
from hub.fanout import ChannelRouter
from hub.keys import Keys
from hub.state_schema import read_views
from webrtc.errors import RtcError
from webrtc.holder_calls import HolderCalls

RTC_STILL = "rtc.still"
REPLY_WAIT_S = 4.0  # the holder's capture gives up after 2.5 s (LIVE_STILL_TIMEOUT_S)
MAX_WAITING = 32
MAX_ANSWERING = 64
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
    """The reply: the JPEG, or the error's code and reason."""
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


async def pc_camera_live(redis: Redis, keys: Keys, attempt_id: int, now: float) -> bool:
    """Whether the session's PC camera is live as measured (rule H9): some
    process then holds a peer that sends frames."""
    view = (await read_views(redis, keys, [attempt_id]))[attempt_id]
    session = view.session
    return session is not None and session.camera_state("pc", now) is Camera.LIVE


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
        self._captures: dict[int, asyncio.Task[bytes | None]] = {}
        self.calls = HolderCalls(
            target=RTC_STILL,
            redis=redis,
            keys=keys,
            router=router,
            holds=source.holds,
            handler=self._answer,
            max_waiting=MAX_WAITING,
            max_answering=MAX_ANSWERING,
        )

    def start(self) -> None:
        pass  # nothing runs until a request arrives

    async def stop(self) -> None:
        await self.calls.stop()
        captures = list(self._captures.values())
        for task in captures:
            task.cancel()
        for task in captures:
            with contextlib.suppress(asyncio.CancelledError, RtcError):
                await task
        self._captures.clear()

    async def still(self, attempt_id: int) -> bytes | None:
        """The PC camera now as JPEG, from whichever process holds the peer;
        None when the PC camera is not live. Raises ``RtcError``."""
        if self._source.holds(attempt_id):
            return await self._source.live_still(attempt_id)
        if not await pc_camera_live(self._redis, self._keys, attempt_id, self._now()):
            return None
        reply = await self.calls.ask(attempt_id, {}, REPLY_WAIT_S)
        if reply is None:
            raise RtcError("live_still_timeout", "实时画面暂时取不到，请稍后再试")
        return decode_reply(reply)

    async def _answer(self, attempt_id: int, message: dict[str, Any]) -> bytes:
        try:
            return encode_reply(await self._capture(attempt_id))
        except RtcError as error:
            return encode_reply(None, error)

    async def _capture(self, attempt_id: int) -> bytes | None:
        """One keyframe for every request of the attempt that arrives meanwhile."""
        running = self._captures.get(attempt_id)
        if running is None:
            running = asyncio.ensure_future(self._source.live_still(attempt_id))
            self._captures[attempt_id] = running
            running.add_done_callback(lambda _: self._captures.pop(attempt_id, None))
        return await asyncio.shield(running)
