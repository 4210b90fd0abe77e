"""The notify effect delivers for real over HTTP and records the outcome on the timeline."""

from __future__ import annotations

import json
import socketserver
import threading
from datetime import timedelta
from typing import Any

import apprise
import pytest
from sqlalchemy import select

from tests.conftest import Api
from tests.support.receiver import http_receiver
from tests.support.serving import serve_in_thread
from tests.support.smtp import smtp_server
from warroom.core import outbox, tables
from warroom.core.runtime import Runtime
from warroom.notify import delivery
from warroom.notify.delivery import channel_of, deliver, escape_for
from warroom.notify.effects import notify_effect
from warroom.worker import Worker


@pytest.fixture(autouse=True)
def _no_proxy_or_netrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Whatever the machine's environment, webhooks here go straight to the local receivers
    (a proxy or `.netrc` would send them through Apprise; one test sets a proxy itself)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def _enqueue(runtime: Runtime, urls: list[str], incident: str | None, key: str) -> None:
    effect = notify_effect(
        urls=urls,
        title="SEV2 INC",
        body="Checkout failing",
        recipient="alice",
        reason="page",
        due_at=runtime.clock.now(),
        incident=incident,
        dedup_key=key,
    )
    with runtime.db.write() as conn:
        outbox.enqueue(conn, [effect, effect], runtime.clock.now())


def _statuses(runtime: Runtime) -> list[str]:
    with runtime.db.read() as conn:
        # Only the notify rows: other packages plan their own timers on incident events.
        query = select(tables.outbox.c.status).where(tables.outbox.c.kind == "notify")
        return [r.status for r in conn.execute(query).all()]


def test_delivers_once_and_records_on_the_timeline(runtime: Runtime, api: Api) -> None:
    incident = api.ok("POST", "/api/v1/incidents", json={"title": "x", "severity": "SEV2"})["id"]
    with http_receiver() as receiver:
        _enqueue(runtime, [receiver.json_url()], incident, "page:1")
        # The incident's own page step (it has no escalation policy) runs alongside.
        while Worker(runtime).run_once():
            pass
        assert Worker(runtime).run_once() == 0
        got = receiver.wait_for(1)
    assert len(got) == 1
    assert got[0].json()["message"] == "Checkout failing"
    assert _statuses(runtime) == ["done"]
    events = api.ok("GET", f"/api/v1/incidents/{incident}/timeline")["events"]
    sent = [e for e in events if e["type"] == "notification_sent"]
    assert sent[0]["data"]["channel"] == "json"
    assert "127.0.0.1" not in str(sent[0]["data"])  # URLs (secrets) never reach the timeline


def test_failed_channel_falls_back_to_the_next(runtime: Runtime) -> None:
    with http_receiver() as down, http_receiver() as up:
        down.status = 503
        _enqueue(runtime, [down.json_url(), up.json_url()], None, "k")
        Worker(runtime).run_once()
        assert len(down.requests) == 1 and len(up.wait_for(1)) == 1
    assert _statuses(runtime) == ["done"]


def test_retryable_failure_backs_off_then_succeeds(runtime: Runtime) -> None:
    with http_receiver() as receiver:
        receiver.status = 500
        _enqueue(runtime, [receiver.json_url()], None, "k")
        Worker(runtime).run_once()
        assert _statuses(runtime) == ["failed"]
        assert Worker(runtime).run_once() == 0  # not due yet
        receiver.status = 200
        runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        assert Worker(runtime).run_once() == 1
    assert _statuses(runtime) == ["done"]


def test_malformed_url_is_permanent_and_secret_free() -> None:
    result = deliver("notaservice://user:hunter2@host", "t", "b")
    assert not result.ok and not result.retryable
    assert "hunter2" not in result.message
    assert channel_of("mailto://user:hunter2@example.com") == "mailto"


USER_TEXT = 'Alert <checkout-api> failing\n<a href="http://evil.example/ack">Acknowledge</a>'


