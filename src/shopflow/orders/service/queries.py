"""Orders looked up: one order, pages, counts, numbers, history, reservations and clocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, crypto, policy, sla
from shopflow.core.errors import FieldError, Invalid
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Reservation
from shopflow.orders import repository
from shopflow.orders.errors import OrderNotFound
from shopflow.orders.models import (
    AftersalesStanding,
    Order,
    OrderStatus,
    mobile,
    order_of_subject,
    order_subject,
)


async def get_order(session: AsyncSession, order_id: int, *, lock: bool = False) -> Order:
    order = await repository.get(session, order_id, lock=lock)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


async def order_numbers(session: AsyncSession, order_ids: Collection[int]) -> dict[int, str]:
    """Our order number of each order id (for lists of other things that name their order)."""
    return await repository.numbers(session, order_ids) if order_ids else {}


async def history(session: AsyncSession, order_id: int) -> list[audit.AuditEntry]:
    return await audit.trail(session, "order", order_id)


async def reservations(session: AsyncSession, order_id: int) -> list[Reservation]:
    return await inventory.reservations_of(session, order_id)


async def list_orders(
    session: AsyncSession,
    *,
    status: OrderStatus | None = None,
    channel: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    page: int = 1,
    page_size: int | None = None,
    number: str | None = None,
    phone: str | None = None,
    either: bool = False,
) -> tuple[list[Order], int, int]:
    """A page of orders, newest first: `number` a prefix of our order number (any case) or the
    channel's order number, `phone` the customer's mobile however written (Invalid if it is
    none); both must match, or one of them when `either` (a search box taking any of them)."""
    size = page_size or policy.current().orders.page_size
    items, total = await repository.page(
        session,
        status=status,
        channel=channel,
        created_from=created_from,
        created_to=created_to,
        offset=(page - 1) * size,
        limit=size,
        number=number,
        phone_hash=None if phone is None else _phone_hash(phone),
        either=either,
    )
    return items, total, size


def _phone_hash(phone: str) -> str:
    """The blind index intake stores for the mobile `phone` (`Order.phone_hash`)."""
    found = mobile(phone)
    if found is None:
        raise Invalid(
            "not a mobile number", errors=[FieldError("phone", "must be 11 digits starting with 1")]
        )
    return crypto.vault().lookup_hash(found)


async def get_by_number(session: AsyncSession, order_no: str) -> Order:
    """The order numbered `order_no` (any case)."""
    order = await repository.by_number(session, order_no.upper())
    if order is None:
        raise OrderNotFound(f"no order numbered {order_no}")
    return order


async def delivered_since(session: AsyncSession, since: datetime, limit: int = 50) -> list[Order]:
    """Orders delivered from `since` and not closed, the newest delivery first (ORD-7)."""
    return await repository.delivered_since(session, since, limit)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    """How many orders sit in each state (ANA-2); imported history is not counted."""
    return await repository.status_counts(session)


async def clocks(session: AsyncSession, order_ids: list[int]) -> dict[int, list[sla.SlaClock]]:
    """The SLA clocks of each order (SLA-1), for showing time left."""
    found: dict[int, list[sla.SlaClock]] = {order_id: [] for order_id in order_ids}
    for item in await sla.of_subjects(session, [order_subject(order_id) for order_id in order_ids]):
        found[order_of_subject(item.subject)].append(item)
    return found


@dataclass(frozen=True, slots=True)
class AftersalesView:
    """The order's after-sales standing and the money refunded to it (settled refunds, fen)."""

    aftersales: AftersalesStanding
    refunded: int


NO_AFTERSALES = AftersalesView(AftersalesStanding.NONE, 0)
AftersalesOf = Callable[[AsyncSession, int], Awaitable[AftersalesView]]
# Who tells an order's after-sales standing: the after-sales domain (a later one, which orders
# cannot import) registers its `order_aftersales` by `aftersales_from` (`shopflow.wiring.connect`).
_AFTERSALES: list[AftersalesOf] = []


def aftersales_from(source: AftersalesOf) -> None:
    """Ask `source` for every order's after-sales standing from now on."""
    _AFTERSALES[:] = [source]


async def aftersales_of(session: AsyncSession, order_id: int) -> AftersalesView:
    """The order's after-sales standing; `none` while no after-sales domain is registered."""
    return await _AFTERSALES[0](session, order_id) if _AFTERSALES else NO_AFTERSALES


async def units_ordered(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, datetime, int]]:
    """ANA-5's demand history: each line of the orders placed in [since, until) and not
    cancelled, as (SKU id, placed at, units)."""
    return await repository.units_ordered(session, since, until)


async def waiting_for_stock(session: AsyncSession, limit: int, skip: int = 0) -> list[Order]:
    """Orders held at intake for a stock shortage (ORD-4), with their lines, earliest payment
    first, then the unpaid by age (the order INV-5 releases them in)."""
    return await repository.waiting_for_stock(session, limit, skip)


async def units_paid_by_province(session: AsyncSession, since: datetime) -> dict[tuple[int, str], int]:
    """Units of each SKU paid for since `since`, per destination province (INV-6's ABC classes,
    INV-7's regional sales)."""
    return await repository.units_paid_by_province(session, since)
