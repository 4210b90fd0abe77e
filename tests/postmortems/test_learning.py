"""Pure learning functions as tables: similarity reasons, recurring patterns, runbook drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from warroom.incidents.model import Event, fold
from warroom.postmortems import draft, patterns, runbook_draft
from warroom.postmortems.similarity import Features, SimilarityIndex, score, tokens

T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

BASE = Features.of(
    services=["payments"],
    fingerprints=["c6f7e8d1a2b3c4d5"],
    labels={"team": "core", "env": "prod"},
    change_kinds=["deploy"],
    title="Checkout returns 500 errors",
    summary="card payments fail after deploy",
)


@pytest.mark.parametrize(
    ("other", "reasons", "minimum", "maximum"),
    [
        (
            Features.of(services=["payments"]),
            ["same service: payments"],
            3.0,
            3.0,
        ),
        (
            Features.of(fingerprints=["c6f7e8d1a2b3c4d5"]),
            ["same alert fingerprint: c6f7e8d1a2b3c4d5"],
            4.0,
            4.0,
        ),
        (
            Features.of(labels={"team": "core", "env": "prod", "x": "y"}),
            ["shared labels: env=prod, team=core"],
            1.5,
            1.5,
        ),
        (
            Features.of(change_kinds=["deploy"]),
            ["same change kind: deploy"],
            1.5,
            1.5,
        ),
        (
            Features.of(title="Checkout returns 500 errors"),
            ["similar text (0.50): 500, checkout, errors, returns"],
            2.0,
            2.0,
        ),
        (
            Features.of(services=["search"], title="Search is slow", labels={"team": "web"}),
            [],
            0.0,
            0.0,
        ),
        (
            Features.of(
                services=["payments", "ledger"],
                fingerprints=["c6f7e8d1a2b3c4d5"],
                change_kinds=["deploy"],
                title="Checkout 500s after payments deploy",
            ),
            [
                "same service: payments",
                "same alert fingerprint: c6f7e8d1a2b3c4d5",
                "same change kind: deploy",
                "similar text (0.33): checkout, deploy, payments",
            ],
            9.8,
            9.9,
        ),
    ],
)
def test_similarity_reasons(
    other: Features, reasons: list[str], minimum: float, maximum: float
) -> None:
    match = score(BASE, other)
    assert match.reasons == reasons
    assert minimum <= match.score <= maximum


def test_tokens_drop_stop_words_and_short_words() -> None:
    assert tokens("The DB is down for all users", "") == frozenset({"down"})


def test_index_finds_candidates_and_ranks_them() -> None:
    index = SimilarityIndex()
    index.put(1, Features.of(services=["payments"], title="Payments down"))
    index.put(2, Features.of(services=["search"], title="Search slow"))
    index.put(3, BASE)
    index.put(4, Features.of(fingerprints=["c6f7e8d1a2b3c4d5"], title="Checkout errors"))
    found = index.lookup(BASE, limit=3, exclude=3)
    assert [key for key, _ in found] == [4, 1]
    index.remove(4)
    assert [key for key, _ in index.lookup(BASE, exclude=3)] == [1]
    index.put(1, Features.of(services=["search"], title="Moved"))  # re-indexing replaces
    assert index.lookup(BASE, exclude=3) == []


@pytest.mark.parametrize(
    ("dates", "category", "threshold", "expected"),
    [
        ([0, 10, 20], "deployment", 3, [("payments", "deployment", 3)]),
        ([0, 10], "deployment", 3, []),
        ([0, 10, 95], "deployment", 3, []),  # the third is outside 90 days
        ([0, 10, 20], None, 3, []),  # no category: not a pattern
        ([0, 10, 20], "unknown", 3, []),
        ([0, 1], "capacity", 2, [("payments", "capacity", 2)]),
    ],
)
def test_recurring_patterns(
    dates: list[int], category: str | None, threshold: int, expected: list[tuple[str, str, int]]
) -> None:
    now = T
    incidents = [
        patterns.PastIncident(
            public_id=f"INC-{n}",
            title="x",
            severity="SEV2",
            services=("payments",),
            declared_at=now - timedelta(days=days),
            category=category,
        )
        for n, days in enumerate(dates)
    ]
    found = patterns.detect(incidents, now=now, window=timedelta(days=90), threshold=threshold)
    assert [(p.service, p.category, p.count) for p in found] == expected


def test_critical_patterns_document() -> None:
    incidents = [
        patterns.PastIncident(
            public_id=f"INC-2026112{n}-001",
            title="Checkout down",
            severity="SEV1",
            services=("payments",),
            declared_at=T - timedelta(days=n),
            category="deployment",
            root_cause="Pool limit | too small",
            changes=("deploy payments v2.3.1",),
            mitigations=(("roll back", "success"), ("restart pods", "no effect")),
            open_items=1,
        )
        for n in range(3)
    ]
    found = patterns.detect(incidents, now=T, window=timedelta(days=90), threshold=3)
    text = patterns.render(incidents, found, now=T, window=timedelta(days=90), threshold=3)
    assert "# Critical patterns" in text
    assert "**payments / deployment**: 3 incidents" in text
    assert "3 action item(s) still open" in text
    assert "Pool limit \\| too small" in text
    assert "worked: roll back" in text and "did not help: restart pods" in text


def _events() -> list[Event]:
    declared = {
        "public_id": "INC-20261123-001",
        "title": "Checkout 500s",
        "severity": "SEV1",
        "type": "deployment_related",
        "services": ["payments"],
    }
    return [
        Event("declared", "alice", T, declared),
        Event(
            "runbook_step_ran",
            "dave",
            T + timedelta(minutes=5),
            {"runbook": "payments-5xx", "step": "Check DB pool", "kind": "manual", "status": "ok"},
        ),
        Event(
            "runbook_step_ran",
            "dave",
            T + timedelta(minutes=6),
            {"runbook": "payments-5xx", "step": "Check DB pool", "kind": "manual", "status": "ok"},
        ),
        Event(
            "mitigation_applied",
            "dave",
            T + timedelta(minutes=7),
            {"action": "restart pods", "outcome": "no effect"},
        ),
        Event(
            "mitigation_applied",
            "dave",
            T + timedelta(minutes=9),
            {"action": "roll back to v2.3.0", "outcome": "success"},
        ),
    ]


def test_runbook_draft_from_steps_taken() -> None:
    events = _events()
    runbook = runbook_draft.draft(fold(events), events)
    assert runbook["id"] == "payments-checkout-500s"
    assert runbook["match"] == {
        "types": ["deployment_related"],
        "services": ["payments"],
        "labels": {},
    }
    assert runbook["steps"] == [
        {"id": "check-db-pool", "kind": "manual", "title": "Check DB pool", "automatic": False},
        {
            "id": "mitigate-roll-back-to-v2-3-0",
            "kind": "manual",
            "title": "Mitigate: roll back to v2.3.0",
            "automatic": False,
        },
    ]
    assert yaml.safe_load(runbook_draft.to_yaml(runbook)) == runbook


def test_runbook_extension_adds_only_missing_steps() -> None:
    events = _events()
    existing = {
        "id": "payments-5xx",
        "title": "Payments 5xx",
        "description": "When payments errors",
        "match": {"types": ["service_outage"], "services": ["payments"], "labels": {"team": "x"}},
        "steps": [{"id": "check-db-pool", "kind": "manual", "title": "Check DB pool"}],
    }
    extended = runbook_draft.draft(fold(events), events, extend=existing)
    assert [s["id"] for s in extended["steps"]] == ["check-db-pool", "mitigate-roll-back-to-v2-3-0"]
    assert extended["match"]["types"] == ["service_outage", "deployment_related"]
    assert extended["match"]["labels"] == {"team": "x"}
    assert "Extended from INC-20261123-001 with 1 step(s)." in extended["description"]


def test_merge_keeps_people_sections_and_extra_ones() -> None:
    events = _events()
    state = fold(events)
    old = draft.render(state, events[:1], owner="carol", due_at=None, requirement="required")
    old = old.replace(
        "What in the system allowed this to happen? Describe mechanisms, not people.",
        "Pool exhaustion.",
    )
    old += "\n## Appendix\n\nGraphs.\n"
    fresh = draft.render(state, events, owner="carol", due_at=None, requirement="required")
    merged = draft.merge_human_sections(fresh, old)
    assert "Pool exhaustion." in merged
    assert "## Appendix\n\nGraphs." in merged
    assert "roll back to v2.3.0" in merged  # new facts
    assert draft.written_root_cause(merged) == "Pool exhaustion."
    assert draft.written_root_cause(fresh) == ""


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("The deploy lacked a canary stage.", 0),
        ("Bob was careless.", 1),
        ("It was human error and his fault.", 2),
        ("Default timeouts were too short.", 0),
    ],
)
def test_blame_hints(text: str, count: int) -> None:
    assert len(draft.blame_warnings(text)) == count


@pytest.mark.parametrize(
    ("event_type", "data", "line"),
    [
        ("acknowledged", {}, "Incident acknowledged"),
        (
            "severity_changed",
            {"from": "SEV2", "to": "SEV1", "reason": "spread"},
            "Severity SEV2 → SEV1 (spread)",
        ),
        (
            "role_assigned",
            {"role": "commander", "person": "carol"},
            "carol took the commander role",
        ),
        ("note_added", {"text": "db at 100%"}, "Note: db at 100%"),
        (
            "alert_attached",
            {"labels": {"alertname": "HighErrorRate"}, "fingerprint": "ab"},
            "Alert HighErrorRate attached (fingerprint ab)",
        ),
        (
            "deploy_correlated",
            {"service": "payments", "version": "v2"},
            "Change correlated: payments v2",
        ),
        (
            "mitigation_applied",
            {"action": "roll back", "outcome": "success"},
            "Mitigation tried: roll back → success",
        ),
        (
            "runbook_step_ran",
            {"runbook": "rb", "step": "s1", "kind": "http", "status": "ok"},
            "Runbook rb step s1 (http): ok",
        ),
        (
            "status_update_published",
            {"message": "We are investigating"},
            "Status update published: We are investigating",
        ),
        (
            "notification_sent",
            {"recipient": "carol", "channel": "slack", "reason": "page"},
            "Notified carol via slack (page)",
        ),
        (
            "escalated",
            {"targets": ["contact:executives"], "rule": "sev1-60m"},
            "Escalated to contact:executives (sev1-60m)",
        ),
        ("resolved", {"summary": "rolled back"}, "Resolved: rolled back"),
        ("something_new", {}, "Something new"),
    ],
)
def test_timeline_lines(event_type: str, data: dict[str, object], line: str) -> None:
    assert draft.describe(Event(event_type, "x", T, data)) == line


def test_markdown_table_cells_are_escaped() -> None:
    assert draft.cell("a | b\nc") == "a \\| b c"
