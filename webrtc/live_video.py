"""Live video of a watched tile, forwarded without decoding (rules L2, H4, H8).

An invigilator who opens a candidate's tile may watch the PC camera live.
The candidate's VP8 frames reach this server anyway (the PC peer,
``webrtc/ingest.py``); the keyframe tap sees each one encoded
(``KeyframeTap.listen``) and a :class:`ForwardedTrack` hands it, as the same
bytes in an ``av.Packet``, to a second aiortc peer whose browser is the
invigilator's: aiortc's sender packs a packet without encoding it. Nothing
is decoded or re-encoded; the page sends its full frame rate while watched
(the watch lease, ``hub/wall.py``).

Where: the viewer's peer lives on the process holding the candidate's peer
(the frames are there). ``POST …/live-video`` lands on any process; when the
peer is elsewhere and the session's PC camera is live as measured, the offer
goes to the holder as a call (``webrtc/holder_calls.py``, target
:data:`RTC_VIEW`, ``{"request", "sdp"}``), which answers with its SDP; the
viewer's media then flows between the browser and that process, like the
candidate's. No answer within :data:`REPLY_WAIT_S` → ``live_video_timeout``.

Bounded: :data:`MAX_VIEWERS_PER_ATTEMPT` viewers per attempt and
:data:`MAX_VIEWERS` per process (more: ``too_many_viewers``); a forwarded
track holds at most :data:`MAX_QUEUED` frames (past that it drops them up to
the next keyframe and asks the candidate for one). A viewer closes when its
browser leaves, when the candidate's peer goes or is replaced, or when the
attempt has no live watch lease any more (a panel closed, a browser gone).
A viewer's picture-loss indication is passed on to the candidate (rate
limited by the tap).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription
from redis.asyncio import Redis

from hub import wall
from hub.fanout import ChannelRouter
from hub.keys import Keys
from proctor.metrics import Metrics
from webrtc.errors import RtcError
from webrtc.holder_calls import HolderCalls
from webrtc.keyframes import KeyframeTap, restrict_to_vp8
from webrtc.live_still import pc_camera_live
from webrtc.offers import MAX_SDP_BYTES

log = logging.getLogger(__name__)

RTC_VIEW = "rtc.view"
REPLY_WAIT_S = 10.0  # the holder builds a peer and gathers its ICE candidates
MAX_VIEWERS_PER_ATTEMPT = 4
MAX_VIEWERS = 100
MAX_QUEUED = 30  # two seconds at the watched 15 fps
MAX_WAITING = 32
CHECK_EVERY_S = 2.0
# A viewer peer not connected this long after its answer is closed: the page
# went (the panel closed before it used the answer) or its ICE never came
# through; left open it would hold one of the attempt's places for as long
# as aiortc's ICE takes to give up.
CONNECT_WITHIN_S = 15.0
VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)  # RTP's video clock
_SDP, _ERROR = b"sdp:", b"error:"


class VideoSource(Protocol):
    """This process's PC peers (``webrtc.ingest.PeerRegistry``)."""

    def holds(self, attempt_id: int) -> bool: ...

    def tap_of(self, attempt_id: int) -> KeyframeTap | None:
        """The keyframe tap of the attempt's PC peer here, if any."""
        ...


def check_viewer_offer(sdp: str) -> None:
    """Raise ``RtcError`` unless ``sdp`` is an offer to receive one VP8 video."""
    if len(sdp) > MAX_SDP_BYTES:
        raise RtcError("bad_sdp", "SDP 过长")
    if not sdp.startswith("v=0"):
        raise RtcError("bad_sdp", "不是有效的 SDP（应以 v=0 开头）")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser asserts or raises anything on junk
        raise RtcError("bad_sdp", f"SDP 无法解析：{exc!r}") from None
    live = [m for m in parsed.media if m.port != 0]
    if [m.kind for m in live] != ["video"]:
        raise RtcError("bad_sdp", "只能接收一路视频")
    video = live[0]
    if video.direction != "recvonly":
        raise RtcError("bad_sdp", "视频须为仅接收（recvonly）")
    if "VP8" not in {codec.name.upper() for codec in video.rtp.codecs}:
        raise RtcError("codec_not_accepted", "浏览器须支持 VP8 视频")
    if video.ice is None or not video.ice.usernameFragment or video.dtls is None:
        raise RtcError("bad_sdp", "SDP 缺少 ICE 或 DTLS 参数")


