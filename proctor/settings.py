"""Configuration, read once from the environment into a frozen object.

Nothing else in the code base reads ``os.environ``: the settings object is
built at start (``load_settings``) and passed explicitly.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from proctor.evidence_settings import (
    EvidenceSettings,
    EvidenceSettingsError,
    load_evidence_settings,
)
from proctor.http_settings import HttpLimits, HttpSettingsError, load_http_limits
from proctor.ice_settings import IceServer, IceSettingsError, load_ice_servers


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    host: str
    port: int
    secret_key: bytes
    redis_prefix: str
    device_token_ttl_s: int
    public_url: str
    ice_loopback: bool
    demo_seed: bool
    dev_sms_outbox: bool = True  # rule A4: the SMS outbox API and page (administrators only)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (networks, e.g.
    # "10.0.0.0/8"); none by default, so a client cannot pick its own address.
    trusted_proxies: tuple[str, ...] = ()
    oidc: OidcSettings | None = None  # the province's single sign-on; None: off
    require_live_cameras: bool = True  # rule D1 enforced by the server, not only the page
    # webrtc: random snapshot gaps (rule E2), evidence retention, peer limit
    snapshot_mean_interval_s: float = 45.0
    snapshot_min_gap_s: float = 10.0
    snapshot_retention_days: int = 365
    rtc_max_peers: int = 1000
    # body sizes, header and body timeouts, connection cap (proctor/http_settings.py)
    http: HttpLimits = field(default_factory=HttpLimits)
    log_format: str = "text"  # "json": one JSON object a line (rule O2)
    # redis_url names one node of a Redis Cluster (proctor/redis_client.py, rule H8)
    redis_cluster: bool = False
    # screen share, recording, object store, retention (proctor/evidence_settings.py)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    identity: IdentitySettings = field(default_factory=lambda: IdentitySettings())
    # STUN/TURN for the camera's WebRTC (proctor/ice_settings.py); none by default
    ice_servers: tuple[IceServer, ...] = ()
    # How long an ended attempt's Redis stream and state outlive the moment
    # PostgreSQL holds all of its entries (hub/trim.py): late reconnects get
    # their answer from Redis meanwhile, from PostgreSQL after (hub/rebuild.py)
    ended_grace_s: int = 3600

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(tuple(s + "://" for s in schemes)):
        raise SettingsError(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}"
        )
    return raw


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or CIDR networks, normalised ("10.0.0.0/8")."""
    networks = []
    for item in env.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list IP addresses or networks (CIDR), got {item.strip()!r}"
            ) from None
    return tuple(networks)


