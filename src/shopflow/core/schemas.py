"""Shapes shared by every domain's API: the page of a list, and the bounds every input keeps.

No input may reach the database in a form it refuses (a 500): PostgreSQL stores no NUL
character in text, a column holds its integer type's range only, a time must stay a time once
converted to UTC. Every request schema derives from `Input` and types its integers and times
with the bounded types below; path and query parameters use the same types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")

# The ranges of the columns' integer types (PostgreSQL INTEGER and BIGINT; SQLite's are 64-bit).
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
# Page numbers: the offset of the last row of the largest page stays within a 64-bit integer.
MAX_PAGE = 10**15
# Times an input may name: wide enough for any business date, far from the ends of Python's and
# the databases' calendars, so deadlines computed from them stay representable too.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


def no_nul(value: str) -> str:
    """`value`, unless it holds a NUL character, which PostgreSQL refuses in text."""
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


def _strings_without_nul(value: Any) -> Any:
    match value:
        case str():
            no_nul(value)
        case list() | tuple() | set() | frozenset():
            for item in value:
                _strings_without_nul(item)
        case dict():
            for key, item in value.items():
                _strings_without_nul(key)
                _strings_without_nul(item)
    return value


def _in_utc_range(value: datetime) -> datetime:
    """`value` in UTC (a time without a zone read as UTC), if it lies between EARLIEST and LATEST."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the representable range once converted to UTC") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return utc


class Input(BaseModel):
    """The base of every request schema: no string anywhere in it holds a NUL character."""

    @field_validator("*", mode="after")
    @classmethod
    def _without_nul(cls, value: Any) -> Any:
        return _strings_without_nul(value)


# A row's id (BIGINT): in paths, queries and bodies.
Id = Annotated[int, Field(ge=1, le=MAX_INT64)]
# A count or size stored in an INTEGER column (priority, weight, safety stock, quantities).
Int32 = Annotated[int, Field(ge=0, le=MAX_INT32)]
# A header's text (paths and queries are checked by `core.api.RequestGuard`, bodies by `Input`).
Text = Annotated[str, AfterValidator(no_nul)]
# A time an input names, returned in UTC; `When` reads a time without a zone as UTC.
When = Annotated[datetime, AfterValidator(_in_utc_range)]
AwareWhen = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


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
