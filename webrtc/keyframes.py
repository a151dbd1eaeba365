"""Decode only what we keep: a keyframe tap on aiortc's ``RTCRtpReceiver``.

aiortc (pinned at 1.16.0 in pyproject.toml) hands *every* reassembled video
frame to a decoder thread and pushes every decoded picture into an unbounded
asyncio queue (FIELD-NOTES: decoding is most of the CPU, and an unread track
grows memory at ≈9 MB/s). A proctoring snapshot needs one picture at a
chosen moment, not a video. So:

- :func:`install_keyframe_tap` swaps the receiver's private decoder input
  queue for a :class:`_GateQueue`. Every encoded frame still passes through
  RTP, SRTP, NACK and the jitter buffer as usual, but is then looked at and
  dropped, undecoded. Only the ``None`` sentinel that stops the decoder
  thread is let through, so aiortc's own shutdown keeps working and the
  decoder thread sleeps on an empty queue for the peer's whole life.
- When a snapshot is due, :meth:`KeyframeTap.next_keyframe` asks the sender
  for a keyframe (RTCP PLI, rate-limited by :class:`PliLimiter`) and returns
  the next keyframe's encoded bytes; :func:`decode_keyframe` decodes just that
  one with a fresh decoder (a keyframe needs no earlier state).
- The tap records when the last frame arrived, for camera liveness.
- :class:`MarkerJitterBuffer` replaces the receiver's jitter buffer so a frame
  is handed on at its RTP marker bit instead of one frame interval later.

This reaches into aiortc internals (name-mangled attributes); the version
check below and ``tests/webrtc/test_keyframes.py`` guard the hook.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiortc
import av
import numpy as np
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

from webrtc.errors import RtcError

AIORTC_VERSION = "1.16.0"
VP8_MIME = "video/vp8"
# A keyframe larger than this is refused before decoding (4K is 3840x2160).
MAX_DIMENSION = 4096


def is_vp8_keyframe(data: bytes) -> bool:
    """True when ``data`` (a depayloaded VP8 frame) starts a keyframe.

    RFC 6386 §9.1: bit 0 of the frame tag is 0 for a keyframe, and a keyframe
    carries the start code ``9d 01 2a`` at bytes 3–5.
    """
    return len(data) >= 10 and data[0] & 1 == 0 and data[3:6] == b"\x9d\x01\x2a"


def vp8_keyframe_size(data: bytes) -> tuple[int, int]:
    """Width and height written in a VP8 keyframe header (14 bits each)."""
    assert is_vp8_keyframe(data)
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class PliLimiter:
    """At most one picture-loss indication per ``min_interval_s``.

    Pure: the caller passes ``now`` (seconds, any monotonic clock).
    """

    def __init__(self, min_interval_s: float) -> None:
        assert min_interval_s > 0
        self.min_interval_s = min_interval_s
        self._last_sent: float | None = None

    def next_allowed_at(self) -> float | None:
        """When the next PLI may go out; ``None`` means right away."""
        if self._last_sent is None:
            return None
        return self._last_sent + self.min_interval_s

    def allow(self, now: float) -> bool:
        """Whether a PLI may be sent at ``now``; if so, it counts as sent."""
        due = self.next_allowed_at()
        if due is not None and now < due:
            return False
        self._last_sent = now
        return True


@dataclass(frozen=True, slots=True)
class EncodedKeyframe:
    """One VP8 keyframe as it came off the wire, not yet decoded."""

    data: bytes
    rtp_timestamp: int
    received_at: float
    width: int
    height: int


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, but a frame is complete at its marker bit.

    aiortc only knows a frame is complete when the first packet of the *next*
    frame arrives, which delays every frame by one frame interval: 333 ms at
    the 3 fps the page sends while nobody watches, i.e. most of a snapshot's
    latency. RTP video senders (Chromium, aiortc) set the marker bit on a
    frame's last packet (RFC 7741 §4.1 for VP8), so a contiguous run from the
    buffer's origin ending in a marked packet is a whole frame right away.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        assert origin is not None  # add() sets it before calling us
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(origin + count) % self.capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # no marker seen (lost or not set): aiortc's rule
                return self._take(count, timestamp)
            if packet.marker:
                return self._take(count + 1, timestamp)
        return None

    def _take(self, count: int, timestamp: int) -> JitterFrame:
        origin = self._origin
        assert origin is not None
        packets = [self._packets[(origin + i) % self.capacity] for i in range(count)]
        data = b"".join(p._data for p in packets)  # type: ignore[union-attr]
        frame = JitterFrame(data=data, timestamp=timestamp)
        self.remove(count)
        return frame


class FixedRemb:
    """Stands in for aiortc's ``RemoteBitrateEstimator``: a fixed bitrate cap.

    aiortc's delay-based estimator runs Python for every video packet (about a
    quarter of the receive path's CPU in the profile, docs/benchmarks.md) to
    estimate a bandwidth we do not need: we want a small, known bitrate. This
    tells the sender ``max_bps`` in a REMB once a second instead; the sender
    still backs off on loss by itself (a browser's send rate is the minimum of
    its loss-based estimate and the REMB). Pure: time comes from the packets.
    """

    def __init__(self, max_bps: int, interval_ms: int = 1000) -> None:
        self.max_bps = max_bps
        self._interval_ms = interval_ms
        self._last_ms: int | None = None

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        if self._last_ms is not None and arrival_time_ms - self._last_ms < self._interval_ms:
            return None
        self._last_ms = arrival_time_ms
        return self.max_bps, [ssrc]

    def set_max(self, max_bps: int) -> None:
        """Change the cap; the next packet carries it to the sender."""
        self.max_bps = max_bps
        self._last_ms = None


class _GateQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder input queue.

    ``put`` is called on the event-loop thread by
    ``RTCRtpReceiver._handle_rtp_packet`` with ``(codec, JitterFrame)`` for
    each complete frame, and with ``None`` when the receiver stops. Frames go
    to the tap and are dropped; only ``None`` reaches the decoder thread.
    """

    def __init__(self, tap: KeyframeTap) -> None:
        super().__init__(maxsize=4)
        self._tap = tap

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self._tap._on_ended()
            super().put(None, block, timeout)
            return
        codec, frame = item
        self._tap._on_frame(codec.mimeType.lower(), frame.data, frame.timestamp)


