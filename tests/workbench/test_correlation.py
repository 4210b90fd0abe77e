"""Change correlation scoring as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warroom.workbench.correlation import Change, correlate, describe

STARTED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
DEPS = {"checkout": ("payments",), "payments": ("db",)}


def change(n: int, service: str, kind: str, minutes_before: float, version: str = "") -> Change:
    return Change(n, service, kind, version, STARTED - timedelta(minutes=minutes_before))


@pytest.mark.parametrize(
    ("item", "relation", "score"),
    [
        (change(1, "payments", "deploy", 0), "same service", 1.0),
        (change(2, "payments", "deploy", 720), "same service", 0.5),
        (change(3, "payments", "config", 720), "same service", 0.45),
        (change(4, "db", "deploy", 720), "dependency", 0.3),
        (change(5, "payments", "flag", 1440), "same service", 0.0),
    ],
)
def test_scores(item: Change, relation: str, score: float) -> None:
    found = correlate(
        [item], services=["payments"], dependencies=DEPS, started_at=STARTED, window=WINDOW
    )
    assert len(found) == 1
    assert found[0].relation == relation
    assert found[0].score == pytest.approx(score)


@pytest.mark.parametrize(
    "item",
    [
        change(1, "web", "deploy", 5),  # unrelated service
        change(2, "payments", "deploy", -5),  # after impact began
        change(3, "payments", "deploy", 24 * 60 + 1),  # outside the window
        change(4, "checkout", "deploy", 5),  # depends on payments, not a dependency of it
    ],
)
def test_excluded(item: Change) -> None:
    assert (
        correlate(
            [item], services=["payments"], dependencies=DEPS, started_at=STARTED, window=WINDOW
        )
        == []
    )


def test_ordering_best_first_and_reason() -> None:
    changes = [
        change(1, "db", "deploy", 3, "pg15.4"),
        change(2, "payments", "deploy", 7, "v2.3.1"),
        change(3, "payments", "config", 60),
    ]
    found = correlate(
        changes, services=["payments"], dependencies=DEPS, started_at=STARTED, window=WINDOW
    )
    assert [c.change.id for c in found] == [2, 3, 1]
    assert found[0].reason == "deploy of payments v2.3.1, 7 minutes before impact, same service"
    assert found[2].reason == "deploy of db pg15.4, 3 minutes before impact, dependency"


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0.2, "less than a minute"), (1, "1 minute"), (90, "90 minutes"), (300, "5h")],
)
def test_describe_times(minutes: float, text: str) -> None:
    item = change(1, "payments", "flag", minutes)
    assert describe(item, "same service", timedelta(minutes=minutes)) == (
        f"feature flag change of payments, {text} before impact, same service"
    )
