"""The official PagerDuty Python clients against warroom, exactly as docs/integrations/pagerduty.md
shows them: `pagerduty` (which accepts only an https:// base URL) over TLS, `pdpyras` over plain
http. The server is the whole app under uvicorn with a throwaway self-signed certificate."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pagerduty
import pdpyras
import pytest
import uvicorn

from tests.alerts.helpers import create_integration, settle_intake
from tests.conftest import Api
from warroom.api.app import create_app
from warroom.core.runtime import Runtime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def _serve(runtime: Runtime, **tls: str) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(runtime),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,  # a client may keep its connection open
        **tls,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def https_url(runtime: Runtime, certificate: tuple[Path, Path]) -> Iterator[str]:
    key, cert = certificate
    yield from _serve(runtime, ssl_keyfile=str(key), ssl_certfile=str(cert))


@pytest.fixture
def http_url(runtime: Runtime) -> Iterator[str]:
    yield from _serve(runtime)


def test_the_pagerduty_client_refuses_http_and_works_over_https(
    api: Api,
    admin_api: Api,
    runtime: Runtime,
    https_url: str,
    certificate: tuple[Path, Path],
) -> None:
    key = create_integration(admin_api, "ci-pager", "pagerduty", service="payments")
    with pytest.raises(pagerduty.UrlError):  # why the docs say https
        pagerduty.EventsApiV2Client(key, base_url=https_url.replace("https", "http"))
    # An httpx client underneath: told to trust the test's own certificate authority.
    trust = ssl.create_default_context(cafile=str(certificate[1]))
    client = pagerduty.EventsApiV2Client(key, base_url=https_url, verify=trust)
    dedup_key = client.trigger("Disk full on db-1", "db-1", severity="critical")
    settle_intake(runtime)
    [alert] = api.ok("GET", "/api/v1/alerts")["items"]
    assert alert["identity"] == dedup_key and alert["severity"] == "SEV2"
    incident = alert["incident"]
    client.acknowledge(dedup_key)
    settle_intake(runtime)
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "acknowledged"
    client.resolve(dedup_key)
    settle_intake(runtime)
    assert api.ok("GET", f"/api/v1/incidents/{incident}")["status"] == "monitoring"


def test_pdpyras_over_plain_http(api: Api, admin_api: Api, runtime: Runtime, http_url: str) -> None:
    key = create_integration(admin_api, "ci-pager", "pagerduty", service="payments")
    session = pdpyras.EventsAPISession(key)
    session.url = http_url
    dedup_key = session.trigger("Disk full on db-1", "db-1", severity="error")
    settle_intake(runtime)
    [alert] = api.ok("GET", "/api/v1/alerts")["items"]
    assert alert["identity"] == dedup_key and alert["severity"] == "SEV3"
    session.resolve(dedup_key)
    settle_intake(runtime)
    assert api.ok("GET", f"/api/v1/alerts/{alert['id']}")["status"] == "resolved"
