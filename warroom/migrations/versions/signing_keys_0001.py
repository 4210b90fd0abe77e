"""one keyring: signing_keys replaces oncall_secrets and comms_secrets

The keys move with their bytes unchanged, so links signed before (acknowledgement links,
calendar feed URLs, status-page confirm and unsubscribe links) stay valid:
- oncall_secrets "links" (hex) becomes "ack_links";
- comms_secrets "subscription_links" (base64url) becomes "subscription_links" (hex).

Revision ID: signing_keys_0001
Revises: oncall_0001, comms_0001 (the tables it empties)
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from alembic import op

revision = "signing_keys_0001"
down_revision = ("oncall_0001", "comms_0001")
branch_labels = None
depends_on = None

_ONCALL_NAMES = {"links": "ack_links"}


def upgrade() -> None:
    keys = op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_signing_keys")),
    )
    conn = op.get_bind()
    rows = [
        {"name": _ONCALL_NAMES.get(name, name), "key": value}
        for name, value in conn.execute(sa.text("SELECT name, value FROM oncall_secrets"))
    ]
    rows += [
        {"name": name, "key": base64.urlsafe_b64decode(value).hex()}
        for name, value in conn.execute(sa.text("SELECT name, value FROM comms_secrets"))
    ]
    if rows:
        op.bulk_insert(keys, rows)
    op.drop_table("oncall_secrets")
    op.drop_table("comms_secrets")


def downgrade() -> None:
    oncall = op.create_table(
        "oncall_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oncall_secrets")),
    )
    comms = op.create_table(
        "comms_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_comms_secrets")),
    )
    conn = op.get_bind()
    back = {new: old for old, new in _ONCALL_NAMES.items()}
    for name, key in conn.execute(sa.text("SELECT name, key FROM signing_keys")).all():
        if name == "subscription_links":
            value = base64.urlsafe_b64encode(bytes.fromhex(key)).decode()
            conn.execute(comms.insert().values(name=name, value=value, created_at=sa.func.now()))
        else:
            conn.execute(oncall.insert().values(name=back.get(name, name), value=key))
    op.drop_table("signing_keys")
