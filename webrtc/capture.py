"""Turn "a snapshot is due" into a stored-ready JPEG of the PC camera.

The pipeline: ask the :class:`~webrtc.keyframes.KeyframeTap` for the next
keyframe (sends a rate-limited PLI), then decode that single frame and encode
it as JPEG in a worker thread. :class:`MediaWorkers` is that thread pool, with
a bounded backlog so a burst of snapshots can never queue without limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import cv2

from webrtc.errors import RtcError
from webrtc.keyframes import EncodedKeyframe, KeyframeTap, decode_keyframe
from webrtc.workers import MediaWorkers

__all__ = ["CapturedJpeg", "MediaWorkers", "capture_pc_jpeg", "keyframe_to_jpeg"]

T = TypeVar("T")
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class CapturedJpeg:
    jpeg: bytes
    width: int
    height: int


def keyframe_to_jpeg(keyframe: EncodedKeyframe, quality: int = JPEG_QUALITY) -> CapturedJpeg:
    """Decode one keyframe and encode it as JPEG (blocking: ≈5 ms at 640x480)."""
    picture = decode_keyframe(keyframe)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RtcError("bad_keyframe", "无法生成 JPEG")
    height, width = picture.shape[:2]
    return CapturedJpeg(encoded.tobytes(), width, height)


async def capture_pc_jpeg(
    tap: KeyframeTap, workers: MediaWorkers, timeout_s: float = 3.0
) -> CapturedJpeg:
    """The PC camera's picture right now, as JPEG.

    Raises ``RtcError`` with ``keyframe_timeout`` / ``track_ended`` /
    ``bad_keyframe`` / ``busy``.
    """
    keyframe = await tap.next_keyframe(timeout_s)
    return await workers.run(keyframe_to_jpeg, keyframe)
