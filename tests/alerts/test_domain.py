"""The pure part: matchers, routing, fingerprints and parsers, as tables of cases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from warroom.alerts import domain
from warroom.core.errors import InvalidInput
from warroom.policy.loader import load_preset

POLICY = load_preset("default")


def resolve(key: str) -> str:
    return POLICY.severity(key).id


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ("service=payments", {"service": "payments"}, True),
        ('service="payments"', {"service": "payments"}, True),
        ("service=payments", {"service": "search"}, False),
        ("service!=payments", {"service": "search"}, True),
        ("service!=payments", {}, True),
        ("env=~prod.*", {"env": "prod-eu"}, True),
        ("env=~prod", {"env": "prod-eu"}, False),  # anchored like Alertmanager
        ('env!~"staging|dev"', {"env": "prod"}, True),
        ('env!~"staging|dev"', {"env": "dev"}, False),
        ("team=", {}, True),  # a missing label is the empty string
        ("team!=", {}, False),
    ],
)
def test_matchers(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert domain.parse_matcher(matcher).matches(labels) is expected


def test_matcher_sets_in_braces_and_errors() -> None:
    parsed = domain.parse_matchers(['{service="a,b", env=~"p.*"}'])
    assert [str(m) for m in parsed] == ['service="a,b"', 'env=~"p.*"']
    for bad in ("no operator", "x=~(", "=value"):
        with pytest.raises(InvalidInput):
            domain.parse_matcher(bad)


def test_fingerprint_is_alertmanagers_fnv1a() -> None:
    assert domain.fingerprint({}) == "cbf29ce484222325"  # the FNV-1a 64 offset basis
    a = domain.fingerprint({"alertname": "Up", "job": "x"})
    assert a == domain.fingerprint({"job": "x", "alertname": "Up"})
    assert a != domain.fingerprint({"alertname": "Up", "job": "y"})
    assert len(a) == 16


@pytest.mark.parametrize(
    ("labels", "severity", "action"),
    [
        ({"severity": "critical"}, "SEV2", "declare"),
        ({"severity": "error"}, "SEV3", "declare"),
        ({"severity": "warning"}, "SEV4", "record"),
        ({"severity": "info"}, "SEV4", "record"),
        ({"severity": "P0"}, "SEV1", "declare"),
        ({"severity": "bogus"}, "SEV3", "declare"),
        ({}, "SEV3", "declare"),
    ],
)
def test_default_routing(labels: dict[str, str], severity: str, action: str) -> None:
    decision = domain.route_alert(labels, domain.AlertRoutes(), POLICY.severity_ids(), resolve)
    assert (decision.route, decision.severity, decision.action) == ("default", severity, action)


def test_first_matching_rule_wins_and_fixes_service() -> None:
    routes = domain.AlertRoutes(
        routes=(
            domain.RouteRule(name="db", matchers=("team=db",), service="postgres", severity="SEV1"),
            domain.RouteRule(name="all", matchers=(), action="record"),
        )
    )
    d = domain.route_alert({"team": "db", "service": "x"}, routes, POLICY.severity_ids(), resolve)
    assert (d.route, d.service, d.severity, d.action) == ("db", "postgres", "SEV1", "declare")
    d = domain.route_alert({"service": "x", "severity": "critical"}, routes, ["SEV1"], resolve)
    assert (d.route, d.service, d.action) == ("all", "x", "record")


def test_alertmanager_parser_reads_v4_and_zero_times() -> None:
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="A"}',
        "status": "firing",
        "commonAnnotations": {"summary": "common"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "A", "severity": "critical"},
                "annotations": {},
                "startsAt": "2026-11-23T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }
    (alert,) = domain.parse_alertmanager(body)
    assert alert.identity == domain.fingerprint({"alertname": "A", "severity": "critical"})
    assert alert.starts_at == datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.summary == "A: common"
    assert alert.group_key == '{}:{alertname="A"}'
    for bad in ([], {"alerts": {}}, {"alerts": [1]}, {"alerts": [{"status": "x"}]}):
        with pytest.raises(InvalidInput):
            domain.parse_alertmanager(bad)


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ("not an alert", "alerts.1 must be an object"),
        ({"labels": {"team": ["db"]}}, "alerts.1.labels.team must be a string"),
        ({"labels": "team=db"}, "alerts.1.labels must be an object of strings"),
        ({"annotations": []}, "alerts.1.annotations must be an object of strings"),
        ({"status": "pending"}, "alerts.1.status must be firing or resolved"),
        ({"fingerprint": {"a": 1}}, "alerts.1.fingerprint must be a string"),
        ({"startsAt": "yesterday"}, "alerts.1.startsAt is not an ISO 8601 time: 'yesterday'"),
        ({"endsAt": 5}, "alerts.1.endsAt must be an ISO 8601 time"),
        ({"generatorURL": True}, "alerts.1.generatorURL must be a string"),
    ],
)
def test_an_alertmanager_alert_refused_is_named_by_its_place_and_field(
    alert: object, message: str
) -> None:
    body = {"alerts": [{"labels": {"alertname": "A"}}, alert]}
    with pytest.raises(InvalidInput) as refused:
        domain.parse_alertmanager(body)
    assert refused.value.message == message


def test_a_grafana_alerts_values_nested_too_deep_are_refused_with_its_place() -> None:
    deep: object = "x"
    for _ in range(domain.MAX_DEPTH + 2):
        deep = {"v": deep}
    with pytest.raises(InvalidInput) as refused:
        domain.parse_alertmanager({"alerts": [{"values": deep}]}, grafana=True)
    assert refused.value.message == (
        f"alerts.0.values: the payload is nested deeper than {domain.MAX_DEPTH} levels"
    )


def test_alertmanager_alerts_are_whole_alerts_and_their_text_clean() -> None:
    """Every field is set, as the dataclass would set it, and text is cleaned wherever it is
    long, not ASCII or holds a NUL (in a label's name or value alike)."""
    long = "x" * (domain.MAX_TEXT + 5)
    body = {
        "receiver": "warroom",
        "alerts": [
            {
                "labels": {"alertname": "A", "team\x00": "db\x00", "é": "\ud800", "l": long},
                "annotations": {"summary": "s"},
                "startsAt": "2026-11-23T10:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": "fp-1",
            }
        ],
    }
    (alert,) = domain.parse_alertmanager(body)
    expected = domain.AlertIn(
        identity="fp-1",
        status="firing",
        labels={"alertname": "A", "team": "db", "é": "?", "l": long[: domain.MAX_TEXT]},
        summary="A: s",
        group_key="{}:{}",
        annotations={"summary": "s"},
        starts_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
        generator_url="http://prometheus/graph",
        details={"receiver": "warroom"},
        stale_guard=True,
    )
    assert alert == expected
    assert dataclasses.asdict(alert) == dataclasses.asdict(expected)


def test_clean_strips_what_databases_reject() -> None:
    assert domain.clean({"a\x00": ["x\x00y", float("nan"), 2**70, "\ud800"]}) == {
        "a": ["xy", None, str(2**70), "?"]
    }


def test_generic_templates() -> None:
    mapping = domain.GenericMapping(title="[{{ a.b }}] {{ list.1 }}", status="{{ s }}")
    alert = domain.parse_generic({"a": {"b": "X"}, "list": ["p", "q"], "s": "OK"}, mapping)
    assert alert.summary == "[X] q" and alert.status == domain.RESOLVED


def test_the_intake_log_keeps_every_field_of_an_alert() -> None:
    """What the request path logs is what the processor reads back, field for field."""
    full = domain.AlertIn(
        identity="fp-1",
        status="resolved",
        labels={"alertname": "Down", "é": "ü"},
        summary="down",
        group_key="g",
        annotations={"summary": "down"},
        starts_at=datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC),
        ends_at=datetime(2026, 11, 23, 9, 5, tzinfo=UTC),
        source_severity="critical",
        generator_url="http://prometheus/graph",
        details={"count": 12345678901234567890123, "ratio": 0.5, "nested": [None, True]},
        service="payments",
        stale_guard=True,
        test=True,
    )
    defaults = {f.name: getattr(full, f.name) for f in dataclasses.fields(domain.AlertIn)}
    assert all(value not in (None, False, {}) for value in defaults.values())  # all set
    bare = domain.AlertIn(identity="fp-2", status="firing", labels={}, summary="", group_key="")
    text = domain.alerts_to_json([full, bare])
    assert '"2026-11-23T09:00:00.123456+00:00","2026-11-23T09:05:00+00:00"' in text  # isoformat
    read = domain.alerts_from_json(text)
    assert read == [full, bare]
    assert [dataclasses.asdict(a) for a in read] == [
        dataclasses.asdict(full),
        dataclasses.asdict(bare),
    ]
