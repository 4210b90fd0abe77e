"""Tables of the post-mortems package: post-mortem documents and action items."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from warroom.core.db import UTCDateTime
from warroom.core.tables import PK, metadata

postmortems = Table(
    "postmortems",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column(
        "incident_id",
        PK,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("public_id", String(32), nullable=False, unique=True),
    # draft | in_review | published
    Column("status", String(20), nullable=False),
    # required | recommended | optional (from the policy at creation)
    Column("requirement", String(20), nullable=False),
    # Owner and due date live on the incident timeline (postmortem_scheduled events).
    Column("body", Text, nullable=False),
    Column("root_cause_category", String(60)),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("submitted_at", UTCDateTime),
    Column("published_at", UTCDateTime),
    Column("reviewers", JSON, nullable=False),
    Index("ix_postmortems_status", "status"),
    Index("ix_postmortems_updated_at", "updated_at"),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("incident_id", PK, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("owner", String(200)),
    Column("due_at", UTCDateTime),
    # P1 (most urgent) .. P4
    Column("priority", Integer, nullable=False),
    # prevent | mitigate | detect | process
    Column("type", String(20), nullable=False),
    # open | in_progress | done | wont_do
    Column("status", String(20), nullable=False),
    Column("source", String(60), nullable=False),
    # Makes an item created from an event exactly-once (e.g. a follow_up_required event).
    Column("source_key", String(255), unique=True),
    # tracker name -> {"ref": "owner/repo#12" or "OPS-7", "url": ..., "synced_at", "error"}
    Column("external", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index("ix_action_items_incident", "incident_id"),
    Index("ix_action_items_status_due", "status", "due_at"),
    Index("ix_action_items_owner", "owner"),
)
