"""kill -9 of a real `warroom worker` while escalation steps are due and being delivered."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.receiver import http_receiver
from tests.support.server import ADMIN_TOKEN, Process, start_server, start_worker

pytestmark = pytest.mark.reliability
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PEOPLE = ("alice", "bob")
REPEAT = 10  # levels run 1 + REPEAT times
INCIDENTS = 3
STEPS = INCIDENTS * len(PEOPLE) * (REPEAT + 1)


def _timeline(url: str, incident: str) -> list[dict[str, object]]:
    reply = httpx.get(f"{url}/api/v1/incidents/{incident}/timeline", headers=HEADERS, timeout=30)
    assert reply.status_code == 200, reply.text
    events: list[dict[str, object]] = reply.json()["events"]
    return events


def _steps(url: str, incidents: list[str]) -> list[tuple[str, object, object]]:
    return [
        (incident, e["data"]["level"], e["data"]["loop"])  # type: ignore[index]
        for incident in incidents
        for e in _timeline(url, incident)
        if e["type"] in ("paged", "escalated")
    ]


def test_kill_9_worker_with_escalations_due_fires_every_step_once(tmp_path: Path) -> None:
    """An escalation policy of two zero-delay levels repeated 10 times pages alice and bob in
    turn (22 steps per incident, each chaining the next). The worker is killed -9 mid-run and
    restarted: every step is on the timeline exactly once (`paged`/`escalated`, one per
    level/loop), and every step's page reached the receiver. Per docs/oncall.md a step re-run
    after a crash does nothing twice (the fired ledger commits with the step's effects), but a
    message already handed to Apprise when the worker died may be sent again: at-least-once
    towards the outside world, at most the one in flight. So the receiver may see at most one
    extra request in total.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'warroom.db'}"
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: default\noncall:\n  default_escalation_policy: esc\n")
    # One delivery at a time (each recorded before the next): the strict bound tested here.
    env = {"WARROOM_CONFIG": str(config), "WARROOM_WORKER_CONCURRENCY": "1"}
    processes: list[Process] = []
    with http_receiver() as receiver:
        try:
            server = start_server(url, data_dir, worker=False, **env)
            processes.append(server)
            api = server.url + "/api/v1"
            for name in PEOPLE:
                reply = httpx.post(
                    f"{api}/oncall/people",
                    json={
                        "name": name,
                        "contact_methods": [{"name": "hook", "url": receiver.json_url(f"/{name}")}],
                    },
                    headers=HEADERS,
                    timeout=30,
                )
                assert reply.status_code == 201, reply.text
            reply = httpx.post(
                f"{api}/oncall/escalation-policies",
                json={
                    "name": "esc",
                    "repeat": REPEAT,
                    "levels": [{"delay_minutes": 0, "targets": [f"person:{p}"]} for p in PEOPLE],
                },
                headers=HEADERS,
                timeout=30,
            )
            assert reply.status_code == 201, reply.text
            incidents = []
            for n in range(INCIDENTS):
                reply = httpx.post(
                    f"{api}/incidents",
                    json={"title": f"outage {n}", "severity": "SEV2"},
                    headers=HEADERS,
                    timeout=30,
                )
                assert reply.status_code in (200, 201), reply.text
                incidents.append(reply.json()["id"])

            worker = start_worker(url, data_dir, lease=2, **env)
            processes.append(worker)
            deadline = time.monotonic() + 40
            while len(receiver.requests) < STEPS // 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            worker.kill9()
            killed_at = len(receiver.requests)
            assert 0 < killed_at < STEPS, worker.log.read_text()[-2000:]

            restarted = start_worker(url, data_dir, lease=2, **env)
            processes.append(restarted)
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                if len(_steps(server.url, incidents)) >= STEPS and len(receiver.requests) >= STEPS:
                    break
                time.sleep(0.2)
            time.sleep(0.5)  # a duplicate would show up now
            steps = _steps(server.url, incidents)
            paths = Counter(r.path for r in receiver.requests)
            titles = Counter((r.path, r.json()["title"]) for r in receiver.requests)
        finally:
            for process in processes:
                process.stop()

    # Every step fired exactly once on the timeline.
    assert len(steps) == STEPS, (len(steps), Counter(steps).most_common(3))
    assert max(Counter(steps).values()) == 1
    expected = {
        (incident, level, loop)
        for incident in incidents
        for level in range(1, len(PEOPLE) + 1)
        for loop in range(1, REPEAT + 2)
    }
    assert set(steps) == expected
    # Every step paged its person; at most the one delivery in flight at the kill repeated.
    assert set(paths) == {f"/{p}" for p in PEOPLE}
    per_incident_person = {key: count for key, count in titles.items()}
    assert len(per_incident_person) == INCIDENTS * len(PEOPLE)
    for count in per_incident_person.values():
        assert REPEAT + 1 <= count <= REPEAT + 2
    assert STEPS <= sum(paths.values()) <= STEPS + 1
