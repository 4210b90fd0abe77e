"""metrics: the per-incident metrics read model

Revision ID: metrics_0001
Revises: 0001

The rows are filled by the metrics projector as incidents change, and for existing
incidents by `warroom metrics rebuild`; until then a report computes an incident without
an up-to-date row from its events (the same figures, only slower).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "metrics_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incident_metrics",
        sa.Column("incident_id", _PK, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("declared", sa.BigInteger(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=True),
        sa.Column("detected", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged", sa.BigInteger(), nullable=True),
        sa.Column("mitigated", sa.BigInteger(), nullable=True),
        sa.Column("resolved", sa.BigInteger(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("revenue_per_hour", sa.Float(), nullable=True),
        sa.Column("postmortem_status", sa.String(length=20), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("earliest", sa.BigInteger(), nullable=True),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("time_to_detect", sa.Float(), nullable=True),
        sa.Column("time_to_acknowledge", sa.Float(), nullable=True),
        sa.Column("time_to_mitigate", sa.Float(), nullable=True),
        sa.Column("time_to_resolve", sa.Float(), nullable=True),
        sa.Column("mttr", sa.Float(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("sla_response", sa.String(length=10), nullable=True),
        sa.Column("response_due", sa.BigInteger(), nullable=True),
        sa.Column("sla_resolution", sa.String(length=10), nullable=True),
        sa.Column("resolution_due", sa.BigInteger(), nullable=True),
        sa.Column("update_intervals", sa.Integer(), nullable=False),
        sa.Column("updates_on_time", sa.Integer(), nullable=False),
        sa.Column("cadence_interval", sa.BigInteger(), nullable=True),
        sa.Column("cadence_last", sa.BigInteger(), nullable=True),
        sa.Column("promises_due", sa.Integer(), nullable=False),
        sa.Column("promises_kept", sa.Integer(), nullable=False),
        sa.Column("last_promise", sa.BigInteger(), nullable=True),
        sa.Column("last_update", sa.BigInteger(), nullable=True),
        sa.Column("postmortem_rule", sa.String(length=20), nullable=False),
        sa.Column("postmortem_done", sa.Boolean(), nullable=False),
        sa.Column("postmortem_due", sa.BigInteger(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_metrics_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_metrics")),
    )
    op.create_index(
        "ix_incidents_declared_at_id_version",
        "incidents",
        ["declared_at", "id", "version"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_declared_at_id_version", table_name="incidents")
    op.drop_table("incident_metrics")