class ForwardedTrack(MediaStreamTrack):
    """A video track whose frames are the candidate's encoded VP8 frames.

    ``push`` (the tap's listener, on the event loop) queues a frame; ``recv``
    returns it as an ``av.Packet`` stamped with its RTP time, which aiortc's
    sender packs as it is. The track starts at a keyframe, and after an
    overflow drops frames until the next one (a decoder cannot start
    elsewhere), asking for it with ``want_keyframe``.
    """

    kind = "video"

    def __init__(self, want_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self._want_keyframe = want_keyframe
        self._frames: deque[tuple[bytes, int] | None] = deque()
        self._ready = asyncio.Event()
        self._synced = False
        self._first_ts: int | None = None
        self.forwarded = 0
        self.dropped = 0

    def push(self, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        if self.readyState != "live":
            return
        if not self._synced:
            if not keyframe:
                self.dropped += 1
                return
            self._synced = True
        if len(self._frames) >= MAX_QUEUED:
            self._frames.clear()
            self.dropped += MAX_QUEUED
            self._synced = keyframe
            if not keyframe:
                self.dropped += 1
                self._want_keyframe()
                return
        self._frames.append((data, rtp_timestamp))
        self._ready.set()

    def stop(self) -> None:
        if self.readyState == "live":
            self._frames.append(None)  # the sentinel ends recv
            self._ready.set()
        super().stop()

    async def recv(self) -> av.Packet:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        item = self._frames.popleft()
        if item is None:
            raise MediaStreamError
        data, rtp_timestamp = item
        if self._first_ts is None:
            self._first_ts = rtp_timestamp
        packet = av.Packet(data)
        packet.pts = (rtp_timestamp - self._first_ts) % (1 << 32)
        packet.time_base = VIDEO_TIME_BASE
        self.forwarded += 1
        return packet


@dataclass
class Viewer:
    attempt_id: int
    pc: RTCPeerConnection
    tap: KeyframeTap
    track: ForwardedTrack
    watcher: str  # who watches (the user): one live video per watcher and attempt
    answered_at: float


def encode_answer(sdp: str | None, error: RtcError | None = None) -> bytes:
    if error is not None or sdp is None:
        error = error or RtcError("no_peer", "电脑摄像头未连接")
        return _ERROR + f"{error.code}:{error.message}".encode()
    return _SDP + sdp.encode()


def decode_answer(raw: bytes) -> str:
    """The answer's SDP; raises the holder's ``RtcError``."""
    if raw.startswith(_SDP):
        return raw[len(_SDP) :].decode()
    code, _, reason = raw[len(_ERROR) :].decode(errors="replace").partition(":")
    if not raw.startswith(_ERROR) or not code:
        raise RtcError("bad_sdp", "实时视频的回复无法识别")
    raise RtcError(code, reason)


class LiveViewers:
    """The invigilators' live-video peers of this process; ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        source: VideoSource,
        redis: Redis,
        keys: Keys,
        router: ChannelRouter,
        now: Callable[[], float],
        metrics: Metrics | None = None,
    ) -> None:
        self._source = source
        self._redis = redis
        self._keys = keys
        self._now = now
        self._metrics = metrics or Metrics()
        self.viewers: dict[int, list[Viewer]] = {}
        self._monitor: asyncio.Task[None] | None = None
        self._stopped = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.calls = HolderCalls(
            target=RTC_VIEW,
            redis=redis,
            keys=keys,
            router=router,
            holds=source.holds,
            handler=self._answer_call,
            max_waiting=MAX_WAITING,
            max_answering=MAX_VIEWERS_PER_ATTEMPT * 4,
        )

    def start(self) -> None:
        assert self._monitor is None and not self._stopped
        self._monitor = asyncio.get_running_loop().create_task(self._run_monitor())

    async def stop(self) -> None:
        self._stopped = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await self.calls.stop()
        for viewers in list(self.viewers.values()):
            for viewer in list(viewers):
                await self._close(viewer)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def count(self, attempt_id: int | None = None) -> int:
        if attempt_id is not None:
            return len(self.viewers.get(attempt_id, []))
        return sum(len(v) for v in self.viewers.values())

    # ------------------------------------------------------------ asking
    async def offer(self, attempt_id: int, sdp: str, watcher: str) -> str | None:
        """The answer to ``watcher``'s offer to watch the attempt's PC camera,
        from whichever process holds its peer; None when the PC camera is not
        live. The watcher's earlier viewer peer of the attempt, if any, is
        closed (a panel opened again replaces its video). Raises ``RtcError``."""
        check_viewer_offer(sdp)
        if self._source.holds(attempt_id):
            return await self.answer_here(attempt_id, sdp, watcher)
        if not await pc_camera_live(self._redis, self._keys, attempt_id, self._now()):
            return None
        message = {"sdp": sdp, "watcher": watcher}
        reply = await self.calls.ask(attempt_id, message, REPLY_WAIT_S)
        if reply is None:
            raise RtcError("live_video_timeout", "实时视频暂时无法建立，请稍后再试")
        return decode_answer(reply)

    async def _answer_call(self, attempt_id: int, message: dict[str, Any]) -> bytes:
        sdp, watcher = message.get("sdp"), message.get("watcher")
        try:
            if not isinstance(sdp, str) or not isinstance(watcher, str):
                raise RtcError("bad_sdp", "缺少 SDP")
            check_viewer_offer(sdp)
            return encode_answer(await self.answer_here(attempt_id, sdp, watcher))
        except RtcError as error:
            return encode_answer(None, error)

    # ------------------------------------------------------------ the viewer peer
    async def answer_here(self, attempt_id: int, sdp: str, watcher: str) -> str:
        """Build a viewer peer forwarding the attempt's PC frames; its answer."""
        tap = self._source.tap_of(attempt_id)
        if tap is None or tap.ended:
            raise RtcError("no_peer", "电脑摄像头未连接")
        for earlier in [v for v in self.viewers.get(attempt_id, []) if v.watcher == watcher]:
            await self._close(earlier)  # the same watcher's panel, opened again
        if self.count(attempt_id) >= MAX_VIEWERS_PER_ATTEMPT or self.count() >= MAX_VIEWERS:
            raise RtcError("too_many_viewers", "观看实时视频的人数已满，请稍后再试")
        pc = RTCPeerConnection()
        track = ForwardedTrack(want_keyframe=lambda: self._want_keyframe(tap))
        viewer = Viewer(attempt_id, pc, tap, track, watcher, self._now())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            sender = pc.addTrack(track)
            for transceiver in pc.getTransceivers():
                if transceiver.sender is sender:
                    restrict_to_vp8(transceiver)  # the frames are VP8, sent as they are
            _pass_picture_loss_on(sender, lambda: self._want_keyframe(tap))
            await pc.setLocalDescription(await pc.createAnswer())
        except RtcError:
            await pc.close()
            raise
        except (ValueError, KeyError, TypeError) as exc:
            await pc.close()
            raise RtcError("bad_sdp", f"无法处理该 SDP：{exc}") from None
        if self._stopped or self._source.tap_of(attempt_id) is not tap:
            await pc.close()  # stopped, or the candidate's peer went meanwhile
            raise RtcError("no_peer", "电脑摄像头未连接")
        self.viewers.setdefault(attempt_id, []).append(viewer)
        self._metrics.viewers.set(self.count())
        tap.listen(track.push)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn_close(viewer)

        self._want_keyframe(tap)  # the viewer starts at the next keyframe
        local = pc.localDescription
        assert local is not None
        return local.sdp

    def _want_keyframe(self, tap: KeyframeTap) -> None:
        task = asyncio.ensure_future(tap.request_keyframe())  # rate-limited by the tap
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_close(self, viewer: Viewer) -> None:
        task = asyncio.ensure_future(self._close(viewer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, viewer: Viewer) -> None:
        viewers = self.viewers.get(viewer.attempt_id, [])
        if viewer in viewers:
            viewers.remove(viewer)
            if not viewers:
                del self.viewers[viewer.attempt_id]
            self._metrics.viewers.set(self.count())
        viewer.tap.unlisten(viewer.track.push)
        viewer.track.stop()
        await viewer.pc.close()

    # ------------------------------------------------------------ monitor
    async def _run_monitor(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            try:
                await self.check()
            except Exception:
                log.exception("live video check failed")

    async def check(self) -> None:
        """Close the viewers whose candidate's peer went or was replaced,
        those of attempts nobody holds a live watch lease of (rule H4), and
        those not connected within :data:`CONNECT_WITHIN_S` of their answer."""
        if not self.viewers:
            return
        now = self._now()
        watched = await wall.watched(self._redis, self._keys, list(self.viewers), now)
        for attempt_id, viewers in list(self.viewers.items()):
            current = self._source.tap_of(attempt_id)
            for viewer in list(viewers):
                never_connected = (
                    viewer.pc.connectionState != "connected"
                    and now - viewer.answered_at > CONNECT_WITHIN_S
                )
                if (
                    viewer.tap is not current
                    or viewer.tap.ended
                    or attempt_id not in watched
                    or never_connected
                ):
                    await self._close(viewer)


def _pass_picture_loss_on(sender: Any, want_keyframe: Callable[[], None]) -> None:
    """The viewer's browser lost a picture (PLI/FIR): aiortc's sender would
    make its encoder send a keyframe, but there is no encoder here; ask the
    candidate's page for one instead. aiortc 1.16.0 calls the sender's
    ``_send_keyframe`` for it (the keyframe tap's version check guards it)."""
    sender._send_keyframe = want_keyframe
