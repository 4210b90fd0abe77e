"""The triage questions are defined once (warroom.core.vocab); every schema asks them all."""

from __future__ import annotations

from warroom.core.vocab import TRIAGE_KEYS, Status
from warroom.incidents.schemas import TriageIn
from warroom.policy.schema import Condition, TriageAnswers
from warroom.web.views import TRIAGE_QUESTIONS as WEB_QUESTIONS


def test_api_policy_and_web_ask_the_same_questions() -> None:
    share = {"users_affected_pct"}
    assert set(TriageIn.model_fields) - share == set(TRIAGE_KEYS)
    assert set(TriageAnswers.model_fields) - share == set(TRIAGE_KEYS)
    conditions = {"users_affected_pct_gte", "users_affected_pct_lt"}
    assert set(Condition.model_fields) - conditions == set(TRIAGE_KEYS)
    assert [key for key, _ in WEB_QUESTIONS] == list(TRIAGE_KEYS)


def test_awaiting_acknowledgement_means_nobody_took_it_yet() -> None:
    assert [s for s in Status if s.awaiting_ack] == [Status.TRIGGERED, Status.REOPENED]
