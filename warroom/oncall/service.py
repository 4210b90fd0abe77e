"""The on-call service: one entry point over the three services that write on-call data.

- `directory` (`warroom.oncall.directory`): people, teams, policy contacts, and resolving a
  target to the people it reaches;
- `schedules` (`warroom.oncall.schedules`): schedules, overrides, shifts, who is on call;
- `escalation` (`warroom.oncall.escalation`): escalation policies, manual pages and
  acknowledgements (signed links included).

Other packages reach it as `runtime.oncall`; its methods are those of the three services,
under the names they have always had.
"""

from __future__ import annotations

from typing import Any

from warroom.core.auth import Principal
from warroom.core.runtime import Runtime
from warroom.oncall.directory import DirectoryService
from warroom.oncall.escalation import EscalationService
from warroom.oncall.models import OncallSection
from warroom.oncall.rows import KINDS
from warroom.oncall.schedules import ScheduleService

__all__ = ["KINDS", "OncallService", "import_ical"]


class OncallService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.schedules = ScheduleService(runtime)
        self.directory = DirectoryService(runtime, self.schedules)
        self.escalation = EscalationService(runtime, self.directory)
        # Rows of any kind.
        self.list_items = self.directory.list_items
        self.delete = self.directory.delete
        # People, teams, contacts, resolution.
        self.create_person = self.directory.create_person
        self.update_person = self.directory.update_person
        self.set_person_disabled = self.directory.set_person_disabled
        self.contact_urls = self.directory.contact_urls
        self.create_team = self.directory.create_team
        self.update_team = self.directory.update_team
        self.set_contact = self.directory.set_contact
        self.contacts = self.directory.contacts
        self.resolve = self.directory.resolve
        self.owning_teams = self.directory.owning_teams
        self.person_methods = self.directory.person_methods
        # Schedules.
        self.create_schedule = self.schedules.create_schedule
        self.update_schedule = self.schedules.update_schedule
        self.add_override = self.schedules.add_override
        self.swap_shifts = self.schedules.swap_shifts
        self.delete_override = self.schedules.delete_override
        self.load_schedule = self.schedules.load_schedule
        self.shifts = self.schedules.shifts
        self.feed_shifts = self.schedules.feed_shifts
        self.person_shifts = self.schedules.person_shifts
        self.who_is_on_call = self.schedules.who_is_on_call
        # Escalation policies, pages, acknowledgements.
        self.create_policy = self.escalation.create_policy
        self.update_policy = self.escalation.update_policy
        self.list_policies = self.escalation.list_policies
        self.policy = self.escalation.policy
        self.policy_for_services = self.escalation.policy_for_services
        self.ack_url = self.escalation.ack_url
        self.ack_link = self.escalation.ack_link
        self.page = self.escalation.page
        self.list_pages = self.escalation.list_pages
        self.ack_page = self.escalation.ack_page
        self.ack_page_in = self.escalation.ack_page_in

    @property
    def section(self) -> OncallSection:
        return self.directory.section

    def show(self, kind: str, name: str) -> dict[str, Any]:
        """A person, team, schedule (with its overrides) or escalation policy by name."""
        if kind == "schedule":
            return self.schedules.show(name)
        return self.directory.show_row(kind, name)


def import_ical(
    service: OncallService,
    principal: Principal,
    name: str,
    data: bytes,
    *,
    timezone: str = "UTC",
    days: int = 90,
) -> dict[str, Any]:
    """Create (or add to) a schedule from an iCal file (see `ScheduleService.import_ical`)."""
    return service.schedules.import_ical(principal, name, data, timezone=timezone, days=days)
