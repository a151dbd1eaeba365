"""The packaged face model on real faces (rules I1–I3): what it reads, and
how close one person's pictures and how far two people's lie. The figures
of docs/identity.md come from bench/face_match.py on the same pictures."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest

from proctor.face_model import FaceReading, distance, model_dir, read_faces, read_faces_in_image
from proctor.settings import IdentitySettings
from tests.support import real_faces

THRESHOLD = IdentitySettings().threshold


def _read(bgr: np.ndarray) -> FaceReading:
    return read_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@functools.cache
def reference(name: str) -> tuple[float, ...]:
    reading = _read(getattr(real_faces, name)())
    assert reading.problem == "" and reading.descriptor is not None
    return reading.descriptor


def test_the_model_files_come_with_the_package() -> None:
    folder = model_dir()
    assert (folder / "dlib_face_recognition_resnet_model_v1.dat").stat().st_size > 20_000_000
    assert (folder / "shape_predictor_5_face_landmarks.dat").is_file()


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_a_portrait_reads_as_one_clear_face(name: str) -> None:
    # rule I1: an ID photo holds exactly one clear face
    reading = read_faces_in_image(real_faces.jpeg(getattr(real_faces, name)()))
    assert reading.faces == 1 and reading.clear
    assert reading.descriptor is not None and len(reading.descriptor) == 128


@pytest.mark.parametrize(
    "aug", ["camera_frame", "brightness_1.3_25", "rotate_10", "jpeg_30", "sensor_noise"]
)
def test_the_same_person_is_within_the_threshold(aug: str) -> None:
    # rule I2: the candidate's camera frame matches their own ID photo
    picture = dict(real_faces.augmentations(real_faces.hopper()))[aug]
    reading = _read(picture)
    assert reading.descriptor is not None, reading.problem
    assert distance(reference("hopper"), reading.descriptor) <= THRESHOLD


def test_two_people_are_beyond_the_threshold() -> None:
    # rule I2: someone else is refused
    assert distance(reference("astronaut"), reference("hopper")) > THRESHOLD + 0.1


def test_nobody_several_small_and_blurred_are_said_so() -> None:
    wall = np.full((480, 640, 3), 160, dtype=np.uint8)
    assert _read(wall).problem == "no_face"
    hopper = cv2.resize(real_faces.hopper(), (300, 352))
    pair = np.full((400, 700, 3), 160, dtype=np.uint8)
    pair[24:376, 20:320] = hopper
    pair[24:376, 380:680] = cv2.flip(hopper, 1)
    assert _read(pair).problem == "several_faces"
    tiny = np.full((480, 640, 3), 160, dtype=np.uint8)
    tiny[200:288, 300:375] = cv2.resize(hopper, (75, 88))
    assert _read(tiny).problem in ("too_small", "no_face")
    blurred = cv2.GaussianBlur(real_faces.hopper(), (0, 0), 9)
    assert _read(blurred).problem in ("blurred", "no_face")
    assert read_faces_in_image(b"not a picture").problem == "undecodable"
