"""RSK-1 at intake: a new order scored in its own transaction by the rules in force, its score
recorded with the rules' versions, and, held, its review opened on the RSK-2 clock.

Registered with order intake by `shopflow.wiring.connect` (`intake.risk_from`): orders cannot
import this domain. One statement reads every fact the rules need (`repository.intake_facts`);
the score, review, clock and audit rows go out with the order's own last write."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, crypto, db, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.policy import Policy
from shopflow.orders.models import HoldReason, Order, OrderClock, OrderStatus, mobile, order_subject
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import lifecycle
from shopflow.risk import repository
from shopflow.risk.models import BlockKind, CounterKind, ReviewState, RiskReview, RiskScore, Stage
from shopflow.risk.repository import Counted
from shopflow.risk.rules import (
    INTAKE_RULES,
    Assessment,
    RuleSet,
    Signals,
    assess,
    decide,
    default_rules,
    in_force,
    normalised_address,
    normalised_ip,
    order_fingerprint,
)

# The rules in force are read at most this often per process; a change made here is seen at once,
# one made by another process within this time.
RULES_TTL_SECONDS = 10.0


@dataclass(slots=True)
class _Cached:
    rules: RuleSet | None = None
    policy: Policy | None = None
    read_at: float = 0.0


_CACHE = _Cached()

# The store's usual most (`first_order_value`) is read at most this often per process, and only
# when a first order is scored: it moves with weeks of orders, not with each one.
USUAL_TTL_SECONDS = 600.0


@dataclass(slots=True)
class _Usual:
    key: tuple[Any, ...] = ()
    value: int | None = None
    read_at: float = float("-inf")


_USUAL = _Usual()


def forget_rules() -> None:
    """Read the rules (and the store's usual most) afresh at the next order (after a change)."""
    _CACHE.rules = None
    _USUAL.key = ()


async def usual_most(session: AsyncSession, params: Mapping[str, Any], at: datetime) -> int | None:
    """The store's order total at the first order rule's `quantile` over its last `days` (None
    while it has fewer than `min_orders` orders), cached for USUAL_TTL_SECONDS."""
    key = (params["quantile"], params["days"], params["min_orders"])
    now = time.monotonic()
    if _USUAL.key != key or now - _USUAL.read_at >= USUAL_TTL_SECONDS:
        since = at - timedelta(days=int(params["days"]))
        found = await repository.total_at_quantile(
            session, since, float(params["quantile"]), int(params["min_orders"])
        )
        _USUAL.key, _USUAL.value, _USUAL.read_at = key, found, now
    return _USUAL.value


async def rules_in_force(session: AsyncSession) -> RuleSet:
    """The policy's defaults overridden by the latest row of each rule (RSK-1)."""
    rules = policy.current()
    now = time.monotonic()
    cached = _CACHE.rules
    if cached is not None and _CACHE.policy is rules and now - _CACHE.read_at < RULES_TTL_SECONDS:
        return cached
    found = in_force(default_rules(rules.risk), await repository.current_rules(session))
    _CACHE.rules, _CACHE.policy, _CACHE.read_at = found, rules, now
    return found


def _since(minute: datetime, minutes: int) -> datetime:
    """The first minute of a window of `minutes` ending with `minute` (counted by whole minutes)."""
    return minute - timedelta(minutes=minutes - 1)


def address_key(normalised: str) -> str:
    """The blocklist's key of a normalised address: its keyed hash (the address is personal)."""
    return crypto.vault().lookup_hash(f"address:{normalised}")


def phone_key(phone: str) -> str:
    """The blocklist's key of a phone: the keyed hash of the mobile however written."""
    return crypto.vault().lookup_hash(mobile(phone) or phone)


async def score_order(session: AsyncSession, actor: Actor, order: Order, data: OrderIn) -> str | None:
    """Score the new `order` (RSK-1) and record it; the hold reason (`risk_review`) when it is to
    be held, its review then opened with its clock (RSK-2). Shadow rules change nothing; with the
    policy's `risk.scoring` off, nothing is scored."""
    risk = policy.current().risk
    if not risk.scoring:
        return None
    rule_set = await rules_in_force(session)
    at = order.created_at
    minute = at.replace(second=0, microsecond=0)
    shipping = data.shipping_address
    parts = {"city": shipping.city, "district": shipping.district, "street": shipping.street}
    address = normalised_address({"province": shipping.province, **parts})
    ip = None if not data.buyer_ip else normalised_ip(data.buyer_ip)
    velocity = rule_set.rule("velocity_ip").params, rule_set.rule("velocity_device").params
    counted = [
        Counted(
            CounterKind.DUPLICATE,
            order_fingerprint(order.phone_hash, [(line.sku, line.quantity) for line in data.lines], address),
            _since(minute, int(rule_set.rule("duplicate").params["window_minutes"])),
        )
    ]
    blocks = [(BlockKind.PHONE.value, phone_key(data.customer.phone))]
    # A blocked address matches with or without its province (上海 上海市 … or 上海市 …).
    for written in dict.fromkeys((address, normalised_address(parts))):
        if written:
            blocks.append((BlockKind.ADDRESS.value, address_key(written)))
    if ip:
        counted.append(Counted(CounterKind.IP, ip, _since(minute, int(velocity[0]["window_minutes"]))))
        blocks.append((BlockKind.IP.value, ip))
    if data.device_id:
        counted.append(
            Counted(CounterKind.DEVICE, data.device_id, _since(minute, int(velocity[1]["window_minutes"])))
        )
        blocks.append((BlockKind.DEVICE.value, data.device_id))
    facts = await repository.intake_facts(
        session,
        counted=counted,
        minute=minute,
        blocks=blocks,
        customer_id=order.customer_id,
        order_id=order.id,
        completed_enough=risk.exempt_after_completed_orders,
        at=at,
    )
    counts = facts.counts
    known = order.customer_id is not None
    first = known and not facts.earlier_orders
    first_rule = rule_set.rule("first_order_value")
    usual = await usual_most(session, first_rule.params, at) if first and first_rule.weight else None
    signals = Signals(
        total=order.total,
        ip_orders=counts[CounterKind.IP] + 1 if CounterKind.IP in counts else None,
        device_orders=counts[CounterKind.DEVICE] + 1 if CounterKind.DEVICE in counts else None,
        duplicates=counts.get(CounterKind.DUPLICATE),
        address=address or None,
        order_name=data.customer.name or None,
        profile_name=(facts.profile or {}).get("name") or None,
        first_order=first if known else None,
        usual_most=usual,
        blocked=facts.blocked,
        exempt=facts.completed >= risk.exempt_after_completed_orders,
    )
    found = assess(rule_set, signals)
    _queue(session, actor, order, rule_set, found, at)
    return HoldReason.RISK_REVIEW if found.holds else None


def _queue(
    session: AsyncSession, actor: Actor, order: Order, rule_set: RuleSet, found: Assessment, at: datetime
) -> None:
    """The score's row; held, the review's rows (`_open_review`): all written with the order's
    next write (`db.PendingRows`)."""
    db.queue(session, RiskScore, score_row(order.id, Stage.INTAKE, rule_set, found, at))
    if found.holds:
        _open_review(session, actor, order.id, found, at)


def _open_review(session: AsyncSession, actor: Actor, order_id: int, found: Assessment, at: datetime) -> None:
    """The review's row, its clock (RSK-2) and its audit row (AUD-1), queued (`db.PendingRows`)."""
    due = at + timedelta(hours=policy.current().risk.review_response_hours)
    db.queue(
        session,
        RiskReview,
        {
            "order_id": order_id,
            "state": ReviewState.OPEN,
            "decision": found.decision,
            "score": found.score,
            "assignee_id": None,
            "opened_at": at,
            "due_at": due,
            "decided_at": None,
            "decided_by": None,
            "reason": None,
        },
    )
    sla.queue_running(session, order_subject(order_id), OrderClock.RISK_REVIEW, due)
    after = {"state": ReviewState.OPEN, "decision": found.decision, "score": found.score}
    audit.queue(session, audit.row(actor, "risk_review.opened", "risk_review", order_id, None, after, at))


async def score_payment(session: AsyncSession, order: Order, failed: int) -> None:
    """RSK-1 when the order's payment is captured (registered by `shopflow.wiring.connect` with
    `payments.service.risk_from`): the payment rules (its `failed` payments) are scored and their
    hits added to its intake score, recorded as its `payment` score. When the total reaches
    `review` and the order was never reviewed, the paid order is held (`risk_review`, ORD-3: its
    ship clock waits) and its review opened; an order a reviewer already decided is not held again."""
    if not policy.current().risk.scoring or order.status != OrderStatus.PAID:
        return  # not scored, or held already (paid during the hold)
    rule_set = await rules_in_force(session)
    found = assess(rule_set, Signals(total=order.total, failed_payments=failed), skip=INTAKE_RULES)
    if not found.reasons:
        return  # nothing scored at payment: the intake score stands
    intake = await repository.score_of(session, order.id, Stage.INTAKE)
    score = (0 if intake is None else intake.score) + found.score
    total = Assessment(
        score,
        decide(score, rule_set.review, rule_set.reject),
        found.shadow_score,
        decide(score + found.shadow_score, rule_set.review, rule_set.reject),
        found.reasons,
    )
    at = clock.now()
    db.queue(session, RiskScore, score_row(order.id, Stage.PAYMENT, rule_set, total, at))
    if not total.holds or await repository.review_of(session, order.id) is not None:
        await db.write(session)
        return
    _open_review(session, SYSTEM, order.id, total, at)
    await lifecycle.hold(session, SYSTEM, order.id, HoldReason.RISK_REVIEW)


def score_row(
    order_id: int, stage: Stage, rule_set: RuleSet, found: Assessment, at: datetime
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "stage": stage,
        "score": found.score,
        "decision": found.decision,
        "shadow_score": found.shadow_score,
        "shadow_decision": found.shadow_decision,
        "reasons": found.reasons,
        "rules_version": rule_set.version,
        "created_at": at,
    }
