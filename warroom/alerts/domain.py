"""Alert intake, the pure part: payload parsers, fingerprints, label matchers, routing, and
what an incident does when its alerts change (acknowledge, monitoring, resolve).

Nothing here touches storage or reads the clock; `now` is passed in. Every parser turns any
input it cannot use into `InvalidInput` (a 4xx), never another exception, so arbitrary bytes
sent to an intake endpoint cannot produce a 5xx.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core import fastjson
from warroom.core.errors import InvalidInput
from warroom.core.vocab import Status
from warroom.incidents.model import Event, IncidentState, apply

FIRING = "firing"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
KINDS = ("alertmanager", "pagerduty", "grafana", "generic", "heartbeat")

MAX_LABELS = 200
MAX_TEXT = 16_384
MAX_DEPTH = 32

# ---- sanitising ------------------------------------------------------------------------


def clean(value: Any, depth: int = 0) -> Any:
    """JSON data safe to store on both databases (no NUL, no lone surrogates, no NaN)."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"the payload is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, depth + 1) for v in value]
    return clean_text(str(value))


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():  # lone surrogates cannot be stored as UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit]


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object of strings")
    if len(value) > MAX_LABELS:
        raise InvalidInput(f"{what} has more than {MAX_LABELS} entries")
    out: dict[str, str] = {}
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            # Inline for the common case (a webhook's labels): clean already, kept as it is.
            if (
                len(item) <= MAX_TEXT
                and len(key) <= 200
                and item.isascii()
                and key.isascii()
                and "\x00" not in item
                and "\x00" not in key
            ):
                out[key] = item
            else:
                out[clean_text(key, 200)] = clean_text(item)
        elif kind is dict or kind is list:
            raise InvalidInput(f"{what}.{clean_text(str(key), 100)} must be a string")
        else:
            out[clean_text(str(key), 200)] = "" if item is None else clean_text(str(item))
    return out


def _text(value: Any, what: str, limit: int = MAX_TEXT, *, required: bool = False) -> str:
    if type(value) is str:
        return clean_text(value, limit)
    if value is None:
        if required:
            raise InvalidInput(f"{what} is required")
        return ""
    if isinstance(value, Mapping | list | bool):
        raise InvalidInput(f"{what} must be a string")
    return clean_text(str(value), limit)


_NANOS = re.compile(r"(\.\d{6})\d+")
_ZERO_TIME = ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z")


