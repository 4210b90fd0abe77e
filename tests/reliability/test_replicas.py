"""Several `warroom serve --no-worker` replicas on one PostgreSQL database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ADMIN_TOKEN, servers

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_concurrent_writes_across_replicas_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    from tests.conftest import truncate_all

    truncate_all(postgres_url)
    with servers(postgres_url, tmp_path, 2, worker=False) as (first, second):
        replicas = [first.url, second.url]

        def post(n: int, path: str, body: Any = None) -> httpx.Response:
            url = replicas[n % 2] + path
            return httpx.post(url, json=body, headers=HEADERS, timeout=30)

        declared = [
            r.json()["id"]
            for r in ThreadPoolExecutor(10).map(
                lambda n: post(n, "/api/v1/incidents", {"title": f"t{n}", "severity": "SEV2"}),
                range(20),
            )
        ]
        assert len(set(declared)) == 20  # distinct ids across replicas

        incident = declared[0]
        path = f"/api/v1/incidents/{incident}"

        def act(n: int) -> httpx.Response:
            if n == 0:
                return post(n, f"{path}/acknowledge")
            if n % 10 == 5:
                return post(n, f"{path}/roles", {"role": "scribe", "person": f"p{n}"})
            return post(n, f"{path}/notes", {"text": f"note {n}"})

        replies = list(ThreadPoolExecutor(12).map(act, range(60)))
        acknowledged = [r for r in replies if r.status_code < 300]
        assert len(acknowledged) == 60, [r.text for r in replies if r.status_code >= 300]
        events = httpx.get(f"{first.url}{path}/timeline", headers=HEADERS).json()["events"]
        seqs = sorted(e["seq"] for e in events)
        assert seqs == list(range(1, len(events) + 1))  # no gaps, no duplicates
        notes = {e["data"]["text"] for e in events if e["type"] == "note_added"}
        assert notes == {f"note {n}" for n in range(60) if n != 0 and n % 10 != 5}
        assert sum(e["type"] == "acknowledged" for e in events) == 1
        assert sum(e["type"] == "role_assigned" for e in events) == 6

        body = {"summary": "fixed", "checklist": {}}
        policy = httpx.get(f"{second.url}/api/v1/policy", headers=HEADERS).json()
        body["checklist"] = {i["id"]: {"confirmed": True} for i in policy["resolution_checklist"]}
        resolves = list(
            ThreadPoolExecutor(4).map(lambda n: post(n, f"{path}/resolve", body), range(4))
        )
        assert sorted(r.status_code for r in resolves) == [200, 409, 409, 409]
