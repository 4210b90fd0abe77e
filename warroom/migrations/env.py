"""Alembic environment: runs against the connection handed over in `config.attributes`."""

from __future__ import annotations

from alembic import context

from warroom.core.plugins import load_tables
from warroom.core.tables import metadata

load_tables()

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
