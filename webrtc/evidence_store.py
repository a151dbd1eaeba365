"""Which evidence store this deployment uses (rule K2), from its settings:
local disk under ``data_dir`` by default, the S3-compatible object store
when ``PROCTOR_S3_ENDPOINT`` is set. Called once by the wiring."""

from __future__ import annotations

from proctor.settings import Settings
from webrtc.object_store import LocalObjectStore, ObjectSnapshotStore, ObjectStore, S3ObjectStore
from webrtc.storage import FileSnapshotStore, SnapshotStore


def evidence_objects(settings: Settings) -> ObjectStore:
    s3 = settings.evidence.object_store
    if s3 is None:
        return LocalObjectStore(settings.data_dir)
    return S3ObjectStore.connect(
        s3.endpoint, s3.bucket, s3.region, s3.access_key, s3.secret_key, s3.prefix
    )


def snapshot_store(settings: Settings, objects: ObjectStore) -> SnapshotStore:
    """The snapshots' store: the same files as ever on local disk
    (``data_dir/snapshots/ab/<sha256>.jpg``), the same keys on S3."""
    if isinstance(objects, LocalObjectStore):
        return FileSnapshotStore(settings.data_dir / "snapshots")
    return ObjectSnapshotStore(objects)
