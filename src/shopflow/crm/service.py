"""Customer use cases (CRM-1): found or created by order intake, created by staff, found by
phone or number, their value kept current by payments and refunds, two profiles merged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, crypto
from shopflow.core.audit import Actor
from shopflow.core.crypto import Owned
from shopflow.core.errors import FieldError, Invalid
from shopflow.crm import repository, tiers
from shopflow.crm.errors import CustomerMerged, CustomerNotFound, PhoneTaken
from shopflow.crm.models import (
    OWNERS,
    PERSONAL_FIELDS,
    Customer,
    CustomerPhone,
    ValueEntry,
    audited,
    merge_errors,
    payment_source,
    personal_errors,
    primary_after,
    refund_source,
)
from shopflow.crm.schemas import CustomerIn, CustomerPatch
from shopflow.orders.models import Order, mobile

PROFILE_ORDERS = 50  # the latest orders a profile shows
PROFILE_VALUE_ENTRIES = 50


async def for_order(
    session: AsyncSession, phone_hash: str, customer: dict[str, Any], address: dict[str, Any], at: datetime
) -> tuple[int, str, bytes | None]:
    """Order intake: the id, tier (LOY-2) and secret (RSK-3: the order's contact is sealed with
    the customer's own key) of the customer with the order's phone (`phone_hash`, the order's
    blind index), created from the order's contact when the phone is new. One statement on
    PostgreSQL; concurrent orders of a new phone get one customer."""
    personal = {"name": customer["name"], "email": customer.get("email"), "addresses": [address]}
    return await repository.link(session, phone_hash, customer["phone"], personal, at)


async def secret_of(session: AsyncSession, customer_id: int | None) -> bytes | None:
    """The secret the customer's own key is derived from (RSK-3); None without a customer, or
    once they were erased."""
    return None if customer_id is None else await repository.secret_of(session, customer_id)


def phone_hash(phone: str, field_name: str = "phone") -> str:
    """The blind index of the mobile `phone` however written (spaces, hyphens, +86); Invalid
    naming `field_name` when it is not a mobile."""
    found = mobile(phone)
    if found is None:
        raise Invalid(
            "not a mobile number", errors=[FieldError(field_name, "must be 11 digits starting with 1")]
        )
    return crypto.vault().lookup_hash(found)


async def create_customer(session: AsyncSession, actor: Actor, data: CustomerIn) -> Customer:
    """A profile entered by staff: its phones (the first primary) must be mobiles no customer
    has (409 `phone_taken` naming the phone otherwise); audited."""
    personal = data.personal()
    errors = personal_errors(personal, clock.today())
    numbers = [(f"phones.{i}", mobile(p)) for i, p in enumerate(data.phones)]
    errors += [FieldError(name, "must be 11 digits starting with 1") for name, n in numbers if n is None]
    hashes = {crypto.vault().lookup_hash(n): (name, n) for name, n in numbers if n is not None}
    if len(hashes) < len(numbers) and not errors:
        errors.append(FieldError("phones", "lists a phone twice"))
    if errors:
        raise Invalid("the customer has errors; nothing was stored", errors=errors)
    taken = await repository.taken_hashes(session, hashes.keys())
    if taken:
        names = [hashes[h][0] for h in taken]
        raise PhoneTaken(
            "a phone belongs to another customer",
            errors=[
                FieldError(n, f"belongs to customer {taken[h]}") for n, h in zip(names, taken, strict=True)
            ],
        )
    at = clock.now()
    phones = [(h, n) for h, (_, n) in hashes.items()]
    customer_id = await repository.create(session, personal, data.source, data.tags, phones, at)
    await audit.record(
        session,
        audit.row(actor, "customer.created", "customer", customer_id, None, {"source": data.source}, at),
    )
    return await get_customer(session, customer_id)


@dataclass(frozen=True, slots=True)
class PhoneChange:
    added: dict[str, tuple[str, str]]  # hash -> (field, number)
    removed: set[str]  # hashes
    primary: str  # hash


def _phone_change(
    data: CustomerPatch, phones: list[CustomerPhone]
) -> tuple[PhoneChange | None, list[FieldError]]:
    """The phones `data` adds, removes and makes primary among the profile's `phones`, or why not."""
    errors: list[FieldError] = []
    own = {p.phone_hash for p in phones}
    vault = crypto.vault()

    def hashed(field_name: str, text: str) -> str | None:
        found = mobile(text)
        if found is None:
            errors.append(FieldError(field_name, "must be 11 digits starting with 1"))
            return None
        return vault.lookup_hash(found)

    added: dict[str, tuple[str, str]] = {}
    for i, text in enumerate(data.add_phones):
        h = hashed(f"add_phones.{i}", text)
        if h is not None and h not in own:
            added[h] = (f"add_phones.{i}", mobile(text) or "")
    removed = set()
    for i, text in enumerate(data.remove_phones):
        h = hashed(f"remove_phones.{i}", text)
        if h is not None and h not in own:
            errors.append(FieldError(f"remove_phones.{i}", "is not a phone of this customer"))
        elif h is not None:
            removed.add(h)
    if added.keys() & removed:
        errors.append(FieldError("remove_phones", "removes a phone it adds"))
    chosen = None if data.primary_phone is None else hashed("primary_phone", data.primary_phone)
    current = next((p.phone_hash for p in phones if p.is_primary), None)
    kept = [p.phone_hash for p in sorted(phones, key=lambda p: p.id) if p.phone_hash not in removed]
    primary = primary_after(kept, list(added), current, chosen)
    if data.primary_phone is not None and chosen is not None and primary is None:
        errors.append(FieldError("primary_phone", "is not one of the customer's phones after the change"))
    if not kept and not added and not errors:
        errors.append(FieldError("remove_phones", "would leave the customer without a phone"))
    if errors or primary is None:
        return None, errors
    return PhoneChange(added, removed, primary), []


async def update_customer(
    session: AsyncSession, actor: Actor, customer_id: int, data: CustomerPatch
) -> Customer:
    """A profile edited by staff (CRM-1): the personal fields given replace theirs (sealed), tags
    replaced, phones added (409 `phone_taken` naming `add_phones.N` when another customer has
    one) and removed, one primary. Audited as `customer.updated` with the changed fields masked;
    nothing is written when anything is refused."""
    customer = await repository.get(session, customer_id, lock=True)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    if customer.merged_into is not None:
        raise CustomerMerged(customer.id, customer.merged_into)
    phones = (await repository.phones_of(session, [customer.id]))[customer.id]
    personal = {**customer.personal, **data.personal()}
    change, errors = _phone_change(data, phones)
    errors = personal_errors(personal, clock.today()) + errors
    if errors or change is None:
        raise Invalid("the changes have errors; nothing was stored", errors=errors)
    taken = await repository.taken_hashes(session, change.added.keys())
    if taken:
        raise PhoneTaken(
            "a phone belongs to another customer",
            errors=[FieldError(change.added[h][0], f"belongs to customer {c}") for h, c in taken.items()],
        )
    at = clock.now()
    tags = (
        customer.tags if data.tags is None else list(dict.fromkeys(t.strip() for t in data.tags if t.strip()))
    )
    current = next((p.phone_hash for p in phones if p.is_primary), None)
    fields = {f for f in PERSONAL_FIELDS if customer.personal.get(f) != personal.get(f)}
    fields |= {"tags"} if tags != customer.tags else set()
    fields |= {"phones"} if change.added or change.removed or change.primary != current else set()
    before = audited(customer.personal, customer.tags, [p.phone for p in phones], fields)
    await repository.remove_phones(session, customer.id, change.removed)
    added = [(h, n) for h, (_, n) in change.added.items()]
    stored = await repository.add_phones(session, customer.id, added, at)
    if len(stored) < len(added):
        raise PhoneTaken(
            "a phone was just taken by another customer",
            errors=[
                FieldError(change.added[h][0], "belongs to another customer")
                for h, _ in added
                if h not in stored
            ],
        )
    await repository.set_primary(session, customer.id, change.primary)
    customer.personal, customer.tags, customer.updated_at = Owned(customer.secret, personal), tags, at
    await session.flush()
    after_phones = [p.phone for p in (await repository.phones_of(session, [customer.id]))[customer.id]]
    after = audited(personal, tags, after_phones, fields)
    await audit.record(
        session, audit.row(actor, "customer.updated", "customer", customer.id, before, after, at)
    )
    return customer


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    """The customer; 404 if there is none, 404 `customer_merged` naming the profile kept if it
    was merged into another."""
    customer = await repository.get(session, customer_id)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    if customer.merged_into is not None:
        raise CustomerMerged(customer.id, customer.merged_into)
    return customer


async def find(
    session: AsyncSession, *, phone: str | None, number: int | None, page: int, page_size: int
) -> tuple[list[Customer], int]:
    """A page of customers (not merged away): the one with `phone` (exact, however written),
    and/or the customer number `number`; all, the latest buyers first, without either."""
    found = None if phone is None else phone_hash(phone)
    return await repository.page(
        session, phone_hash=found, customer_id=number, offset=(page - 1) * page_size, limit=page_size
    )


async def of_order(session: AsyncSession, order_id: int) -> Customer | None:
    """The customer who placed the order (none for an order without one)."""
    return await repository.of_order(session, order_id)


async def phones_of(session: AsyncSession, customer_ids: list[int]) -> dict[int, list[CustomerPhone]]:
    return await repository.phones_of(session, customer_ids)


@dataclass(slots=True)
class Profile:
    customer: Customer
    phones: list[CustomerPhone]
    orders: list[Order]
    values: list[ValueEntry]
    related: dict[str, list[Any]] = field(default_factory=dict)


async def profile(session: AsyncSession, customer_id: int) -> Profile:
    """The customer with their phones, latest orders, value entries and related records."""
    customer = await get_customer(session, customer_id)
    phones = (await repository.phones_of(session, [customer.id]))[customer.id]
    orders = await repository.orders_of(session, customer.id, PROFILE_ORDERS)
    values = await repository.value_entries(session, customer.id, PROFILE_VALUE_ENTRIES)
    return Profile(customer, phones, orders, values, await related(session, customer.id))


RelatedOf = Callable[[AsyncSession, int, int], Awaitable[list[Any]]]
# The records of later domains a profile lists (the after-sales cases, the tickets of later work):
# each such domain, which crm cannot import, registers its reader of a customer's records (at most
# `limit`, the newest first) under its kind by `related_from` when the app is made.
_RELATED: dict[str, RelatedOf] = {}


def related_from(kind: str, source: RelatedOf) -> None:
    """List the records `source` reads of a customer under `kind` in every profile from now on."""
    _RELATED[kind] = source


async def related(session: AsyncSession, customer_id: int) -> dict[str, list[Any]]:
    """The records of other kinds a profile lists, by kind: its leads (by its phones) and those of
    every registered later domain (`related_from`)."""
    found = {"leads": await repository.leads_of(session, customer_id, PROFILE_ORDERS)}
    for kind, source in _RELATED.items():
        found[kind] = await source(session, customer_id, PROFILE_ORDERS)
    return found


async def order_paid(session: AsyncSession, order: Order, payment_id: int, amount: int, at: datetime) -> None:
    """A payment captured that paid `order` (CRM-1): its customer's lifetime value rises by
    `amount` and their order count by one, once per payment, by one conditional UPDATE."""
    if order.customer_id is None:
        return
    row = {
        "customer_id": order.customer_id,
        "order_id": order.id,
        "source": payment_source(payment_id),
        "amount": amount,
        "at": at,
    }
    if await repository.enter_value(session, row):
        await repository.add_value(session, order.customer_id, amount, 1, order.created_at, at)


async def order_completed(session: AsyncSession, order: Order) -> None:
    """An order completed (ORD-7): its customer's tier reviewed (LOY-2)."""
    if order.customer_id is not None:
        await tiers.review(session, [order.customer_id])


async def review_tiers(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """LOY-2: the customers' tiers set from their net spend in the policy's window (`tiers.review`)."""
    await tiers.review(session, customer_ids)


async def history_paid(session: AsyncSession, entries: list[dict[str, Any]], at: datetime) -> None:
    """Imported orders' captures (ORD-1 history: `customer_id`, `order_id`, `amount`, `at`,
    `placed_at`) counted into their customers' lifetime value and order count (CRM-1), once per
    order, as `order_paid` counts a live one."""
    await repository.enter_history_value(session, entries, at)


async def refund_settled(
    session: AsyncSession, refund_id: int, payment_id: int, amount: int, at: datetime
) -> None:
    """A refund that reached the customer (CRM-1): the lifetime value its payment raised falls by
    `amount`, once per refund; a refund of a payment that was never counted (its order could not
    take it) changes nothing."""
    customer_id = await repository.enter_refund(
        session, payment_source(payment_id), refund_source(refund_id), amount, at
    )
    if customer_id is not None:
        await repository.add_value(session, customer_id, -amount, 0, None, at)
        await tiers.review(session, [customer_id])  # LOY-2: the spend fell


async def merge(session: AsyncSession, actor: Actor, customer_id: int, other_id: int) -> Customer:
    """The same person under two profiles: `customer_id` keeps its id and takes the other's
    phones (no longer primary), orders, value entries and every other owned record (`OWNERS`),
    their value and order count added; the other stays, empty, `merged_into` this one (its
    address answers 404 `customer_merged` naming this one). Audited on both."""
    locked = await repository.lock_pair(session, customer_id, other_id)
    if customer_id not in locked:
        raise CustomerNotFound(f"no customer {customer_id}")
    kept = locked[customer_id]
    if kept.merged_into is not None:
        raise CustomerMerged(kept.id, kept.merged_into)
    other = locked.get(other_id)
    if other is None:
        raise Invalid("no such customer", errors=[FieldError("other_id", f"no customer {other_id}")])
    errors = merge_errors(kept, other)
    if errors:
        raise Invalid("these profiles cannot be merged", errors=errors)
    at = clock.now()
    before = _totals(kept)
    moved = await repository.repoint(session, OWNERS, other.id, kept)
    await repository.absorb(session, kept, other, at)
    await audit.record(
        session,
        audit.row(
            actor,
            "customer.merged",
            "customer",
            kept.id,
            before,
            {**_totals(kept), "from": other.id, **moved},
            at,
        ),
        audit.row(actor, "customer.merged_into", "customer", other.id, None, {"merged_into": kept.id}, at),
    )
    return kept


def _totals(customer: Customer) -> dict[str, Any]:
    return {"lifetime_value": customer.lifetime_value, "order_count": customer.order_count}
