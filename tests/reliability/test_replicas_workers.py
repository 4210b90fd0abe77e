"""Two `warroom serve --no-worker` replicas and two `warroom worker` processes on PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.receiver import Receiver, http_receiver
from tests.support.server import ADMIN_TOKEN, Process, start_server, start_worker

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PEOPLE = ("alice", "bob", "carol")
INCIDENTS = 4


def _config(path: Path, receiver: Receiver) -> Path:
    path.write_text(
        "policy: default\n"
        "oncall:\n"
        "  default_escalation_policy: esc\n"
        "comms:\n"
        "  stakeholders:\n"
        f"    - {{name: execs, urls: ['{receiver.json_url('/stakeholders')}']}}\n"
    )
    return path


def _events(url: str, incident: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{url}/api/v1/incidents/{incident}/timeline", headers=HEADERS, timeout=30)
    assert reply.status_code == 200, reply.text
    events: list[dict[str, Any]] = reply.json()["events"]
    return events


def _pages(receiver: Receiver) -> Counter[tuple[str, str]]:
    return Counter(
        (r.path, str(r.json()["title"]))
        for r in list(receiver.requests)
        if r.path != "/stakeholders"
    )


def test_replicas_and_workers_lose_nothing_and_page_nobody_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    """Incidents declared on alternating replicas page each level's person once although two
    workers race for the steps; then acknowledge, comms status updates and notes on one
    incident, alternating replicas, all land exactly once (contiguous seqs, unique event ids),
    exactly one of four concurrent resolves wins, each status update reaches the stakeholder
    group once, and nobody is paged again after the acknowledgement.
    """
    from tests.conftest import truncate_all

    truncate_all(postgres_url)
    processes: list[Process] = []
    with http_receiver() as receiver:
        env = {"WARROOM_CONFIG": str(_config(tmp_path / "warroom.yaml", receiver))}
        try:
            for n in range(2):
                data_dir = tmp_path / f"replica{n}"
                data_dir.mkdir()
                processes.append(start_server(postgres_url, data_dir, worker=False, **env))
            replicas = [p.url + "/api/v1" for p in processes]
            for n in range(2):
                processes.append(start_worker(postgres_url, tmp_path / f"replica{n}", **env))

            def post(n: int, path: str, body: Any = None) -> httpx.Response:
                return httpx.post(replicas[n % 2] + path, json=body, headers=HEADERS, timeout=30)

            for n, name in enumerate(PEOPLE):
                method = {"name": "hook", "url": receiver.json_url(f"/{name}")}
                reply = post(n, "/oncall/people", {"name": name, "contact_methods": [method]})
                assert reply.status_code == 201, reply.text
            levels = [{"delay_minutes": 0, "targets": [f"person:{p}"]} for p in PEOPLE]
            reply = post(1, "/oncall/escalation-policies", {"name": "esc", "levels": levels})
            assert reply.status_code == 201, reply.text

            declared = list(
                ThreadPoolExecutor(INCIDENTS).map(
                    lambda n: post(n, "/incidents", {"title": f"outage {n}", "severity": "SEV2"}),
                    range(INCIDENTS),
                )
            )
            assert all(r.status_code in (200, 201) for r in declared), [r.text for r in declared]
            incidents = [r.json()["id"] for r in declared]
            assert len(set(incidents)) == INCIDENTS
            # Every level of every incident pages its person (the steps chain at once).
            want = INCIDENTS * len(PEOPLE)
            deadline = time.monotonic() + 30
            while len(_pages(receiver)) < want and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(_pages(receiver)) == want, _pages(receiver)

            incident = incidents[0]
            path = f"/incidents/{incident}"

            def act(n: int) -> tuple[str, str, httpx.Response]:
                if n == 0:
                    return "ack", "", post(n, f"{path}/acknowledge")
                if n % 4 == 1:
                    marker = f"action-{n:03d}"
                    update = {
                        "status": "investigating",
                        "impact": "checkout slow",
                        "action": marker,
                    }
                    return "update", marker, post(n, f"{path}/updates", update)
                return "note", f"note {n}", post(n, f"{path}/notes", {"text": f"note {n}"})

            first = list(ThreadPoolExecutor(12).map(act, range(40)))
            bad = [(k, r.status_code, r.text) for k, _, r in first if r.status_code >= 300]
            assert not bad, bad

            policy = httpx.get(f"{replicas[0]}/policy", headers=HEADERS, timeout=30).json()
            checklist = {i["id"]: {"confirmed": True} for i in policy["resolution_checklist"]}
            resolve = {"summary": "fixed", "checklist": checklist}

            def finish(n: int) -> tuple[str, str, httpx.Response]:
                if n < 4:
                    return "resolve", "", post(n, f"{path}/resolve", resolve)
                return "note", f"late {n}", post(n, f"{path}/notes", {"text": f"late {n}"})

            second = list(ThreadPoolExecutor(8).map(finish, range(4, 12)))
            second += list(ThreadPoolExecutor(4).map(finish, range(4)))
            assert not [r.text for _, _, r in second if r.status_code >= 500]

            events = _events(processes[1].url, incident)
            # Wait until the stakeholders heard every update, then a moment for duplicates.
            updates = {m for k, m, r in first if k == "update"}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                heard = [
                    r.body.decode() for r in list(receiver.requests) if r.path == "/stakeholders"
                ]
                if all(any(m in b for b in heard) for m in updates):
                    break
                time.sleep(0.1)
            time.sleep(1.0)
            heard = [r.body.decode() for r in list(receiver.requests) if r.path == "/stakeholders"]
            pages = _pages(receiver)
            others = {i: _events(processes[0].url, i) for i in incidents[1:]}
        finally:
            for process in processes:
                process.stop()

    seqs = sorted(e["seq"] for e in events)
    assert seqs == list(range(1, len(events) + 1))  # no gaps, no duplicates
    if events and "id" in events[0]:
        assert len({e["id"] for e in events}) == len(events)
    notes = Counter(e["data"]["text"] for e in events if e["type"] == "note_added")
    accepted_notes = {m for k, m, r in first + second if k == "note" and r.status_code < 300}
    assert set(notes) == accepted_notes and max(notes.values()) == 1
    assert len(accepted_notes) >= len([1 for k, _, _ in first if k == "note"])
    published = Counter(
        e["data"]["action"] for e in events if e["type"] == "status_update_published"
    )
    assert set(published) == updates and max(published.values()) == 1
    assert sum(e["type"] == "acknowledged" for e in events) == 1
    assert sum(e["type"] == "resolved" for e in events) == 1
    assert sorted(r.status_code for k, _, r in second if k == "resolve") == [200, 409, 409, 409]
    # Each stakeholder notification of an update was delivered once, not once per worker.
    for marker in updates:
        assert sum(marker in b for b in heard) == 1, marker
    # Each incident paged each level's person exactly once, and nothing more after the ack.
    assert len(pages) == INCIDENTS * len(PEOPLE) and max(pages.values()) == 1, pages
    for timeline in [events, *others.values()]:
        steps = Counter(
            (e["type"], e["data"]["level"]) for e in timeline if e["type"] in ("paged", "escalated")
        )
        assert steps == {("paged", 1): 1, ("escalated", 2): 1, ("escalated", 3): 1}, steps
