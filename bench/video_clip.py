"""The senders' video: a synthetic 640x480 scene encoded once to VP8 (a
keyframe, then inter-frames only) and a track that replays it, so senders
cost little CPU (bench/video_load.py, bench/exam_day.py)."""

from __future__ import annotations

import asyncio
import fractions
import math
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError

WIDTH, HEIGHT = 640, 480
CLIP_SECONDS = 20


def synthetic_picture(t: float) -> np.ndarray:
    """A moving scene: gradient, a sliding block and a bobbing 'head'."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    picture = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    picture[..., 0] = (x // 3 + int(t * 20)) % 256
    picture[..., 1] = (y // 2) % 256
    picture[..., 2] = 120
    bx = int((t * 80) % (WIDTH - 80))
    picture[200:280, bx : bx + 80] = (30, 200, 30)
    cy = 240 + int(20 * math.sin(t * 2))
    inside = ((x - 320) / 70.0) ** 2 + ((y - cy) / 95.0) ** 2 <= 1
    picture[inside] = (150, 180, 220)
    # a webcam's sensor noise: without it VP8 has almost nothing to code and
    # decoding costs far less than a real camera's stream
    noise = _NOISE.integers(-6, 7, size=picture.shape, dtype=np.int16)
    return np.clip(picture.astype(np.int16) + noise, 0, 255).astype(np.uint8)


_NOISE = np.random.default_rng(1)


def encode_clip(fps: int, seconds: int) -> list[bytes]:
    """Encode the synthetic scene once: a keyframe then inter-frames only."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = fractions.Fraction(1, fps)
    encoder.bit_rate = 350_000  # what Chromium's fake camera sends (FIELD-NOTES)
    encoder.gop_size = fps * seconds * 10
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for i in range(fps * seconds):
        frame = av.VideoFrame.from_ndarray(synthetic_picture(i / fps), format="bgr24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


class ReplayTrack(MediaStreamTrack):
    """Sends a pre-encoded clip as ``av.Packet``s (aiortc passes them through).

    On a PLI aiortc's sender sets its force-keyframe flag, which only its
    encoder path reads; we read it here and restart the clip at its keyframe.
    """

    kind = "video"

    def __init__(self, clip: list[bytes], fps: int) -> None:
        super().__init__()
        self._clip = clip
        self._fps = fps
        self._index = 0
        self._sent = 0
        self._start: float | None = None
        self.sender: RTCRtpSender | None = None
        self.keyframes_sent = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        wait = self._start + self._sent / self._fps - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        internals: Any = self.sender
        if internals is not None and internals._RTCRtpSender__force_keyframe:
            internals._RTCRtpSender__force_keyframe = False
            self._index = 0
        if self._index >= len(self._clip):
            self._index = 0
        if self._index == 0:
            self.keyframes_sent += 1
        packet = av.Packet(self._clip[self._index])
        packet.pts = self._sent
        packet.time_base = fractions.Fraction(1, self._fps)
        self._index += 1
        self._sent += 1
        return packet
