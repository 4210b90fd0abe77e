"""A real OpenID provider for the sign-in tests: panva's `oidc-provider` on the machine's Node.js.

`.ci/run` installs it (`npm ci` in tests/identity/oidc_op, pinned by its package-lock); a local
run installs it on first use. Without Node.js the tests skip locally; CI never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from joserfc.jwk import RSAKey

OP_DIR = Path(__file__).resolve().parent / "oidc_op"
CLIENT_ID = "warroom"
CLIENT_SECRET = "warroom-test-client-secret-0123456789abcdef"
OTHER_CLIENT_ID = "other-app"
OTHER_REDIRECT = "http://127.0.0.1:9/other-app/callback"
IDP_PASSWORD = "idp test password"

ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "name": "Alice Admin", "groups": ["sre-leads"]},
    "bob": {"email": "bob@example.com", "name": "Bob Responder", "groups": ["oncall"]},
    "carol": {"email": "carol@example.com", "name": "Carol Outsider", "groups": ["marketing"]},
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _node_or_skip() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if _in_ci():
            raise RuntimeError("Node.js and npm are needed for the OIDC tests (.ci/run)")
        pytest.skip("node/npm not installed")
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=OP_DIR, check=True)
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_key(kid: str) -> dict[str, Any]:
    params = {"kid": kid, "use": "sig", "alg": "RS256"}
    key = RSAKey.generate_key(2048, parameters=params, private=True)
    return key.as_dict(private=True)


@dataclass
class OpenIdProvider:
    """A running oidc-provider: its issuer, its signing keys (newest first), its process."""

    issuer: str
    workdir: Path
    keys: list[dict[str, Any]]
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=Path)

    @property
    def jwks_file(self) -> Path:
        return self.workdir / "jwks.json"

    def write_keys(self) -> None:
        self.jwks_file.write_text(json.dumps({"keys": self.keys}))

    def rotate(self) -> str:
        """Sign with a new key from now on (the old one stays published); return its kid."""
        kid = f"key-{len(self.keys) + 1}"
        self.keys.insert(0, new_key(kid))
        self.write_keys()
        before = self.log.read_text().count("reloaded")
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while self.log.read_text().count("reloaded") == before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"oidc-provider did not reload: {self.log.read_text()}")
            time.sleep(0.05)
        return kid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_provider(
    workdir: Path, redirect_uris: list[str], logout_uris: list[str]
) -> OpenIdProvider:
    node = _node_or_skip()
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    op = OpenIdProvider(issuer=f"http://127.0.0.1:{port}", workdir=workdir, keys=[new_key("key-1")])
    op.write_keys()
    accounts = {name: {**data, "password": IDP_PASSWORD} for name, data in ACCOUNTS.items()}
    config = {
        "port": port,
        "jwks_file": str(op.jwks_file),
        "accounts": accounts,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": logout_uris,
            },
            {
                "client_id": OTHER_CLIENT_ID,
                "client_secret": CLIENT_SECRET + "-other",
                "redirect_uris": [OTHER_REDIRECT],
            },
        ],
    }
    (workdir / "op.json").write_text(json.dumps(config))
    op.log = workdir / "op.log"
    with op.log.open("wb") as out:
        op.process = subprocess.Popen(
            [node, str(OP_DIR / "op.mjs"), str(workdir / "op.json")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{op.issuer}/.well-known/openid-configuration").status_code == 200:
                return op
        except httpx.HTTPError:
            pass
        if op.process.poll() is not None or time.monotonic() > deadline:
            op.stop()
            raise RuntimeError(f"oidc-provider did not start: {op.log.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def shared_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    """One provider for the in-process tests (warroom at http://testserver); tests that
    change it (key rotation) start their own with `provider_factory`."""
    op = start_provider(
        tmp_path_factory.mktemp("op"),
        ["http://testserver/login/oidc/callback"],
        ["http://testserver/login"],
    )
    yield op
    op.stop()


@pytest.fixture
def provider_factory(tmp_path: Path) -> Iterator[Callable[..., OpenIdProvider]]:
    started: list[OpenIdProvider] = []

    def start(redirect_uris: list[str], logout_uris: list[str]) -> OpenIdProvider:
        op = start_provider(tmp_path / f"op{len(started)}", redirect_uris, logout_uris)
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


def log_in_at_provider(
    authorize_url: str, login: str, password: str = IDP_PASSWORD, *, cancel: bool = False
) -> str:
    """Play the browser at the provider (its login form); return the callback URL it sends
    the browser back to, with `code` (or `error`) and `state`."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        url = authorize_url
        for _ in range(10):
            response = browser.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                continue
            break
        assert response.status_code == 200 and "/interaction/" in url, (url, response.text)
        action = "abort" if cancel else "login"
        match = re.search(rf'action="(/interaction/[^"]+/{action})"', response.text)
        assert match, response.text
        response = browser.post(
            urljoin(url, match.group(1)), data={"login": login, "password": password}
        )
        for _ in range(10):
            assert response.status_code in (302, 303), response.text
            url = urljoin(url, response.headers["location"])
            if "state=" in url and ("code=" in url or "error=" in url):
                return url
            response = browser.get(url)
    raise AssertionError("the provider never redirected back")


def callback_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
