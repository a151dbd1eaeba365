"""Face matching figures: same-person and different-person distances of the
packaged model (``proctor/face_model.py``) on the faces packages ship
(``tests/support/real_faces.py``), false-accept and false-reject rates at
several thresholds, and the cost of one reading.

    .venv/bin/python bench/face_match.py

Genuine pairs: each reference photo against its augmentations (crops,
brightness, rotations, JPEG, noise, a webcam-like frame). Impostor pairs:
every pair of different people (the two portraits and the LFW faces, read
without the size and sharpness checks, since they are 25 px originals).
The last line printed is one JSON object (docs/identity.md).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from proctor.face_model import FaceReading, distance, read_faces  # noqa: E402
from tests.support import real_faces  # noqa: E402

THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)


def _read(bgr: object, strict: bool = True) -> FaceReading:
    return read_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), strict=strict)  # type: ignore[call-overload]


def main() -> None:
    load = os.getloadavg()
    people = {"astronaut": real_faces.astronaut(), "hopper": real_faces.hopper()}
    genuine: list[float] = []
    unreadable: list[str] = []
    costs: list[float] = []
    references = {}
    for name, photo in people.items():
        reference = _read(photo)
        assert reference.descriptor is not None, name
        references[name] = reference.descriptor
        for aug, picture in real_faces.augmentations(photo):
            started = time.perf_counter()
            reading = _read(picture)
            costs.append(time.perf_counter() - started)
            if reading.descriptor is None:
                unreadable.append(f"{name}/{aug}: {reading.problem}")
                continue
            genuine.append(distance(reference.descriptor, reading.descriptor))
    strangers = [r.descriptor for r in map(lambda p: _read(p, False), real_faces.lfw_faces())]
    lfw = [d for d in strangers if d is not None]
    everyone = [*references.values(), *lfw]
    impostor = [distance(a, b) for a, b in itertools.combinations(everyone, 2)]
    rates = {
        str(t): {
            "false_accept": sum(d <= t for d in impostor) / len(impostor),
            "false_reject": (sum(d > t for d in genuine) + len(unreadable))
            / (len(genuine) + len(unreadable)),
        }
        for t in THRESHOLDS
    }
    print("unreadable augmentations:", unreadable)
    print(
        json.dumps(
            {
                "genuine_pairs": len(genuine),
                "genuine_max": round(max(genuine), 3),
                "genuine_mean": round(statistics.fmean(genuine), 3),
                "impostor_pairs": len(impostor),
                "impostor_min": round(min(impostor), 3),
                "impostor_p1": round(sorted(impostor)[len(impostor) // 100], 3),
                "impostor_mean": round(statistics.fmean(impostor), 3),
                "lfw_faces_read": len(lfw),
                "unreadable_augmentations": len(unreadable),
                "rates": rates,
                "reading_ms_median": round(1000 * statistics.median(costs), 1),
                "loadavg_1m": load[0],
            }
        )
    )


if __name__ == "__main__":
    main()
