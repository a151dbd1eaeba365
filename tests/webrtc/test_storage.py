"""Content-addressed JPEG store and photo checks (bad input: nothing stored)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.faces import jpeg_of, picture_with_faces
from webrtc.errors import RtcError
from webrtc.storage import FileSnapshotStore, check_jpeg, store_jpeg


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = FileSnapshotStore(tmp_path)
    data = jpeg_of(picture_with_faces(1))
    blob = store.put(data)
    digest = hashlib.sha256(data).hexdigest()
    assert blob.sha256 == digest
    assert blob.path == f"{digest[:2]}/{digest}.jpg"
    assert (tmp_path / blob.path).read_bytes() == data
    assert store.put(data) == blob
    assert store.get(digest) == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{digest}.jpg"]


def test_delete(tmp_path: Path) -> None:
    store = FileSnapshotStore(tmp_path)
    blob = store.put(b"\xff\xd8\xffabc")
    assert store.delete(blob.sha256)
    assert not store.delete(blob.sha256)
    assert not (tmp_path / blob.path).exists()


def test_path_for_refuses_non_digests(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FileSnapshotStore(tmp_path).path_for("../../etc/passwd")


def test_store_jpeg_returns_digest_and_absolute_path(tmp_path: Path) -> None:
    digest, path = store_jpeg(tmp_path, b"\xff\xd8\xffxyz")
    assert path == tmp_path / digest[:2] / f"{digest}.jpg"
    assert path.read_bytes() == b"\xff\xd8\xffxyz"


def test_check_jpeg_accepts_a_jpeg() -> None:
    info = check_jpeg(jpeg_of(picture_with_faces(0)))
    assert (info.width, info.height) == (640, 480)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "bad_photo"),
        (b"GIF89a....", "bad_photo"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "bad_photo"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "bad_photo"),  # JPEG magic, junk body
        (b"\xff\xd8\xff" + b"\x00" * (30 * 1024 * 1024), "photo_too_large"),  # 30 MB
    ],
)
def test_check_jpeg_refuses_bad_photos(data: bytes, code: str) -> None:
    with pytest.raises(RtcError) as err:
        check_jpeg(data)
    assert err.value.code == code


def test_check_jpeg_refuses_a_truncated_jpeg() -> None:
    data = jpeg_of(picture_with_faces(1))
    with pytest.raises(RtcError) as err:
        check_jpeg(data[: len(data) // 2])
    assert err.value.code == "bad_photo"