class KeyframeTap:
    """Per-receiver state: liveness, keyframe waiters, PLI limiting.

    Create it with :func:`install_keyframe_tap`. All methods run on the event
    loop thread; ``clock`` is the loop's monotonic clock (``loop.time``).
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        clock: Callable[[], float],
        pli_min_interval_s: float,
    ) -> None:
        self._receiver = receiver
        self._clock = clock
        self.limiter = PliLimiter(pli_min_interval_s)
        self._waiter: asyncio.Future[EncodedKeyframe] | None = None
        self.last_frame_at: float | None = None
        self.ended = False
        self.frames_seen = 0
        self.keyframes_seen = 0
        self.plis_sent = 0
        self.on_ended: Callable[[], None] | None = None
        self.remb: FixedRemb | None = None
        # who else sees the encoded VP8 frames (the live video's forwarded
        # tracks, webrtc/live_video.py): (data, rtp_timestamp, is_keyframe)
        self._listeners: list[Callable[[bytes, int, bool], None]] = []

    # -- called by _GateQueue -------------------------------------------
    def _on_frame(self, mime: str, data: bytes, rtp_timestamp: int) -> None:
        now = self._clock()
        self.last_frame_at = now
        self.frames_seen += 1
        if mime != VP8_MIME:
            return
        keyframe = is_vp8_keyframe(data)
        for listener in self._listeners:
            listener(data, rtp_timestamp, keyframe)
        if not keyframe:
            return
        self.keyframes_seen += 1
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        width, height = vp8_keyframe_size(data)
        self._waiter = None
        waiter.set_result(EncodedKeyframe(data, rtp_timestamp, now, width, height))

    def _on_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(RtcError("track_ended", "摄像头视频已中断"))
        if self.on_ended is not None:
            self.on_ended()

    # -- public ---------------------------------------------------------
    def listen(self, listener: Callable[[bytes, int, bool], None]) -> None:
        """Hand ``listener`` every encoded VP8 frame from now on, undecoded."""
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[bytes, int, bool], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def request_keyframe(self) -> bool:
        """Send a PLI to the active sender if the rate limit allows it."""
        if not self.limiter.allow(self._clock()):
            return False
        sources = self._receiver.getSynchronizationSources()
        if not sources:
            return False
        # The most recently heard SSRC is the one sending video now.
        ssrc = max(sources, key=lambda s: s.timestamp).source
        await self._receiver._send_rtcp_pli(ssrc)
        self.plis_sent += 1
        return True

    async def next_keyframe(self, timeout_s: float) -> EncodedKeyframe:
        """The first keyframe that arrives after this call.

        Concurrent callers share one wait. PLIs are repeated (within the rate
        limit) until a keyframe comes or ``timeout_s`` passes, which raises
        ``RtcError("keyframe_timeout")``.
        """
        if self.ended:
            raise RtcError("track_ended", "摄像头视频已中断")
        loop = asyncio.get_running_loop()
        if self._waiter is None or self._waiter.done():
            self._waiter = loop.create_future()
        waiter = self._waiter
        deadline = self._clock() + timeout_s
        while True:
            await self.request_keyframe()
            now = self._clock()
            if now >= deadline:
                break
            retry_at = self.limiter.next_allowed_at() or now
            wait = min(max(retry_at - now, 0.05), deadline - now)
            done, _ = await asyncio.wait([waiter], timeout=wait)
            if done:
                return waiter.result()
        if waiter.done():  # came (or the track ended) right at the deadline
            return waiter.result()
        if self._waiter is waiter:
            self._waiter = None
        waiter.cancel()
        raise RtcError("keyframe_timeout", "未能及时取得摄像头画面")


def install_keyframe_tap(
    receiver: RTCRtpReceiver,
    clock: Callable[[], float],
    pli_min_interval_s: float = 1.0,
    remb_bps: int | None = None,
) -> KeyframeTap:
    """Route ``receiver``'s frames through a :class:`KeyframeTap`.

    Must be called before the receiver starts, i.e. right after
    ``setRemoteDescription`` (aiortc starts receivers later, in a task).
    With ``remb_bps``, aiortc's bandwidth estimator is replaced by a
    :class:`FixedRemb` cap (``tap.remb``).
    """
    # Runtime guards, not asserts: they must hold under ``python -O`` too.
    if aiortc.__version__ != AIORTC_VERSION:
        raise RuntimeError(f"the keyframe hook is tested on aiortc {AIORTC_VERSION} only")
    if receiver.track is None or receiver.track.kind != "video":
        raise ValueError("the keyframe tap goes on a video receiver")
    internals: Any = receiver  # name-mangled private attributes of aiortc 1.16.0
    if internals._RTCRtpReceiver__started:
        raise RuntimeError("install the keyframe tap before the receiver starts")
    old_buffer = internals._RTCRtpReceiver__jitter_buffer
    if not (
        isinstance(internals._RTCRtpReceiver__decoder_queue, queue.Queue)
        and type(old_buffer) is JitterBuffer
        and old_buffer._is_video
    ):
        raise RuntimeError("aiortc's receiver internals are not the ones the tap replaces")
    tap = KeyframeTap(receiver, clock, pli_min_interval_s)
    internals._RTCRtpReceiver__decoder_queue = _GateQueue(tap)
    internals._RTCRtpReceiver__jitter_buffer = MarkerJitterBuffer(
        capacity=old_buffer.capacity, is_video=True
    )
    if remb_bps is not None:
        if internals._RTCRtpReceiver__remote_bitrate_estimator is None:
            raise RuntimeError("aiortc's receiver has no bitrate estimator to replace")
        tap.remb = FixedRemb(remb_bps)
        internals._RTCRtpReceiver__remote_bitrate_estimator = tap.remb
    return tap


def restrict_to_vp8(transceiver: Any) -> None:
    """Answer with VP8 (and its RTX) only: the one codec the tap understands.

    aiortc negotiates codecs inside ``setRemoteDescription``, before
    ``setCodecPreferences`` could act for an answerer, so the negotiated list
    (``RTCRtpTransceiver._codecs``) is filtered in place, before
    ``createAnswer``. Raises ``RtcError("codec_not_accepted")`` without VP8.
    """
    codecs = transceiver._codecs
    vp8 = [c for c in codecs if c.mimeType.lower() == VP8_MIME]
    if not vp8:
        raise RtcError("codec_not_accepted", "不支持的视频编码，需要 VP8")
    vp8_types = {c.payloadType for c in vp8}
    rtx = [
        c
        for c in codecs
        if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") in vp8_types
    ]
    transceiver._codecs = vp8 + rtx


def decode_keyframe(keyframe: EncodedKeyframe) -> np.ndarray[Any, Any]:
    """Decode one VP8 keyframe to a BGR picture (blocking: run it off the loop)."""
    if not (0 < keyframe.width <= MAX_DIMENSION and 0 < keyframe.height <= MAX_DIMENSION):
        raise RtcError("bad_keyframe", "视频帧尺寸无效")
    decoder = av.CodecContext.create("vp8", "r")
    try:
        frames = decoder.decode(av.Packet(keyframe.data))
        frames += decoder.decode(None)
    except av.FFmpegError as exc:
        raise RtcError("bad_keyframe", f"视频帧无法解码: {exc}") from exc
    if not frames:
        raise RtcError("bad_keyframe", "视频帧无法解码")
    picture: np.ndarray[Any, Any] = frames[0].to_ndarray(format="bgr24")
    return picture
