"""Unit tests of configuration parsing (proctor/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.keys import ENDED_GRACE_S
from proctor.settings import SettingsError, load_settings


def test_defaults_mean_embedded_services(tmp_path: Path) -> None:
    s = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)})
    assert s.embedded_postgres and s.embedded_redis
    assert s.data_dir == tmp_path.resolve()
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.public_url == "http://127.0.0.1:8000"


def test_an_ended_attempts_grace_is_an_hour_unless_set(tmp_path: Path) -> None:
    # issue #10: how long an ended attempt's Redis keys outlive its persistence;
    # the hub's components default to the same (hub/keys.py)
    assert load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).ended_grace_s == ENDED_GRACE_S
    assert ENDED_GRACE_S == 3600
    env = {"PROCTOR_DATA_DIR": str(tmp_path), "PROCTOR_ENDED_GRACE": "600"}
    assert load_settings(env).ended_grace_s == 600


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).secret_key
    second = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_urls_select_external_servers(tmp_path: Path) -> None:
    s = load_settings(
        {
            "PROCTOR_DATA_DIR": str(tmp_path),
            "PROCTOR_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "PROCTOR_REDIS_URL": "redis://127.0.0.1:6379/0",
            "PROCTOR_SECRET_KEY": "x" * 32,
            "PROCTOR_PORT": "9001",
        }
    )
    assert not s.embedded_postgres and not s.embedded_redis
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/test"
    assert s.secret_key == b"x" * 32 and s.port == 9001
    assert not s.redis_cluster


def test_a_redis_cluster_is_named_by_one_node(tmp_path: Path) -> None:
    env = {"PROCTOR_DATA_DIR": str(tmp_path), "PROCTOR_REDIS_CLUSTER": "1"}
    s = load_settings(env | {"PROCTOR_REDIS_URL": "redis://10.0.0.5:7000"})
    assert s.redis_cluster and s.redis_url == "redis://10.0.0.5:7000"
    with pytest.raises(SettingsError, match="cluster node"):  # no unix socket cluster
        load_settings(env | {"PROCTOR_REDIS_URL": "unix:///tmp/redis.sock"})


def test_no_proxy_is_trusted_unless_configured(tmp_path: Path) -> None:
    """Issue #9: X-Forwarded-For is believed only from the configured proxies."""
    assert load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).trusted_proxies == ()
    s = load_settings(
        {
            "PROCTOR_DATA_DIR": str(tmp_path),
            "PROCTOR_TRUSTED_PROXIES": " 10.1.2.3, 192.168.0.0/16,::1",
        }
    )
    assert s.trusted_proxies == ("10.1.2.3/32", "192.168.0.0/16", "::1/128")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PROCTOR_PORT", "eighty", "PROCTOR_PORT must be an integer"),
        ("PROCTOR_PORT", "70000", "between 0 and 65535"),
        ("PROCTOR_DATABASE_URL", "mysql://x", "PROCTOR_DATABASE_URL must start with"),
        ("PROCTOR_REDIS_URL", "http://x", "PROCTOR_REDIS_URL must start with"),
        ("PROCTOR_SECRET_KEY", "short", "at least 16"),
        ("PROCTOR_ICE_LOOPBACK", "maybe", "must be a boolean"),
        ("PROCTOR_REDIS_PREFIX", "a:b", "letters, digits"),
        ("PROCTOR_TRUSTED_PROXIES", "10.0.0.1, proxy.local", "PROCTOR_TRUSTED_PROXIES must list"),
        ("PROCTOR_REDIS_CLUSTER", "1", "PROCTOR_REDIS_CLUSTER needs PROCTOR_REDIS_URL"),
        ("PROCTOR_ENDED_GRACE", "0", "between 1 and 2592000"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"PROCTOR_DATA_DIR": str(tmp_path), name: value})


def test_the_face_check_is_on_by_default_and_its_threshold_is_bounded(tmp_path: Path) -> None:
    # rules I2, I3: the threshold is a setting, read once
    identity = load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).identity
    assert (identity.required, identity.threshold, identity.tries) == (True, 0.5, 3)
    own = load_settings(
        {
            "PROCTOR_DATA_DIR": str(tmp_path),
            "PROCTOR_FACE_CHECK": "off",
            "PROCTOR_FACE_THRESHOLD": "0.45",
            "PROCTOR_FACE_FLAG_AFTER": "4",
        }
    ).identity
    assert (own.required, own.threshold, own.flag_after) == (False, 0.45, 4)
    for bad in ("near", "0.05", "1.5"):
        with pytest.raises(SettingsError, match="PROCTOR_FACE_THRESHOLD"):
            load_settings({"PROCTOR_DATA_DIR": str(tmp_path), "PROCTOR_FACE_THRESHOLD": bad})


def test_ice_servers_are_read_in_the_browsers_form(tmp_path: Path) -> None:
    # docs/deployment.md: TURN for candidates behind strict NATs
    raw = (
        '[{"urls": "stun:turn.example.cn:3478"},'
        ' {"urls": ["turn:turn.example.cn:3478?transport=udp", "turns:turn.example.cn:443"],'
        '  "username": "exam", "credential": "s3cret"}]'
    )
    s = load_settings({"PROCTOR_DATA_DIR": str(tmp_path), "PROCTOR_ICE_SERVERS": raw})
    assert [server.as_json() for server in s.ice_servers] == [
        {"urls": ["stun:turn.example.cn:3478"]},
        {
            "urls": ["turn:turn.example.cn:3478?transport=udp", "turns:turn.example.cn:443"],
            "username": "exam",
            "credential": "s3cret",
        },
    ]
    assert load_settings({"PROCTOR_DATA_DIR": str(tmp_path)}).ice_servers == ()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("turn:x", "JSON list"),
        ('{"urls": "stun:x"}', "JSON list"),
        ('[{"urls": "http://x"}]', "not a stun:, turn: or turns: URL"),
        ('[{"urls": []}]', "list of 1 to"),
        ('[{"urls": "turn:x:3478"}]', "needs a username and a credential"),
        ('[{"urls": "stun:x", "username": "u", "credential": "p"}]', "only turn: servers"),
        ('[{"urls": "stun:x", "extra": 1}]', "must be an object"),
        ("[" + ",".join(['{"urls": "stun:x"}'] * 9) + "]", "at most 8"),
    ],
)
def test_malformed_ice_servers_are_refused_with_a_reason(
    tmp_path: Path, raw: str, says: str
) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings({"PROCTOR_DATA_DIR": str(tmp_path), "PROCTOR_ICE_SERVERS": raw})
