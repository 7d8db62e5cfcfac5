"""Price rules (CAT-3) and discount approvals (CAT-2).

A rule gives one SKU, or every SKU of a category and its subcategories, a promotional price (a
fixed price, a SKU's only) or a percent off, from `starts_at` until `ends_at`, never under its
floor (its own, else the SKU's band floor: the policy's percent of the list price). A markdown is
a rule that applies only once the SKU's on-hand stock has stayed above a threshold for some days
(the inventory sweep records when it went above; `PriceRule.marked_from`). Among the rules in
force the lowest price wins, never above the list price: `price_at` (console, API) and
`repository.sale_facts` (order intake, one statement) say the same.

A rule, or a SKU's price change, that goes below the band's floor or further off the list price
than the acting role's authority waits for a supervisor through `core.approvals`: a pending rule
is not in force and a pending price change leaves the old price; `decide_rule` and
`decide_price_change` act on the decision. Everything is audited (AUD-1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import repository
from shopflow.catalog.errors import PriceRuleNotFound, SkuNotFound
from shopflow.catalog.models import (
    PriceChange,
    PriceRule,
    PriceRuleKind,
    PriceRuleState,
    Sku,
    band_floor,
    discount_reasons,
    effective_price,
    off_list_percent,
    rule_price,
)
from shopflow.catalog.schemas import PriceRuleIn
from shopflow.core import approvals, audit, auth, clock, money, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import Conflict, FieldError, Forbidden, Invalid, InvalidTransition, NotFound

APPROVE = "catalog.approve"  # who decides a pending price (CAT-2)
RULE_APPROVAL = "price.rule"
CHANGE_APPROVAL = "price.change"


def rule_subject(rule_id: int) -> str:
    return f"price_rule:{rule_id}"


def change_subject(sku_id: int) -> str:
    return f"sku:{sku_id}:price"


@dataclass(frozen=True)
class EffectivePrice:
    """A SKU's price at a moment: its list price, the price it sells at, the rule that gives it
    (None: the list price) and why."""

    sku: Sku
    at: datetime
    list_price: int
    price: int
    rule: PriceRule | None
    reason: str


def floor_of(sku: Sku) -> tuple[int, float]:
    """The SKU's band floor (fen) and its percent in the policy."""
    percent = getattr(policy.current().catalog.band_floor_percent, sku.price_band)
    return band_floor(sku.price, percent), percent


def percent_text(percent_bp: int | None) -> str | None:
    """Basis points as people write the percent: 1000 -> "10", 1250 -> "12.5"."""
    if percent_bp is None:
        return None
    whole, part = divmod(percent_bp, 100)
    return str(whole) if part == 0 else f"{whole}.{part:02d}".rstrip("0")


def describe(rule: PriceRule) -> str:
    """A rule's offer as people read it: "10% off" or "¥79.00"."""
    return f"{percent_text(rule.percent_bp)}% off" if rule.price is None else money.fmt(rule.price)


def _reason(sku: Sku, price: int, rule: PriceRule | None, band_floor_price: int) -> str:
    if rule is None:
        return "list price: no price rule in force"
    asked = rule_price(sku.price, rule.price, rule.percent_bp)
    kind = "markdown" if rule.kind == PriceRuleKind.MARKDOWN else "promotion"
    held = ""
    if price > asked:
        held = f", held at its floor {money.fmt(price)}" + (" (the band's)" if rule.floor is None else "")
    return f"{kind} #{rule.id} {rule.name!r}: {describe(rule)}{held}"


async def _categories(session: AsyncSession, sku: Sku) -> set[int]:
    """The SKU's product's category and that category's parent (what a rule may name)."""
    product = await repository.product(session, sku.product_id)
    assert product is not None  # a foreign key
    if product.category_id is None:
        return set()
    parents = await repository.category_parents(session, [product.category_id])
    return {product.category_id, *(p for p in parents.values() if p is not None)}


