"""Every list endpoint follows the one pagination rule (warroom/api/pagination.py, docs/api.md):
`limit` and an opaque `cursor`, the next page in a `Link: <...>; rel="next"` header, keyset
pages (nothing repeated, nothing missed), bad values refused with 422 and nothing changed."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from warroom.api.client import merge_page, next_link
from warroom.api.pagination import MAX_LIMIT

# Lists that answer another protocol's paging (SCIM's startIndex/count) or a public format
# (the Atlassian Statuspage v2 JSON) keep that protocol's rules.
FOREIGN = ("/scim/", "/status/api/v2/")


def list_operations(client: TestClient) -> list[str]:
    """GET paths whose success body is an array or an object with an `items` array."""
    spec = client.get("/api/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        op = operations.get("get")
        if op is None or any(part in path for part in FOREIGN):
            continue
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if _is_list(spec, schema.get("schema", {})):
            found.append(path)
    return sorted(found)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_list(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        return True
    items = schema.get("properties", {}).get("items")
    return items is not None and _resolve(spec, items).get("type") == "array"


def declared_item_fields(spec: dict[str, Any], path: str) -> set[str]:
    """The fields the response model declares for one item of a list."""
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema = _resolve(spec, content["schema"])
    items = (
        schema if schema.get("type") == "array" else _resolve(spec, schema["properties"]["items"])
    )
    return set(_resolve(spec, items["items"]).get("properties", {}))


def params_of(client: TestClient, path: str) -> set[str]:
    spec = client.get("/api/openapi.json").json()
    return {p["name"] for p in spec["paths"][path]["get"].get("parameters", [])}


def seed(api: Api, admin: Api) -> dict[str, str]:
    """At least two items in as many lists as a plain database allows."""
    incidents = []
    for n in range(3):
        body = {"title": f"Checkout failing {n}", "severity": "SEV2", "services": ["payments"]}
        incidents.append(api.ok("POST", "/api/v1/incidents", json=body)["id"])
    incident = incidents[0]
    for n in range(3):
        api.ok("POST", f"/api/v1/incidents/{incident}/actions", json={"title": f"fix {n}"})
        api.ok(
            "POST",
            "/api/v1/silences",
            json={"matchers": [f"team=t{n}"], "comment": "deploy", "duration": "1h"},
        )
        admin.ok("POST", "/api/v1/tokens", json={"name": f"ci-{n}", "scopes": ["viewer"]})
        admin.ok("POST", "/api/v1/integrations", json={"name": f"prom-{n}", "kind": "alertmanager"})
        admin.ok("POST", "/api/v1/routes", json={"name": f"r{n}", "matchers": [f"team=t{n}"]})
        admin.ok("POST", "/api/v1/users", json={"name": f"user{n}", "password": "long-pass-123"})
        admin.ok("POST", "/api/v1/oncall/people", json={"name": f"p{n}"})
        admin.ok("POST", "/api/v1/oncall/teams", json={"name": f"team{n}", "members": [f"p{n}"]})
        layers = [{"users": [f"p{n}"], "start": "2026-01-05T09:00", "shift_unit": "days"}]
        admin.ok("POST", "/api/v1/oncall/schedules", json={"name": f"s{n}", "layers": layers})
        admin.ok("POST", "/api/v1/oncall/pages", json={"target": f"person:p{n}", "message": "hi"})
        admin.ok(
            "POST",
            "/api/v1/statuspage/components",
            json={"slug": f"c{n}", "name": f"Component {n}"},
        )
    key = admin.ok("POST", "/api/v1/integrations", json={"name": "am", "kind": "alertmanager"})[
        "key"
    ]
    alerts = [
        {"status": "firing", "labels": {"alertname": f"A{n}", "severity": "warning"}}
        for n in range(3)
    ]
    status, body = api.post(f"/api/v1/alerts/alertmanager/{key}", json={"alerts": alerts})
    assert status == 202, body
    done = api.ok("GET", f"/api/v1/alerts/requests/{body['request']}", params={"wait": 10})
    assert done["status"] == "processed", done
    return {"incident_id": incident, "name": "s0"}


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def walk(api: Api, path: str) -> tuple[list[Any], int]:
    """Every item of a list by pages of one, following the Link headers; and the page count."""
    response = api.client.get(path, params={"limit": 1}, headers=api.headers)
    assert response.status_code == 200, (path, response.text)
    whole = merge_page(None, response.json())
    pages = 1
    link = next_link(response)
    while link is not None:
        assert link.startswith(path.split("?")[0] + "?"), link
        response = api.client.get(link, headers=api.headers)
        assert response.status_code == 200, (link, response.text)
        whole = merge_page(whole, response.json())
        pages += 1
        link = next_link(response)
        assert pages < 200, f"{path}: the links never end"
    return (whole if isinstance(whole, list) else whole["items"]), pages


def test_every_list_endpoint_pages_by_links_with_no_duplicates_or_misses(
    admin_api: Api, api: Api
) -> None:
    values = seed(api, admin_api)
    paths = list_operations(admin_api.client)
    assert len(paths) >= 30, paths  # the walk found the lists (their schemas say so)
    spec = admin_api.client.get("/api/openapi.json").json()
    walked = 0
    for path in paths:
        assert {"limit", "cursor"} <= params_of(admin_api.client, path), path
        url = fill(path, values)
        status, whole = admin_api.get(url, params={"limit": MAX_LIMIT})
        assert status == 200, (url, whole)
        everything = whole if isinstance(whole, list) else whole["items"]
        declared = declared_item_fields(spec, path)
        for item in everything:  # the model names every field an item has
            assert set(item) <= declared, (path, set(item) - declared)
        paged, pages = walk(admin_api, url)
        assert paged == everything, url  # same items, same order, none twice, none missed
        assert pages == max(1, len(everything)), url
        walked += len(everything) >= 2
    assert walked >= 20, walked


def test_a_cursor_is_stable_when_items_are_added_meanwhile(api: Api, runtime: Any) -> None:
    for n in range(4):
        api.ok("POST", "/api/v1/incidents", json={"title": f"old {n}", "severity": "SEV3"})
    first = api.client.get("/api/v1/incidents", params={"limit": 2}, headers=api.headers)
    link = next_link(first)
    assert link is not None and "cursor=" in link and "limit=2" in link
    runtime.clock.advance(timedelta(minutes=1))
    api.ok("POST", "/api/v1/incidents", json={"title": "new", "severity": "SEV3"})
    second = api.client.get(link, headers=api.headers)
    titles = [i["title"] for i in first.json()["items"] + second.json()["items"]]
    assert titles == ["old 3", "old 2", "old 1", "old 0"]
    assert next_link(second) is None


def test_filters_stay_in_the_next_link(admin_api: Api) -> None:
    for n in range(3):
        admin_api.ok("POST", "/api/v1/oncall/people", json={"name": f"ann{n}"})
    response = admin_api.client.get(
        "/api/v1/oncall/people", params={"limit": 2}, headers=admin_api.headers
    )
    assert [p["name"] for p in response.json()["items"]] == ["ann0", "ann1"]
    header = response.headers["link"]
    assert re.fullmatch(r'</api/v1/oncall/people\?limit=2&cursor=[\w-]+>; rel="next"', header)


def token(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


BAD_PAGES = [
    "/api/v1/incidents?limit=0",
    f"/api/v1/incidents?limit={MAX_LIMIT + 1}",
    "/api/v1/incidents?limit=ten",
    "/api/v1/incidents?cursor=not-a-cursor",
    "/api/v1/incidents?cursor=0",
    "/api/v1/oncall/people?cursor=bm9wZQ",  # "nope", not a key
    f"/api/v1/oncall/people?cursor={token('people', 7)}",  # a number where a name goes
    "/api/v1/oncall/people?limit=-1",
    "/api/v1/actions?cursor=x",
    f"/api/v1/changes?cursor={token('changes', 'not-a-time', 1)}",
    f"/api/v1/outbox?cursor={token('outbox', 'nope', 1)}",
    f"/api/v1/routes?cursor={token('people', 'ann')}",  # a cursor of another list
    "/api/v1/audit?limit=5000",
]


@pytest.mark.parametrize("path", BAD_PAGES)
def test_bad_limit_or_cursor_is_422_and_changes_nothing(admin_api: Api, path: str) -> None:
    admin_api.ok("POST", "/api/v1/oncall/people", json={"name": "ann"})
    before = admin_api.ok("GET", "/api/v1/audit")["items"]
    status, body = admin_api.get(path)
    assert status == 422, (path, body)
    assert body["error"]["code"] == "invalid_input"
    if "cursor" in path:
        assert "cursor" in body["error"]["message"]
    assert admin_api.ok("GET", "/api/v1/audit")["items"] == before
