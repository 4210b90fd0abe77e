"""The first `serve` creates a web admin with a one-time password; the demo still loads."""

from __future__ import annotations

from warroom.core import audit
from warroom.core.clock import FixedClock
from warroom.core.runtime import Runtime
from warroom.web import users
from warroom.web.demo import load_into
from warroom.web.plugin import first_start


def test_first_start_creates_one_admin_once_and_audits_it(runtime: Runtime) -> None:
    lines = first_start(runtime)
    assert len(lines) == 1 and "user [bold]admin[/]" in lines[0]
    assert first_start(runtime) == []  # only on the very first start
    with runtime.db.read() as conn:
        assert [u["name"] for u in users.list_users(conn)] == ["admin"]
        entries = audit.entries(conn, action="user.create")
    assert [(e["target"], e["actor"]) for e in entries] == [("user:admin", "warroom")]


def test_demo_loads_after_the_first_start(runtime: Runtime, clock: FixedClock) -> None:
    first_start(runtime)
    load_into(runtime, clock, password="demo-password-123")
    with runtime.db.read() as conn:
        assert "alice" in [u["name"] for u in users.list_users(conn)]
