"""The on-call overview and schedule pages say who is on call now and next, show gaps in
coverage in red, and tell the signed-in person their own shifts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from tests.web.conftest import WebUser
from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.oncall import models

ONE_HOUR = {"start": "00:00", "end": "01:00"}
ADMIN = Principal(name="user:alice", scopes=frozenset({"admin"}), kind="session")


def _row(html: str, schedule: str) -> str:
    found = re.search(rf'<tr id="coverage-{schedule}">(.*?)</tr>', html, re.S)
    assert found, html[:3000]
    return found.group(1)


def _setup(runtime: Runtime) -> None:
    for name in ("bob", "carol"):
        runtime.oncall.create_person(ADMIN, models.PersonIn(name=name))
    start = runtime.clock.now().replace(tzinfo=None) - timedelta(hours=1)
    # Always covered: bob then carol, a day each.
    runtime.oncall.create_schedule(
        ADMIN,
        models.ScheduleIn(
            name="primary",
            layers=[models.LayerIn(users=["bob", "carol"], start=start, shift_unit="days")],
        ),
    )
    # Covered only 00:00-01:00 each day: gaps the rest of the time.
    runtime.oncall.create_schedule(
        ADMIN,
        models.ScheduleIn(
            name="thin",
            layers=[
                models.LayerIn(
                    users=["carol"],
                    start=start,
                    shift_unit="days",
                    restrictions=[models.RestrictionIn.model_validate(ONE_HOUR)],
                )
            ],
        ),
    )


def test_overview_says_now_next_and_gaps_and_your_shifts(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    bob = web_as("bob", "responder")
    page = bob.get("/oncall").text
    primary = _row(page, "primary")
    assert '<span class="oncall-person">bob</span> <span class="label-chip">you</span>' in primary
    assert "<strong>carol</strong>" in primary  # next
    assert "✓ covered" in primary
    thin = _row(page, "thin")
    assert 'class="gap-note"' in thin and "gap" in thin
    assert 'id="your-shifts"' in page and "You are on call now" in page
    # Someone who is no on-call person is told so, with where to fix it.
    dana = web_as("dana", "responder").get("/oncall").text
    assert "You are not an on-call person yet" in dana and 'href="/oncall/people"' in dana
    # The schedules list shows the same coverage.
    listed = bob.get("/oncall/schedules").text
    assert 'class="gap-note"' in _row(listed, "thin")


def test_schedule_page_draws_gaps_in_red_and_says_who_is_next(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    bob = web_as("bob", "responder")
    thin = bob.get("/oncall/schedules/thin").text
    assert 'class="cal-gap"' in thin and "Nobody on call:" in thin
    assert '<span class="swatch gap"></span>nobody on call' in thin
    assert 'id="coverage-gaps"' in thin and "gap" in thin
    primary = bob.get("/oncall/schedules/primary").text
    assert 'class="cal-gap"' not in primary
    assert "✓ Covered for the next 14 days" in primary
    assert re.search(r'id="next-on-call">Next: <strong>carol</strong>', primary)


def test_policy_person_and_people_pages_say_who_is_paged_now(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    runtime.oncall.create_policy(
        ADMIN,
        models.EscalationPolicyIn(
            name="night",
            levels=[
                models.LevelIn(targets=["schedule:primary", "schedule:thin"]),
                models.LevelIn(delay_minutes=10, targets=["person:carol"]),
            ],
        ),
    )
    bob = web_as("bob", "responder")
    policy = bob.get("/oncall/policies/night").text
    assert 'schedule:primary <span class="muted">(now <strong>bob</strong>)</span>' in policy
    assert 'schedule:thin <span class="nobody small">nobody now</span>' in policy
    carol = bob.get("/oncall/people/carol").text
    assert 'href="/oncall/policies/night"' in carol
    assert "none: a page cannot reach them" in carol  # carol has no contact method
    people = bob.get("/oncall/people").text
    assert 'href="/oncall/schedules/primary" class="label-chip">primary</a>' in people


def test_teams_list_says_who_of_each_team_is_on_call_now(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    runtime.oncall.create_team(ADMIN, models.TeamIn(name="ops", members=["bob", "carol"]))
    teams = web_as("bob", "responder").get("/oncall/teams").text
    assert '<strong>bob</strong> <span class="label-chip">on call</span>' in teams
    assert "<strong>carol</strong>" not in teams


def test_account_page_lists_your_shifts_or_how_to_be_scheduled(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    bob = web_as("bob", "responder").get("/account").text
    assert 'id="account-oncall"' in bob
    assert 'href="/oncall/schedules/primary">primary</a>' in bob
    assert '<span class="label-chip">now</span>' in bob
    dana = web_as("dana", "responder").get("/account").text
    assert "You are not an on-call person yet" in dana


def test_take_this_shift_offers_you_first_and_asks_who_otherwise(
    web_as: Callable[[str, str], WebUser], runtime: Runtime
) -> None:
    _setup(runtime)
    carol = web_as("carol", "responder").get("/oncall/schedules/primary").text
    table = carol[
        carol.index('id="next-shifts"') : carol.index("</table>", carol.index('id="next-shifts"'))
    ]
    # bob's shift now: carol (signed in) is chosen to take it.
    assert '<option value="carol" selected>carol (you)</option>' in table
    ada = web_as("ada", "admin").get("/oncall/schedules/primary").text
    table = ada[
        ada.index('id="next-shifts"') : ada.index("</table>", ada.index('id="next-shifts"'))
    ]
    assert '<option value="">(who?)</option>' in table and " selected>" not in table
    web = web_as("eve", "responder")
    refused = web.post_form(
        "/oncall/schedules/primary/overrides",
        {"form_id": "take", "user": "", "start": "2030-01-01T00:00", "end": "2030-01-01T01:00"},
    )
    assert refused.status_code == 422 and "choose who takes the shift" in refused.text
