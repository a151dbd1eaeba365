"""Real faces for identity tests, made from pictures that packages ship.

The project downloads no data set; these come from the wheels installed with
the test extras (files read from the installed package, nothing imported):

- ``astronaut``: scikit-image's ``skimage/data/astronaut.png``, Eileen
  Collins, a NASA photograph (public domain; scikit-image's data README).
- ``hopper``: Matplotlib's ``mpl-data/sample_data/grace_hopper.jpg``, Grace
  Hopper, a U.S. Navy photograph (public domain).
- ``lfw``: scikit-image's ``lfw_subset.npy``: the first 100 of its 200
  25×25 grey pictures are faces of people of Labeled Faces in the Wild
  (many different people; tiny, so scaled up — strangers for the
  false-accept figure, too small to be anyone's ID photo).

Same-person pairs are augmentations of one photograph (crops, brightness,
small rotations, JPEG recompression, camera-like scale and noise): they
measure robustness to capture, not to age or pose. See docs/identity.md.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    assert path.is_file(), path
    return path


def astronaut() -> np.ndarray:
    """Eileen Collins, head and shoulders (BGR), the flag patch cut off."""
    picture = cv2.imread(str(_package_file("skimage", "data/astronaut.png")))
    return picture[0:300, 80:360].copy()


def hopper() -> np.ndarray:
    """Grace Hopper (BGR)."""
    return cv2.imread(str(_package_file("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")))


def lfw_faces() -> list[np.ndarray]:
    """The 100 LFW faces of scikit-image, scaled to 200×200 BGR."""
    data = np.load(_package_file("skimage", "data/lfw_subset.npy"))[:100]
    out = []
    for grey in data:
        big = cv2.resize((grey * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
        # a margin around the tight crop, so the detector sees a whole head
        framed = cv2.copyMakeBorder(big, 60, 60, 60, 60, cv2.BORDER_REPLICATE)
        out.append(cv2.cvtColor(framed, cv2.COLOR_GRAY2BGR))
    return out


def jpeg(picture: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def on_camera(face: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """The face as a webcam would frame it: centred on a plain wall, filling ~60 % of the height."""
    wall = np.full((height, width, 3), (150, 160, 165), dtype=np.uint8)
    scale = 0.6 * height / face.shape[0]
    small = cv2.resize(face, (round(face.shape[1] * scale), round(face.shape[0] * scale)))
    h, w = small.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    wall[top : top + h, left : left + w] = small
    return wall


def augmentations(picture: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Versions of one photograph a camera could give of the same person."""
    h, w = picture.shape[:2]
    yield "camera_frame", on_camera(picture)
    for name, (y0, y1, x0, x1) in {
        "crop_tight": (h // 10, h - h // 10, w // 10, w - w // 10),
        "crop_shift": (0, h - h // 8, w // 8, w),
    }.items():
        yield name, picture[y0:y1, x0:x1].copy()
    for gain, bias in ((0.6, 0), (1.3, 25), (1.0, -40)):
        yield f"brightness_{gain}_{bias}", cv2.convertScaleAbs(picture, alpha=gain, beta=bias)
    for angle in (-10, -5, 5, 10):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        yield (
            f"rotate_{angle}",
            cv2.warpAffine(picture, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE),
        )
    for quality in (30, 60):
        data = np.frombuffer(jpeg(picture, quality), dtype=np.uint8)
        yield f"jpeg_{quality}", cv2.imdecode(data, cv2.IMREAD_COLOR)
    noise = np.random.default_rng(7).normal(0, 8, picture.shape)
    yield "sensor_noise", np.clip(picture + noise, 0, 255).astype(np.uint8)
    yield "flip", cv2.flip(picture, 1)
    yield "half_size", cv2.resize(picture, (w // 2, h // 2))