def parse_time(value: Any, what: str) -> datetime | None:
    """ISO 8601 (with Z); Alertmanager's zero time and empty values are None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be an ISO 8601 time")
    text = value.strip()
    if text in _ZERO_TIME or text.startswith("0001-01-01"):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        text = text.replace("Z", "+00:00").replace("z", "+00:00")
        # Go writes up to nanoseconds; Python takes microseconds.
        text = _NANOS.sub(r"\1", text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{what} is not an ISO 8601 time: {clean_text(value, 60)!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{what} is out of range") from None


# ---- fingerprints ----------------------------------------------------------------------

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 255


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted label names and values."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), bytes([_SEPARATOR]), labels[name].encode(), b"\xff"):
            for byte in chunk:
                h ^= byte
                h = (h * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


# ---- the normalised alert --------------------------------------------------------------


@dataclass(frozen=True)
class AlertIn:
    """One alert as every parser hands it to the intake service."""

    identity: str
    status: str  # firing | acknowledged | resolved
    labels: dict[str, str]
    summary: str
    group_key: str
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    source_severity: str | None = None
    generator_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    service: str | None = None
    # Alertmanager may redeliver an old notification after a newer one: a firing alert whose
    # startsAt equals an already resolved alert's is a stale duplicate, not a new alert.
    stale_guard: bool = False
    # A sender's "test this contact point" notification: recorded, never declares or pages.
    test: bool = False


def alerts_to_json(alerts: Sequence[AlertIn]) -> str:
    """The alerts as one JSON text, as the intake log keeps them (`alerts_from_json` reads it):
    a list of fields per alert, times in ISO 8601 (as `datetime.isoformat` writes them)."""
    return fastjson.dumps([_alert_record(alert) for alert in alerts])


def _alert_record(alert: AlertIn) -> tuple[Any, ...]:
    # Times are left to the JSON writer, which writes them as isoformat() does, in C.
    return (
        alert.identity,
        alert.status,
        alert.labels,
        alert.summary,
        alert.group_key,
        alert.annotations,
        alert.starts_at,
        alert.ends_at,
        alert.source_severity,
        alert.generator_url,
        alert.details,
        alert.service,
        alert.stale_guard,
        alert.test,
    )


def alerts_from_json(text: str) -> list[AlertIn]:
    """The alerts `alerts_to_json` wrote."""
    out: list[AlertIn] = []
    for record in fastjson.loads(text):
        # The intake processor reads every logged alert: filled in directly, as a frozen
        # dataclass's __init__ (one object.__setattr__ per field) costs three times more.
        alert = object.__new__(AlertIn)
        fields = alert.__dict__
        (
            fields["identity"],
            fields["status"],
            fields["labels"],
            fields["summary"],
            fields["group_key"],
            fields["annotations"],
            starts,
            ends,
            fields["source_severity"],
            fields["generator_url"],
            fields["details"],
            fields["service"],
            fields["stale_guard"],
            fields["test"],
        ) = record
        fields["starts_at"] = datetime.fromisoformat(starts) if starts else None
        fields["ends_at"] = datetime.fromisoformat(ends) if ends else None
        out.append(alert)
    return out


# ---- Alertmanager (webhook payload version 4) and Grafana -------------------------------


def parse_alertmanager(body: Any, *, grafana: bool = False) -> list[AlertIn]:
    """Alerts from an Alertmanager v4 webhook (or Grafana's extension of it)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the webhook body must be a JSON object")
    version = body.get("version")
    if version is not None and str(version) not in ("4", "1") and not grafana:
        raise InvalidInput(f"unsupported webhook payload version {clean_text(str(version), 20)!r}")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("alerts must be a list")
    if len(alerts) > 10_000:
        raise InvalidInput("too many alerts in one notification")
    group_labels = _string_map(body.get("groupLabels"), "groupLabels")
    common_labels = _string_map(body.get("commonLabels"), "commonLabels")
    common_annotations = _string_map(body.get("commonAnnotations"), "commonAnnotations")
    group_key = _text(body.get("groupKey"), "groupKey", 4096)
    if not group_key:
        group_key = "{}:" + _label_text(group_labels or common_labels)
    group_status = _text(body.get("status"), "status", 20) or FIRING
    extras: dict[str, Any] = {}
    for key in ("receiver", "externalURL", "notification_reason", "truncatedAlerts"):
        if body.get(key) is not None:
            extras[key] = clean(body.get(key))
    if isinstance(body.get("routeLabels"), Mapping):
        extras["routeLabels"] = _string_map(body.get("routeLabels"), "routeLabels")
    if grafana:
        for key in ("orgId", "title", "state", "message"):
            if body.get(key) is not None:
                extras[key] = clean(body.get(key))
    parsed: list[AlertIn] = []
    for n, alert in enumerate(alerts):
        try:
            parsed.append(
                _alertmanager_alert(
                    alert,
                    grafana,
                    common_labels,
                    common_annotations,
                    group_status,
                    group_key,
                    extras,
                )
            )
        except InvalidInput as exc:
            raise InvalidInput(f"alerts.{n}{exc.message}", details=exc.details) from None
    return parsed


def _alertmanager_alert(
    alert: Any,
    grafana: bool,
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
    group_status: str,
    group_key: str,
    extras: dict[str, Any],
) -> AlertIn:
    """One alert of an Alertmanager webhook. An `InvalidInput`'s message starts with what it
    is about (` must be ...`, `.labels ...`): the caller puts the alert's place in the list
    before it, so that text is only made for a refused alert."""
    if not isinstance(alert, Mapping):
        raise InvalidInput(" must be an object")
    labels = _string_map(alert.get("labels"), ".labels")
    if not labels and common_labels:
        labels = dict(common_labels)
    annotations = {
        **common_annotations,
        **_string_map(alert.get("annotations"), ".annotations"),
    }
    status = _text(alert.get("status"), ".status", 20) or group_status
    if status not in (FIRING, RESOLVED):
        raise InvalidInput(".status must be firing or resolved")
    fp = _text(alert.get("fingerprint"), ".fingerprint", 255) or fingerprint(labels)
    starts_at = parse_time(alert.get("startsAt"), ".startsAt")
    ends_at = parse_time(alert.get("endsAt"), ".endsAt")
    details = dict(extras)
    if grafana:
        for key in ("values", "valueString", "silenceURL", "dashboardURL", "panelURL"):
            if alert.get(key) is not None:
                try:
                    details[key] = clean(alert.get(key))
                except InvalidInput as exc:
                    raise InvalidInput(f".{key}: {exc.message}") from None
    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or labels.get("alertname")
        or (str(extras.get("title", "")) if grafana else "")
        or "alert"
    )
    if labels.get("alertname") and labels["alertname"] not in summary:
        summary = f"{labels['alertname']}: {summary}"
    # Built as alerts_from_json builds them (without the frozen dataclass's __init__):
    # this runs for every alert of every webhook, in the request.
    alert_in = object.__new__(AlertIn)
    alert_in.__dict__.update(
        identity=fp,
        status=status,
        labels=labels,
        summary=clean_text(summary, 1024),
        group_key=group_key,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        source_severity=labels.get("severity"),
        generator_url=_text(alert.get("generatorURL"), ".generatorURL", 2048) or None,
        details=details,
        service=None,
        stale_guard=starts_at is not None,
        test=grafana and is_grafana_test(labels),
    )
    return alert_in


