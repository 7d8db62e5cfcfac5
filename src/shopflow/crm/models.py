"""Customers (CRM-1): one profile per person, found by phone through a blind index, with the
value of their orders kept current by the payment ledger's steps."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.crypto import SECRET_BYTES, Sealed, SealedFor, own_secret
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import FieldError
from shopflow.core.privacy import mask_email, mask_name, mask_phone, mask_street


class Tier(StrEnum):
    """LOY-2: a member's tier by rolling net spend (the policy's `loyalty.tiers`)."""

    NONE = "none"  # not reviewed yet, or below the first tier
    SILVER = "silver"  # 银卡
    GOLD = "gold"  # 金卡
    DIAMOND = "diamond"  # 钻石卡


class Source(StrEnum):
    ORDER = "order"  # created by order intake for a phone it had not seen
    CONSOLE = "console"
    API = "api"
    IMPORT = "import"


# The tables whose rows belong to a customer through a `customer_id` column: a merge repoints
# every one of them to the profile kept (the leads and tickets of later issues add theirs).
OWNERS: list[str] = ["orders", "customer_value_entries", "customer_keys"]


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Personal data, encrypted at rest with the customer's own key (`core.crypto`):
    # {"name", "email", "birthday", "addresses": [...]}.
    personal: Mapped[dict[str, Any]] = mapped_column(SealedFor(own_secret))
    # RSK-3: what the customer's own key is derived from; erasure destroys it (NULL).
    secret: Mapped[bytes | None] = mapped_column(LargeBinary(SECRET_BYTES))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tier: Mapped[str] = mapped_column(String(20), default=Tier.NONE)
    # LOY-2: the service agent (a user's id) the member's tickets go to while their tier has one.
    # No foreign key (migration 0035): users are deactivated, never deleted.
    agent_id: Mapped[int | None] = mapped_column(BigId)
    source: Mapped[str] = mapped_column(String(20))
    # Kept current by one conditional UPDATE per payment captured or refund settled, never summed.
    lifetime_value: Mapped[int] = mapped_column(BigInteger, default=0)  # fen
    order_count: Mapped[int] = mapped_column(Integer, default=0)  # orders paid
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A profile merged into another (the same person) is kept, pointing at the one that stays.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # RSK-3: when the person's data was erased on request (their records keep their rows).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def name(self) -> str:
        return str(self.personal.get("name", ""))


class CustomerPhone(Base):
    """A phone of a customer: the number sealed, its keyed hash (the blind index orders use,
    `Order.phone_hash`) unique, so a phone names one customer."""

    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(Sealed)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerKey(Base):
    """A customer's id on another platform, for imported history whose customer has no mobile
    phone (an Olist `customer_unique_id`, a Shopify or WooCommerce email): its keyed hash
    (`platform_key`), unique, so such an id names one customer."""

    __tablename__ = "customer_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def platform_key(platform: str, key: str) -> str:
    """The text whose keyed hash is a `CustomerKey`: the platform and its id, an email in lower
    case ("olist:861eff47…", "email:ann@example.com")."""
    return f"{platform}:{key.strip().lower()}"


class ValueEntry(Base):
    """One step of a customer's lifetime value: a payment captured (+) or a refund settled (−),
    once each (`source` unique: "payment:12", "refund:34"), or an imported order's captures
    ("history:56")."""

    __tablename__ = "customer_value_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    source: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen, negative for a refund
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def payment_source(payment_id: int) -> str:
    return f"payment:{payment_id}"


def refund_source(refund_id: int) -> str:
    return f"refund:{refund_id}"


def history_source(order_id: int) -> str:
    """The one entry of an imported order: the sum of its captures (ORD-1 history)."""
    return f"history:{order_id}"


def personal_errors(personal: dict[str, Any], today: date) -> list[FieldError]:
    """What is wrong with a profile's personal fields (pure)."""
    errors = []
    if not str(personal.get("name", "")).strip():
        errors.append(FieldError("name", "is required"))
    birthday = personal.get("birthday")
    if birthday is not None and date.fromisoformat(birthday) > today:
        errors.append(FieldError("birthday", "must not be in the future"))
    return errors


def merge_errors(kept: Customer, other: Customer) -> list[FieldError]:
    """Why `other` cannot be merged into `kept` (pure)."""
    if kept.id == other.id:
        return [FieldError("other_id", "is this customer")]
    if other.merged_into is not None:
        return [FieldError("other_id", f"was merged into customer {other.merged_into}")]
    return []


def seen(personal: dict[str, Any], phones: list[str], revealed: bool) -> dict[str, Any]:
    """A profile's personal fields and phones as a reader sees them (RSK-3): as stored when
    `revealed`, else masked (no birthday; addresses keep their region, not their street)."""
    if revealed:
        return {**personal, "phones": phones}
    email = personal.get("email")
    return {
        "name": mask_name(str(personal.get("name", ""))),
        "email": mask_email(email) if email else email,
        "birthday": None,
        "addresses": [
            {**a, "street": mask_street(a.get("street", ""))} for a in personal.get("addresses", [])
        ],
        "phones": [mask_phone(p) for p in phones],
    }


PERSONAL_FIELDS = ("name", "email", "birthday", "addresses")


def audited(personal: dict[str, Any], tags: list[str], phones: list[str], fields: set[str]) -> dict[str, Any]:
    """The `fields` of a profile as its audit trail keeps them: masked, as a reader without
    personal_data.read sees them, a birthday only as set or not (pure)."""
    shown = seen(personal, phones, revealed=False)
    values = {**shown, "birthday": "****-**-**" if personal.get("birthday") else None, "tags": tags}
    return {name: values[name] for name in sorted(fields)}


def primary_after(kept: list[str], added: list[str], current: str | None, chosen: str | None) -> str | None:
    """Which phone (by hash) is primary once `kept` (the profile's, oldest first, those removed
    left out) and `added` are its phones: `chosen`, else the current primary if still there, else
    the oldest left (pure)."""
    remaining = [*kept, *added]
    if chosen is not None:
        return chosen if chosen in remaining else None
    if current in kept:
        return current
    return remaining[0] if remaining else None
