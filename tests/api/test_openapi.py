"""`/api/openapi.json` documents every answer: each operation's success response has a schema
(a response model, `response_model=`), or names the non-JSON media type it sends."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Api

# Pages and feeds send HTML, XML or text and say so (`content: text/html`...); nothing else
# may go without a JSON schema.
NON_JSON = ("text/html", "text/plain", "text/csv", "text/markdown", "text/calendar")


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undocumented(spec: dict[str, Any], op: dict[str, Any]) -> str | None:
    """Why this operation's success answer is not documented, or None when it is."""
    successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    if not successes:
        return "no 2xx response"
    for code, response in successes.items():
        content = response.get("content")
        if code == "204" and not content:
            continue
        if not content:
            return f"{code} has no content"
        json_schema = content.get("application/json", {}).get("schema")
        if json_schema is None:
            if any(kind.startswith(NON_JSON) or "/" in kind for kind in content):
                continue  # HTML, calendars, images, metrics text
            return f"{code} has no schema"
        schema = _resolve(spec, json_schema)
        free = not schema or schema.get("type") == "object" or "additionalProperties" in schema
        if free and not schema.get("properties") and schema.get("type") != "array":
            return f"{code}: a free-form object, not a model"
    return None


def test_every_operation_documents_its_answer(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    missing = {
        f"{method} {path}": why
        for method, path, op in operations(spec)
        if (why := undocumented(spec, op)) is not None
    }
    assert missing == {}, f"add a response model (response_model=...) to: {missing}"
    assert len(operations(spec)) > 150  # the walk saw the whole API


def test_response_models_keep_the_bodies_as_they_were(api: Api) -> None:
    # Optional fields a handler leaves out stay out (no nulls appear), and the fields keep
    # their JSON types: times as the handler wrote them, integers as integers.
    incident = api.ok("POST", "/api/v1/incidents", json={"title": "x", "severity": "SEV3"})
    assert incident["declared_at"] == "2026-11-23T10:00:00+00:00"
    assert isinstance(incident["reopen_count"], int)
    listed = api.ok("GET", "/api/v1/incidents")
    assert set(listed) == {"items", "next_cursor"}
    assert listed["items"][0]["declared_at"] == "2026-11-23T10:00:00+00:00"
    route = api.ok("POST", "/api/v1/alerts/routes/test", json={"labels": {"service": "x"}})
    assert "silenced_by" in route and isinstance(route["labels"], dict)


def test_a_schema_names_its_fields(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    incident = spec["components"]["schemas"]["Incident"]
    assert {"id", "status", "severity", "allowed_moves", "targets"} <= set(incident["properties"])
    assert incident["properties"]["declared_at"]["format"] == "date-time"
    listed = spec["paths"]["/api/v1/incidents"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"limit", "cursor"}
