"""The customers' API shapes (CRM-1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shopflow.core.money import Amount
from shopflow.core.schemas import Id, Input


class AddressIn(Input):
    province: str = Field(default="", max_length=40)
    city: str = Field(default="", max_length=40)
    district: str = Field(default="", max_length=40)
    street: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=10)


class CustomerIn(Input):
    name: str = Field(max_length=80)
    phones: list[str] = Field(min_length=1, max_length=5, description="mobiles, the first primary")
    email: str | None = Field(default=None, max_length=254)
    birthday: date | None = None
    addresses: list[AddressIn] = Field(default=[], max_length=10)
    tags: list[str] = Field(default=[], max_length=20)
    source: Literal["console", "api", "import"] = "api"

    def personal(self) -> dict[str, Any]:
        """The sealed part of the profile."""
        return {
            "name": self.name.strip(),
            "email": self.email,
            "birthday": None if self.birthday is None else self.birthday.isoformat(),
            "addresses": [a.model_dump() for a in self.addresses],
        }


Mobile = Annotated[str, Field(max_length=40)]


class CustomerPatch(Input):
    """A profile's changes: the fields given replace theirs (`email` or `birthday` null clears
    it); phones are added and removed, one of them made primary."""

    name: str | None = Field(default=None, max_length=80)
    email: str | None = Field(default=None, max_length=254)
    birthday: date | None = None
    addresses: list[AddressIn] | None = Field(default=None, max_length=10)
    tags: list[Annotated[str, Field(max_length=40)]] | None = Field(default=None, max_length=20)
    add_phones: list[Mobile] = Field(default=[], max_length=5, description="mobiles no customer has")
    remove_phones: list[Mobile] = Field(default=[], max_length=5, description="mobiles of this customer")
    primary_phone: str | None = Field(
        default=None, max_length=40, description="one of its phones after the change"
    )

    def personal(self) -> dict[str, Any]:
        """The sealed fields given, as stored."""
        given: dict[str, Any] = {}
        if "name" in self.model_fields_set:
            given["name"] = (self.name or "").strip()
        if "email" in self.model_fields_set:
            given["email"] = self.email or None
        if "birthday" in self.model_fields_set:
            given["birthday"] = None if self.birthday is None else self.birthday.isoformat()
        if self.addresses is not None:
            given["addresses"] = [a.model_dump() for a in self.addresses]
        return given


class MergeIn(Input):
    other_id: Id


class CustomerSummary(BaseModel):
    """A customer in a list: name and primary phone masked for roles without personal_data.read."""

    id: int
    name: str
    phone: str | None
    tier: str
    order_count: int
    lifetime_value: Amount
    first_order_at: datetime | None
    last_order_at: datetime | None


class PhoneOut(BaseModel):
    phone: str
    primary: bool


class CustomerOrderOut(BaseModel):
    id: int
    order_no: str
    status: str
    total: Amount
    created_at: datetime
    paid_at: datetime | None


class CaseOut(BaseModel):
    id: int
    case_no: str
    order_id: int
    type: str
    state: str
    created_at: datetime


class ValueEntryOut(BaseModel):
    order_id: int
    source: str  # "payment:12" or "refund:34"
    amount: Amount  # negative for a refund
    at: datetime


class CustomerProfile(CustomerSummary):
    phones: list[PhoneOut]
    email: str | None
    birthday: date | None
    addresses: list[dict[str, str]]
    tags: list[str]
    source: str
    created_at: datetime
    orders: list[CustomerOrderOut]
    leads: list[dict[str, Any]]
    aftersales: list[CaseOut]
    value_entries: list[ValueEntryOut]