async def price_at(session: AsyncSession, sku_code: str, at: datetime | None = None) -> EffectivePrice:
    """CAT-3: the effective price of a SKU at `at` (default: now): the lowest of the rules in
    force, never under its floor, never above the list price. 404 for an unknown SKU."""
    moment = clock.now() if at is None else at
    sku = await repository.sku_by_code(session, sku_code)
    if sku is None:
        raise SkuNotFound(f"no SKU {sku_code!r}")
    rules = await repository.rules_covering(session, sku.id, await _categories(session, sku))
    floor, _ = floor_of(sku)
    price, rule = effective_price(sku.price, floor, [r for r in rules if r.in_force(moment)])
    return EffectivePrice(sku, moment, sku.price, price, rule, _reason(sku, price, rule, floor))


def parse_percent(text: str) -> int:
    """ "12.5" -> 1250 basis points: more than 0, less than 100, at most two decimals."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite() or not 0 < value < 100:
        raise ValueError("must be more than 0 and less than 100")
    if value * 100 != (value * 100).to_integral_value():
        raise ValueError("at most two decimals")
    return int(value * 100)


def _shape_errors(data: PriceRuleIn) -> list[FieldError]:
    """What is wrong with a rule before anything is read."""
    errors = []
    if data.ends_at is not None and data.ends_at <= data.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    if data.sku is None and data.category is None:
        errors.append(FieldError("sku", "give a SKU or a category"))
    if data.sku is not None and data.category is not None:
        errors.append(FieldError("category", "give a SKU or a category, not both"))
    if (data.price is None) == (data.percent is None):
        errors.append(FieldError("percent", "give a price or a percent off, one of them"))
    if data.percent is not None:
        try:
            parse_percent(data.percent)
        except ValueError as exc:
            errors.append(FieldError("percent", str(exc)))
    if data.category is not None and data.price is not None:
        errors.append(FieldError("price", "a category's rule takes a percent off, not a price"))
    if data.category is not None and data.floor is not None:
        errors.append(FieldError("floor", "a category's rule keeps each SKU's band floor"))
    markdown = data.kind == PriceRuleKind.MARKDOWN
    if markdown and data.category is not None:
        errors.append(FieldError("category", "a markdown is for one SKU (its stock)"))
    for field in ("stock_above", "stock_days"):
        given = getattr(data, field) is not None
        if markdown and not given:
            errors.append(FieldError(field, "a markdown needs it"))
        if given and not markdown:
            errors.append(FieldError(field, "only a markdown has a stock trigger"))
    return errors


async def create_rule(session: AsyncSession, actor: Actor, data: PriceRuleIn) -> PriceRule:
    """A price rule (CAT-3): in force at once (within its window) when within the band's floor
    and the actor's authority, else pending until a supervisor approves it (CAT-2). Bad input is
    a 422 naming each field; nothing is stored."""
    errors = _shape_errors(data)
    sku = None if data.sku is None else await repository.sku_by_code(session, data.sku)
    if data.sku is not None and sku is None:
        errors.append(FieldError("sku", f"no SKU {data.sku!r}"))
    if data.category is not None and not await repository.category_parents(session, [data.category]):
        errors.append(FieldError("category", f"no category {data.category}"))
    if errors:
        raise Invalid("the price rule has errors; nothing was stored", errors=errors)
    percent_bp = None if data.percent is None else parse_percent(data.percent)
    authority = policy.authority(actor.role).discount_percent
    floor = data.floor
    if sku is not None:
        band_floor_price, band_percent = floor_of(sku)
        asked = rule_price(sku.price, data.price, percent_bp)
        if data.price is not None and data.price >= sku.price:
            errors.append(FieldError("price", f"must be below the list price {money.fmt(sku.price)}"))
        if floor is not None and floor > sku.price:
            errors.append(FieldError("floor", f"must not be above the list price {money.fmt(sku.price)}"))
        if floor is not None and data.price is not None and data.price < floor:
            errors.append(FieldError("price", f"is below the floor {money.fmt(floor)} given"))
        if errors:
            raise Invalid("the price rule has errors; nothing was stored", errors=errors)
        if floor is None and asked < band_floor_price:
            floor = asked  # asking under the band's floor: that is what the approval decides
        lowest = max(asked, band_floor_price if floor is None else floor)
        reasons = discount_reasons(sku.price, lowest, band_floor_price, band_percent, actor.role, authority)
        discount = off_list_percent(sku.price, lowest)
    else:
        assert percent_bp is not None
        discount = percent_bp / 100
        reasons = []
        if discount > authority:
            reasons.append(
                f"{discount:g}% off the list price exceeds the {actor.role} authority of {authority:g}%"
            )
    at = clock.now()
    rule = PriceRule(
        name=data.name,
        kind=data.kind,
        state=PriceRuleState.PENDING if reasons else PriceRuleState.ACTIVE,
        sku_id=None if sku is None else sku.id,
        category_id=data.category,
        price=data.price,
        percent_bp=percent_bp,
        floor=floor,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        stock_above=data.stock_above,
        stock_days=data.stock_days,
        reasons=reasons,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(rule)
    await session.flush()
    if reasons:
        asked_json = {"price_rule_id": rule.id, "name": rule.name, "discount_percent": discount}
        approval = await approvals.request(
            session, actor, rule_subject(rule.id), RULE_APPROVAL, asked_json, reasons, discount
        )
        rule.approval_id = approval.id
    await audit.record(
        session,
        audit.row(actor, "price_rule.created", "price_rule", rule.id, None, _snapshot(rule, data.sku), at),
    )
    return rule


def _snapshot(rule: PriceRule, sku_code: str | None) -> dict[str, object]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "state": rule.state,
        "sku": sku_code,
        "category": rule.category_id,
        "price": rule.price,
        "percent": percent_text(rule.percent_bp),
        "floor": rule.floor,
        "starts_at": rule.starts_at.isoformat(),
        "ends_at": None if rule.ends_at is None else rule.ends_at.isoformat(),
    } | ({"reasons": rule.reasons} if rule.reasons else {})


async def get_rule(session: AsyncSession, rule_id: int, *, lock: bool = False) -> PriceRule:
    rule = await repository.price_rule(session, rule_id, lock=lock)
    if rule is None:
        raise PriceRuleNotFound(f"no price rule {rule_id}")
    return rule


def _may_approve(actor: Actor) -> None:
    if not auth.allowed(actor.role, APPROVE):
        raise Forbidden(f"a {actor.role} may not approve prices", code="beyond_authority")


async def decide_rule(
    session: AsyncSession, actor: Actor, rule_id: int, approve: bool, note: str
) -> PriceRule:
    """A supervisor's decision on a pending rule (core.approvals: never one's own request, within
    one's authority): approved, it is in force within its window; rejected, never."""
    _may_approve(actor)
    rule = await get_rule(session, rule_id, lock=True)
    target = PriceRuleState.ACTIVE if approve else PriceRuleState.REJECTED
    if rule.state != PriceRuleState.PENDING or rule.approval_id is None:
        raise InvalidTransition("price rule", rule.state, target)
    await approvals.decide(session, actor, rule.approval_id, approve, note)
    previous = rule.move_to(target)
    action = "price_rule.approved" if approve else "price_rule.rejected"
    await audit.record(
        session,
        audit.row(actor, action, "price_rule", rule.id, {"state": previous}, {"state": target, "note": note}),
    )
    return rule


