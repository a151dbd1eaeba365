"""The HTTP limits are read once from the environment, with bounds (issue #9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.http_settings import HttpLimits, load_http_limits
from proctor.settings import SettingsError, load_settings


def test_defaults() -> None:
    assert load_http_limits({}) == HttpLimits()
    assert HttpLimits().max_body_bytes == 1024 * 1024


def test_values_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PROCTOR_DATA_DIR": str(tmp_path),
            "PROCTOR_HTTP_MAX_BODY": "2097152",
            "PROCTOR_HTTP_HEADER_TIMEOUT": "2.5",
            "PROCTOR_HTTP_BODY_TIMEOUT": "15",
            "PROCTOR_HTTP_UPLOAD_TIMEOUT": "300",
            "PROCTOR_HTTP_KEEP_ALIVE": "20",
            "PROCTOR_HTTP_MAX_CONNECTIONS": "30000",
        }
    )
    assert settings.http == HttpLimits(
        max_body_bytes=2 * 1024 * 1024,
        header_timeout_s=2.5,
        body_timeout_s=15.0,
        upload_timeout_s=300.0,
        keep_alive_s=20,
        max_connections=30000,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("PROCTOR_HTTP_BODY_TIMEOUT", "soon"), ("PROCTOR_HTTP_HEADER_TIMEOUT", "0"),
     ("PROCTOR_HTTP_MAX_BODY", "10")],
)  # fmt: skip
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"PROCTOR_DATA_DIR": str(tmp_path), name: value})
