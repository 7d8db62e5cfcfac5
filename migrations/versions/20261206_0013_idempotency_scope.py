"""Idempotency keys belong to their caller: the digest of the request stored with the key

An order's `idempotency_key` now holds the caller's key scoped to its user and channel (a
SHA-256 digest, computed at intake), and `request_hash` the digest of the request it came with:
the same key with another body is refused. Keys stored before this revision were the callers'
raw keys; a repeat of one of those orders after the upgrade is a new order.

Revision ID: 0013_idempotency_scope
Revises: 0012_aftersales
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_idempotency_scope"
down_revision: str | None = "0012_aftersales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("request_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("request_hash")
