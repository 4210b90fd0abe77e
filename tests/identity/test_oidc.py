"""Sign-in through a real OpenID provider (oidc-provider), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import SecretStr
from sqlalchemy import select

from tests.identity.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    IDP_PASSWORD,
    OTHER_CLIENT_ID,
    OTHER_REDIRECT,
    OpenIdProvider,
    callback_params,
    log_in_at_provider,
    new_key,
)
from warroom.api.app import create_app
from warroom.core import auth
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings
from warroom.identity import tables as it
from warroom.identity.oidc import OidcClient, SignInError
from warroom.web.tables import web_users

BASE = "http://testserver"


@pytest.fixture
def op(request: pytest.FixtureRequest) -> OpenIdProvider:
    if "rotation" in request.node.name:  # changes the provider's keys: its own provider
        factory = request.getfixturevalue("provider_factory")
        own: OpenIdProvider = factory([f"{BASE}/login/oidc/callback"], [f"{BASE}/login"])
        return own
    shared: OpenIdProvider = request.getfixturevalue("shared_provider")
    return shared


def _oidc_settings(settings: Settings, op: OpenIdProvider, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": BASE,
        "oidc_issuer": op.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": SecretStr(CLIENT_SECRET),
        "oidc_provider_name": "Test IdP",
        "admin_groups": "sre-leads",
        "responder_groups": "oncall, incident-responders",
        **extra,
    }
    return settings.model_copy(update=values)


@pytest.fixture
def make_app(settings: Settings, op: OpenIdProvider) -> Iterator[Callable[..., TestClient]]:
    opened: list[tuple[Runtime, TestClient]] = []

    def make(clock: FixedClock | None = None, **extra: Any) -> TestClient:
        rt = Runtime.build(
            _oidc_settings(settings, op, **extra),
            clock=clock or FixedClock(datetime.now(UTC)),
            run_migrations=False,
        )
        client = TestClient(create_app(rt), raise_server_exceptions=False)
        client.__enter__()
        opened.append((rt, client))
        return client

    yield make
    for rt, client in opened:
        client.__exit__(None, None, None)
        rt.close()


def sign_in(client: TestClient, login: str, password: str = IDP_PASSWORD, **kw: Any) -> Any:
    start = client.get("/login/oidc?next=/incidents", follow_redirects=False)
    assert start.status_code == 303, start.text
    callback = log_in_at_provider(start.headers["location"], login, password, **kw)
    assert callback.startswith(f"{BASE}/login/oidc/callback?")
    return client.get(callback.removeprefix(BASE), follow_redirects=False)


def _role(client: TestClient, name: str) -> str | None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.read() as conn:
        row = conn.execute(select(web_users.c.role).where(web_users.c.name == name)).first()
    return None if row is None else str(row.role)


def test_login_page_offers_the_provider_and_the_flow_uses_pkce_state_and_nonce(
    make_app: Callable[..., TestClient], op: OpenIdProvider
) -> None:
    client = make_app()
    page = client.get("/login")
    assert "Sign in with Test IdP" in page.text and 'href="/login/oidc?next=/"' in page.text
    start = client.get("/login/oidc", follow_redirects=False)
    query = parse_qs(urlparse(start.headers["location"]).query)
    assert start.headers["location"].startswith(f"{op.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["nonce"] and query["state"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{BASE}/login/oidc/callback"]
    cookie = start.headers["set-cookie"]
    assert "warroom_oidc_state=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_first_sign_in_creates_the_person_with_the_role_of_their_group(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app()
    done = sign_in(client, "alice")
    assert done.status_code == 303 and done.headers["location"] == "/incidents"
    session_cookie = done.headers["set-cookie"]
    assert "warroom_session=" in session_cookie and "HttpOnly" in session_cookie
    assert client.get("/incidents").status_code == 200
    assert _role(client, "alice") == "admin"  # sre-leads -> admin
    whoami = client.get("/admin/users")  # admin page: the session really is an admin's
    assert whoami.status_code == 200 and "alice" in whoami.text

    other = make_app()
    assert sign_in(other, "bob").status_code == 303
    assert _role(other, "bob") == "responder"  # oncall -> responder
    runtime: Runtime = other.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.read() as conn:
        account = conn.execute(
            select(it.accounts.c.email, it.accounts.c.display_name)
            .join(web_users, web_users.c.id == it.accounts.c.user_id)
            .where(web_users.c.name == "bob")
        ).one()
    assert (account.email, account.display_name) == ("bob@example.com", "Bob Responder")
    # ...and an on-call person, so they can be put on a schedule at once.
    person = runtime.oncall.show("person", "bob")
    assert (person["display_name"], person["email"]) == ("Bob Responder", "bob@example.com")
    assert runtime.oncall.show("person", "alice")["name"] == "alice"
    # Signing in again leaves the person (and what was edited on it) alone.
    from warroom.core.auth import Principal
    from warroom.oncall.models import PersonPatch

    admin = Principal(name="user:admin", scopes=frozenset({"admin"}), kind="session")
    runtime.oncall.update_person(admin, "bob", PersonPatch(timezone="Europe/Berlin"))
    assert sign_in(make_app(), "bob").status_code == 303
    assert runtime.oncall.show("person", "bob")["timezone"] == "Europe/Berlin"


def test_the_role_follows_the_group_at_each_sign_in(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app()
    assert sign_in(client, "bob").status_code == 303
    assert _role(client, "bob") == "responder"
    # The provider's admin moves bob's group from responders to admins.
    again = make_app(responder_groups="", admin_groups="oncall")
    assert sign_in(again, "bob").status_code == 303
    assert _role(again, "bob") == "admin"


def test_someone_in_no_mapped_group_is_refused_with_the_reason(
    make_app: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app()
    with caplog.at_level(logging.WARNING, logger="warroom.identity"):
        refused = sign_in(client, "carol")
    assert refused.status_code == 403
    assert "not in any group that may use warroom" in refused.text
    assert "marketing" in caplog.text  # the details go to the log
    assert _role(client, "carol") is None
    assert "warroom_session" not in refused.headers.get("set-cookie", "")

    # With a default role, everyone the provider vouches for gets in as a viewer.
    lenient = make_app(default_role="viewer")
    assert sign_in(lenient, "carol").status_code == 303
    assert _role(lenient, "carol") == "viewer"


def test_without_just_in_time_creation_only_known_people_get_in(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(oidc_create_users=False)
    refused = sign_in(client, "bob")
    assert refused.status_code == 403 and "no warroom account yet" in refused.text
    assert _role(client, "bob") is None


def test_a_wrong_password_at_the_provider_is_explained(
    make_app: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app()
    with caplog.at_level(logging.WARNING, logger="warroom.identity"):
        denied = sign_in(client, "alice", "not her password")
    assert denied.status_code == 403
    assert "did not let you in (wrong user name or password)" in denied.text
    assert "access_denied" in caplog.text
    cancelled = sign_in(make_app(), "alice", cancel=True)
    assert cancelled.status_code == 403 and "cancelled" in cancelled.text


def test_a_callback_not_started_by_this_browser_is_refused(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app()
    start = client.get("/login/oidc", follow_redirects=False)
    callback = log_in_at_provider(start.headers["location"], "alice")
    stranger = make_app()  # another browser: no state cookie
    refused = stranger.get(callback.removeprefix(BASE), follow_redirects=False)
    assert refused.status_code == 400 and "not started from this browser" in refused.text
    # The same callback replayed after a successful use is refused too.
    assert client.get(callback.removeprefix(BASE), follow_redirects=False).status_code == 303
    client.cookies.set("warroom_oidc_state", callback_params(callback)["state"], path="/login/oidc")
    replay = client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text


def test_an_expired_id_token_is_refused_with_an_explanation(
    make_app: Callable[..., TestClient],
) -> None:
    # warroom's clock runs two hours ahead of the provider's: every ID token looks expired.
    client = make_app(clock=FixedClock(datetime.now(UTC) + timedelta(hours=2)))
    refused = sign_in(client, "alice")
    assert refused.status_code == 400
    assert "token has expired" in refused.text and "check the server clock" in refused.text
    assert _role(client, "alice") is None


def test_password_login_can_be_disabled(make_app: Callable[..., TestClient]) -> None:
    client = make_app(password_login=False)
    page = client.get("/login")
    assert "Sign in with Test IdP" in page.text and 'name="password"' not in page.text
    refused = client.post("/login", data={"name": "admin", "password": "whatever1"})
    assert refused.status_code == 403 and "Password login is disabled" in refused.text


def test_logout_ends_the_session_at_the_provider_too(
    make_app: Callable[..., TestClient], op: OpenIdProvider
) -> None:
    client = make_app()
    assert sign_in(client, "bob").status_code == 303
    home = client.get("/incidents").text
    token = home.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 200 and "You are logged out of warroom" in out.text
    link = out.text.split("Also sign out")[0]
    href = link.rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    target = urlparse(href)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{op.issuer}/session/end"
    assert parse_qs(target.query)["post_logout_redirect_uri"] == [f"{BASE}/login"]
    # The provider accepts it (shows its sign-out confirmation), and warroom's session is gone.
    assert httpx.get(href).status_code == 200
    again = client.get("/incidents", headers={"accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


# ---- the ID token checks, on tokens the provider really issued ------------------------


def _raw_tokens(op: OpenIdProvider, client_id: str, secret: str, redirect: str) -> dict[str, Any]:
    """Run the code flow as a plain OAuth client and return the provider's token response."""
    oauth = OAuth2Client(
        client_id, secret, scope="openid email", redirect_uri=redirect, code_challenge_method="S256"
    )
    verifier = "v" * 64
    url, _ = oauth.create_authorization_url(
        f"{op.issuer}/auth", nonce="the-nonce", code_verifier=verifier
    )
    callback = log_in_at_provider(url, "alice")
    code = callback_params(callback)["code"]
    token: dict[str, Any] = oauth.fetch_token(
        f"{op.issuer}/token", code=code, code_verifier=verifier
    )
    return token


