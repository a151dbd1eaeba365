"""Synthetic face-like pictures that OpenCV's frontal-face Haar cascade finds."""

from __future__ import annotations

import cv2
import numpy as np


def draw_face(picture: np.ndarray, cx: int, cy: int, scale: float = 1.0) -> None:
    """Draw a cartoon face (skin oval, eyes, brows, nose, mouth, hair) in place."""

    def s(v: float) -> int:
        return int(v * scale)

    cv2.ellipse(picture, (cx, cy), (s(70), s(95)), 0, 0, 360, (150, 180, 220), -1)
    for dx in (-30, 30):
        cv2.ellipse(picture, (cx + s(dx), cy - s(25)), (s(16), s(8)), 0, 0, 360, (40, 40, 40), -1)
        cv2.line(
            picture,
            (cx + s(dx - 18), cy - s(45)),
            (cx + s(dx + 18), cy - s(45)),
            (30, 30, 30),
            max(1, s(6)),
        )
    cv2.line(picture, (cx, cy - s(15)), (cx, cy + s(20)), (110, 130, 170), max(1, s(5)))
    cv2.ellipse(picture, (cx, cy + s(45)), (s(28), s(9)), 0, 0, 360, (60, 60, 140), -1)
    cv2.ellipse(picture, (cx, cy - s(80)), (s(72), s(30)), 0, 180, 360, (20, 20, 20), -1)


def picture_with_faces(count: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A grey BGR picture with ``count`` (0, 1 or 2) faces side by side."""
    picture = np.full((height, width, 3), 90, dtype=np.uint8)
    if count == 1:
        draw_face(picture, width // 2, height // 2 + 10, 1.3)
    elif count == 2:
        draw_face(picture, width // 4 + 10, height // 2 + 10, 1.0)
        draw_face(picture, 3 * width // 4 - 10, height // 2 + 10, 1.0)
    else:
        assert count == 0
    return picture


def jpeg_of(picture: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()
