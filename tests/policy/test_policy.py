"""The policy engine: presets, validation with paths, look-ups, triage as tables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from warroom.core.config import check_config_file, parse_config
from warroom.core.errors import ConfigError, InvalidInput
from warroom.core.vocab import IncidentType
from warroom.policy.loader import PRESET_NAMES, load_preset, parse_policy, policy_to_data
from warroom.policy.schema import TriageAnswers
from warroom.policy.triage import propose


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_is_valid_and_round_trips(name: str) -> None:
    policy = load_preset(name)
    assert policy.name == name
    assert len(policy.resolution_checklist) >= 4
    assert parse_policy(policy_to_data(policy)) == policy


@pytest.mark.parametrize(
    ("name", "items"),
    [
        ("nexus-micro", {"no_cascading_failures", "response_times_normal"}),  # 000 step 4
        ("orchestrator", {"monitoring_stable", "users_can_use_feature"}),  # 001 phase 5
        ("bmad-p0-p4", {"latency_normal", "synthetic_monitors_passing"}),  # 002 step 7
        ("hierarchical", {"latency_within_sla", "no_new_errors"}),  # 003 stage 4
        ("phased", {"critical_paths_tested", "user_impact_ended"}),  # 004 step 5.1
    ],
)
def test_seed_verification_checklists_list_latency_synthetic_checks_and_critical_paths(
    name: str, items: set[str]
) -> None:
    assert items <= {item.id for item in load_preset(name).resolution_checklist}


@pytest.mark.parametrize(
    ("name", "windows"),
    [
        ("nexus-micro", {"P0": 30, "P1": 30, "P2": 30, "P3": 30}),  # 000: 30 minutes post-fix
        ("orchestrator", {"SEV1": 30, "SEV2": 30, "SEV3": 15, "SEV4": 15}),  # 001: 15-30
        ("bmad-p0-p4", {"P0": 30, "P1": 30, "P2": 15, "P3": 15, "P4": 15}),  # 002: 15-30
        ("hierarchical", {"SEV1": 30, "SEV2": 30, "SEV3": 30, "SEV4": 30}),  # 003: 30m
        ("phased", {"SEV1": 0, "SEV2": 0, "SEV3": 0, "SEV4": 0}),  # 004: a verification phase
    ],
)
def test_seed_presets_require_monitoring_before_resolve_with_the_seeds_window(
    name: str, windows: dict[str, int]
) -> None:
    policy = load_preset(name)
    assert policy.resolve_requires_verification is True
    found = {
        level.id: int(level.verification_window.total_seconds() // 60)
        for level in policy.severities
        if level.verification_window is not None
    }
    assert found == windows
    assert load_preset("default").resolve_requires_verification is False


def test_seed003_skip_if_sev1_is_off_by_default_and_on_in_its_preset_with_a_warning() -> None:
    assert load_preset("default").hotfix.skip_review_if_sev1 is False
    assert load_preset("default").warnings() == []
    hierarchical = load_preset("hierarchical")
    assert hierarchical.hotfix.skip_review_if_sev1 is True
    assert [path for path, _ in hierarchical.warnings()] == ["policy.hotfix.skip_review_if_sev1"]
    both = load_preset("phased").model_copy(update={"alerts_auto_resolve": True})
    assert [path for path, _ in both.warnings()] == ["policy.alerts_auto_resolve"]


def test_stop_rules_and_hotfix_rules_are_checked() -> None:
    base = policy_to_data(load_preset("default"))
    bad = {
        **base,
        "stop_rules": [{"id": "x", "text": "t", "flags": ["a"], "when": "recurrence"}],
    }
    with pytest.raises(ConfigError) as both:
        parse_policy(bad)
    assert "either flags or when" in str(both.value.details)
    with pytest.raises(ConfigError) as unknown:
        parse_policy({**base, "hotfix": {"severities": ["SEV9"]}})
    assert "SEV9" in str(unknown.value.details)


@pytest.mark.parametrize(
    ("name", "ids", "response_of_second"),
    [
        ("default", ["SEV1", "SEV2", "SEV3", "SEV4"], timedelta(hours=1)),
        ("nexus-micro", ["P0", "P1", "P2", "P3"], timedelta(hours=1)),
        ("orchestrator", ["SEV1", "SEV2", "SEV3", "SEV4"], timedelta(hours=1)),
        ("bmad-p0-p4", ["P0", "P1", "P2", "P3", "P4"], timedelta(minutes=15)),
        ("hierarchical", ["SEV1", "SEV2", "SEV3", "SEV4"], timedelta(minutes=30)),
        ("phased", ["SEV1", "SEV2", "SEV3", "SEV4"], timedelta(minutes=15)),
    ],
)
def test_presets_keep_their_own_scales(
    name: str, ids: list[str], response_of_second: timedelta
) -> None:
    policy = load_preset(name)
    assert policy.severity_ids() == ids
    assert policy.severities[1].response_target.within == response_of_second


def test_seed_facts_carried_into_presets() -> None:
    default = load_preset("default")
    cadence = [level.update_interval for level in default.severities]
    assert cadence == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), None]
    assert [lvl.postmortem.requirement for lvl in default.severities] == [
        "required",
        "required",
        "recommended",
        "optional",
    ]
    breach = next(r for r in default.escalation.condition_based if r.id == "data-breach")
    assert breach.clock is not None
    assert breach.clock.deadline == timedelta(hours=72)
    assert breach.clock.reminders == (
        timedelta(hours=24),
        timedelta(hours=48),
        timedelta(hours=66),
    )
    nexus = load_preset("nexus-micro")
    p0 = next(r for r in nexus.escalation.time_based if r.id == "p0-unresolved-30m")
    assert (p0.after, p0.notify) == (timedelta(minutes=30), ("contact:studio_producer",))
    assert nexus.severity("P0").executive_brief and not nexus.severity("P1").executive_brief
    bmad = load_preset("bmad-p0-p4")
    assert bmad.severity("P2").postmortem.due_within == timedelta(weeks=1)
    gates = load_preset("orchestrator").severity("SEV1").hotfix_gates
    assert gates == {
        "review": "required",
        "tests": "may_skip",
        "staging": "required",
        "security_scan": "skip",
        "docs": "after",
    }


@pytest.mark.parametrize(
    ("key", "expected"),
    [("SEV1", "SEV1"), ("sev-1", "SEV1"), ("P0", "SEV1"), ("p1", "SEV2"), ("Sev 3", "SEV3")],
)
def test_severity_aliases_and_spelling(key: str, expected: str) -> None:
    assert load_preset("default").severity(key).id == expected


def test_unknown_severity_lists_the_scale() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_preset("default").severity("SEV9")
    assert "SEV1 (P0/critical)" in caught.value.message


def problems_of(data: Any) -> list[dict[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return list(caught.value.details)


@pytest.mark.parametrize(
    ("data", "path", "needle"),
    [
        ({"policy": "nope"}, "policy", "unknown preset"),
        (
            {"policy": {"extends": "default", "recurrence_window": "soon"}},
            "recurrence_window",
            "duration",
        ),
        ({"policy": {"extends": "default", "bogus": 1}}, "policy.bogus", "Extra inputs"),
        (
            {"policy": {"extends": "default", "triage": {"fallback_severity": "SEV9"}}},
            "policy.triage.fallback_severity",
            "unknown severity",
        ),
        (
            {
                "policy": {
                    "extends": "default",
                    "escalation": {
                        "time_based": [
                            {
                                "id": "x",
                                "severities": ["SEV7"],
                                "after": "5m",
                                "notify": ["contact:legal"],
                            }
                        ]
                    },
                }
            },
            "policy.escalation.time_based.0.severities",
            "SEV7",
        ),
        (
            {
                "policy": {
                    "extends": "default",
                    "escalation": {
                        "condition_based": [
                            {"id": "x", "when": "x_flag", "notify": ["contact:nobody"]}
                        ]
                    },
                }
            },
            "policy.escalation.condition_based.0.notify",
            "contact:<name>",
        ),
        ({"services": [{"name": "Bad Name"}]}, "services.0.name", "slug"),
        (
            {"services": [{"name": "a", "dependencies": ["ghost"]}]},
            "services.0.dependencies",
            "ghost",
        ),
        ({"services": 7}, "services", "list"),
        ({"surprise": {}}, "surprise", "unknown section"),
    ],
)
def test_config_errors_name_the_bad_field(data: Any, path: str, needle: str) -> None:
    problems = problems_of(data)
    assert any(p["path"].endswith(path) and needle in p["message"] for p in problems), problems


def test_hotfix_without_review_is_not_a_valid_policy() -> None:
    data = policy_to_data(load_preset("default"))
    data["severities"][0]["hotfix_gates"]["review"] = "skip"
    with pytest.raises(ConfigError) as caught:
        parse_policy(data)
    assert "review" in caught.value.message


def test_check_config_file_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("policy:\n  extends: default\n  recurrence_window: soon\nservices: 7\n")
    assert {p["path"] for p in check_config_file(path)} == {"policy.recurrence_window", "services"}
    path.write_text("policy: [unclosed\n")
    assert "line" in check_config_file(path)[0]["path"]
    assert check_config_file(tmp_path / "missing.yaml")[0]["path"] == "(file)"
    path.write_text(
        "policy: phased\nservices:\n  - {name: api, dependencies: [db]}\n  - {name: db}\n"
    )
    assert check_config_file(path) == []


@pytest.mark.parametrize(
    ("answers", "severity", "rule", "incident_type"),
    [
        ({"complete_outage": True}, "SEV1", "complete-outage", IncidentType.SERVICE_OUTAGE),
        ({"data_loss": True}, "SEV1", "data-loss", IncidentType.DATA_LOSS),
        ({"security_breach": True}, "SEV1", "security-breach", IncidentType.SECURITY_INCIDENT),
        (
            {"users_affected_pct": 60, "performance_only": True},
            "SEV2",
            "most-users",
            IncidentType.PERFORMANCE_DEGRADATION,
        ),
        (
            {"customer_facing": True, "workaround": False},
            "SEV2",
            "customer-facing-no-workaround",
            IncidentType.SERVICE_OUTAGE,
        ),
        (
            {"customer_facing": True, "workaround": True},
            "SEV3",
            "workaround-exists",
            IncidentType.SERVICE_OUTAGE,
        ),
        (
            {"users_affected_pct": 10, "recent_deploy": True},
            "SEV3",
            "some-users",
            IncidentType.DEPLOYMENT_RELATED,
        ),
        ({"third_party": True}, "SEV4", "fallback", IncidentType.THIRD_PARTY_FAILURE),
        ({"users_affected_pct": 1}, "SEV4", "fallback", IncidentType.SERVICE_OUTAGE),
    ],
)
def test_triage_first_matching_rule_decides(
    answers: dict[str, Any], severity: str, rule: str, incident_type: IncidentType
) -> None:
    proposal = propose(load_preset("default"), TriageAnswers(**answers))
    assert (proposal.severity, proposal.severity_rule, proposal.type) == (
        severity,
        rule,
        incident_type,
    )
    assert proposal.reasons[0].startswith(f"severity {severity}")


def test_triage_unanswered_question_never_matches() -> None:
    # "not workaround" must not match when the workaround question was not answered.
    proposal = propose(load_preset("default"), TriageAnswers(customer_facing=True))
    assert proposal.severity_rule == "fallback"


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_triage_with_every_answer_unknown_proposes_no_severity(preset: str) -> None:
    """Knowing nothing is no evidence of a small incident: never the lowest severity."""
    proposal = propose(load_preset(preset), TriageAnswers())
    assert proposal.severity is None
    assert proposal.severity_rule == "unanswered"
    assert "every answer is unknown" in proposal.reasons[0]
    answered = propose(load_preset(preset), TriageAnswers(third_party=False))
    assert answered.severity is not None


def test_triage_uses_the_presets_own_scale() -> None:
    assert propose(load_preset("bmad-p0-p4"), TriageAnswers(third_party=True)).severity == "P4"
    assert propose(load_preset("nexus-micro"), TriageAnswers(complete_outage=True)).severity == "P0"
