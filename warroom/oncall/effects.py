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
    EffectHandler(paging.NOTIFY, paging.handle_oncall_notify, concurrent=True, urgent=True),
]