async def list_rules(session: AsyncSession, offset: int, limit: int) -> tuple[list[PriceRule], int]:
    return await repository.rules_page(session, offset, limit)


async def sku_codes(session: AsyncSession, rules: Iterable[PriceRule]) -> dict[int, str]:
    """The code of each rule's SKU, by SKU id."""
    found = await repository.skus_by_ids(session, {r.sku_id for r in rules if r.sku_id is not None})
    return {sku_id: sku.code for sku_id, sku in found.items()}


def days_in_force(rules: Iterable[PriceRule], first: date, days: int) -> dict[date, list[PriceRule]]:
    """For each store day from `first`, the rules (not rejected) whose window meets that day in
    the store's zone (the console's calendar; a markdown is shown over its whole window)."""
    shown: dict[date, list[PriceRule]] = {first + timedelta(days=i): [] for i in range(days)}
    for rule in rules:
        if rule.state == PriceRuleState.REJECTED:
            continue
        for day, found in shown.items():
            begins = clock.local_midnight(day)
            ends = clock.local_midnight(day + timedelta(days=1))
            if rule.starts_at < ends and (rule.ends_at is None or rule.ends_at > begins):
                found.append(rule)
    return shown


async def calendar(session: AsyncSession, first: date, days: int) -> dict[date, list[PriceRule]]:
    start = clock.local_midnight(first)
    end = clock.local_midnight(first + timedelta(days=days))
    return days_in_force(await repository.rules_between(session, start, end), first, days)


