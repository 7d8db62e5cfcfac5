from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from shopflow.core.schemas import Input
from shopflow.kb.models import ArticleKind, Language

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Tags = Annotated[list[Tag], Field(max_length=20)]


class ArticleIn(Input):
    """A FAQ article or a reply script (SVC-4). A script may hold `${name}` and `${order_no}`,
    filled in with the customer's name and order number when an agent inserts it."""

    title: Title
    body: Body
    kind: ArticleKind
    category: Category
    tags: Tags = Field(default_factory=list)
    language: Language


class ArticlePatch(Input):
    """The fields to change; those left out keep their values."""

    title: Title | None = None
    body: Body | None = None
    kind: ArticleKind | None = None
    category: Category | None = None
    tags: Tags | None = None
    language: Language | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


class ArticleOut(BaseModel):
    id: int
    title: str
    body: str
    kind: ArticleKind
    category: str
    tags: list[str]
    language: Language
    created_at: datetime
