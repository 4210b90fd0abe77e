"""OpenID Connect relying party: Authorization Code flow with PKCE, discovery, ID token checks.

Authlib's OAuth 2 client builds the authorization URL (with the PKCE S256 challenge) and
exchanges the code; joserfc checks the ID token's signature against the provider's JWKS
(fetched again once when a token names a key id it does not know: key rotation) and its
claims (issuer, audience, expiry, nonce). Email, name and groups come from the userinfo
endpoint, as most providers put only `iss/sub/aud` in the ID token.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger("warroom.identity.oidc")

# Clock skew tolerated between warroom and the provider.
LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class SignInError(Exception):
    """A sign-in that cannot finish: `message` is for the person, `detail` for the log."""

    def __init__(self, reason: str, message: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail or message}")
        self.reason = reason
        self.message = message
        self.detail = detail or message


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document warroom uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class SignInRequest:
    """What the callback must find again: kept server-side, keyed by the state."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    preferred_username: str | None
    groups: tuple[str, ...]
    claims: dict[str, Any] = field(default_factory=dict)


class OidcClient:
    """One configured provider. Thread-safe; discovery and keys are cached per process."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: str = "openid email profile",
        groups_claim: str = "groups",
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = " ".join(dict.fromkeys(["openid", *scopes.split()]))
        self.groups_claim = groups_claim
        self._timeout = timeout
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None

    # ---- discovery and keys ---------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self._timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInError(
                "provider_unreachable",
                "The identity provider could not be reached; try again in a minute.",
                f"GET {url}: {exc}",
            ) from exc
        if not isinstance(data, dict):
            raise SignInError("provider_unreachable", "The identity provider answered oddly.", url)
        return data

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        doc = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignInError(
                "discovery_mismatch",
                "The identity provider is misconfigured (issuer mismatch).",
                f"discovery says issuer {doc.get('issuer')!r}, configured {self.issuer!r}",
            )
        try:
            meta = ProviderMetadata(
                issuer=str(doc["issuer"]),
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                userinfo_endpoint=doc.get("userinfo_endpoint"),
                end_session_endpoint=doc.get("end_session_endpoint"),
            )
        except KeyError as exc:
            raise SignInError(
                "discovery_incomplete",
                "The identity provider is misconfigured (incomplete discovery document).",
                f"discovery lacks {exc}",
            ) from exc
        with self._lock:
            self._metadata = meta
        return meta

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        data = self._get_json(self.metadata().jwks_uri)
        keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        with self._lock:
            self._keys = keys
        return keys

    # ---- the flow ---------------------------------------------------------------------

    def _oauth(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            timeout=self._timeout,
        )

    def begin(self, redirect_uri: str) -> SignInRequest:
        """The provider URL to send the browser to, with a fresh state, nonce and verifier."""
        meta = self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        with self._oauth(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
            )
        return SignInRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str, now: datetime
    ) -> Identity:
        """Exchange the code, check the ID token, read the userinfo claims."""
        meta = self.metadata()
        with self._oauth(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    meta.token_endpoint, code=code, code_verifier=code_verifier
                )
            except Exception as exc:  # Authlib raises OAuthError and httpx errors here
                raise SignInError(
                    "code_exchange_failed",
                    "The identity provider refused to complete the sign-in; start again.",
                    f"token endpoint: {exc}",
                ) from exc
            id_token = token.get("id_token")
            if not id_token:
                raise SignInError(
                    "no_id_token",
                    "The identity provider did not send an ID token.",
                    "token response without id_token (is the 'openid' scope allowed?)",
                )
            claims = self.validate_id_token(str(id_token), nonce=nonce, now=now)
            info: dict[str, Any] = {}
            if meta.userinfo_endpoint:
                try:
                    response = client.get(meta.userinfo_endpoint)
                    response.raise_for_status()
                    info = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise SignInError(
                        "userinfo_failed",
                        "The identity provider did not say who you are; try again.",
                        f"userinfo: {exc}",
                    ) from exc
        if info and info.get("sub") != claims["sub"]:
            raise SignInError(
                "userinfo_mismatch",
                "The identity provider's answers did not agree; sign-in refused.",
                f"userinfo sub {info.get('sub')!r} != ID token sub {claims['sub']!r}",
            )
        merged = {**claims, **info}
        groups = merged.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        email = merged.get("email")
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=str(email).strip().lower() if email else None,
            email_verified=merged.get("email_verified") is not False,
            name=str(merged["name"]) if merged.get("name") else None,
            preferred_username=(
                str(merged["preferred_username"]) if merged.get("preferred_username") else None
            ),
            groups=tuple(str(g) for g in groups if isinstance(g, str | int)),
            claims=merged,
        )

    def validate_id_token(self, id_token: str, *, nonce: str, now: datetime) -> dict[str, Any]:
        """Signature (JWKS, fetched again on an unknown key id), issuer, audience, expiry, nonce."""
        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise _refused("malformed", f"ID token is not a compact JWS: {exc}") from exc
        alg = header.get("alg")
        if alg not in SIGNING_ALGORITHMS:
            raise _refused("bad_algorithm", f"ID token signed with {alg!r}")
        keys = self._key_set()
        kid = header.get("kid")
        if kid is not None and not _has_kid(keys, kid):
            log.info("ID token names unknown key %s; fetching the provider's keys again", kid)
            keys = self._key_set(refresh=True)
            if not _has_kid(keys, kid):
                raise _refused("unknown_key", f"no key {kid!r} in the provider's JWKS")
        try:
            token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise _refused("bad_signature", f"ID token signature check failed: {exc}") from exc
        claims: dict[str, Any] = dict(token.claims)
        stamp = now.timestamp()
        if str(claims.get("iss", "")).rstrip("/") != self.issuer:
            raise _refused("wrong_issuer", f"ID token issuer {claims.get('iss')!r}")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise SignInError(
                "wrong_audience",
                "The identity provider issued this sign-in for another application; check "
                "warroom's client id (WARROOM_OIDC_CLIENT_ID) against the provider's.",
                f"ID token audience {audience!r}, expected {self.client_id!r}",
            )
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise _refused("wrong_audience", f"azp {claims.get('azp')!r} with audiences {audience}")
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise _refused("no_expiry", "ID token without exp")
        if exp + LEEWAY_SECONDS < stamp:
            raise SignInError(
                "expired",
                "The sign-in took too long or the clocks disagree: the identity provider's "
                "token has expired. Sign in again; if it keeps happening, check the server clock.",
                f"ID token expired at {exp}, now {stamp:.0f}",
            )
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat - LEEWAY_SECONDS > stamp:
            raise _refused("issued_in_future", f"ID token iat {iat} after now {stamp:.0f}")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise _refused("nonce_mismatch", "ID token nonce does not match the sign-in request")
        if not claims.get("sub"):
            raise _refused("no_subject", "ID token without sub")
        return claims

    def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout at the provider, when it offers an end-session endpoint."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except SignInError:
            return None
        if not endpoint:
            return None
        query = urlencode(
            {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _refused(reason: str, detail: str) -> SignInError:
    return SignInError(
        reason,
        "The identity provider's answer did not pass warroom's checks, so the sign-in was "
        "refused. Try again; if it keeps happening, tell your warroom admin.",
        detail,
    )
