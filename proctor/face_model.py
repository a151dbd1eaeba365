"""Face embeddings for 1:1 identity checks (rules I1–I3): blocking, pure compute.

The model is dlib's ResNet face descriptor with its 5-point aligner, both
shipped as files by the ``face-recognition-models`` package (dlib's own
``.dat`` files; nothing is fetched at run time), run by ``dlib-bin``. Faces
are found by dlib's HOG detector (in dlib itself). A picture becomes a
:class:`FaceReading`: how many clear faces it holds and, when exactly one,
its 128-number descriptor. Two descriptors of one person lie close: the
Euclidean distance is the score (0 same picture … ~1 strangers), compared
with the configured threshold (``proctor/settings.py``; the measured
figures are in ``docs/identity.md``).

Nothing here touches asyncio: callers run these functions in a bounded
worker pool (``webrtc/face_match.py``), never on the event loop. dlib's
objects are not shared between threads: one set per thread.

This module sits in the base because two packages read faces: the exam API
(the ID photo, through a port) and the ingest (the camera's frames).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

# A HOG detection below this score is a shadow, a patch or a pattern, not a face
# a person would call clear (astronaut.png's mission patch scores 0.12, her face 1.16).
MIN_DETECTION_SCORE = 0.3
# A face narrower than this (pixels, in the picture as given) is too small to compare.
MIN_FACE_PX = 80
# The variance of the Laplacian of the face, scaled to 150 px: below it, blurred.
MIN_SHARPNESS = 15.0
# Pictures are looked at scaled to at most this side: a phone photo of 4000 px
# costs no more than a webcam frame, and a face of a 640 px frame stays ≥ 80 px.
MAX_SIDE = 800
DESCRIPTOR_SIZE = 128

Problem = Literal["", "no_face", "several_faces", "too_small", "blurred", "undecodable"]

_local = threading.local()


class ModelMissing(RuntimeError):
    """The packaged model files are not installed."""


def model_dir() -> Path:
    """Where ``face-recognition-models`` put dlib's files. Found without
    importing the package (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("the face-recognition-models package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (SHAPE_FILE, DESCRIPTOR_FILE):
        if not (folder / name).is_file():
            raise ModelMissing(f"{name} is missing from {folder}")
    return folder


SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"


@dataclass(frozen=True, slots=True)
class FaceReading:
    """What a picture says about faces. ``descriptor`` is set exactly when
    ``problem`` is empty (one clear face)."""

    faces: int  # faces the detector is sure of (score ≥ MIN_DETECTION_SCORE)
    problem: Problem
    descriptor: tuple[float, ...] | None = None
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom (given scale)

    @property
    def clear(self) -> bool:
        return self.problem == "" and self.descriptor is not None


def _models() -> tuple[Any, Any, Any]:
    models = getattr(_local, "models", None)
    if models is None:
        import dlib  # the binary wheel; imported lazily so the base stays light

        folder = model_dir()
        models = (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(folder / SHAPE_FILE)),
            dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE)),
        )
        _local.models = models
    return models


def read_faces(rgb: np.ndarray[Any, Any], *, strict: bool = True) -> FaceReading:
    """The faces of an RGB picture (H×W×3, uint8); blocking (≈0.1–0.5 s).
    ``strict=False`` skips the size and sharpness checks (measurements of
    the model on small pictures, ``bench/face_match.py``)."""
    import dlib

    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    detector, shaper, describer = _models()
    scale = 1.0
    height, width = rgb.shape[:2]
    if max(height, width) > MAX_SIDE:
        scale = MAX_SIDE / max(height, width)
        rgb = cv2.resize(
            rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
    rgb = np.ascontiguousarray(rgb)
    # upsample once when the picture is small: a face of 40 px becomes findable
    upsample = 1 if max(rgb.shape[:2]) < 640 else 0
    rects, scores, _ = detector.run(rgb, upsample, 0.0)
    sure = [(r, s) for r, s in zip(rects, scores, strict=True) if s >= MIN_DETECTION_SCORE]
    if not sure:
        return FaceReading(0, "no_face")
    if len(sure) > 1:
        return FaceReading(len(sure), "several_faces")
    rect: dlib.rectangle = sure[0][0]
    box = (
        round(rect.left() / scale),
        round(rect.top() / scale),
        round(rect.right() / scale),
        round(rect.bottom() / scale),
    )
    if strict and box[2] - box[0] < MIN_FACE_PX:
        return FaceReading(1, "too_small", box=box)
    shape = shaper(rgb, rect)
    chip = dlib.get_face_chip(rgb, shape, size=150)
    if strict and _sharpness(chip) < MIN_SHARPNESS:
        return FaceReading(1, "blurred", box=box)
    descriptor = describer.compute_face_descriptor(chip)
    return FaceReading(1, "", tuple(float(x) for x in descriptor), box)


def _sharpness(chip: np.ndarray[Any, Any]) -> float:
    gray = cv2.cvtColor(np.asarray(chip), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def read_faces_in_image(data: bytes) -> FaceReading:
    """The faces of an encoded picture (JPEG, PNG); blocking."""
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return FaceReading(0, "undecodable")
    return read_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def distance(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """The Euclidean distance of two descriptors: the match score (lower is closer)."""
    assert len(a) == len(b) == DESCRIPTOR_SIZE
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
