"""Arbitrary JSON and bytes to every intake endpoint: never a 5xx, never partial state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.alerts.helpers import create_integration
from tests.conftest import Api, wait_for_intake
from warroom.alerts import tables as t
from warroom.core import tables
from warroom.core.runtime import Runtime

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Shapes close to the real formats, so fuzzing reaches past the first type check.
alertish = st.fixed_dictionaries(
    {
        "alerts": st.lists(
            st.fixed_dictionaries(
                {"labels": st.dictionaries(st.text(max_size=8), json_values, max_size=3)},
                optional={
                    "status": st.sampled_from(["firing", "resolved", "weird"]) | json_values,
                    "startsAt": st.text(max_size=30) | json_values,
                    "fingerprint": st.text(max_size=300) | json_values,
                    "annotations": json_values,
                },
            ),
            max_size=3,
        )
    },
    optional={"groupKey": json_values, "version": json_values, "status": json_values},
)
pdish = st.fixed_dictionaries(
    {"event_action": st.sampled_from(["trigger", "acknowledge", "resolve"]) | json_values},
    optional={
        "dedup_key": st.text(max_size=300) | json_values,
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "summary": st.text(max_size=50) | json_values,
                "source": st.text(max_size=10) | json_values,
                "severity": st.sampled_from(["critical", "info"]) | json_values,
                "timestamp": st.text(max_size=30) | json_values,
                "custom_details": json_values,
            },
        ),
        "links": json_values,
    },
)


def _state(runtime: Runtime) -> tuple[int, ...]:
    with runtime.db.read() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (
                t.alerts,
                t.alert_groups,
                t.alert_counters,
                tables.incidents,
                tables.events,
                tables.outbox,
            )
        )


@pytest.fixture
def keys(admin_api: Api) -> dict[str, str]:
    return {
        kind: create_integration(admin_api, f"fuzz-{kind}", kind, rate_limit=0)
        for kind in ("alertmanager", "pagerduty", "grafana", "generic", "heartbeat")
    }


def _endpoints(keys: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    def bearer(kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[kind]}"}

    return [
        ("/api/v1/alerts/alertmanager", bearer("alertmanager")),
        ("/api/v1/alerts/grafana", bearer("grafana")),
        ("/api/v1/alerts/generic", bearer("generic")),
        ("/v2/enqueue", {}),
        ("/api/v1/v2/enqueue", {}),
        ("/api/v1/heartbeats/fuzz-heartbeat", bearer("heartbeat")),
    ]


def _post(api: Api, path: str, headers: dict[str, str], content: bytes) -> int:
    response = api.client.post(
        path, content=content, headers={**headers, "Content-Type": "application/json"}
    )
    wait_for_intake(api.client, response)  # what was accepted is processed before the next
    return response.status_code


def _check(api: Api, runtime: Runtime, keys: dict[str, str], content: bytes) -> None:
    for path, headers in _endpoints(keys):
        before = _state(runtime)
        status = _post(api, path, headers, content)
        assert status < 500, (path, content[:200])
        if status >= 400:
            assert _state(runtime) == before, (path, status, content[:200])


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(api: Api, runtime: Runtime, keys: dict[str, str], body: bytes) -> None:
    _check(api, runtime, keys, body)


@FUZZ
@given(value=json_values)
def test_arbitrary_json(api: Api, runtime: Runtime, keys: dict[str, str], value: Any) -> None:
    _check(api, runtime, keys, json.dumps(value).encode())


@FUZZ
@given(value=alertish)
def test_alertmanager_like_json(
    api: Api, runtime: Runtime, keys: dict[str, str], value: Any
) -> None:
    _check(api, runtime, keys, json.dumps(value).encode())


@FUZZ
@given(value=pdish)
def test_pagerduty_like_json(
    api: Api, runtime: Runtime, keys: dict[str, str], value: dict[str, Any]
) -> None:
    value = {**value, "routing_key": keys["pagerduty"]}
    _check(api, runtime, keys, json.dumps(value).encode())
