"""`warroom serve --worker-process`: the worker in a child process on SQLite, woken by the
server when a page is due, writing through the same cross-process writer queue, replaced when
it dies, and gone when the server is gone (even after kill -9)."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.alerts.helpers import am_alert, am_payload
from tests.support.receiver import http_receiver
from tests.support.server import ADMIN_TOKEN, WARROOM, process_env, start_server
from warroom.alerts import domain
from warroom.core.auth import SYSTEM
from warroom.core.runtime import Runtime
from warroom.core.settings import Settings

pytestmark = pytest.mark.reliability
STORM = 200  # webhooks acknowledged and not yet acted on
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _children(pid: int) -> list[int]:
    """The process's children, whichever of its threads started them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that just ended
            continue
    return sorted(found)


def _declare(api: str, title: str) -> str:
    reply = httpx.post(
        f"{api}/incidents", json={"title": title, "severity": "SEV1"}, headers=HEADERS, timeout=30
    )
    assert reply.status_code in (200, 201), reply.text
    incident: str = reply.json()["id"]
    return incident


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has exited


def test_serve_with_a_worker_process_pages_at_once_and_the_worker_ends_with_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'warroom.db'}"
    config = tmp_path / "warroom.yaml"
    config.write_text("policy: default\noncall:\n  default_escalation_policy: esc\n")
    with http_receiver() as receiver:
        # The worker process polls once an hour: a page that arrives was woken by the server.
        server = start_server(
            url,
            data_dir,
            worker_process=True,
            WARROOM_CONFIG=str(config),
            WARROOM_WORKER_POLL_SECONDS="3600",
        )
        try:
            workers = _children(server.popen.pid)
            assert len(workers) == 1, workers
            api = server.url + "/api/v1"
            person = {"name": "ann", "contact_methods": [{"url": receiver.json_url("/ann")}]}
            policy = {"name": "esc", "levels": [{"delay_minutes": 5, "targets": ["person:ann"]}]}
            for path, body in (("/oncall/people", person), ("/oncall/escalation-policies", policy)):
                reply = httpx.post(api + path, json=body, headers=HEADERS, timeout=30)
                assert reply.status_code == 201, reply.text
            incident = _declare(api, "Checkout down")
            # Only a guard against hanging: without the server's wake-up the page would wait
            # for the hourly poll.
            guard = time.monotonic() + 120
            while not receiver.requests and time.monotonic() < guard:
                time.sleep(0.02)
            assert receiver.requests, server.log.read_text()[-2000:]
            assert "Checkout down" in receiver.requests[0].json()["title"]
            events = httpx.get(f"{api}/incidents/{incident}/timeline", headers=HEADERS).json()
            assert [e["type"] for e in events["events"]].count("paged") == 1
            # The worker logs at the server's --log-level (its INFO lines, one per page sent,
            # would otherwise fill a log, or a pipe nobody drains, during a storm).
            assert " INFO " not in server.log.read_text(), server.log.read_text()[-2000:]

            # A worker process that dies is replaced, and the next page still goes out.
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                replaced = [p for p in _children(server.popen.pid) if _alive(p)]
                if replaced and replaced != workers:
                    break
                time.sleep(0.05)
            assert replaced and replaced != workers, server.log.read_text()[-2000:]
            workers = replaced
            _declare(api, "Search down")  # the new worker, woken by the server too
            while len(receiver.requests) < 2 and time.monotonic() < deadline + 120:
                time.sleep(0.02)
            assert "Search down" in receiver.requests[-1].json()["title"]

            server.kill9()
            deadline = time.monotonic() + 10
            while _alive(workers[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(workers[0]), "the worker outlived its server"
        finally:
            server.stop()


def _wait_until_idle(pid: int, quiet_seconds: float = 0.5) -> None:
    """Until the process has used no CPU for `quiet_seconds` (at most 30 s)."""

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])

    deadline = time.monotonic() + 30
    last, since = ticks(), time.monotonic()
    while time.monotonic() - since < quiet_seconds and time.monotonic() < deadline:
        time.sleep(0.05)
        now = ticks()
        if now != last:
            last, since = now, time.monotonic()


