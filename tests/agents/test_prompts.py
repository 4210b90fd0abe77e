"""Role prompts are built from the policy in force (pure)."""

from __future__ import annotations

import pytest

from warroom.agents.prompts import role_prompt
from warroom.policy.loader import PRESET_NAMES, load_preset, parse_policy


@pytest.mark.parametrize("preset", PRESET_NAMES)
@pytest.mark.parametrize("role", ["commander", "investigator", "communications"])
def test_every_preset_gives_every_role_its_severities_and_limits(preset: str, role: str) -> None:
    policy = load_preset(preset)
    text = role_prompt(role, policy)  # type: ignore[arg-type]
    for level in policy.severities:
        assert f"- {level.id}" in text
        assert level.response_target.label in text
    for item in policy.resolution_checklist:
        assert item.text in text
    assert "## Your limits" in text
    assert "you draft them; a person publishes" in text


def test_the_policy_shapes_the_limits() -> None:
    policy = parse_policy(
        {
            "extends": "default",
            "agents": {"may_publish_public": True, "close_requires_published_postmortem": False},
        }
    )
    text = role_prompt("communications", policy)
    assert "you may publish them" in text
    assert "only after the post-mortem is published" not in text


def test_an_incident_adds_its_state() -> None:
    incident = {
        "id": "INC-20261123-004",
        "title": "Search <slow>",
        "severity": "SEV3",
        "type": "performance_degradation",
        "status": "investigating",
        "services": ["search"],
        "roles": {"investigator": "bob"},
        "roles_missing": ["verifier"],
        "next_update_due_at": "2026-11-23T11:00:00+00:00",
        "targets": {"response": {"label": "< 4h", "due_at": "2026-11-23T14:00:00+00:00"}},
        "allowed_moves": ["identified", "resolved"],
    }
    text = role_prompt("commander", load_preset("default"), incident)
    assert "INC-20261123-004: Search <slow>" in text
    assert "roles still to fill: verifier" in text
    assert "next update due at 2026-11-23T11:00:00+00:00" in text
    assert "response target < 4h: due 2026-11-23T14:00:00+00:00" in text
