"""The OpenID Connect relying party's conversations with the province's SSO:
discovery, the authorization URL, the code exchange with PKCE, the ID token's
verification against the provider's JWKS, userinfo, and the logout URL.

An adapter with a lifecycle (``start``/``stop``): one HTTP client for the
provider's documents, cached; one short-lived Authlib OAuth client per
sign-in, whose token never leaves it. Every call has a timeout. The checks
themselves are pure (``oidc_tokens``); time comes in as ``now``.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # Authlib 1.9 announces a move of its httpx integration; the one used here works
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import KeySet

from exam_api.oidc_errors import OidcError
from exam_api.oidc_tokens import verify_id_token
from proctor.clock import Clock
from proctor.settings import OidcSettings

DOCUMENT_MAX_AGE_S = 3600.0  # discovery and JWKS are fetched again after an hour
MAX_DOCUMENT_BYTES = 512 * 1024


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of ``.well-known/openid-configuration`` this relying party uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None


@dataclass(frozen=True)
class SsoSignIn:
    """A redeemed code: the verified claims (ID token's over userinfo's) and the raw ID token."""

    claims: dict[str, Any]
    id_token: str


def parse_metadata(document: object, issuer: str) -> ProviderMetadata:
    """Discovery's document, checked: its issuer must be exactly the configured one
    (OpenID Connect Discovery 4.3), the endpoints strings."""
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise OidcError("provider_misconfigured")

    def url(name: str, required: bool) -> str | None:
        value = document.get(name)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
        if required:
            raise OidcError("provider_misconfigured")
        return None

    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=url("authorization_endpoint", True) or "",
        token_endpoint=url("token_endpoint", True) or "",
        jwks_uri=url("jwks_uri", True) or "",
        userinfo_endpoint=url("userinfo_endpoint", False),
        end_session_endpoint=url("end_session_endpoint", False),
    )


class _Cached:
    """One fetched document and when (monotonic seconds)."""

    def __init__(self) -> None:
        self.value: Any = None
        self.at = 0.0
        self.lock = asyncio.Lock()


class OidcClient:
    """The relying party of one provider (``PROCTOR_OIDC_*``)."""

    def __init__(self, settings: OidcSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._timeout = httpx.Timeout(settings.timeout_s)
        self._ssl = ssl.create_default_context()  # shared by the per-sign-in clients
        self._http: httpx.AsyncClient | None = None
        self._metadata = _Cached()
        self._jwks = _Cached()

    async def start(self) -> None:
        if self._http is not None:
            raise RuntimeError("the OIDC client is already started")
        self._http = httpx.AsyncClient(timeout=self._timeout, verify=self._ssl)

    async def stop(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # ------------------------------------------------------------ documents
    async def _get_json(self, url: str) -> object:
        if self._http is None:
            raise OidcError("provider_unavailable")
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError:
            raise OidcError("provider_unavailable") from None
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise OidcError("provider_unavailable")
        try:
            return response.json()
        except ValueError:
            raise OidcError("provider_misconfigured") from None

    def _fresh(self, cached: _Cached) -> bool:
        return cached.value is not None and self._clock.monotonic() - cached.at < DOCUMENT_MAX_AGE_S

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (cached for an hour)."""
        cached = self._metadata
        async with cached.lock:
            if not self._fresh(cached):
                issuer = self.settings.issuer
                url = issuer.rstrip("/") + "/.well-known/openid-configuration"
                cached.value = parse_metadata(await self._get_json(url), issuer)
                cached.at = self._clock.monotonic()
            value: ProviderMetadata = cached.value
            return value

    async def _keys(self, refresh: bool) -> KeySet:
        cached = self._jwks
        async with cached.lock:
            if refresh or not self._fresh(cached):
                document = await self._get_json((await self.metadata()).jwks_uri)
                if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                    raise OidcError("provider_misconfigured")
                try:
                    cached.value = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (ValueError, TypeError, KeyError):
                    raise OidcError("provider_misconfigured") from None
                cached.at = self._clock.monotonic()
            value: KeySet = cached.value
            return value

    # ------------------------------------------------------------ the flow
    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser: the authorization endpoint with PKCE (S256)."""
        meta = await self.metadata()
        url: str = prepare_grant_uri(
            meta.authorization_endpoint,
            self.settings.client_id,
            "code",
            redirect_uri=self.settings.redirect_uri,
            scope=self.settings.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def redeem(self, code: str, *, code_verifier: str, nonce: str, now: float) -> SsoSignIn:
        """Exchange ``code`` (PKCE), verify the ID token, read userinfo."""
        meta = await self.metadata()
        async with AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri=self.settings.redirect_uri,
            timeout=self._timeout,
            verify=self._ssl,
        ) as oauth:
            try:
                token = await oauth.fetch_token(
                    meta.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except OAuthError:
                raise OidcError("code_rejected") from None
            except (httpx.HTTPError, ValueError):
                raise OidcError("provider_unavailable") from None
            raw = token.get("id_token")
            if not isinstance(raw, str) or not raw:
                raise OidcError("id_token_missing")
            claims = await self._verify(raw, nonce=nonce, now=now)
            userinfo = await self._userinfo(oauth, meta)
        if userinfo is not None and userinfo.get("sub") != claims["sub"]:
            raise OidcError("userinfo_subject")  # Core 5.3.2: must be the token's subject
        return SsoSignIn(claims={**(userinfo or {}), **claims}, id_token=raw)

    async def _verify(self, raw: str, *, nonce: str, now: float) -> dict[str, Any]:
        options = {"issuer": self.settings.issuer, "client_id": self.settings.client_id}
        try:
            return verify_id_token(raw, await self._keys(False), nonce=nonce, now=now, **options)
        except OidcError as exc:
            if exc.code != "id_token_signature":
                raise
        # The provider may have rotated its keys: fetch them once more, then decide.
        return verify_id_token(raw, await self._keys(True), nonce=nonce, now=now, **options)

    async def _userinfo(
        self, oauth: AsyncOAuth2Client, meta: ProviderMetadata
    ) -> dict[str, Any] | None:
        if meta.userinfo_endpoint is None:
            return None
        try:
            response = await oauth.get(meta.userinfo_endpoint)
        except (httpx.HTTPError, OAuthError):
            raise OidcError("provider_unavailable") from None
        if response.status_code != 200:
            raise OidcError("provider_unavailable")
        try:
            document = response.json()
        except ValueError:
            raise OidcError("provider_misconfigured") from None
        if not isinstance(document, dict):
            raise OidcError("provider_misconfigured")
        return document

    async def end_session_url(self, id_token: str) -> str | None:
        """RP-initiated logout at the provider, back to the login page; None
        when the provider offers no ``end_session_endpoint``."""
        try:
            endpoint = (await self.metadata()).end_session_endpoint
        except OidcError:
            return None  # the local session ends anyway
        if endpoint is None:
            return None
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": self.settings.post_logout_redirect_uri,
                "client_id": self.settings.client_id,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
