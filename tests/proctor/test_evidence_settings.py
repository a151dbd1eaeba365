"""The screen, recording, object-store and retention settings (issue #11),
read once; a malformed value names its variable."""

from __future__ import annotations

import pytest

from proctor.evidence_settings import RETENTION_DEFAULTS, ObjectStoreSettings
from proctor.settings import SettingsError, load_settings


def test_defaults_require_the_screen_record_and_keep_evidence_long() -> None:
    evidence = load_settings({}).evidence
    assert evidence.require_screen and evidence.recording  # rules J1, K1
    assert evidence.segment_s == 60
    assert evidence.object_store is None  # local disk by default (rule K2)
    assert evidence.retention_days == RETENTION_DEFAULTS
    assert evidence.retention_days["decisions"] == 6 * 365


def test_an_object_store_and_retentions_are_configured() -> None:
    evidence = load_settings(
        {
            "PROCTOR_S3_ENDPOINT": "https://s3.example.cn",
            "PROCTOR_S3_BUCKET": "exam-evidence",
            "PROCTOR_S3_ACCESS_KEY": "ak",
            "PROCTOR_S3_SECRET_KEY": "sk",
            "PROCTOR_S3_PREFIX": "/2026/",
            "PROCTOR_RETENTION_DAYS_RECORDINGS": "90",
            "PROCTOR_REQUIRE_SCREEN": "off",
            "PROCTOR_RECORDING_SEGMENT": "30",
        }
    ).evidence
    assert evidence.object_store == ObjectStoreSettings(
        "https://s3.example.cn", "exam-evidence", "us-east-1", "ak", "sk", "2026"
    )
    assert evidence.retention_days["recordings"] == 90
    assert not evidence.require_screen and evidence.segment_s == 30


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PROCTOR_S3_ENDPOINT": "s3.example.cn", "PROCTOR_S3_BUCKET": "b"}, "PROCTOR_S3_ENDPOINT"),
        ({"PROCTOR_S3_ENDPOINT": "https://s3.example.cn"}, "PROCTOR_S3_BUCKET"),
        ({"PROCTOR_RETENTION_DAYS_DECISIONS": "0"}, "PROCTOR_RETENTION_DAYS_DECISIONS"),
        ({"PROCTOR_RETENTION_DAYS_RECORDINGS": "x"}, "PROCTOR_RETENTION_DAYS_RECORDINGS"),
        ({"PROCTOR_REQUIRE_SCREEN": "maybe"}, "PROCTOR_REQUIRE_SCREEN"),
        ({"PROCTOR_RECORDING_SEGMENT": "2"}, "PROCTOR_RECORDING_SEGMENT"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(env)
