"""The knowledge base (SVC-4, CRM-4): FAQ articles and reply scripts, in Chinese and English, and
the terms each is found by (`kb.terms`). Built with the lead scripts by issue 13; its own domain
since issue 14, so leads and the service desk both reach it through `kb.service`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from string import Template
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.kb import terms


class ArticleKind(StrEnum):
    FAQ = "faq"
    SCRIPT = "script"


class Language(StrEnum):
    ZH_CN = "zh_CN"
    EN = "en"


class Article(Base):
    __tablename__ = "kb_articles"
    __table_args__ = (UniqueConstraint("kind", "category", "language", "title"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    language: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def fields(self) -> dict[str, Any]:
        """What an edit may change, as the audit trail records it."""
        return {
            "kind": self.kind,
            "category": self.category,
            "tags": list(self.tags),
            "language": self.language,
            "title": self.title,
            "body": self.body,
        }

    def term_weights(self) -> dict[str, int]:
        return terms.weights(self.title, self.body, self.tags, self.category)


class ArticleTerm(Base):
    """One search term of an article with its weight; a search sums the weights of the terms it
    matches (`kb.repository.search`), one indexed lookup per query on SQLite and PostgreSQL."""

    __tablename__ = "kb_terms"
    __table_args__ = (Index("ix_kb_terms_term", "term", "article_id"),)

    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("kb_articles.id"), primary_key=True, autoincrement=False
    )
    term: Mapped[str] = mapped_column(String(terms.MAX_TERM), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer)


def term_rows(article_id: int, weights: dict[str, int]) -> list[dict[str, Any]]:
    return [{"article_id": article_id, "term": term, "weight": weight} for term, weight in weights.items()]


def fill_script(body: str, customer_name: str, order_no: str) -> str:
    """A reply script with `${name}` and `${order_no}` filled in; other `$` text stays as it is."""
    return Template(body).safe_substitute(name=customer_name, order_no=order_no)
