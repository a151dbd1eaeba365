"""Evidence storage behind one interface (rule K2): local disk or S3.

:class:`ObjectStore` is the interface every kind of evidence goes through,
by key (``snapshots/ab/<sha256>.jpg``, ``recordings/<attempt>/<track>-<ms>.webm``):

- :class:`LocalObjectStore` (the default): files under ``data_dir``;
  written to a temporary name, fsynced, renamed into place, the folder
  fsynced — a reader never sees half a file and a crash loses no stored one.
- :class:`S3ObjectStore`: an S3-compatible object store through boto3
  (``PROCTOR_S3_*``); a stored object is acknowledged by the store.

:class:`ObjectSnapshotStore` is the snapshot store (``webrtc/storage.py``'s
``SnapshotStore``: content-addressed JPEGs) over any object store. Every
method blocks on I/O: call them from a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from webrtc.storage import StoredBlob

_KEY = re.compile(r"^(snapshots|recordings)/[A-Za-z0-9][A-Za-z0-9/_.-]{0,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_key(key: str) -> str:
    """A key is built by this code, never taken from a request: its shape is
    checked anyway (no ``..``, no absolute path)."""
    if not _KEY.match(key) or ".." in key or "//" in key:
        raise ValueError(f"not an evidence key: {key!r}")
    return key


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> int:
        """Store the local file ``path`` (which is consumed) as ``key``; its size."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def size(self, key: str) -> int | None:
        """The object's size, or None when there is none."""
        ...

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` inclusive (an HTTP Range)."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the object; False when it was already gone."""
        ...


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalObjectStore:
    """Objects as files under one root folder (``data_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def put_file(self, key: str, path: Path) -> int:
        target = self.path_of(key)
        if path.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)  # same file system: data_dir
        _fsync_dir(target.parent)
        return target.stat().st_size

    def get_bytes(self, key: str) -> bytes:
        return self.path_of(key).read_bytes()

    def size(self, key: str) -> int | None:
        try:
            return self.path_of(key).stat().st_size
        except FileNotFoundError:
            return None

    def read_range(self, key: str, start: int, end: int) -> bytes:
        with self.path_of(key).open("rb") as f:
            f.seek(start)
            return f.read(end - start + 1)

    def delete(self, key: str) -> bool:
        try:
            self.path_of(key).unlink()
        except FileNotFoundError:
            return False
        return True


class S3ObjectStore:
    """Objects in one bucket of an S3-compatible store, under ``prefix``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @classmethod
    def connect(
        cls,
        endpoint: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        prefix: str = "",
    ) -> S3ObjectStore:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                s3={"addressing_style": "path"},
            ),
        )
        return cls(client, bucket, prefix)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def put_file(self, key: str, path: Path) -> int:
        size = path.stat().st_size
        self.client.upload_file(str(path), self.bucket, self._name(key))
        path.unlink()  # stored: the local copy goes
        return size

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        return body

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def read_range(self, key: str, start: int, end: int) -> bytes:
        reply = self.client.get_object(
            Bucket=self.bucket, Key=self._name(key), Range=f"bytes={start}-{end}"
        )
        body: bytes = reply["Body"].read()
        return body

    def delete(self, key: str) -> bool:
        if self.size(key) is None:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        return True


def snapshot_key(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError("not a sha256 hex digest")
    return f"snapshots/{sha256[:2]}/{sha256}.jpg"


class ObjectSnapshotStore:
    """The content-addressed snapshot store (``SnapshotStore``) over an object store."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def put(self, data: bytes) -> StoredBlob:
        sha256 = hashlib.sha256(data).hexdigest()
        key = snapshot_key(sha256)
        if self.objects.size(key) is None:
            self.objects.put_bytes(key, data)
        return StoredBlob(sha256, key.removeprefix("snapshots/"), len(data))

    def get(self, sha256: str) -> bytes:
        return self.objects.get_bytes(snapshot_key(sha256))

    def delete(self, sha256: str) -> bool:
        return self.objects.delete(snapshot_key(sha256))
