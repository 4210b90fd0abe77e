"""The metrics read model: one row per incident, kept up to date with its timeline.

`incident_metrics` holds what the report needs from an incident's events, written by the
metrics projector in the same transaction as the events (see warroom/metrics/projection.py):
- the facts: milestones in epoch milliseconds (folded from the events, as the projection),
  reopen count, revenue per hour, post-mortem status, and in `extra` the status updates,
  milestone corrections and backdated milestone events with their times;
- the figures themselves, computed under the rules named by `rules`, with what depends on
  `now` (open SLA targets, the update cadence of an unresolved incident, the post-mortem due
  date) kept as due times that the report compares with now.
`version` is the incident's version the row reflects: a report uses a row only when it
matches the incident's, and computes the others from the events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from warroom.core.tables import PK, incidents, metadata

incident_metrics = Table(
    "incident_metrics",
    metadata,
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False),
    # the projection's columns the report groups by (services: JSON text)
    Column("severity", String(32), nullable=False),
    Column("type", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("services", Text, nullable=False),
    # facts (epoch milliseconds)
    Column("declared", BigInteger, nullable=False),
    Column("started", BigInteger),
    Column("detected", BigInteger),
    Column("acknowledged", BigInteger),
    Column("mitigated", BigInteger),
    Column("resolved", BigInteger),
    Column("reopen_count", Integer, nullable=False),
    Column("revenue_per_hour", Float),
    Column("postmortem_status", String(20)),
    # JSON text {"u": [[at, seq, promised]], "c": [[at, milestone]], "b": [[at, type]]}
    Column("extra", Text),
    Column("earliest", BigInteger),  # the earliest time in `extra`
    # figures under `rules`, durations in seconds as the report has them; what depends on
    # `now` is kept as due times (see readmodel.figures)
    Column("rules", String(200), nullable=False),
    Column("time_to_detect", Float),
    Column("time_to_acknowledge", Float),
    Column("time_to_mitigate", Float),
    Column("time_to_resolve", Float),
    Column("mttr", Float),
    Column("flags", Text),
    Column("sla_response", String(10)),
    Column("response_due", BigInteger),
    Column("sla_resolution", String(10)),
    Column("resolution_due", BigInteger),
    Column("update_intervals", Integer, nullable=False),
    Column("updates_on_time", Integer, nullable=False),
    Column("cadence_interval", BigInteger),
    Column("cadence_last", BigInteger),
    Column("promises_due", Integer, nullable=False),
    Column("promises_kept", Integer, nullable=False),
    Column("last_promise", BigInteger),
    Column("last_update", BigInteger),
    Column("postmortem_rule", String(20), nullable=False),
    Column("postmortem_done", Boolean, nullable=False),
    Column("postmortem_due", BigInteger),
    Column("cost", Float),
)

# The report's period scan reads incident ids and versions (to check each row is current)
# from this index alone, never the wide incident rows.
Index(
    "ix_incidents_declared_at_id_version",
    incidents.c.declared_at,
    incidents.c.id,
    incidents.c.version,
)
