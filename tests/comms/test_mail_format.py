"""Stakeholder and subscriber mail is plain text, said so to Apprise: user text written with
angle brackets is kept in the text part and escaped in the HTML part (never a live link).
Delivered for real to a local SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from tests.comms.conftest import Env
from tests.support.smtp import smtp_server

TRICKY = 'Errors on <checkout-api>; <a href="https://evil.example/ack">acknowledge</a>'


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None
    return text.get_content(), markup.get_content() if markup is not None else ""


def test_stakeholder_mail_keeps_and_escapes_user_text(make_env: Callable[..., Env]) -> None:
    with smtp_server() as mailbox:
        env = make_env({"stakeholders": [{"name": "ops", "urls": [mailbox.mailto()]}]})
        incident = env.declare(severity="SEV3")
        env.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/updates",
            json={"status": "investigating", "impact": TRICKY, "action": "Rolling back"},
        )
        env.work()
        (message,) = mailbox.wait_for(1)
        text, markup = _parts(message)
        assert TRICKY in text  # nothing dropped as a "tag"
        assert '<a href="https://evil.example/ack">' not in markup
        if markup:
            assert "&lt;checkout-api&gt;" in markup


def test_subscriber_mail_keeps_and_escapes_user_text(make_env: Callable[..., Env]) -> None:
    with smtp_server() as mailbox:
        env = make_env({"statuspage": {"email_url": mailbox.mailto()}})
        incident = env.declare(severity="SEV2", services=["payments"])
        env.client.post("/status/subscribe", data={"email": "dana@example.com"})
        env.work()
        (confirmation,) = mailbox.wait_for(1)
        body, _ = _parts(confirmation)
        link = next(w for w in body.split() if "/subscribers/confirm?token=" in w)
        env.client.post("/status/subscribers/confirm", data={"token": link.split("token=")[1]})
        env.api.ok(
            "POST",
            f"/api/v1/incidents/{incident}/updates",
            json={
                "status": "identified",
                "impact": "internal words",
                "action": "Rolling back",
                "public_impact": TRICKY,
            },
        )
        env.work()
        messages = mailbox.wait_for(2)
        assert len(messages) == 2
        text, markup = _parts(messages[1])
        assert TRICKY in text
        assert '<a href="https://evil.example/ack">' not in markup
