"""Shapes shared by every domain's API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """Every list endpoint answers one page: `{items, total, page, page_size}`."""

    items: list[T]
    total: int
    page: int
    page_size: int


# --- staff accounts and tokens (core.auth, the users API) ------------------------------------


class UserOut(BaseModel):
    """A staff account: role, state, and the person behind it (team, manager, duty, email)."""

    id: int
    username: str
    role: str
    active: bool
    team: str | None
    manager: str | None  # the manager's username
    on_duty: bool
    email: str | None
    created_at: datetime


class PeopleIn(BaseModel):
    """What to change of a user; a field left out keeps its value, null (or "") clears it."""

    model_config = ConfigDict(extra="forbid")

    team: Annotated[str | None, Field(max_length=80)] = None
    manager: Annotated[str | None, Field(max_length=80, description="another user's username")] = None
    on_duty: bool = True
    email: Annotated[str | None, Field(max_length=254)] = None


class TokenOut(BaseModel):
    """An API token as listed: never the token itself (only its hash is kept)."""

    id: int
    label: str
    owner: str
    created_at: datetime
    revoked_at: datetime | None
