"""Carriers and the rule table that chooses among them (FUL-3)."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError
from shopflow.fulfillment.errors import (
    CarrierNotFound,
    DuplicateCarrier,
    NoCarrier,
    RuleNotFound,
    TooManyCarriers,
)
from shopflow.fulfillment.models.carriers import Carrier, CarrierRule, Parcel, choose_carrier
from shopflow.fulfillment.repository import carriers as carrier_repository
from shopflow.fulfillment.schemas import CarrierIn, CarrierPatch, RuleIn

PUBLIC_FIELDS = ("code", "name", "tracking_url", "base_fee", "per_kg_fee", "active")


def _public(carrier: Carrier) -> dict[str, object]:
    """What the audit log keeps of a carrier: never its push secret."""
    return {name: getattr(carrier, name) for name in PUBLIC_FIELDS}


async def _room_for_one_more(session: AsyncSession) -> None:
    limit = policy.current().fulfillment.carriers_max
    if await carrier_repository.count_active_carriers(session) >= limit:
        raise TooManyCarriers(
            f"the store works with at most {limit} active carriers (policy fulfillment.carriers_max);"
            " deactivate one first"
        )


async def create_carrier(session: AsyncSession, actor: Actor, data: CarrierIn) -> tuple[Carrier, str]:
    """A new active carrier and its push secret (generated unless given), shown only now."""
    if await carrier_repository.carrier_by_code(session, data.code) is not None:
        raise DuplicateCarrier(f"carrier {data.code!r} exists", errors=[FieldError("code", "already exists")])
    await _room_for_one_more(session)
    secret = data.push_secret or secrets.token_urlsafe(32)
    carrier = Carrier(
        code=data.code,
        name=data.name,
        tracking_url=data.tracking_url,
        push_secret=secret,
        base_fee=data.base_fee,
        per_kg_fee=data.per_kg_fee,
        active=True,
        created_at=clock.now(),
    )
    session.add(carrier)
    await session.flush()
    await audit.record(
        session, audit.row(actor, "carrier.created", "carrier", carrier.code, None, _public(carrier))
    )
    return carrier, secret


async def get_carrier(session: AsyncSession, code: str) -> Carrier:
    carrier = await carrier_repository.carrier_by_code(session, code)
    if carrier is None:
        raise CarrierNotFound(f"no carrier {code!r}")
    return carrier


async def list_carriers(session: AsyncSession) -> list[Carrier]:
    return await carrier_repository.list_carriers(session)


async def carriers_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Carrier]:
    return await carrier_repository.carriers_by_id(session, ids)


async def update_carrier(session: AsyncSession, actor: Actor, code: str, patch: CarrierPatch) -> Carrier:
    carrier = await get_carrier(session, code)
    before = _public(carrier)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if changes.get("active") and not carrier.active:
        await _room_for_one_more(session)
    for name, value in changes.items():
        setattr(carrier, name, value)
    await session.flush()
    await audit.record(
        session, audit.row(actor, "carrier.updated", "carrier", code, before, _public(carrier))
    )
    return carrier


async def add_rule(session: AsyncSession, actor: Actor, data: RuleIn) -> CarrierRule:
    carrier = await get_carrier(session, data.carrier)
    values = data.model_dump(exclude={"carrier"})
    rule = CarrierRule(carrier_id=carrier.id, created_by=actor.user_id, created_at=clock.now(), **values)
    session.add(rule)
    await session.flush()
    await audit.record(
        session,
        audit.row(
            actor, "carrier_rule.created", "carrier_rule", rule.id, None, {"carrier": carrier.code, **values}
        ),
    )
    return rule


async def list_rules(session: AsyncSession) -> list[CarrierRule]:
    """The rule table in the order it is read: priority, then age."""
    return await carrier_repository.list_rules(session)


async def delete_rule(session: AsyncSession, actor: Actor, rule_id: int) -> None:
    rule = await carrier_repository.get_rule(session, rule_id)
    if rule is None:
        raise RuleNotFound(f"no carrier rule {rule_id}")
    before = {
        "carrier_id": rule.carrier_id,
        "priority": rule.priority,
        "province": rule.province,
        "min_weight_g": rule.min_weight_g,
        "max_weight_g": rule.max_weight_g,
        "min_order_value": rule.min_order_value,
        "max_order_value": rule.max_order_value,
    }
    await carrier_repository.delete_rule(session, rule_id)
    await audit.record(
        session, audit.row(actor, "carrier_rule.deleted", "carrier_rule", rule_id, before, None)
    )


async def choose(session: AsyncSession, parcel: Parcel) -> Carrier:
    """FUL-3: the carrier the rule table names for this parcel."""
    table = await carrier_repository.rules_with_carriers(session)
    carriers = {carrier.id: carrier for _, carrier in table}
    active = {c.id for c in carriers.values() if c.active}
    chosen = choose_carrier([rule for rule, _ in table], active, parcel)
    if chosen is None:
        raise NoCarrier(
            f"no carrier rule matches a parcel of {parcel.weight_g} g to {parcel.province} for an order"
            f" of {parcel.order_value / 100:.2f}; add a rule or name the carrier"
        )
    return carriers[chosen]
