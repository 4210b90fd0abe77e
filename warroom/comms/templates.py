"""Policy-editable message templates, rendered in a sandbox.

Templates are Jinja2 in an immutable sandbox (no attribute tricks, no writes, no imports) with
strict undefined variables, so a typo fails `warroom config check` instead of sending a
half-empty message. Each kind gets its own context, built from an allow-list: the public
templates never receive internal notes, titles or summaries, so no template edit can leak them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from warroom.core.errors import InvalidInput

MAX_OUTPUT = 20_000

DEFAULTS: dict[str, str] = {
    "internal": (
        "[{{ timestamp }}] {{ services or 'Service' }} incident {{ incident.id }} "
        "({{ incident.severity }}): {{ incident.title }}\n"
        "Status: {{ status_label }}\n"
        "Impact: {{ impact }}\n"
        "Current action: {{ action }}\n"
        "{% if eta %}ETA to resolution: {{ eta }}\n{% endif %}"
        "{% if note %}Internal note: {{ note }}\n{% endif %}"
        "Next update: {{ next_update }}"
    ),
    "public": (
        "{{ status_label }} - {{ impact }}\n{{ action }}\n"
        "{% if eta %}ETA to resolution: {{ eta }}\n{% endif %}"
        "Next update: {{ next_update }}."
    ),
    "brief": (
        "INCIDENT BRIEF - {{ timestamp }}\n"
        "SITUATION: {{ services or 'The service' }} is {{ condition }} affecting {{ affected }}\n"
        "CAUSE: {% if cause %}Known - {{ cause }}{% else %}Under investigation{% endif %}\n"
        "ACTION: {{ action }} - ETA {{ eta or 'not yet known' }}\n"
        "IMPACT: {{ business_impact or impact }}\n"
        "NEXT UPDATE: {{ next_update }}"
    ),
    "resolution": (
        "RESOLVED: {{ incident.id }} ({{ incident.severity }}) {{ incident.title }}\n"
        "Duration: {{ duration }}\n"
        "Impact: {{ impact or 'not recorded' }}\n"
        "What fixed it: {{ fix or 'not recorded' }}\n"
        "Root cause (brief): {{ root_cause or 'under investigation' }}\n"
        "Post-mortem: {{ postmortem }}"
    ),
    "public_resolution": (
        "This incident has been resolved"
        "{% if components %}; {{ components }} {{ 'are' if many else 'is' }} operating "
        "normally{% endif %}."
        "{% if root_cause %} Root cause: {{ root_cause }}.{% endif %}"
        " We apologise for the disruption."
    ),
}

KINDS = tuple(DEFAULTS)

# Sample contexts: every variable each kind offers (used to check edited templates offline).
_INCIDENT = {"id": "INC-20260101-001", "severity": "SEV1", "title": "t", "type": "service_outage"}
SAMPLES: dict[str, dict[str, Any]] = {
    "internal": {
        "incident": _INCIDENT,
        "timestamp": "2026-01-01 10:00 UTC",
        "services": "payments",
        "status": "identified",
        "status_label": "Identified",
        "impact": "i",
        "action": "a",
        "note": "n",
        "cause": "c",
        "eta": "e",
        "business_impact": "b",
        "next_update": "10:30 UTC",
        "next_update_at": "2026-01-01T10:30:00+00:00",
    },
    "public": {
        "timestamp": "2026-01-01 10:00 UTC",
        "components": "Payments",
        "status": "identified",
        "status_label": "Identified",
        "impact": "i",
        "action": "a",
        "eta": "e",
        "next_update": "10:30 UTC",
        "next_update_at": "2026-01-01T10:30:00+00:00",
    },
    "brief": {
        "incident": _INCIDENT,
        "timestamp": "2026-01-01 10:00 UTC",
        "services": "payments",
        "condition": "down",
        "affected": "1200 users",
        "status": "identified",
        "status_label": "Identified",
        "impact": "i",
        "action": "a",
        "cause": "c",
        "eta": "e",
        "business_impact": "b",
        "next_update": "10:30 UTC",
    },
    "resolution": {
        "incident": _INCIDENT,
        "services": "payments",
        "duration": "1h 5m",
        "impact": "i",
        "fix": "f",
        "root_cause": "r",
        "postmortem": "due 2026-01-03",
        "resolved_at": "2026-01-01T11:05:00+00:00",
    },
    "public_resolution": {
        "components": "Payments",
        "many": False,
        "duration": "1h 5m",
        "root_cause": "r",
    },
}

_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@lru_cache(maxsize=64)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


def render(kind: str, source: str, context: dict[str, Any]) -> str:
    """Render one message; the built-in template when `source` is empty."""
    text = source or DEFAULTS[kind]
    try:
        output: str = _compile(text).render(**context)
    except TemplateError as exc:
        raise InvalidInput(
            f"the {kind} template failed: {exc}", code="template_error", details={"kind": kind}
        ) from None
    return output.strip()[:MAX_OUTPUT]


def check(kind: str, source: str) -> str | None:
    """A problem with an edited template (syntax, unknown variable, sandbox), or None."""
    if not source:
        return None
    try:
        _compile(source).render(**SAMPLES[kind])
    except TemplateError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
