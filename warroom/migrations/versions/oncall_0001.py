"""oncall: people, teams, schedules, overrides, escalation policies, pages

Revision ID: oncall_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.core.db

revision = "oncall_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_contacts",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oncall_contacts")),
    )
    op.create_table(
        "oncall_escalation_policies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_escalation_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_oncall_escalation_policies_name")),
    )
    op.create_table(
        "oncall_fired",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fired_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oncall_fired")),
    )
    op.create_table(
        "oncall_pages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", warroom.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_pages")),
    )
    op.create_table(
        "oncall_people",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("contact_methods", sa.JSON(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_people")),
        sa.UniqueConstraint("name", name=op.f("uq_oncall_people_name")),
    )
    op.create_table(
        "oncall_schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("layers", sa.JSON(), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_oncall_schedules_name")),
    )
    op.create_table(
        "oncall_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oncall_secrets")),
    )
    op.create_table(
        "oncall_teams",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("manager", sa.String(length=80), nullable=True),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_oncall_teams_name")),
    )
    op.create_table(
        "oncall_used_links",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_oncall_used_links")),
    )
    op.create_table(
        "oncall_overrides",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_name", sa.String(length=80), nullable=False),
        sa.Column("replaces", sa.String(length=80), nullable=True),
        sa.Column("start_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", warroom.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["oncall_schedules.id"],
            name=op.f("fk_oncall_overrides_schedule_id_oncall_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
    )
    op.create_index(
        "ix_oncall_overrides_schedule_end",
        "oncall_overrides",
        ["schedule_id", "end_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("oncall_overrides")
    op.drop_table("oncall_used_links")
    op.drop_table("oncall_teams")
    op.drop_table("oncall_secrets")
    op.drop_table("oncall_schedules")
    op.drop_table("oncall_people")
    op.drop_table("oncall_pages")
    op.drop_table("oncall_fired")
    op.drop_table("oncall_escalation_policies")
    op.drop_table("oncall_contacts")