def test_the_worker_process_acts_on_the_webhooks_the_server_acknowledges(tmp_path: Path) -> None:
    """With --worker-process the server only acknowledges webhooks (the intake log): its
    worker process acts on them. A stopped worker leaves them pending; a worker killed in a
    stream of webhooks is replaced, and its replacement acts on every one acknowledged."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(f"sqlite:///{data_dir / 'warroom.db'}", data_dir, worker_process=True)
    try:
        api = server.url + "/api/v1"
        key = server.alertmanager_key()
        ingest = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30)

        def send(instance: str) -> str:
            payload = am_payload([am_alert("Disk", fingerprint=instance, instance=instance)])
            reply = ingest.post(f"{api}/alerts/alertmanager", json=payload)
            assert reply.status_code == 202, reply.text
            location: str = reply.headers["location"]
            return location

        def status(location: str, wait: float = 0) -> str:
            found = httpx.get(
                server.url + location, params={"wait": wait}, headers=HEADERS, timeout=60
            ).json()
            state: str = found["status"]
            return state

        assert status(send("host-0"), wait=30) == "processed"
        (worker,) = _children(server.popen.pid)

        # Stopped once idle: not in the midst of trimming the intake log, whose write lock the
        # server's appends would then wait for.
        _wait_until_idle(worker)
        os.kill(worker, signal.SIGSTOP)
        try:
            held = send("host-1")
            # Acknowledged, and left for the (stopped) worker: the server does not act on it.
            assert status(held, wait=2) == "pending"
        finally:
            os.kill(worker, signal.SIGCONT)
        assert status(held, wait=30) == "processed"

        locations = [send(f"host-{n}") for n in range(2, 40)]
        os.kill(worker, signal.SIGKILL)
        locations += [send(f"host-{n}") for n in range(40, 80)]  # while it is replaced
        assert status(locations[-1], wait=30) == "processed", server.log.read_text()[-2000:]
        assert all(status(location) == "processed" for location in locations)
        listed = httpx.get(f"{api}/alerts", params={"limit": 200}, headers=HEADERS).json()
        assert {a["labels"]["instance"] for a in listed["items"]} == {
            f"host-{n}" for n in range(80)
        }
        ingest.close()
    finally:
        server.stop()


def test_a_worker_process_whose_server_is_gone_acts_on_the_intake_and_lets_a_new_worker_start(
    tmp_path: Path,
) -> None:
    """`warroom worker --wake-on-stdin --intake` at the end of its input (its server stopped or
    died): it acts on what is left in the intake log before it exits, and lets go of the
    one-worker lock before that, so a server started again at once gets a worker of its own."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'warroom.db'}"
    # What a server acknowledged and did not act on: new alert groups, so new incidents.
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=url, config=None))
    try:
        runtime.alerts.create_integration(SYSTEM, "prom", "alertmanager", key="k" * 32)
        for n in range(STORM):
            payload = am_payload(
                [am_alert(f"Storm{n}", fingerprint=f"75{n:014d}")],
                group_key=f'{{}}:{{alertname="Storm{n}"}}',
            )
            alerts = domain.alerts_to_json(domain.parse_alertmanager(payload))
            runtime.alerts.intake.log.append("prom", alerts, runtime.clock.now()).result(10)
    finally:
        runtime.close()

    def backlog() -> int:
        with sqlite3.connect(data_dir / "warroom.db") as main:
            done = main.execute("SELECT max(id) FROM intake_requests").fetchone()[0] or 0
        with sqlite3.connect(data_dir / "warroom.intake.db") as log:
            (left,) = log.execute("SELECT count(*) FROM intake_log WHERE id > ?", (done,))
        return int(left[0])

    assert backlog() == STORM
    log_file = tmp_path / "worker.log"
    with log_file.open("wb") as out:
        worker = subprocess.Popen(
            [WARROOM, "worker", "--wake-on-stdin", "--intake", "--log-level", "warning"],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=out,
            env=process_env(url, data_dir),
        )
    lock = (data_dir / "warroom.db.worker.lock").open("a+")
    try:
        deadline = time.monotonic() + 60
        while "worker " not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)  # started: it holds the lock
        assert worker.poll() is None, log_file.read_text()
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert worker.stdin is not None
        worker.stdin.close()  # its server is gone
        left_when_free = None
        while worker.poll() is None and time.monotonic() < deadline:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            left_when_free = backlog()
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            break
        assert worker.wait(timeout=60) == 0, log_file.read_text()
    finally:
        lock.close()
        if worker.poll() is None:
            worker.kill()
    # Free while it still had webhooks to act on, and every one acted on before it exited.
    assert left_when_free is not None and left_when_free > 0, left_when_free
    assert backlog() == 0