def _secret(env: Mapping[str, str], data_dir: Path) -> bytes:
    """The signing key: from the environment, else one generated and kept in the data folder."""
    raw = env.get("PROCTOR_SECRET_KEY", "")
    if raw:
        if len(raw) < 16:
            raise SettingsError("PROCTOR_SECRET_KEY must be at least 16 characters")
        return raw.encode()
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    path.write_bytes(key)
    path.chmod(0o600)
    return key


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build the settings from an environment mapping (``os.environ`` in production)."""
    data_dir = Path(env.get("PROCTOR_DATA_DIR") or "./.data").resolve()
    host = env.get("PROCTOR_HOST") or "127.0.0.1"
    port = _int(env, "PROCTOR_PORT", 8000, 0, 65535)
    prefix = env.get("PROCTOR_REDIS_PREFIX") or "proctor"
    if not prefix.replace("_", "").replace("-", "").isalnum():
        raise SettingsError("PROCTOR_REDIS_PREFIX may hold letters, digits, '-' and '_' only")
    public_url = (env.get("PROCTOR_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
    redis_url = _url(env, "PROCTOR_REDIS_URL", ("redis", "rediss", "unix"))
    redis_cluster = _bool(env, "PROCTOR_REDIS_CLUSTER", False)
    if redis_cluster and (redis_url is None or redis_url.startswith("unix")):
        raise SettingsError(
            "PROCTOR_REDIS_CLUSTER needs PROCTOR_REDIS_URL naming a cluster node (redis://host:port)"
        )
    return Settings(
        database_url=_url(env, "PROCTOR_DATABASE_URL", ("postgres", "postgresql")),
        redis_url=redis_url,
        redis_cluster=redis_cluster,
        data_dir=data_dir,
        host=host,
        port=port,
        secret_key=_secret(env, data_dir),
        redis_prefix=prefix,
        device_token_ttl_s=_int(env, "PROCTOR_DEVICE_TOKEN_TTL", 300, 10, 86400),
        ended_grace_s=_int(env, "PROCTOR_ENDED_GRACE", 3600, 1, 30 * 86400),
        public_url=public_url,
        ice_loopback=_bool(env, "PROCTOR_ICE_LOOPBACK", True),
        demo_seed=_bool(env, "PROCTOR_DEMO_SEED", False),
        dev_sms_outbox=_bool(env, "PROCTOR_DEV_SMS_OUTBOX", True),
        trusted_proxies=_networks(env, "PROCTOR_TRUSTED_PROXIES"),
        oidc=load_oidc_settings(env, public_url=public_url),
        require_live_cameras=_bool(env, "PROCTOR_REQUIRE_LIVE_CAMERAS", True),
        snapshot_mean_interval_s=_int(env, "PROCTOR_SNAPSHOT_MEAN_INTERVAL", 45, 5, 3600),
        snapshot_min_gap_s=_int(env, "PROCTOR_SNAPSHOT_MIN_GAP", 10, 1, 600),
        snapshot_retention_days=_int(env, "PROCTOR_SNAPSHOT_RETENTION_DAYS", 365, 1, 3650),
        rtc_max_peers=_int(env, "PROCTOR_RTC_MAX_PEERS", 1000, 1, 100_000),
        log_format=_choice(env, "PROCTOR_LOG_FORMAT", ("text", "json"), "text"),
        http=_http(env),
        evidence=_evidence(env),
        ice_servers=_ice(env),
        identity=load_identity_settings(env),
    )


# ---------------------------------------------------------------- identity (rules I1–I3)
@dataclass(frozen=True)
class IdentitySettings:
    """The face check against the ID photo (docs/identity.md has the figures
    behind the threshold). ``required=False``: no check before answering, and
    the ID photo is optional in the exam request."""

    required: bool = True
    # the largest descriptor distance that is the same person; measured: genuine
    # pairs ≤ 0.30, strangers ≥ 0.57 (docs/identity.md)
    threshold: float = 0.5
    tries: int = 3  # rule I2: then an invigilator decides
    # rule I3: this many PC snapshots in a row of someone else or nobody raise a flag
    flag_after: int = 3


def load_identity_settings(env: Mapping[str, str]) -> IdentitySettings:
    raw = env.get("PROCTOR_FACE_THRESHOLD", "").strip()
    threshold = 0.5
    if raw:
        try:
            threshold = float(raw)
        except ValueError:
            raise SettingsError(f"PROCTOR_FACE_THRESHOLD must be a number, got {raw!r}") from None
        if not 0.2 <= threshold <= 0.9:
            raise SettingsError("PROCTOR_FACE_THRESHOLD must be between 0.2 and 0.9")
    return IdentitySettings(
        required=_bool(env, "PROCTOR_FACE_CHECK", True),
        threshold=threshold,
        tries=_int(env, "PROCTOR_FACE_TRIES", 3, 1, 10),
        flag_after=_int(env, "PROCTOR_FACE_FLAG_AFTER", 3, 1, 20),
    )


# ---------------------------------------------------------------- single sign-on (OIDC)
OIDC_CALLBACK_PATH = "/api/auth/oidc/callback"
OIDC_AFTER_LOGOUT_PATH = "/static/login.html"
# What the exam system needs from the SSO, and the claim names of standard OIDC.
OIDC_FIELDS = ("real_name", "id_card", "phone")
_DEFAULT_CLAIMS = {"real_name": "name", "id_card": "id_card_no", "phone": "phone_number"}
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OidcClaims:
    """The claim names of one province's SSO for the fields the exam system needs."""

    real_name: str
    id_card: str
    phone: str


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    claims: OidcClaims
    label: str
    scopes: str
    redirect_uri: str  # public URL + OIDC_CALLBACK_PATH: register it at the provider
    post_logout_redirect_uri: str  # public URL + OIDC_AFTER_LOGOUT_PATH
    timeout_s: float