def _text_parts(message: Any) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }


def test_email_is_plain_text_with_the_user_text_intact() -> None:
    with smtp_server() as mailbox:
        url = mailbox.mailto() + "&to=ann@example.com"
        assert deliver(url, "[SEV2] <checkout-api> down", USER_TEXT).ok
        message = mailbox.wait_for(1)[0]
    parts = _text_parts(message)
    # Stated as text: no HTML part where the fake link could become clickable, and nothing
    # that looks like a tag is dropped from the text.
    assert list(parts) == ["text/plain"]
    assert "<checkout-api>" in parts["text/plain"]
    assert '<a href="http://evil.example/ack">Acknowledge</a>' in parts["text/plain"]
    assert message["Subject"] == "[SEV2] <checkout-api> down"


def test_html_bodies_escape_user_text_with_escape_for() -> None:
    with smtp_server() as mailbox:
        url = mailbox.mailto() + "&to=ann@example.com"
        body = f"<p>{escape_for('html', USER_TEXT)}</p>"
        assert deliver(url, "t", body, "html").ok
        parts = _text_parts(mailbox.wait_for(1)[0])
    assert "<a href" not in parts["text/html"]
    assert "&lt;checkout-api&gt;" in parts["text/html"]
    assert escape_for("markdown", "[x](http://e)") == "\\[x\\]\\(http://e\\)"
    assert escape_for("text", "<b>") == "<b>"


def test_the_notify_effect_states_its_format() -> None:
    effect = notify_effect(
        urls=[], title="t", body="b", recipient="r", reason="x", due_at=None, dedup_key="k"
    )
    assert effect.payload["format"] == "text"
    assert not deliver("json://127.0.0.1:9/x", "t", "b", "rtf").ok  # type: ignore[arg-type]


class _CountingApprise(apprise.Apprise):
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


def test_a_delivery_thread_keeps_the_sender_of_a_url_it_sends_to_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page storm sends to the same few URLs over and over: each is read once per delivery
    thread, and every message still arrives."""
    monkeypatch.setattr(delivery.apprise, "Apprise", _CountingApprise)
    _CountingApprise.made = 0
    with http_receiver() as hook:
        for n in range(3):
            assert deliver(hook.json_url(), f"page {n}", "Checkout failing").ok
        received = hook.wait_for(3)
    assert [r.json()["title"] for r in received] == ["page 0", "page 1", "page 2"]
    assert _CountingApprise.made == 1
    other_thread: list[bool] = []
    with http_receiver() as hook:
        assert deliver(hook.json_url(), "first", "x").ok
        worker = threading.Thread(
            target=lambda: other_thread.append(deliver(hook.json_url(), "b", "x").ok)
        )
        worker.start()
        worker.join()
    assert other_thread == [True] and _CountingApprise.made == 3  # a sender per thread


def test_a_channel_that_paces_its_requests_gets_a_new_sender_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Email (like Slack or ntfy) makes Apprise wait between two sends of one sender: each
    message gets its own, so a page is never held back by the one before it."""
    monkeypatch.setattr(delivery.apprise, "Apprise", _CountingApprise)
    _CountingApprise.made = 0
    with smtp_server() as mailbox:
        url = mailbox.mailto() + "&to=ann@example.com"
        assert deliver(url, "one", "x").ok and deliver(url, "two", "x").ok
        assert len(mailbox.wait_for(2)) == 2
    assert _CountingApprise.made == 2