def is_grafana_test(labels: Mapping[str, str]) -> bool:
    """Grafana's contact-point Test button sends one made-up alert: labels
    `alertname=TestAlert, instance=Grafana` (grafana/alerting `newTestAlert`), and none of the
    labels Grafana puts on the alerts of its rules (`grafana_folder`)."""
    return (
        labels.get("alertname") == "TestAlert"
        and labels.get("instance") == "Grafana"
        and "grafana_folder" not in labels
    )


def _label_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


# ---- PagerDuty Events API v2 -----------------------------------------------------------

PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = {"trigger": FIRING, "acknowledge": ACKNOWLEDGED, "resolve": RESOLVED}


@dataclass(frozen=True)
class PagerDutyEvent:
    routing_key: str
    action: str  # trigger | acknowledge | resolve
    dedup_key: str | None
    alert: AlertIn | None  # built for every action once dedup_key is known


def pagerduty_errors(body: Any) -> list[str]:
    """Every reason the event is invalid, in PagerDuty's words (empty when valid)."""
    if not isinstance(body, Mapping):
        return ["Event object is invalid"]
    errors: list[str] = []
    routing_key = body.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key.strip():
        errors.append("'routing_key' is missing or blank")
    action = body.get("event_action")
    if not isinstance(action, str) or action not in PD_ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not (isinstance(dedup_key, str) and dedup_key):
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    payload = body.get("payload")
    if action == "trigger":
        if not isinstance(payload, Mapping):
            errors.append("'payload' is missing or not an object")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            source = payload.get("source")
            if not isinstance(source, str) or not source.strip():
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be critical, error, warning or info)"
                )
            timestamp = payload.get("timestamp")
            if timestamp is not None:
                try:
                    parse_time(timestamp, "payload.timestamp")
                except InvalidInput:
                    errors.append("'payload.timestamp' is not a valid ISO 8601 time")
            custom = payload.get("custom_details")
            if custom is not None and not isinstance(custom, Mapping | str | list):
                errors.append("'payload.custom_details' must be an object")
            for key in ("component", "group", "class"):
                value = payload.get(key)
                if value is not None and not isinstance(value, str):
                    errors.append(f"'payload.{key}' must be a string")
    for key in ("links", "images"):
        value = body.get(key)
        if value is not None and not isinstance(value, list):
            errors.append(f"'{key}' must be a list")
    return errors


