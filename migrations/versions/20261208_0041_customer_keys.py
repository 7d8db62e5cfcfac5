"""Crypto-shredding (issue 17, RSK-3): each customer's own secret, from which the key sealing
their profile and their orders' contact is derived; erasure destroys it. Customers already
stored get one (random, 16 bytes) here; what they had sealed stays readable with the secret key.
A downgrade drops every secret: what was sealed with a customer's own key can no longer be opened
(as if every customer had been erased), so export what you need before going down past it.

Revision ID: 0041_customer_keys
Revises: 0040_providers
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041_customer_keys"
down_revision: str | None = "0040_providers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("secret", sa.LargeBinary(16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # gen_random_uuid(): 122 random bits from the server's strong random source.
        op.execute(
            "UPDATE customers SET secret = decode(replace(gen_random_uuid()::text, '-', ''), 'hex')"
            " WHERE erased_at IS NULL"
        )
    else:
        op.execute("UPDATE customers SET secret = randomblob(16) WHERE erased_at IS NULL")


def downgrade() -> None:
    op.drop_column("customers", "secret")
