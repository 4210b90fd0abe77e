"""Which warroom row each vendor object became: re-imports update instead of duplicating."""

from __future__ import annotations

from sqlalchemy import Column, String, Table, UniqueConstraint

from warroom.core.db import UTCDateTime
from warroom.core.tables import metadata

import_links = Table(
    "import_links",
    metadata,
    Column("vendor", String(20), primary_key=True),
    Column("kind", String(30), primary_key=True),
    Column("vendor_id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    # A digest of what was imported: an unchanged object is not written again.
    Column("digest", String(64), nullable=False),
    Column("imported_at", UTCDateTime(timezone=True), nullable=False),
    UniqueConstraint("vendor", "kind", "name", name="uq_import_links_name"),
)
