"""Content-addressed JPEG store for snapshot evidence.

A file's name is the SHA-256 of its bytes:
``<root>/<sha256[:2]>/<sha256>.jpg`` (root is ``data_dir/snapshots``). The
same picture stored twice is one file. Writes go to a temporary name first
and are renamed into place, so a reader never sees half a file. The methods
block on disk I/O: call them from an executor, not the event loop.

:class:`SnapshotStore` is the interface; :class:`FileSnapshotStore` the one
implementation here. An object store (S3 and friends) fits the same three
methods.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from webrtc.errors import RtcError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 4096 * 4096
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    path: str  # relative to the store root, e.g. "ab/ab12….jpg"
    size: int


@dataclass(frozen=True, slots=True)
class JpegInfo:
    width: int
    height: int


class SnapshotStore(Protocol):
    def put(self, data: bytes) -> StoredBlob: ...

    def get(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> bool: ...


def check_jpeg(data: bytes, max_bytes: int = MAX_PHOTO_BYTES) -> JpegInfo:
    """Accept ``data`` only if it is a whole, reasonably sized JPEG.

    Raises ``RtcError("photo_too_large")`` or ``RtcError("bad_photo")``.
    """
    if len(data) > max_bytes:
        raise RtcError("photo_too_large", f"照片过大（上限 {max_bytes // (1024 * 1024)} MB）")
    if not data.startswith(b"\xff\xd8\xff"):
        raise RtcError("bad_photo", "照片不是 JPEG 格式")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise RtcError("bad_photo", "照片不是 JPEG 格式")
            width, height = image.size
            if width * height > MAX_PHOTO_PIXELS:
                raise RtcError("photo_too_large", "照片分辨率过高")
            image.load()  # decodes: a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise RtcError("bad_photo", "照片文件已损坏") from exc
    return JpegInfo(width, height)


class FileSnapshotStore:
    """Snapshots as files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):  # a path is built from it: never trust its shape
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, data: bytes) -> StoredBlob:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredBlob(sha256, str(target.relative_to(self.root)), len(data))

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def delete(self, sha256: str) -> bool:
        """Remove the file; False when it was already gone."""
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        return True


def store_jpeg(root: Path, data: bytes) -> tuple[str, Path]:
    """Store ``data`` under ``root``; returns its sha256 and absolute path."""
    blob = FileSnapshotStore(root).put(data)
    return blob.sha256, root / blob.path