@pytest.fixture
def rp(op: OpenIdProvider) -> OidcClient:
    return OidcClient(op.issuer, CLIENT_ID, CLIENT_SECRET)


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_token_for_another_application_is_refused(op: OpenIdProvider, rp: OidcClient) -> None:
    token = _raw_tokens(op, OTHER_CLIENT_ID, CLIENT_SECRET + "-other", OTHER_REDIRECT)
    with pytest.raises(SignInError) as refused:
        rp.validate_id_token(token["id_token"], nonce="the-nonce", now=_now())
    assert refused.value.reason == "wrong_audience"
    assert "another application" in refused.value.message


def test_a_tampered_token_is_refused(op: OpenIdProvider, rp: OidcClient) -> None:
    token = _raw_tokens(op, CLIENT_ID, CLIENT_SECRET, f"{BASE}/login/oidc/callback")
    raw = token["id_token"]
    assert rp.validate_id_token(raw, nonce="the-nonce", now=_now())["sub"] == "alice"
    header, payload, signature = raw.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SignInError) as refused:
        rp.validate_id_token(f"{header}.{forged}.{signature}", nonce="the-nonce", now=_now())
    assert refused.value.reason == "bad_signature"
    with pytest.raises(SignInError) as wrong_nonce:
        rp.validate_id_token(raw, nonce="another-nonce", now=_now())
    assert wrong_nonce.value.reason == "nonce_mismatch"
    with pytest.raises(SignInError) as expired:
        rp.validate_id_token(raw, nonce="the-nonce", now=_now() + timedelta(hours=3))
    assert expired.value.reason == "expired"