def parse_pagerduty(body: Any, generated_key: str) -> PagerDutyEvent:
    """A valid PagerDuty event (call `pagerduty_errors` first); `generated_key` if none given."""
    errors = pagerduty_errors(body)
    if errors:
        raise InvalidInput("Event object is invalid", details=errors)
    action = str(body["event_action"])
    dedup_key = clean_text(str(body.get("dedup_key") or generated_key), 255)
    payload = body.get("payload") if isinstance(body.get("payload"), Mapping) else {}
    assert isinstance(payload, Mapping)
    labels: dict[str, str] = {}
    for key in ("source", "component", "group", "class", "severity"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            labels[key] = clean_text(value, 1024)
    custom = clean(payload.get("custom_details")) if "custom_details" in payload else None
    if isinstance(custom, Mapping):
        for key, value in custom.items():
            if isinstance(value, str) and key not in labels and len(labels) < MAX_LABELS:
                labels[clean_text(key, 200)] = clean_text(value, 1024)
    details: dict[str, Any] = {}
    if custom is not None:
        details["custom_details"] = custom
    for key in ("links", "images", "client", "client_url"):
        if body.get(key) is not None:
            details[key] = clean(body.get(key))
    summary = _text(payload.get("summary"), "payload.summary", 1024)
    alert = AlertIn(
        identity=dedup_key,
        status=PD_ACTIONS[action],
        labels=labels,
        summary=summary or dedup_key,
        group_key=dedup_key,
        starts_at=parse_time(payload.get("timestamp"), "payload.timestamp"),
        source_severity=labels.get("severity"),
        details=details,
    )
    return PagerDutyEvent(
        routing_key=str(body["routing_key"]).strip(),
        action=action,
        dedup_key=dedup_key,
        alert=alert,
    )


# ---- generic JSON webhook with a field mapping ------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-\[\]]+)\s*\}\}")
RESOLVED_WORDS = ("resolved", "ok", "closed", "recovered", "normal", "inactive", "up")
ACK_WORDS = ("acknowledged", "ack", "acknowledge")


class GenericMapping(BaseModel):
    """How to read a generic JSON alert: each field a template like `{{ alert.name }}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = "{{ title }}"
    severity: str = "{{ severity }}"
    dedup_key: str = "{{ dedup_key }}"
    status: str = "{{ status }}"
    service: str = "{{ service }}"
    group_key: str = ""
    labels: str | None = Field(
        default=None, description="Path to an object of labels in the payload, e.g. `tags`."
    )
    resolved_values: tuple[str, ...] = RESOLVED_WORDS

    @field_validator("title", "severity", "dedup_key", "status", "service", "group_key")
    @classmethod
    def _template(cls, value: str) -> str:
        if value.count("{{") != value.count("}}"):
            raise ValueError("unbalanced {{ }} in template")
        return value


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`), or None."""
    current = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _scalar(value: Any) -> Any:
    return None if value is None or isinstance(value, Mapping | list) or value == "" else value


def render_template(template: str, data: Any) -> str:
    """Fill `{{ path }}` placeholders from the payload; missing values render empty."""

    def value(match: re.Match[str]) -> str:
        found = lookup(data, match.group(1))
        if found is None or isinstance(found, Mapping | list):
            return ""
        return str(found)

    return clean_text(_PLACEHOLDER.sub(value, template), 2048).strip()


def parse_generic(body: Any, mapping: GenericMapping) -> AlertIn:
    if not isinstance(body, Mapping):
        raise InvalidInput("the webhook body must be a JSON object")
    title = render_template(mapping.title, body)
    placeholders = _PLACEHOLDER.findall(mapping.title)
    if placeholders and all(_scalar(lookup(body, p)) is None for p in placeholders):
        title = ""
    if not title:
        raise InvalidInput(f"the title template {mapping.title!r} gave nothing for this payload")
    raw_status = render_template(mapping.status, body).lower()
    if raw_status in {v.lower() for v in mapping.resolved_values}:
        status = RESOLVED
    elif raw_status in ACK_WORDS:
        status = ACKNOWLEDGED
    else:
        status = FIRING
    labels: dict[str, str] = {}
    if mapping.labels:
        found = lookup(body, mapping.labels)
        if isinstance(found, Mapping):
            labels = {
                clean_text(str(k), 200): clean_text(str(v), 1024)
                for k, v in list(found.items())[:MAX_LABELS]
                if not isinstance(v, Mapping | list)
            }
    severity = render_template(mapping.severity, body)
    if severity:
        labels.setdefault("severity", severity.lower())
    service = render_template(mapping.service, body) or None
    if service:
        labels.setdefault("service", service)
    dedup_key = render_template(mapping.dedup_key, body) or digest(title)[:32]
    group_key = render_template(mapping.group_key, body) if mapping.group_key else ""
    return AlertIn(
        identity=dedup_key[:255],
        status=status,
        labels=labels,
        summary=title[:1024],
        group_key=group_key or dedup_key,
        source_severity=labels.get("severity"),
        details={"payload": clean(body)},
        service=service,
    )


# ---- label matchers --------------------------------------------------------------------

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager-style label matcher; a missing label matches as the empty string."""

    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER.match(text)
    if match is None:
        raise InvalidInput(
            f"matcher {text!r} must look like name=value, name!=value, name=~regex or name!~regex"
        )
    name, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].replace('\\"', '"')
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise InvalidInput(f"matcher {text!r} has an invalid regex: {exc}") from None
    return Matcher(name=name, op=op, value=value, pattern=pattern)  # type: ignore[arg-type]


def parse_matchers(texts: Sequence[str]) -> list[Matcher]:
    matchers: list[Matcher] = []
    for text in texts:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            stripped = stripped[1:-1]
            parts = [p for p in _split_matchers(stripped) if p.strip()]
            matchers.extend(parse_matcher(p) for p in parts)
        else:
            matchers.append(parse_matcher(stripped))
    return matchers


def _split_matchers(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


# ---- routing ---------------------------------------------------------------------------


class RouteRule(BaseModel):
    """First matching rule decides service, severity and whether to declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    matchers: tuple[str, ...] = ()
    service: str | None = None
    service_label: str = "service"
    severity: str | None = Field(default=None, description="A fixed policy severity.")
    severity_map: dict[str, str] = Field(
        default_factory=dict, description="Source severity (label value) -> policy severity."
    )
    severity_label: str = "severity"
    action: Literal["declare", "record"] | None = None

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            parse_matchers(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return value


class AlertRoutes(BaseModel):
    """The `alert_routes` config section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: tuple[RouteRule, ...] = ()
    # Used when no rule (or the matching rule) gives a mapping; ranks count from 1 (most severe).
    default_severity_map: dict[str, int] = Field(
        default_factory=lambda: {"critical": 2, "error": 3, "warning": 4, "info": 4}
    )
    # Source severities that are only recorded by default (no incident).
    record_only: tuple[str, ...] = ("warning", "info", "none")
    # Severity rank for alerts without (or with an unknown) source severity.
    unknown_severity_rank: int = 3


@dataclass(frozen=True)
class RouteDecision:
    route: str
    service: str | None
    severity: str
    action: str  # declare | record
    source_severity: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "service": self.service,
            "severity": self.severity,
            "action": self.action,
            "source_severity": self.source_severity,
        }


def route_alert(
    labels: Mapping[str, str],
    routes: AlertRoutes,
    severity_ids: Sequence[str],
    resolve_severity: Any,
    *,
    default_service: str | None = None,
    explicit_service: str | None = None,
) -> RouteDecision:
    """Pick the service, policy severity and action for an alert's labels.

    `severity_ids` are the policy's levels, most severe first; `resolve_severity(key)` maps an
    id or alias to its canonical id (raising InvalidInput if unknown).
    """
    rule: RouteRule | None = None
    name = "default"
    for n, candidate in enumerate(routes.routes):
        if matches_all(parse_matchers(candidate.matchers), labels):
            rule = candidate
            name = candidate.name or f"routes.{n}"
            break
    severity_label = rule.severity_label if rule else "severity"
    source = labels.get(severity_label) or None
    source_norm = source.lower() if source else None
    severity: str | None = None
    if rule and rule.severity:
        severity = resolve_severity(rule.severity)
    elif rule and source_norm and source_norm in {k.lower() for k in rule.severity_map}:
        mapped = next(v for k, v in rule.severity_map.items() if k.lower() == source_norm)
        severity = resolve_severity(mapped)
    elif source_norm and source_norm in routes.default_severity_map:
        # The sender's words (critical, warning, ...) first: a policy alias may mean otherwise.
        severity = _by_rank(severity_ids, routes.default_severity_map[source_norm])
    elif source_norm:
        try:
            severity = resolve_severity(source)  # already a policy severity (SEV2, P1)
        except InvalidInput:
            severity = None
    if severity is None:
        severity = _by_rank(severity_ids, routes.unknown_severity_rank)
    if rule and rule.action:
        action = rule.action
    else:
        action = "record" if source_norm in routes.record_only else "declare"
    service_label = rule.service_label if rule else "service"
    service = (
        (rule.service if rule else None)
        or explicit_service
        or labels.get(service_label)
        or default_service
        or None
    )
    return RouteDecision(
        route=name, service=service, severity=severity, action=action, source_severity=source
    )


def _by_rank(severity_ids: Sequence[str], rank: int) -> str:
    index = min(max(rank, 1), len(severity_ids)) - 1
    return severity_ids[index]


def check_routes(routes: AlertRoutes, resolve_severity: Any, services: Sequence[str]) -> list[str]:
    """Cross-reference problems in the routes (unknown severities or services)."""
    problems: list[str] = []
    for n, rule in enumerate(routes.routes):
        for key in ([rule.severity] if rule.severity else []) + list(rule.severity_map.values()):
            try:
                resolve_severity(key)
            except InvalidInput:
                problems.append(f"routes.{n}: unknown severity {key!r}")
        if rule.service and services and rule.service not in services:
            problems.append(f"routes.{n}: unknown service {rule.service!r}")
    return problems


# ---- what an incident's alerts mean for it ----------------------------------------------


@dataclass(frozen=True)
class AlertTally:
    """What one intake request learned about one incident's alerts.

    `refired`: a new alert attached; `acknowledged`/`resolved`: one of its alerts was
    acknowledged/resolved, so `firing` and `acknowledged_open` (its open alerts by status,
    counted after the request's writes) decide whether the incident follows.
    """

    refired: bool = False
    acknowledged: bool = False
    resolved: bool = False
    firing: int = 0
    acknowledged_open: int = 0

    @property
    def open(self) -> int:
        return self.firing + self.acknowledged_open

    @property
    def may_move(self) -> bool:
        """Whether the rules below can add anything beyond the request's own events."""
        return (self.resolved and self.open == 0) or (
            self.acknowledged and self.firing == 0 and self.open > 0
        )


def follow_alerts(
    state: IncidentState,
    planned: Sequence[Event],
    tally: AlertTally,
    *,
    actor: str,
    at: datetime,
    auto_resolve: bool,
) -> list[Event]:
    """The events to append to an incident: `planned` (alerts attached, acknowledged, ...),
    then what its alerts now mean for it:

    - a new alert while in monitoring: back to investigating (the fix did not hold);
    - every open alert acknowledged (none firing) while triggered or reopened: acknowledged;
    - no open alert left on an auto-declared open incident: monitoring (resolving stays a
      person's decision), and resolved right away when the policy sets `alerts_auto_resolve`.
    """
    events = list(planned)
    after = state
    for event in events:
        after = apply(after, event)

    def add(event: Event) -> None:
        nonlocal after
        events.append(event)
        after = apply(after, event)

    if tally.refired and after.status is Status.MONITORING:
        reason = "a new alert fired while the incident was in monitoring"
        add(
            Event(
                "status_changed",
                actor,
                at,
                {
                    "from": Status.MONITORING.value,
                    "to": Status.INVESTIGATING.value,
                    "reason": reason,
                },
            )
        )
    if tally.acknowledged and tally.firing == 0 and tally.open > 0 and after.status.awaiting_ack:
        add(
            Event(
                "acknowledged",
                actor,
                at,
                {"reason": "every open alert of this incident was acknowledged"},
            )
        )
    all_resolved = tally.resolved and tally.open == 0 and after.source == "alert"
    if all_resolved and after.is_open and after.status is not Status.MONITORING:
        add(
            Event(
                "status_changed",
                actor,
                at,
                {
                    "from": after.status.value,
                    "to": Status.MONITORING.value,
                    "reason": "all alerts of this incident have resolved; "
                    "resolving it is a person's decision",
                },
            )
        )
    if all_resolved and after.status is Status.MONITORING and auto_resolve:
        add(
            Event(
                "resolved",
                actor,
                at,
                {
                    "from": after.status.value,
                    "summary": "All alerts resolved; auto-resolved by policy "
                    "(alerts_auto_resolve).",
                    "checklist": {},
                    "auto": True,
                },
            )
        )
    return events
