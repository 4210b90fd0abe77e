"""kill -9 of a real `warroom serve` (SQLite; embedded worker, or a worker process that acts on
the webhooks the server acknowledges) during Alertmanager intake."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.server import ADMIN_TOKEN, start_server
from warroom.core import tables as core_tables
from warroom.core.db import Database
from warroom.core.plugins import load_tables

pytestmark = pytest.mark.reliability
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
THREADS = 6


def _webhook(fingerprints: list[str], group: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": group},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": group, "service": "payments", "severity": "critical"},
                "annotations": {"summary": f"alert {fp}"},
                "startsAt": "2026-11-23T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fp,
            }
            for fp in fingerprints
        ],
    }


@pytest.mark.parametrize("worker_process", [False, True], ids=["embedded", "worker-process"])
def test_kill_9_during_intake_keeps_every_acknowledged_alert_once(
    tmp_path: Path, worker_process: bool
) -> None:
    """Every alert answered 2xx before a kill -9 is stored exactly once after the restart (the
    restarted server processes what the killed one logged but had not processed),
    attached to exactly one existing incident through its group (no duplicates, no alert
    without its incident). Alerts in flight at the kill may be present or absent, but never
    half-written; resending them (and some acknowledged ones) after the restart, as
    Alertmanager does, stores each exactly once.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'warroom.db'}"
    accepted: list[str] = []
    sent: list[str] = []
    unanswered: list[tuple[list[str], str]] = []  # in flight at the kill, or refused
    lock = threading.Lock()
    stop = threading.Event()
    server = start_server(url, data_dir, worker_process=worker_process)
    restarted = None
    try:
        key = server.alertmanager_key()
        intake = f"{server.url}/api/v1/alerts/alertmanager"

        def client(n: int) -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
                for i in range(2000):
                    if stop.is_set():
                        return
                    # Two alerts per webhook; every 3rd webhook joins its thread's group.
                    fps = [f"fp-{n}-{i}-a", f"fp-{n}-{i}-b"]
                    group = f"g-{n}-{i // 3}"
                    with lock:
                        sent.extend(fps)
                    try:
                        reply = http.post(intake, json=_webhook(fps, group))
                    except httpx.HTTPError:
                        with lock:
                            unanswered.append((fps, group))
                        return  # the server is gone
                    with lock:
                        if 200 <= reply.status_code < 300:
                            accepted.extend(fps)
                        else:
                            unanswered.append((fps, group))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(accepted) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill9()
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        assert len(accepted) >= 300, server.log.read_text()[-2000:]

        restarted = start_server(url, data_dir, worker_process=worker_process)
        # The restarted server reads the same data: the API sees the alerts too.
        listed = httpx.get(
            f"{restarted.url}/api/v1/alerts", params={"limit": 1}, headers=HEADERS, timeout=30
        )
        assert listed.status_code == 200 and listed.json()["items"]
        # Alertmanager retries what got no answer (it may have been committed before the
        # kill) and HA pairs resend what did: neither may create a second alert.
        resend = unanswered + [([fp, fp[:-1] + "b"], "") for fp in accepted[:40:2]]
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            for fps, group in resend:
                group = group or f"g-{fps[0].split('-')[1]}-{int(fps[0].split('-')[2]) // 3}"
                reply = http.post(
                    f"{restarted.url}/api/v1/alerts/alertmanager", json=_webhook(fps, group)
                )
                assert reply.status_code == 202, reply.text
                accepted.extend(fps)
            # Processed in order: once the last request is, so is everything logged before it,
            # including what the killed server acknowledged but had not processed.
            record = httpx.get(
                f"{restarted.url}{reply.headers['location']}",
                params={"wait": 30},
                headers=HEADERS,
                timeout=40,
            ).json()
            assert record["status"] == "processed", record
    finally:
        stop.set()
        server.stop()
        if restarted is not None:
            restarted.stop()

    load_tables()
    from warroom.alerts import tables as alert_tables

    db = Database(url)
    try:
        with db.read() as conn:
            alerts = conn.execute(
                select(
                    alert_tables.alerts.c.identity,
                    alert_tables.alerts.c.incident_id,
                    alert_tables.alerts.c.group_id,
                )
            ).all()
            groups = {
                r.id: r.incident_id
                for r in conn.execute(
                    select(alert_tables.alert_groups.c.id, alert_tables.alert_groups.c.incident_id)
                )
            }
            incidents = {r.id for r in conn.execute(select(core_tables.incidents.c.id))}
    finally:
        db.dispose()
    counts = Counter(r.identity for r in alerts)
    missing = [fp for fp in accepted if fp not in counts]
    assert not missing, missing[:5]
    duplicated = [fp for fp, c in counts.items() if c > 1]
    assert not duplicated, duplicated[:5]
    assert set(counts) == set(sent)  # everything sent was answered 2xx in the end
    for row in alerts:
        assert row.incident_id is not None and row.incident_id in incidents, row
        assert groups[row.group_id] == row.incident_id, row  # one incident per alert group
    assert set(groups.values()) == incidents  # no incident without its alerts
    # Each webhook's two alerts share a group: both stored or neither (no partial intake).
    stored = set(counts)
    for fp in stored:
        partner = fp[:-1] + ("b" if fp.endswith("a") else "a")
        assert partner in stored, fp