def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    op: OpenIdProvider, rp: OidcClient
) -> None:
    stranger = RSAKey.import_key(new_key("key-1"))  # same kid as the provider's, other key
    now = int(_now().timestamp())
    claims = {"iss": op.issuer, "sub": "alice", "aud": CLIENT_ID, "nonce": "n",
              "iat": now, "exp": now + 300}  # fmt: skip
    forged = jwt.encode({"alg": "RS256", "kid": "key-1"}, claims, stranger)
    with pytest.raises(SignInError) as refused:
        rp.validate_id_token(forged, nonce="n", now=_now())
    assert refused.value.reason == "bad_signature"
    unknown = jwt.encode({"alg": "RS256", "kid": "key-99"}, claims, stranger)
    with pytest.raises(SignInError) as unknown_key:
        rp.validate_id_token(unknown, nonce="n", now=_now())
    assert unknown_key.value.reason == "unknown_key"
    shared = OctKey.import_key(CLIENT_SECRET.encode())  # HMAC with the client secret
    unsigned = jwt.encode({"alg": "HS256"}, claims, shared, algorithms=["HS256"])
    with pytest.raises(SignInError) as hmac_token:
        rp.validate_id_token(unsigned, nonce="n", now=_now())
    assert hmac_token.value.reason == "bad_algorithm"


def test_key_rotation_at_the_provider_is_followed(
    make_app: Callable[..., TestClient], op: OpenIdProvider, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app()
    assert sign_in(client, "alice").status_code == 303  # keys fetched and cached: key-1
    new_kid = op.rotate()
    client.cookies.clear()
    with caplog.at_level(logging.INFO, logger="warroom.identity.oidc"):
        assert sign_in(client, "alice").status_code == 303
    assert f"unknown key {new_kid}" in caplog.text  # fetched again once, then accepted
    assert client.get("/incidents").status_code == 200


def test_the_state_cookie_is_secure_over_https(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    plain = client.get("/login/oidc", follow_redirects=False)
    assert "Secure" not in plain.headers["set-cookie"]
    secure = TestClient(client.app, base_url="https://testserver")
    started = secure.get("/login/oidc", follow_redirects=False)
    assert "Secure" in started.headers["set-cookie"]


def test_someone_provisioned_by_scim_signs_in_as_themselves(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(oidc_create_users=False)
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.write() as conn:
        _, token = auth.create_token(
            conn, name="idp", scopes=["scim"], created_by="tests", now=runtime.clock.now()
        )
    scim = {"Authorization": f"Bearer {token}"}
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Bob@Example.com",
        "emails": [{"value": "bob@example.com", "primary": True}],
    }
    created = client.post("/scim/v2/Users", json=user, headers=scim)
    assert created.status_code == 201, created.text
    assert sign_in(client, "bob").status_code == 303  # matched by the verified email
    with runtime.db.read() as conn:
        names = [r.name for r in conn.execute(select(web_users.c.name))]
    assert names == ["bob"] and _role(client, "bob") == "responder"
    # Deprovisioned at the provider: the next sign-in is refused.
    off = {"Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert client.patch(f"/scim/v2/Users/{created.json()['id']}", json=off, headers=scim).is_success
    client.cookies.clear()
    refused = sign_in(client, "bob")
    assert refused.status_code == 403 and "account is disabled" in refused.text
