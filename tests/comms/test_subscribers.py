"""Subscribers: double opt-in, real delivery to a webhook on 127.0.0.1, one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from tests.comms.conftest import Env
from tests.support.receiver import Receiver, http_receiver
from tests.support.smtp import smtp_server

BASE = "http://127.0.0.1:8080"


def _update(env: Env, incident: str, status: str = "identified") -> None:
    env.api.ok(
        "POST",
        f"/api/v1/incidents/{incident}/updates",
        json={
            "status": status,
            "impact": "db-secret-7 is down",
            "action": "failing over",
            "note": "internal-only-note",
            "public_impact": "Payments are failing",
            "public_action": "We are failing over",
        },
    )


def _local(link: str) -> str:
    assert link.startswith(BASE + "/status/subscribers/")
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _subscribe(env: Env, receiver: Receiver, components: list[str]) -> dict[str, str]:
    status, body = env.public.post(
        "/status/subscribe", json={"webhook": f"{receiver.url}/hook", "components": components}
    )
    assert status == 202, body
    assert body == {"status": "pending_confirmation", "kind": "webhook"}
    env.work()
    [confirmation] = receiver.wait_for(1)
    payload = confirmation.json()
    assert payload["meta"]["type"] == "subscription_confirmation"
    return {"confirm": payload["meta"]["confirm"], "unsubscribe": payload["meta"]["unsubscribe"]}


def test_double_opt_in_delivery_and_one_click_unsubscribe(make_env: Callable[..., Env]) -> None:
    env = make_env({"statuspage": {"allow_private_webhooks": True}})
    incident = env.declare(severity="SEV2", services=["payments"])
    with http_receiver() as receiver, http_receiver() as other:
        links = _subscribe(env, receiver, ["payments"])
        _subscribe(env, other, ["search"])  # confirmed below, but for another component
        # Not confirmed yet: nothing but the confirmation is ever sent.
        _update(env, incident, "investigating")
        env.work()
        assert len(receiver.requests) == 1
        # The link shows a button; only the POST confirms (scanners follow GET links).
        page = env.client.get(_local(links["confirm"]))
        assert page.status_code == 200 and "Confirm subscription" in page.text
        token = links["confirm"].split("token=")[1]
        assert env.admin.ok("GET", "/api/v1/statuspage/subscribers")["items"][0]["status"] == (
            "pending"
        )
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        bad = env.client.post("/status/subscribers/confirm", data={"token": forged})
        assert bad.status_code == 400
        done = env.client.post("/status/subscribers/confirm", data={"token": token})
        assert done.status_code == 200 and "Subscribed" in done.text
        other_token = other.requests[0].json()["meta"]["confirm"].split("token=")[1]
        env.client.post("/status/subscribers/confirm", data={"token": other_token})
        # Confirmed: the next update arrives, in Statuspage's webhook shape.
        _update(env, incident, "identified")
        env.work()
        got = receiver.wait_for(2)
        assert len(got) == 2
        payload = got[1].json()
        assert payload["meta"]["unsubscribe"].startswith(BASE + "/status/subscribers/unsubscribe")
        assert payload["page"]["status_indicator"] == "major"
        assert payload["incident"]["status"] == "identified"
        assert payload["incident"]["incident_updates"][0]["body"].startswith(
            "Identified - Payments are failing"
        )
        raw = got[1].body.decode()
        for secret in ("db-secret-7", "internal-only-note", incident, "Checkout failing"):
            assert secret not in raw
        assert len(other.requests) == 1  # subscribed to search only
        # The same update is delivered once, however often the worker runs.
        env.work()
        assert len(receiver.requests) == 2
        # One click (a GET) unsubscribes; nothing more is sent.
        gone = env.client.get(_local(payload["meta"]["unsubscribe"]))
        assert gone.status_code == 200 and "Unsubscribed" in gone.text
        _update(env, incident, "monitoring")
        env.work()
        assert len(receiver.requests) == 2
        # The old link is dead after unsubscribing (its nonce rotated).
        assert env.client.get(_local(links["confirm"])).status_code == 400


def test_the_html_form_subscribes_and_escapes_errors(make_env: Callable[..., Env]) -> None:
    env = make_env()
    form = env.client.get("/status/subscribe")
    assert form.status_code == 200 and 'type="url"' in form.text
    assert 'type="email"' not in form.text  # email needs an SMTP URL in the config
    refused = env.client.post("/status/subscribe", data={"webhook": "http://127.0.0.1:9/<b>"})
    assert refused.status_code == 422
    assert "private or local address" in refused.text
    status, body = env.public.post("/status/subscribe", json={"email": "a@example.com"})
    assert status == 422 and "not enabled" in body["error"]["message"]
    status, body = env.public.post("/status/subscribe", json={"webhook": "ftp://example.com/x"})
    assert status == 422
    status, _ = env.public.post(
        "/status/subscribe", json={"email": "a@example.com", "webhook": "https://example.com"}
    )
    assert status == 422


def test_email_subscription_is_pending_until_confirmed(make_env: Callable[..., Env]) -> None:
    env = make_env({"statuspage": {"email_url": "mailtos://user:pw@mail.example.com"}})
    assert 'type="email"' in env.client.get("/status/subscribe").text
    status, _ = env.public.post("/status/subscribe", json={"email": "not-an-email"})
    assert status == 422
    response = env.client.post("/status/subscribe", data={"email": "dana@example.com"})
    assert response.status_code == 202 and "confirmation link" in response.text
    [subscriber] = env.admin.ok("GET", "/api/v1/statuspage/subscribers")["items"]
    assert subscriber["status"] == "pending" and subscriber["kind"] == "email"
    # Subscribing again neither duplicates nor reveals anything.
    again = env.public.post("/status/subscribe", json={"email": "DANA@example.com"})
    assert again == (202, {"status": "pending_confirmation", "kind": "email"})
    assert len(env.admin.ok("GET", "/api/v1/statuspage/subscribers")["items"]) == 1
    assert env.api.get("/api/v1/statuspage/subscribers")[0] == 403


def test_email_subscribers_for_real_over_smtp(make_env: Callable[..., Env]) -> None:
    with smtp_server() as mailbox:
        env = make_env({"statuspage": {"email_url": mailbox.mailto()}})
        incident = env.declare(severity="SEV2", services=["payments"])
        env.client.post("/status/subscribe", data={"email": "dana@example.com"})
        env.work()
        [confirmation] = mailbox.wait_for(1)
        assert mailbox.recipients == [["dana@example.com"]]
        body = confirmation.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        link = next(w for w in body.split() if "/subscribers/confirm?token=" in w)
        token = link.split("token=")[1]
        assert (
            env.client.post("/status/subscribers/confirm", data={"token": token}).status_code == 200
        )
        _update(env, incident)
        env.work()
        messages = mailbox.wait_for(2)
        assert len(messages) == 2
        update = messages[1]
        assert "Identified: Service disruption: Payments API" in str(update["Subject"])
        text = update.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "Payments are failing" in text and "db-secret-7" not in text
        unsubscribe = str(update["List-Unsubscribe"]).strip("<>")
        assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # RFC 8058 one-click: the mail client POSTs to the link.
        assert env.client.post(_local(unsubscribe)).status_code == 200
        _update(env, incident, "monitoring")
        env.work()
        assert len(mailbox.messages) == 2


def test_maintenance_is_announced_to_subscribers(make_env: Callable[..., Env]) -> None:
    env = make_env({"statuspage": {"allow_private_webhooks": True}})
    with http_receiver() as receiver, http_receiver() as elsewhere:
        for target, components in ((receiver, ["search"]), (elsewhere, ["payments"])):
            links = _subscribe(env, target, components)
            token = links["confirm"].split("token=")[1]
            env.client.post("/status/subscribers/confirm", data={"token": token})
        now = env.runtime.clock.now()
        env.api.ok(
            "POST",
            "/api/v1/statuspage/maintenances",
            json={
                "name": "Search index rebuild",
                "body": "Search results may be stale",
                "components": ["search"],
                "scheduled_for": (now.replace(microsecond=0) + timedelta(hours=2)).isoformat(),
                "scheduled_until": (now.replace(microsecond=0) + timedelta(hours=3)).isoformat(),
            },
        )
        env.work()
        got = receiver.wait_for(2)
    assert len(got) == 2 and len(elsewhere.requests) == 1
    notice = got[1].json()
    assert notice["scheduled_maintenance"]["name"] == "Search index rebuild"
    assert notice["scheduled_maintenance"]["status"] == "scheduled"
    assert notice["meta"]["unsubscribe"].startswith(BASE)


def test_a_refused_subscribe_form_keeps_the_address(make_env: Callable[..., Env]) -> None:
    env = make_env(comms={"statuspage": {"allow_webhook_subscribers": True}})
    response = env.client.post("/status/subscribe", data={"webhook": "ftp://nope.example/x"})
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert 'value="ftp://nope.example/x"' in response.text
