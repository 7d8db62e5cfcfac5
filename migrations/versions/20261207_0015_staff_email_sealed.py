"""Staff emails are personal data: encrypted at rest like the customers' (issue 10, AUD/RSK-3)

Revision ID: 0015_staff_email_sealed
Revises: 0014_delivery_interruptions
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shopflow.core.crypto import Vault
from shopflow.core.settings import get_settings

revision: str = "0015_staff_email_sealed"
down_revision: str | None = "0014_delivery_interruptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("id", sa.BigInteger), sa.column("email", sa.LargeBinary))


def _emails() -> list[tuple[int, object]]:
    found = op.get_bind().execute(sa.text("select id, email from users where email is not null"))
    return [(row[0], row[1]) for row in found]


def _rewrite(values: dict[int, object]) -> None:
    bind = op.get_bind()
    for user_id, value in values.items():
        bind.execute(users.update().where(users.c.id == user_id).values(email=value))


def upgrade() -> None:
    emails = _emails()
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
        batch.add_column(sa.Column("email", sa.LargeBinary(), nullable=True))
    if emails:
        vault = Vault(get_settings().fernet_key())
        _rewrite({user_id: vault.seal(email) for user_id, email in emails})


def downgrade() -> None:
    sealed = _emails()
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    if sealed:
        vault = Vault(get_settings().fernet_key())
        clear = sa.table("users", sa.column("id", sa.BigInteger), sa.column("email", sa.String))
        bind = op.get_bind()
        for user_id, token in sealed:
            bind.execute(clear.update().where(clear.c.id == user_id).values(email=vault.open(bytes(token))))