def _oidc_claims(raw: str) -> OidcClaims:
    """``real_name:name,id_card:id_card_no,phone:phone_number``; fields left out keep the default."""
    names = dict(_DEFAULT_CLAIMS)
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        field, sep, claim = (piece.strip() for piece in item.partition(":"))
        if not sep or not claim or field not in OIDC_FIELDS:
            raise SettingsError(
                "PROCTOR_OIDC_CLAIMS must be field:claim pairs separated by commas, "
                f"the fields being {', '.join(OIDC_FIELDS)}; got {item!r}"
            )
        names[field] = claim
    return OidcClaims(**names)


def _oidc_issuer(raw: str) -> str:
    issuer = raw.strip()  # kept exactly: the ID token's iss must equal it
    if issuer.startswith("https://"):
        return issuer
    if issuer.startswith("http://") and urlsplit(issuer).hostname in _LOOPBACK_HOSTS:
        return issuer  # a provider on this machine (development, tests)
    raise SettingsError("PROCTOR_OIDC_ISSUER must be an https:// URL (http:// only on loopback)")


def load_oidc_settings(env: Mapping[str, str], *, public_url: str) -> OidcSettings | None:
    """The single sign-on settings; None (off) unless ``PROCTOR_OIDC_ISSUER`` is set."""
    raw_issuer = env.get("PROCTOR_OIDC_ISSUER", "").strip()
    if not raw_issuer:
        return None
    client_id = env.get("PROCTOR_OIDC_CLIENT_ID", "").strip()
    client_secret = env.get("PROCTOR_OIDC_CLIENT_SECRET", "")
    if not client_id or not client_secret:
        raise SettingsError(
            "PROCTOR_OIDC_CLIENT_ID and PROCTOR_OIDC_CLIENT_SECRET are needed with PROCTOR_OIDC_ISSUER"
        )
    scopes = " ".join((env.get("PROCTOR_OIDC_SCOPES") or "openid profile phone").split())
    if "openid" not in scopes.split():
        raise SettingsError("PROCTOR_OIDC_SCOPES must include openid")
    return OidcSettings(
        issuer=_oidc_issuer(raw_issuer),
        client_id=client_id,
        client_secret=client_secret,
        claims=_oidc_claims(env.get("PROCTOR_OIDC_CLAIMS", "")),
        label=(env.get("PROCTOR_OIDC_LABEL") or "蒙速办登录").strip(),
        scopes=scopes,
        redirect_uri=public_url + OIDC_CALLBACK_PATH,
        post_logout_redirect_uri=public_url + OIDC_AFTER_LOGOUT_PATH,
        timeout_s=_int(env, "PROCTOR_OIDC_TIMEOUT", 10, 1, 120),
    )


def _ice(env: Mapping[str, str]) -> tuple[IceServer, ...]:
    try:
        return load_ice_servers(env)
    except IceSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _http(env: Mapping[str, str]) -> HttpLimits:
    try:
        return load_http_limits(env)
    except HttpSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _evidence(env: Mapping[str, str]) -> EvidenceSettings:
    try:
        return load_evidence_settings(env)
    except EvidenceSettingsError as exc:
        raise SettingsError(str(exc)) from None
