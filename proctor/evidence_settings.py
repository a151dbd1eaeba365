"""The screen share, the recording and the evidence store, read once (issue #11).

=====================================  ==========  ==========================================
variable                               default     meaning
=====================================  ==========  ==========================================
``PROCTOR_REQUIRE_SCREEN``             on          rule J1: answering needs the whole screen
                                                   shared, as the server measures it
``PROCTOR_RECORDING``                  on          rule K1: record the PC camera and screen
``PROCTOR_RECORDING_SEGMENT``          60 s        length of one recording segment file
``PROCTOR_S3_ENDPOINT``                (none)      rule K2: an S3-compatible object store;
                                                   unset: evidence on local disk
``PROCTOR_S3_BUCKET``                  (none)      its bucket (needed with the endpoint)
``PROCTOR_S3_REGION``                  us-east-1
``PROCTOR_S3_ACCESS_KEY`` / ``_SECRET_KEY``        its credentials
``PROCTOR_S3_PREFIX``                  (empty)     key prefix inside the bucket
``PROCTOR_RETENTION_DAYS_<KIND>``      see below   rule K2: days each kind of evidence is kept
=====================================  ==========  ==========================================

Retention defaults (days): decisions and documents 2190 (6 years),
recordings 180 — kinds in :data:`RETENTION_DEFAULTS` — and snapshots and
photos ``PROCTOR_SNAPSHOT_RETENTION_DAYS`` (365).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# rule K2: every kind of evidence has a retention, long by default (snapshots:
# PROCTOR_SNAPSHOT_RETENTION_DAYS, 365, in proctor/settings.py)
RETENTION_DEFAULTS: dict[str, int] = {
    "decisions": 2190,
    "documents": 2190,
    "recordings": 180,
}
MAX_RETENTION_DAYS = 36500


class EvidenceSettingsError(ValueError):
    """A malformed evidence setting; the message names the variable."""


@dataclass(frozen=True)
class ObjectStoreSettings:
    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    prefix: str = ""


@dataclass(frozen=True)
class EvidenceSettings:
    require_screen: bool = True
    recording: bool = True
    segment_s: int = 60
    object_store: ObjectStoreSettings | None = None
    retention_days: dict[str, int] = field(default_factory=lambda: dict(RETENTION_DEFAULTS))


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise EvidenceSettingsError(f"{name} must be on or off, got {raw!r}")


def _int(
    env: Mapping[str, str], name: str, default: int, low: int = 1, high: int = MAX_RETENTION_DAYS
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EvidenceSettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise EvidenceSettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _object_store(env: Mapping[str, str]) -> ObjectStoreSettings | None:
    endpoint = env.get("PROCTOR_S3_ENDPOINT", "").strip()
    if not endpoint:
        return None
    if not endpoint.startswith(("https://", "http://")):
        raise EvidenceSettingsError("PROCTOR_S3_ENDPOINT must be an http(s):// URL")
    bucket = env.get("PROCTOR_S3_BUCKET", "").strip()
    if not bucket:
        raise EvidenceSettingsError("PROCTOR_S3_BUCKET is needed with PROCTOR_S3_ENDPOINT")
    return ObjectStoreSettings(
        endpoint=endpoint,
        bucket=bucket,
        region=env.get("PROCTOR_S3_REGION", "").strip() or "us-east-1",
        access_key=env.get("PROCTOR_S3_ACCESS_KEY", ""),
        secret_key=env.get("PROCTOR_S3_SECRET_KEY", ""),
        prefix=env.get("PROCTOR_S3_PREFIX", "").strip().strip("/"),
    )


def load_evidence_settings(env: Mapping[str, str]) -> EvidenceSettings:
    """The settings from an environment mapping; defaults for what it does not set."""
    retention = {
        kind: _int(env, f"PROCTOR_RETENTION_DAYS_{kind.upper()}", days)
        for kind, days in RETENTION_DEFAULTS.items()
    }
    return EvidenceSettings(
        require_screen=_flag(env, "PROCTOR_REQUIRE_SCREEN", True),
        recording=_flag(env, "PROCTOR_RECORDING", True),
        segment_s=_int(env, "PROCTOR_RECORDING_SEGMENT", 60, low=5, high=3600),
        object_store=_object_store(env),
        retention_days=retention,
    )
