"""A synthetic camera for aiortc peers in tests: moving colour bars."""

from __future__ import annotations

import av
import numpy as np
from aiortc import VideoStreamTrack


class SyntheticCameraTrack(VideoStreamTrack):
    """640×480 frames at aiortc's default 30 fps clock, a bar moving across."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        img[:, :, 1] = 90
        x = (self.count * 8) % self.width
        img[:, x : x + 40, 0] = 255
        self.count += 1
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame
