"""Business time (SLA-1, issue 14): a business-time clock's budget, used seconds, the start of
its current run and its calendar's fingerprint. The knowledge base's search terms (SVC-4), its
FAQ articles and service scripts, and the terms of every article already stored

Revision ID: 0022_business_time_kb
Revises: 0021_traffic_counts
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shopflow.kb import terms
from shopflow.kb.seed import rows as seed_rows

revision: str = "0022_business_time_kb"
down_revision: str | None = "0021_traffic_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BUSINESS = "state = 'running' AND budget_seconds IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks") as batch_op:
        batch_op.add_column(sa.Column("budget_seconds", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("used_seconds", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("resumed_at", When, nullable=True))
        batch_op.add_column(sa.Column("calendar", sa.String(16), nullable=True))
    op.create_index(
        "ix_sla_clocks_business",
        "sla_clocks",
        ["calendar"],
        postgresql_where=sa.text(BUSINESS),
        sqlite_where=sa.text(BUSINESS),
    )
    kb_terms = op.create_table(
        "kb_terms",
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("term", sa.String(terms.MAX_TERM), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name="fk_kb_terms_article_id_kb_articles"
        ),
        sa.PrimaryKeyConstraint("article_id", "term", name="pk_kb_terms"),
    )
    op.create_index("ix_kb_terms_term", "kb_terms", ["term", "article_id"])
    articles = sa.table(
        "kb_articles",
        sa.column("id", BigId),
        sa.column("kind", sa.String()),
        sa.column("category", sa.String()),
        sa.column("tags", Json),
        sa.column("language", sa.String()),
        sa.column("title", sa.String()),
        sa.column("body", sa.Text()),
        sa.column("created_at", When),
    )
    bind = op.get_bind()
    key = (articles.c.kind, articles.c.category, articles.c.language, articles.c.title)
    stored = {tuple(row) for row in bind.execute(sa.select(*key))}
    missing = [row for row in seed_rows(datetime.now(UTC)) if tuple(row[c.name] for c in key) not in stored]
    if missing:
        op.bulk_insert(articles, missing)
    found = bind.execute(
        sa.select(articles.c.id, articles.c.title, articles.c.body, articles.c.tags, articles.c.category)
    )
    rows = [
        {"article_id": article_id, "term": term, "weight": weight}
        for article_id, title, body, tags, category in found
        for term, weight in terms.weights(title, body, list(tags), category).items()
    ]
    if rows:
        op.bulk_insert(kb_terms, rows)


def downgrade() -> None:
    op.drop_index("ix_kb_terms_term", table_name="kb_terms")
    op.drop_table("kb_terms")
    op.drop_index("ix_sla_clocks_business", table_name="sla_clocks")
    with op.batch_alter_table("sla_clocks") as batch_op:
        for column in ("calendar", "resumed_at", "used_seconds", "budget_seconds"):
            batch_op.drop_column(column)
