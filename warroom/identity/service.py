"""The identity service: OIDC sign-in use cases (one transaction each), found at
`runtime.identity`."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select

from warroom.core.runtime import Runtime
from warroom.identity import accounts
from warroom.identity import tables as it
from warroom.identity.oidc import Identity, OidcClient, SignInError
from warroom.web import users

log = logging.getLogger("warroom.identity")

# How long a sign-in may take at the provider before the callback is refused.
SIGN_IN_WINDOW = timedelta(minutes=10)
CALLBACK_PATH = "/login/oidc/callback"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class LoginOptions:
    """What the login page offers."""

    sso_name: str | None
    password_login: bool


class IdentityService:
    def __init__(self, runtime: Runtime, oidc: OidcClient | None) -> None:
        self.runtime = runtime
        self.oidc = oidc

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> IdentityService:
        s = runtime.settings
        client = None
        if s.oidc_issuer and s.oidc_client_id:
            client = OidcClient(
                issuer=s.oidc_issuer,
                client_id=s.oidc_client_id,
                client_secret=s.oidc_client_secret.get_secret_value()
                if s.oidc_client_secret
                else "",
                scopes=s.oidc_scopes,
                groups_claim=s.oidc_groups_claim,
            )
        return cls(runtime, client)

    def login_options(self) -> LoginOptions:
        s = self.runtime.settings
        return LoginOptions(
            sso_name=s.oidc_provider_name if self.oidc else None,
            # With no identity provider, password login cannot be switched off (no way in).
            password_login=s.password_login or self.oidc is None,
        )

    @property
    def redirect_uri(self) -> str:
        return self.runtime.settings.public_url() + CALLBACK_PATH

    def _client(self) -> OidcClient:
        if self.oidc is None:
            raise SignInError(
                "not_configured",
                "Single sign-on is not configured on this warroom.",
                "WARROOM_OIDC_ISSUER / WARROOM_OIDC_CLIENT_ID unset",
            )
        return self.oidc

    def begin(self, next_url: str) -> tuple[str, str]:
        """Start a sign-in: (provider URL, state for the browser's cookie)."""
        client = self._client()
        request = client.begin(self.redirect_uri)
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            conn.execute(delete(it.oidc_requests).where(it.oidc_requests.c.expires_at <= now))
            conn.execute(
                insert(it.oidc_requests).values(
                    state_hash=_hash(request.state),
                    nonce=request.nonce,
                    code_verifier=request.code_verifier,
                    next_url=next_url,
                    expires_at=now + SIGN_IN_WINDOW,
                )
            )
        return request.url, request.state

    def finish(
        self,
        *,
        state: str,
        cookie_state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
    ) -> tuple[str, users.Session, str]:
        """Finish a sign-in from the callback: (session id, session, where to go next)."""
        client = self._client()
        if not state or not cookie_state or not _same(state, cookie_state):
            raise SignInError(
                "state_mismatch",
                "This sign-in was not started from this browser (or it was already used). "
                "Start again from the login page.",
                "callback state does not match the browser's state cookie",
            )
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            row = conn.execute(
                select(it.oidc_requests).where(it.oidc_requests.c.state_hash == _hash(state))
            ).first()
            # One use only, whatever happens next.
            conn.execute(
                delete(it.oidc_requests).where(it.oidc_requests.c.state_hash == _hash(state))
            )
        if row is None or row.expires_at <= now:
            raise SignInError(
                "stale",
                "This sign-in expired or was already used. Start again from the login page.",
                "no pending sign-in request for this state (expired or replayed)",
            )
        if error:
            if error in ("access_denied", "login_required", "consent_required"):
                detail = f"{error}: {error_description or ''}".strip(": ")
                raise SignInError(
                    "denied",
                    "The identity provider did not let you in"
                    + (f" ({error_description})." if error_description else ".")
                    + " Check your user name and password there, or ask its admin for access.",
                    detail,
                )
            raise SignInError(
                "provider_error",
                f"The identity provider reported an error ({error}). Try again; if it "
                "persists, tell your warroom admin.",
                f"{error}: {error_description or ''}",
            )
        if not code:
            raise SignInError(
                "no_code",
                "The identity provider sent no answer; start again.",
                "callback without code",
            )
        identity = client.finish(
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=row.code_verifier,
            nonce=row.nonce,
            now=now,
        )
        with self.runtime.db.write() as conn:
            session_id, session = accounts.sign_in(conn, identity, self.runtime.settings, now)
        log.info("OIDC sign-in: %s as user %s (%s)", identity.subject, session.name, session.role)
        self._ensure_person(session.name, identity)
        return session_id, session, str(row.next_url)

    def _ensure_person(self, name: str, identity: Identity) -> None:
        """Someone who signs in can be scheduled: their on-call person is created (with the
        provider's name and email) when there is none yet; an existing one is left as is."""
        from pydantic import ValidationError

        from warroom.core.auth import Principal
        from warroom.core.errors import NotFound, WarroomError
        from warroom.oncall import models

        oncall = self.runtime.oncall
        try:
            oncall.show("person", name)
            return
        except NotFound:
            pass
        system = Principal(name="oidc", scopes=frozenset({"admin"}), kind="system")
        try:
            person = models.PersonIn(
                name=name,
                display_name=identity.name or name,
                email=identity.email if identity.email and identity.email_verified else "",
            )
            oncall.create_person(system, person)
        except (WarroomError, ValidationError) as exc:
            # Signed in all the same; the person can be added by hand on the People page.
            log.warning("OIDC sign-in: on-call person %s not created: %s", name, exc)

    def logout_url(self, user_id: int) -> str | None:
        """Where to send a browser after a local logout: the provider's end-session endpoint
        for people who signed in through it (RP-initiated logout), else None."""
        if self.oidc is None:
            return None
        with self.runtime.db.read() as conn:
            linked = conn.execute(
                select(it.links.c.user_id).where(
                    it.links.c.user_id == user_id, it.links.c.issuer == self.oidc.issuer
                )
            ).first()
        if linked is None:
            return None
        return self.oidc.logout_url(self.runtime.settings.public_url() + "/login")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