# CAT-2 for a SKU's own price (catalog.service.update_sku).


def change_reasons(actor: Actor, sku: Sku, new_price: int) -> tuple[list[str], float]:
    """Why a new list price needs a supervisor (below the band's floor of the current price, or
    cut further than the actor's authority), and the cut in percent."""
    floor, percent = floor_of(sku)
    authority = policy.authority(actor.role).discount_percent
    return (
        discount_reasons(sku.price, new_price, floor, percent, actor.role, authority),
        off_list_percent(sku.price, new_price),
    )


async def pending_price_change(session: AsyncSession, sku: Sku) -> approvals.Approval | None:
    found = await approvals.of_subject(session, change_subject(sku.id))
    return next((a for a in found if a.state == approvals.ApprovalState.PENDING), None)


async def request_price_change(
    session: AsyncSession,
    actor: Actor,
    sku: Sku,
    new_price: int,
    reason: str,
    reasons: list[str],
    discount: float,
) -> approvals.Approval:
    """The price change waits for a supervisor; the old price holds (409 when one waits already)."""
    if await pending_price_change(session, sku) is not None:
        raise Conflict(
            f"a price change of {sku.code} waits for approval already", code="price_change_pending"
        )
    asked = {"sku": sku.code, "old_price": sku.price, "new_price": new_price, "reason": reason}
    return await approvals.request(
        session, actor, change_subject(sku.id), CHANGE_APPROVAL, asked, reasons, discount
    )


async def decide_price_change(
    session: AsyncSession, actor: Actor, code: str, approve: bool, note: str
) -> Sku:
    """A supervisor's decision on a SKU's pending price change: approved, the price changes now
    (recorded as the requester's change, CAT-2); rejected, it stays."""
    _may_approve(actor)
    sku = await repository.sku_by_code(session, code)
    if sku is None:
        raise SkuNotFound(f"no SKU {code!r}")
    pending = await pending_price_change(session, sku)
    if pending is None:
        raise NotFound(f"no price change of {code} waits for approval", code="no_pending_price_change")
    approval = await approvals.decide(session, actor, pending.id, approve, note)
    if approve:
        new_price = int(approval.asked["new_price"])
        at = clock.now()
        session.add(
            PriceChange(
                sku_id=sku.id,
                old_price=sku.price,
                new_price=new_price,
                changed_by=approval.requested_by,
                changed_at=at,
                reason=str(approval.asked.get("reason", "")),
            )
        )
        before = {"price": sku.price}
        sku.price = new_price
        await session.flush()
        after = {"price": new_price, "approval": approval.id}
        await audit.record(session, audit.row(actor, "sku.updated", "sku", sku.code, before, after, at))
    return sku


async def markdown_rules(session: AsyncSession, at: datetime) -> list[PriceRule]:
    """The active markdown rules not ended at `at`, locked for the stock sweep (skipping ones
    another worker holds), with their SKUs' ids in `sku_id`."""
    return await repository.markdown_rules(session, at, lock=True)


def note_stock(rule: PriceRule, on_hand: int, at: datetime) -> bool:
    """CAT-3: record the SKU's on-hand stock against a markdown's threshold: above it, since when
    (and so from when the markdown is in force: `stock_days` later); at or below it, neither. Whether
    anything changed."""
    assert rule.stock_above is not None and rule.stock_days is not None  # a markdown's (a check)
    if on_hand > rule.stock_above:
        if rule.above_since is not None:
            return False
        rule.above_since = at
        rule.marked_from = at + timedelta(days=rule.stock_days)
        return True
    if rule.above_since is None:
        return False
    rule.above_since = rule.marked_from = None
    return True