# (URL after `json://`, title, body, format): what a team puts in a webhook URL, and messages
# that Apprise could be expected to touch (a title past its 250 characters, Markdown, HTML).
WEBHOOK_CASES = [
    ("{host}/hook", "[SEV1] checkout down", "Checkout failing ✓", "text"),
    ("{host}/a/b?method=PUT", "t" * 300, "**bold** <b>", "markdown"),
    ("{host}/a?method=PATCH&redirect=no", "t", "<p>x</p>", "html"),
    (
        "ops:s3cret@{host}/hook?+X-Team=sre&-source=warroom&:type=kind&:attachments=",
        "t",
        "b",
        "text",
    ),
    ("{host}/hook?:priority=high&:version=", "t", "b\nline two", "text"),
    # Options that make Apprise rewrite the message: it sends these itself.
    ("{host}/hook?format=html", "t", "<checkout-api> & co", "text"),
    ("{host}/hook?emojis=yes", "t :fire:", ":fire: checkout down", "text"),
    ("{host}/hook?overflow=truncate", "t" * 300, "b" * 40000, "text"),
]


@pytest.mark.parametrize(("target", "title", "body", "body_format"), WEBHOOK_CASES)
def test_a_webhook_gets_the_request_apprise_would_send(
    target: str, title: str, body: str, body_format: delivery.BodyFormat
) -> None:
    """warroom posts webhooks itself over kept-alive connections: the request must be the one
    Apprise sends for the same URL and message, method, path, headers and body."""
    with http_receiver() as hook:
        url = "json://" + target.format(host=f"127.0.0.1:{hook.port}")
        by_apprise = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        assert by_apprise.add(url)
        assert by_apprise.notify(
            title=title, body=body, body_format=apprise.NotifyFormat(body_format)
        )
        assert deliver(url, title, body, body_format).ok
        expected, got = hook.wait_for(2)
    assert (got.method, got.path) == (expected.method, expected.path)
    assert got.json() == expected.json()
    assert got.headers == expected.headers


def test_webhook_messages_share_a_kept_alive_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A storm's pages to one webhook reuse the delivery thread's open connection, and warroom
    posts them itself; a failed answer is still a retryable failure."""

    def no_apprise(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("sent through Apprise")

    monkeypatch.setattr(apprise.Apprise, "notify", no_apprise)
    with http_receiver(keep_alive=True) as hook:
        for n in range(3):
            assert deliver(hook.json_url(), f"page {n}", "Checkout failing").ok
        received = hook.wait_for(3)
        hook.status = 503
        failed = deliver(hook.json_url(), "page 3", "Checkout failing")
    assert [r.json()["title"] for r in received[:3]] == ["page 0", "page 1", "page 2"]
    assert len({r.peer for r in received}) == 1
    assert not failed.ok and failed.retryable and failed.message == "json delivery failed"


def test_a_webhook_the_environment_routes_through_a_proxy_goes_through_apprise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy set in the environment applies to webhooks as it does to every Apprise
    channel: the kept-alive path, which does not read the environment per message, stands
    aside."""
    with http_receiver() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert deliver("json://hooks.example.com/page", "t", "via the proxy").ok
        got = proxy.wait_for(1)
    # A proxy gets the absolute URL in the request line.
    assert got[0].path == "http://hooks.example.com/page"
    assert got[0].json()["message"] == "via the proxy"


class _ClosesIdleConnections(socketserver.StreamRequestHandler):
    """Answers one request per connection, keeping it open, then closes it as the next
    request arrives: a receiver whose idle timeout ran out just as a message went out."""

    answered: list[bytes]

    def handle(self) -> None:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        self.answered.append(self.rfile.read(length))
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.wfile.flush()
        self.rfile.readline()  # the next request on this connection is not answered


def test_a_webhook_connection_closed_as_a_message_goes_out_is_replaced_at_once() -> None:
    handler = type("Handler", (_ClosesIdleConnections,), {"answered": []})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    serve_in_thread(server)
    url = f"json://127.0.0.1:{server.server_address[1]}/hook"
    try:
        results = [deliver(url, f"page {n}", "Checkout failing") for n in range(3)]
    finally:
        server.shutdown()
        server.server_close()
    assert all(r.ok for r in results)
    assert [json.loads(body)["title"] for body in handler.answered] == [
        "page 0",
        "page 1",
        "page 2",
    ]
