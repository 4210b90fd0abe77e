"""How the worker runs the on-call effects: escalation steps, policy rules and pages."""

from __future__ import annotations

from warroom.core.outbox import EffectHandler
from warroom.oncall import paging

# Pages go out before work that can wait (similar incidents, correlation, ...). Escalation
# steps and rules record their step in the fired ledger inside their own transaction
# (idempotent), so their outcomes may be recorded with the rest of the round.
HANDLERS = [
    EffectHandler(
        paging.ESCALATE,
        paging.handle_escalate,
        in_transaction=paging.escalate_in,
        transactional=True,
        urgent=True,
    ),
    EffectHandler(paging.RULE, paging.handle_rule, transactional=True),
    EffectHandler.delivering(paging.NOTIFY, paging.deliver_oncall_notify, urgent=True),
    # An incident with no escalation policy known when declared: looked up again when it
    # fires, after the pages of incidents that can page (not urgent).
    EffectHandler(
        paging.UNMAPPED,
        paging.handle_escalate,
        in_transaction=paging.escalate_in,
        transactional=True,
    ),
    # "Add to backlog": an action item, once.
    EffectHandler(
        paging.BACKLOG,
        paging.handle_backlog,
        in_transaction=paging.backlog_in,
        transactional=True,
    ),
]
